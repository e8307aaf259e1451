//! Map creation: every validation error path with its exact code, and
//! write / persist / read back on tmpfs and on a disk-backed file.

mod common;

use std::fs::File;
use std::os::unix::fs::FileExt;

use common::{map_sync_ignored, page, skip, temp_file, temp_file_in, test_dirs, MAP_SYNC_WHY};
use pmem2::{Config, FileType, Granularity, Map, Protection, Sharing, Source};
use pmem2_ffi::codes::*;

fn page_config() -> Config {
    Config::with_granularity(Granularity::Page)
}

#[test]
fn granularity_must_be_set() {
    let f = temp_file(page());
    let source = Source::from_file(&f.file).unwrap();
    let err = Map::new(&Config::new(), &source).unwrap_err();
    assert_eq!(err.code(), PMEM2_E_GRANULARITY_NOT_SET);
    // PMDK's text (the C ABI's) in the alternate form; Rust users are told
    // which method to call.
    assert_eq!(
        format!("{err:#}"),
        "please define the max granularity requested for the mapping"
    );
    let rust = err.to_string();
    assert!(rust.contains("Config::with_granularity"), "{rust}");
    assert!(
        rust.contains("Config::set_required_store_granularity"),
        "{rust}"
    );
}

#[test]
fn closed_descriptor() {
    let f = temp_file(page());
    // A high number that no parallel test's open() can reuse meanwhile.
    let high = rustix::io::fcntl_dupfd_cloexec(&f.file, 901).unwrap();
    let raw = std::os::fd::IntoRawFd::into_raw_fd(high);
    // SAFETY: `raw` is open now; it is closed below and the source is only
    // used to observe that.
    let source = unsafe { Source::from_raw_fd(raw) }.unwrap();
    // SAFETY: `raw` came from into_raw_fd and is closed exactly once.
    drop(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) });
    let err = Map::new(&page_config(), &source).unwrap_err();
    assert_eq!(err.code(), PMEM2_E_INVALID_FILE_HANDLE);
}

#[test]
fn offset_must_be_aligned() {
    let f = temp_file(4 * page());
    let source = Source::from_file(&f.file).unwrap();
    let mut config = page_config();
    config.set_offset(page() / 2).unwrap();
    let err = Map::new(&config, &source).unwrap_err();
    assert_eq!(err.code(), PMEM2_E_OFFSET_UNALIGNED);
    assert_eq!(
        format!("{err:#}"),
        format!("offset is not a multiple of {}", page())
    );
    assert!(err.to_string().contains("Config::set_offset"), "{err}");
}

#[test]
fn empty_source() {
    let f = temp_file(0);
    let source = Source::from_file(&f.file).unwrap();
    let err = Map::new(&page_config(), &source).unwrap_err();
    assert_eq!(err.code(), PMEM2_E_SOURCE_EMPTY);
}

#[test]
fn length_checks() {
    let f = temp_file(4 * page());
    let source = Source::from_file(&f.file).unwrap();
    let mut config = page_config();
    config.set_length(page() + 1);
    assert_eq!(
        Map::new(&config, &source).unwrap_err().code(),
        PMEM2_E_LENGTH_UNALIGNED
    );

    config.set_length(8 * page());
    let err = Map::new(&config, &source).unwrap_err();
    assert_eq!(err.code(), PMEM2_E_MAP_RANGE);
    assert_eq!(err.to_string(), "mapping larger than file size");

    config
        .set_offset(2 * page())
        .unwrap()
        .set_length(usize::MAX - page() + 1);
    let err = Map::new(&config, &source).unwrap_err();
    assert_eq!(err.code(), PMEM2_E_MAP_RANGE);
    assert_eq!(err.to_string(), "overflow of offset and length");

    config
        .set_offset(2 * page())
        .unwrap()
        .set_length(3 * page());
    assert_eq!(
        Map::new(&config, &source).unwrap_err().code(),
        PMEM2_E_MAP_RANGE
    );

    // Offset at the end with length 0 leaves nothing to map: mmap's EINVAL.
    config.set_offset(4 * page()).unwrap().set_length(0);
    assert_eq!(
        Map::new(&config, &source).unwrap_err().code(),
        -libc::EINVAL
    );

    // Offset past the end is a range error.
    config.set_offset(8 * page()).unwrap().set_length(0);
    assert!(Map::new(&config, &source).is_err());
}

