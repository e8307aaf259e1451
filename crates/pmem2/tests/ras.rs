//! RAS through the public API: deep flush, bad blocks, unsafe shutdown
//! count, device id, NUMA node and machine-check-safe I/O, on ordinary
//! files (no NVDIMM: the "no matching device" paths). The NVDIMM paths run
//! on fake sysfs trees in the unit tests of `badblock` and `ras`.

mod common;

use common::{page, temp_file};
use pmem2::{BadBlock, BadBlockContext, Config, Granularity, Map, Source};
use pmem2_ffi::codes::*;
use pmem2_nvdimm::nd::{Device, Sysfs};

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
    let device = Device::File {
        dev: std::os::unix::fs::MetadataExt::dev(&f.file.metadata().unwrap()),
    };
    if Sysfs::default().find(device).unwrap().is_some() {
        return common::skip(
            "a_file_without_nvdimm_has_no_region",
            "the test directory is on an NVDIMM",
        );
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
    map.deep_flush(5, 100).unwrap();
    let e = map.deep_flush(1, map.size()).unwrap_err();
    assert_eq!(e.code(), PMEM2_E_DEEP_FLUSH_RANGE);
    assert!(e.to_string().starts_with("requested deep flush rage ptr"));
    let e = map.deep_flush(usize::MAX, 2).unwrap_err();
    assert_eq!(e.code(), PMEM2_E_DEEP_FLUSH_RANGE);
    // the offset wraps: one byte before the map
    let e = map.deep_flush(usize::MAX, 1).unwrap_err();
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
    // ext4, xfs, btrfs and tmpfs all punch holes.
    ctx.clear(&bb).unwrap();
    let data = std::fs::read(&f.path).unwrap();
    assert_eq!(data.len(), 4 * page());
    assert!(data[..page()].iter().all(|&b| b == 0xee));
    assert!(data[page()..2 * page()].iter().all(|&b| b == 0));
    assert!(data[2 * page()..].iter().all(|&b| b == 0xee));
}
