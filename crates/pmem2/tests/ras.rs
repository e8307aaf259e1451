//! RAS through the public API: deep flush, bad blocks, unsafe shutdown
//! count, device id, NUMA node and machine-check-safe I/O, on ordinary
//! files (no NVDIMM: the "no matching device" paths) and on fake sysfs
//! trees (the NVDIMM paths).

mod common;

use std::os::fd::AsFd;

use common::{page, temp_file};
use pmem2::error::codes::*;
use pmem2::sys::linux::nd::{fake, Sysfs};
use pmem2::{ras, BadBlock, BadBlockContext, Config, FileType, Granularity, Map, Source, SourceId};

fn anon() -> Source<'static> {
    Source::anonymous(1 << 20).unwrap()
}

#[test]
fn anonymous_sources_are_refused() {
    let src = anon();
    assert_eq!(src.device_id().unwrap_err().code(), PMEM2_E_NOSUPP);
    assert_eq!(src.device_usc().unwrap_err().code(), PMEM2_E_NOSUPP);
    assert_eq!(src.numa_node().unwrap_err().code(), PMEM2_E_NOSUPP);
    let e = BadBlockContext::new(&src).unwrap_err();
    assert_eq!(e.code(), PMEM2_E_NOSUPP);
    let mut buf = [0u8; 16];
    let e = src.pread_mcsafe(&mut buf, 0).unwrap_err();
    assert_eq!(e.code(), PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED);
    let e = src.pwrite_mcsafe(&buf, 0).unwrap_err();
    assert_eq!(e.code(), PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED);
}

#[test]
fn a_file_without_nvdimm_has_no_region() {
    let f = temp_file(4 * page());
    let src = Source::from_file(&f.file).unwrap();
    // Only meaningful where the test directory is not on an NVDIMM.
    if Sysfs::default().find(&src.id()).unwrap().is_some() {
        eprintln!("skipped: the test directory is on an NVDIMM");
        return;
    }
    assert_eq!(src.device_id().unwrap_err().code(), PMEM2_E_NOSUPP);
    let e = src.device_usc().unwrap_err();
    assert_eq!(e.code(), PMEM2_E_NOSUPP);
    assert_eq!(
        e.to_string(),
        "Unsafe shutdown count is not supported for this source"
    );
    let e = src.numa_node().unwrap_err();
    assert_eq!(e.code(), PMEM2_E_DAX_REGION_NOT_FOUND);
    let mut ctx = BadBlockContext::new(&src).unwrap();
    let e = ctx.next().unwrap_err();
    assert_eq!(e.code(), PMEM2_E_NO_BAD_BLOCK_FOUND);
    assert_eq!(
        e.to_string(),
        "Cannot find any matching device, no bad blocks found"
    );
    assert_eq!(ctx.count(), 0);
}

#[test]
fn mcsafe_io_on_a_regular_file() {
    let f = temp_file(2 * page());
    let src = Source::from_file(&f.file).unwrap();
    let data: Vec<u8> = (0..300u32).map(|i| (i % 256) as u8).collect();
    src.pwrite_mcsafe(&data, page() - 100).unwrap();
    let mut back = vec![0u8; 300];
    src.pread_mcsafe(&mut back, page() - 100).unwrap();
    assert_eq!(back, data);
    // up to the very end is fine
    src.pread_mcsafe(&mut back[..10], 2 * page() - 10).unwrap();
    // one byte past the end is not
    let e = src
        .pread_mcsafe(&mut back[..11], 2 * page() - 10)
        .unwrap_err();
    assert_eq!(e.code(), PMEM2_E_LENGTH_OUT_OF_RANGE);
    let e = src.pwrite_mcsafe(&back[..11], 2 * page() - 10).unwrap_err();
    assert_eq!(e.code(), PMEM2_E_LENGTH_OUT_OF_RANGE);
    // an offset past the end is out of range even for zero bytes
    let e = src.pread_mcsafe(&mut [], 2 * page() + 1).unwrap_err();
    assert_eq!(e.code(), PMEM2_E_LENGTH_OUT_OF_RANGE);
    // the size is re-read: growing the file makes the range valid
    f.file.set_len(3 * page() as u64).unwrap();
    src.pread_mcsafe(&mut back[..11], 2 * page() - 10).unwrap();
}