#[test]
fn whole_file_of_unaligned_size() {
    let f = temp_file(page() + 100);
    let source = Source::from_file(&f.file).unwrap();
    let map = Map::new(&page_config(), &source).unwrap();
    assert_eq!(map.size(), page() + 100);
    // Explicitly requesting the rounded-up length is out of range (PMDK's TEST21/22).
    let mut config = page_config();
    config.set_length(2 * page());
    assert_eq!(
        Map::new(&config, &source).unwrap_err().code(),
        PMEM2_E_MAP_RANGE
    );
}

#[test]
fn read_only_descriptor_needs_read_only_protection() {
    let f = temp_file(page());
    let ro = File::open(&f.path).unwrap();
    let source = Source::from_file(&ro).unwrap();
    let err = Map::new(&page_config(), &source).unwrap_err();
    assert_eq!(err.code(), PMEM2_E_NO_ACCESS);
    let mut config = page_config();
    config.set_protection(Protection::READ);
    let mut map = Map::new(&config, &source).unwrap();
    let mut buf = [1u8; 8];
    map.read(0, &mut buf).unwrap();
    assert_eq!(buf, [0; 8]);
    assert_eq!(map.write(0, b"x").unwrap_err().code(), PMEM2_E_NO_ACCESS);
}

#[test]
fn protection_none_refuses_safe_access() {
    let f = temp_file(page());
    let source = Source::from_file(&f.file).unwrap();
    let mut config = page_config();
    config.set_protection(Protection::empty());
    let mut map = Map::new(&config, &source).unwrap();
    assert_eq!(
        map.read(0, &mut [0u8; 1]).unwrap_err().code(),
        PMEM2_E_NO_ACCESS
    );
    assert_eq!(map.write(0, b"x").unwrap_err().code(), PMEM2_E_NO_ACCESS);
    // A flush instruction would fault on these pages (found by review: a
    // cache-line persist of a PROT_NONE map crashed).
    assert_eq!(map.persist(0, 64).unwrap_err().code(), PMEM2_E_NO_ACCESS);
    assert_eq!(map.flush(0, 64).unwrap_err().code(), PMEM2_E_NO_ACCESS);
}

#[test]
fn tmpfs_and_disk_refuse_cache_line_and_byte() {
    if map_sync_ignored() {
        return skip("tmpfs_and_disk_refuse_cache_line_and_byte", MAP_SYNC_WHY);
    }
    for dir in test_dirs() {
        let f = temp_file_in(&dir, page(), 0);
        let source = Source::from_file(&f.file).unwrap();
        for required in [Granularity::Byte, Granularity::CacheLine] {
            let err = Map::new(&Config::with_granularity(required), &source).unwrap_err();
            if std::env::var_os("PMEM2_FORCE_GRANULARITY").is_some() {
                continue; // a forced granularity may grant it
            }
            assert_eq!(
                err.code(),
                PMEM2_E_GRANULARITY_NOT_SUPPORTED,
                "{}",
                dir.display()
            );
            assert_eq!(
                err.to_string(),
                "requested granularity not available because fd doesn't point to DAX-enabled file or kernel doesn't support MAP_SYNC flag (Linux >= 4.15)"
            );
        }
    }
}

#[test]
fn write_persist_and_read_back_through_a_second_mapping() {
    let no_map_sync = !map_sync_ignored();
    if !no_map_sync {
        skip(
            "write_persist_and_read_back_through_a_second_mapping (its page-granularity checks only)",
            MAP_SYNC_WHY,
        );
    }
    for dir in test_dirs() {
        let f = temp_file_in(&dir, 3 * page() + 17, 0);
        let source = Source::from_file(&f.file).unwrap();
        let mut map = Map::new(&page_config(), &source).unwrap();
        if no_map_sync {
            assert_eq!(map.store_granularity(), Granularity::Page);
            assert!(!map.map_sync(), "{} has no DAX", dir.display());
        }
        assert_eq!(map.addr() as usize % (2 << 20), 0, "2 MiB aligned");

        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 + 3) as u8).collect();
        map.write(page() - 100, &data).unwrap();
        map.persist(0, map.size()).unwrap();

        let second = Map::new(&page_config(), &source).unwrap();
        assert_ne!(second.addr(), map.addr());
        let mut back = vec![0u8; data.len()];
        second.read(page() - 100, &mut back).unwrap();
        assert_eq!(back, data);

        let mut from_file = vec![0u8; data.len()];
        f.file
            .read_exact_at(&mut from_file, (page() - 100) as u64)
            .unwrap();
        assert_eq!(from_file, data);
    }
}