#[test]
fn deep_flush_of_a_regular_file_mapping() {
    let f = temp_file(4 * page());
    let src = Source::from_file(&f.file).unwrap();
    let cfg = Config::with_granularity(Granularity::Page);
    let mut map = Map::new(&cfg, &src).unwrap();
    map.write(10, b"hello").unwrap();
    map.deep_flush(0, map.size()).unwrap();
    map.deep_flush(page() + 3, 7).unwrap();
    map.deep_flush_ptr(map.addr().wrapping_add(5), 100).unwrap();
    let e = map.deep_flush(1, map.size()).unwrap_err();
    assert_eq!(e.code(), PMEM2_E_DEEP_FLUSH_RANGE);
    assert!(e.to_string().starts_with("requested deep flush rage ptr"));
    let e = map.deep_flush(usize::MAX, 2).unwrap_err();
    assert_eq!(e.code(), PMEM2_E_DEEP_FLUSH_RANGE);
    let e = map
        .deep_flush_ptr(map.addr().wrapping_sub(1), 1)
        .unwrap_err();
    assert_eq!(e.code(), PMEM2_E_DEEP_FLUSH_RANGE);
}

#[test]
fn deep_flush_of_an_anonymous_mapping() {
    let src = anon();
    let cfg = Config::with_granularity(Granularity::Page);
    let map = Map::new(&cfg, &src).unwrap();
    // anonymous mappings are byte granularity: deep flush is not supported
    assert_eq!(map.store_granularity(), Granularity::Byte);
    let e = map.deep_flush(0, 64).unwrap_err();
    assert_eq!(e.code(), PMEM2_E_NOSUPP);
    assert_eq!(
        e.to_string(),
        "Anonymous source does not support deep flush"
    );
}

#[test]
fn clearing_a_bad_block_of_a_file_reallocates_it() {
    let f = temp_file(4 * page());
    std::fs::write(&f.path, vec![0xeeu8; 4 * page()]).unwrap();
    let src = Source::from_file(&f.file).unwrap();
    let ctx = BadBlockContext::new(&src).unwrap();
    let bb = BadBlock {
        offset: page() as u64,
        length: page() as u64,
    };
    match ctx.clear(&bb) {
        Ok(()) => {
            let data = std::fs::read(&f.path).unwrap();
            assert_eq!(data.len(), 4 * page());
            assert!(data[page()..2 * page()].iter().all(|&b| b == 0));
            assert!(data[2 * page()..].iter().all(|&b| b == 0xee));
        }
        Err(e) => assert_eq!(e.code(), -libc::EOPNOTSUPP, "{e}"),
    }
}

/// A fake NVDIMM tree where region 0's fsdax namespace is the block device
/// holding the test file, so the real file's extents meet fake bad blocks.
fn fake_tree_for(id: &SourceId) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let dev = format!(
        "{}:{}",
        rustix::fs::major(id.dev),
        rustix::fs::minor(id.dev)
    );
    fake::region(root, 0, 0x1_0000_0000, 1 << 34, &["nmem0", "nmem1"]);
    fake::fsdax_namespace(root, 0, 0, "pmem7", &dev, 0x1_0020_0000, 1 << 33);
    fake::dimm(root, "nmem0", Some("8089-a2-1809-00000107"), Some("2"));
    fake::dimm(root, "nmem1", Some("8089-a2-1809-00000108"), Some("5"));
    fake::write(root, "bus/nd/devices/region0/numa_node", "0\n");
    dir
}