#[test]
fn offset_and_length_map_the_right_bytes() {
    let f = temp_file(8 * page());
    f.file
        .write_all_at(b"at page three", 3 * page() as u64)
        .unwrap();
    let source = Source::from_file(&f.file).unwrap();
    let mut config = page_config();
    config
        .set_offset(3 * page())
        .unwrap()
        .set_length(2 * page());
    let map = Map::new(&config, &source).unwrap();
    assert_eq!(map.size(), 2 * page());
    let mut buf = [0u8; 13];
    map.read(0, &mut buf).unwrap();
    assert_eq!(&buf, b"at page three");
}

#[test]
fn safe_access_is_range_checked() {
    let f = temp_file(page());
    let source = Source::from_file(&f.file).unwrap();
    let mut map = Map::new(&page_config(), &source).unwrap();
    let size = map.size();
    assert_eq!(
        map.write(size - 1, b"ab").unwrap_err().code(),
        PMEM2_E_MAP_RANGE
    );
    assert_eq!(
        map.write(usize::MAX, b"a").unwrap_err().code(),
        PMEM2_E_MAP_RANGE
    );
    assert_eq!(
        map.read(size, &mut [0u8; 1]).unwrap_err().code(),
        PMEM2_E_MAP_RANGE
    );
    assert_eq!(map.persist(1, size).unwrap_err().code(), PMEM2_E_MAP_RANGE);
    assert_eq!(
        map.flush(usize::MAX, 2).unwrap_err().code(),
        PMEM2_E_MAP_RANGE
    );
    map.write(size - 2, b"ok").unwrap();
    map.persist(size, 0).unwrap();
}

#[test]
fn private_mappings_never_write_the_file() {
    let f = temp_file_in(&test_dirs()[0], 2 * page(), b'f');
    let source = Source::from_file(&f.file).unwrap();
    let mut config = Config::with_granularity(Granularity::Byte);
    config.set_sharing(Sharing::Private);
    let mut private = Map::new(&config, &source).unwrap();
    assert_eq!(private.store_granularity(), Granularity::Byte);
    private.write(0, &vec![b'p'; 2 * page()]).unwrap();
    private.persist(0, private.size()).unwrap();
    let mut buf = [0u8; 4];
    private.read(page(), &mut buf).unwrap();
    assert_eq!(&buf, b"pppp");

    let shared = Map::new(&page_config(), &source).unwrap();
    shared.read(page(), &mut buf).unwrap();
    assert_eq!(&buf, b"ffff");
    drop(private);
    let content = std::fs::read(&f.path).unwrap();
    assert!(content.iter().all(|&b| b == b'f'));
}

#[test]
fn anonymous_sources() {
    let source = Source::anonymous(3 * page()).unwrap();
    for required in Granularity::ALL {
        let mut map = Map::new(&Config::with_granularity(required), &source).unwrap();
        assert_eq!(map.store_granularity(), Granularity::Byte);
        assert_eq!(map.size(), 3 * page());
        let mut buf = [1u8; 16];
        map.read(page(), &mut buf).unwrap();
        assert_eq!(buf, [0; 16], "zero-filled");
        map.write(10, b"anon").unwrap();
        map.read(10, &mut buf[..4]).unwrap();
        assert_eq!(&buf[..4], b"anon");
    }
    // The offset is validated (alignment, range) but then ignored.
    let mut config = page_config();
    config.set_offset(page()).unwrap().set_length(page());
    let map = Map::new(&config, &source).unwrap();
    assert_eq!(map.size(), page());
    config.set_offset(page() + 1).unwrap();
    assert_eq!(
        Map::new(&config, &source).unwrap_err().code(),
        PMEM2_E_OFFSET_UNALIGNED
    );
    let empty = Source::anonymous(0).unwrap();
    assert_eq!(
        Map::new(&page_config(), &empty).unwrap_err().code(),
        PMEM2_E_SOURCE_EMPTY
    );
    assert_eq!(source.file_type(), FileType::Anonymous);
}