#[test]
fn fake_nvdimm_ids_usc_and_numa() {
    let f = temp_file(page());
    let src = Source::from_file(&f.file).unwrap();
    let dir = fake_tree_for(&src.id());
    let sysfs = Sysfs::new(dir.path());
    let id = ras::device_id(&sysfs, &src.id()).unwrap();
    assert_eq!(id, "8089-a2-1809-000001078089-a2-1809-00000108");
    let mut len = 0;
    ras::device_id_to_c(&id, None, &mut len).unwrap();
    assert_eq!(len, id.len() + 1);
    let mut buf = vec![0u8; len];
    ras::device_id_to_c(&id, Some(&mut buf), &mut len).unwrap();
    assert_eq!(&buf[..id.len()], id.as_bytes());
    let mut short = len - 1;
    let e = ras::device_id_to_c(&id, Some(&mut buf), &mut short).unwrap_err();
    assert_eq!(e.code(), PMEM2_E_BUFFER_TOO_SMALL);
    assert_eq!(ras::device_usc(&sysfs, &src.id()).unwrap(), 7);
    assert_eq!(ras::numa_node(&sysfs, &src.id()).unwrap(), 0);
}

#[test]
fn fake_nvdimm_bad_blocks_meet_the_real_file_extents() {
    let f = temp_file(8 * page());
    f.file.sync_all().unwrap();
    let src = Source::from_file(&f.file).unwrap();
    let size = 8 * page() as u64;
    // The file is in the build's target directory, on a disk file system
    // that has FIEMAP (tmpfs hasn't; see the fiemap unit tests).
    let exts = pmem2::sys::linux::fiemap::extents(f.file.as_fd(), size)
        .expect("FIEMAP on the target directory's file system");
    assert!(!exts.is_empty(), "a written file has extents");
    let dir = fake_tree_for(&src.id());
    // a 512-byte bad sector 3 pages + 1000 bytes into the file
    let want = 3 * page() as u64 + 1000;
    let ext = exts
        .iter()
        .find(|e| e.logical <= want && want < e.logical + e.length)
        .unwrap_or_else(|| panic!("no extent holds offset {want}: {exts:?}"));
    let phys = ext.physical + (want - ext.logical);
    let sector = phys / 512;
    fake::write(
        dir.path(),
        "block/pmem7/badblocks",
        &format!("{sector} 1\n"),
    );
    let sysfs = Sysfs::new(dir.path());
    let ctx = BadBlockContext::with_sysfs(&sysfs, &src.id(), Some(f.file.as_fd())).unwrap();
    let found: Vec<BadBlock> = ctx.map(Result::unwrap).collect();
    let blksize = rustix::fs::fstat(&f.file).unwrap().st_blksize as u64;
    assert_eq!(found.len(), 1, "{found:?}");
    let bb = found[0];
    assert_eq!(bb.offset % blksize, 0);
    assert_eq!(bb.length % blksize, 0);
    assert!(bb.offset <= want && want < bb.offset + bb.length, "{bb:?}");
    eprintln!(
        "fake bad sector {sector} found at file offset {} (+{})",
        bb.offset, bb.length
    );
}

#[test]
fn fake_devdax_source_identity_reaches_its_region() {
    let dir = tempfile::tempdir().unwrap();
    fake::region(dir.path(), 3, 0x4_0000_0000, 1 << 30, &["nmem9"]);
    fake::devdax_namespace(dir.path(), 3, 0, "251:4", 0x4_0000_0000, 1 << 30);
    fake::dimm(dir.path(), "nmem9", None, None);
    fake::write(dir.path(), "bus/nd/devices/region3/numa_node", "1\n");
    let id = SourceId {
        file_type: FileType::DeviceDax,
        dev: 0,
        rdev: rustix::fs::makedev(251, 4),
    };
    let sysfs = Sysfs::new(dir.path());
    assert_eq!(ras::numa_node(&sysfs, &id).unwrap(), 1);
    // emulated NVDIMMs: no unsafe shutdown count, no unique id
    assert_eq!(
        ras::device_usc(&sysfs, &id).unwrap_err().code(),
        PMEM2_E_NOSUPP
    );
    assert_eq!(
        ras::device_id(&sysfs, &id).unwrap_err().code(),
        PMEM2_E_NOSUPP
    );
}