#[test]
fn delete_reports_and_unmaps() {
    let f = temp_file(page());
    let path = f.path.to_str().unwrap().to_owned();
    // Whether /proc/self/maps shows this test's file mapped at `addr`.
    let file_mapped_at = |addr: usize| {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .any(|l| {
                let (s, e) = l
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .split_once('-')
                    .unwrap();
                let (s, e) = (
                    usize::from_str_radix(s, 16).unwrap(),
                    usize::from_str_radix(e, 16).unwrap(),
                );
                s <= addr && addr < e && l.ends_with(&path)
            })
    };
    let source = Source::from_file(&f.file).unwrap();
    let map = Map::new(&page_config(), &source).unwrap();
    let addr = map.addr() as usize;
    assert!(file_mapped_at(addr), "mapped before delete");
    let delete = || -> pmem2::Result<()> {
        map.delete()?;
        Ok(())
    };
    delete().unwrap();
    assert!(
        !file_mapped_at(addr),
        "the file mapping is gone after delete"
    );
}

#[test]
fn huge_alignment_for_big_maps() {
    let f = temp_file(4 << 20);
    let source = Source::from_file(&f.file).unwrap();
    let map = Map::new(&page_config(), &source).unwrap();
    assert_eq!(map.addr() as usize % (2 << 20), 0);
}

#[test]
fn from_existing_overlap_is_map_exists() {
    let f = temp_file(2 * page());
    let source = Source::from_file(&f.file).unwrap();
    let map = Map::new(&page_config(), &source).unwrap();
    let addr = std::ptr::NonNull::new(map.addr()).unwrap();
    // SAFETY: the range is mapped by `map`, which outlives the attempt; the
    // call must fail before creating anything.
    let err = unsafe { Map::from_existing(&source, addr, page(), Granularity::Page) }.unwrap_err();
    assert_eq!(err.code(), PMEM2_E_MAP_EXISTS);
}

#[test]
fn map_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Map>();
}

#[test]
fn huge_anonymous_source_is_enomem_not_overflow() {
    let source = Source::anonymous(usize::MAX).unwrap();
    let err = Map::new(&page_config(), &source).unwrap_err();
    assert_eq!(err.code(), -libc::ENOMEM);
}

/// A process that forks while other threads create and drop maps: each
/// child's first PAGE persist must not hang on a registry lock that another
/// thread held at the moment of the fork.
#[cfg(not(miri))]
#[test]
fn fork_while_other_threads_map_and_unmap() {
    use std::ptr::NonNull;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    let f = temp_file(4 * page());
    let source = Source::from_file(&f.file).unwrap();
    let map = Map::new(&page_config(), &source).unwrap();
    let (addr, len) = (map.addr() as usize, map.size());
    let persist = pmem2::persist::persist_fn(Granularity::Page);

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|i| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let source = Source::anonymous(page()).unwrap();
                let mut buf = vec![0u8; 64];
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if i == 0 && n.is_multiple_of(16) {
                        // A real mapping now and then (mmap + registry).
                        drop(Map::new(
                            &Config::with_granularity(Granularity::Byte),
                            &source,
                        ));
                    } else {
                        let p = NonNull::new(buf.as_mut_ptr()).unwrap();
                        // SAFETY: `buf` stays alive and untouched while the
                        // map exists; the map is dropped at once.
                        let m =
                            unsafe { Map::from_existing(&source, p, buf.len(), Granularity::Byte) };
                        drop(m.unwrap());
                    }
                    n += 1;
                }
            })
        })
        .collect();

    let mut children = Vec::new();
    for _ in 0..300 {
        // SAFETY: the child only calls the persist function (which takes the
        // registry lock and msyncs) and `_exit`, never returning into the
        // test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // SAFETY: `[addr, addr + len)` is the live map, copied into the child.
            unsafe { persist(addr as *const std::ffi::c_void, len) };
            // SAFETY: ends the child without running the parent's exit code.
            unsafe { libc::_exit(0) };
        }
        children.push(pid);
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut hung = 0;
    for pid in children {
        let mut status = 0;
        loop {
            // SAFETY: `pid` is our child; `status` is a valid out pointer.
            let r = unsafe { libc::waitpid(pid, &raw mut status, libc::WNOHANG) };
            if r == pid {
                assert!(
                    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                    "child {pid}: status {status:#x}"
                );
                break;
            }
            assert_eq!(r, 0, "waitpid failed");
            if Instant::now() > deadline {
                hung += 1;
                // SAFETY: `pid` is our own child, not yet reaped.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &raw mut status, 0);
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert_eq!(hung, 0, "children hung in their first PAGE persist");
    drop(map);
}
