//! The libpmem drop-in (`pmem-ffi`, `libpmem.so.1`) on real DAX: what its
//! C functions do on fsdax and device DAX (`pmem_map_file` tracks the
//! mapping, `pmem_is_pmem` says 1, `MAP_SYNC` accepted), and that stores
//! made durable with `pmem_persist` (or `pmem_msync` where the mapping is
//! not pmem) survive a power cut. Called from `dax.rs`'s registry.

use std::ffi::{c_int, c_void, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use pmem_ffi::errormsg::pmem_errormsg;
use pmem_ffi::map::{pmem_deep_persist, pmem_is_pmem, pmem_map_file, pmem_msync, pmem_unmap};
use pmem_ffi::mem::pmem_memcpy_persist;
use pmem_ffi::persist::{pmem_has_auto_flush, pmem_persist};

pub type Outcome = Result<String, String>;

const MIB: usize = 1 << 20;
const CREATE: c_int = 1;
const EXCL: c_int = 2;

fn cstring(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("no NUL in test paths")
}

fn errormsg() -> String {
    // SAFETY: pmem_errormsg returns a NUL-terminated thread-local buffer.
    unsafe { CStr::from_ptr(pmem_errormsg()) }
        .to_string_lossy()
        .into_owned()
}

/// `pmem_map_file`: (address, mapped length, `is_pmem`) or the message.
fn map_file(path: &Path, len: usize, flags: c_int) -> Result<(*mut u8, usize, c_int), String> {
    let p = cstring(path);
    let (mut mapped, mut is_pmem) = (0usize, -1);
    // SAFETY: a valid C string and out-pointers to locals.
    let addr = unsafe {
        pmem_map_file(
            p.as_ptr(),
            len,
            flags,
            0o600,
            &raw mut mapped,
            &raw mut is_pmem,
        )
    };
    if addr.is_null() {
        Err(format!("pmem_map_file {}: {}", path.display(), errormsg()))
    } else {
        Ok((addr.cast(), mapped, is_pmem))
    }
}

/// The pattern written at `offset` by the persistence tests.
fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// fsdax: a created file is mapped with `MAP_SYNC` (`is_pmem` 1; 0 on
/// virtio-pmem, which refuses it), `pmem_is_pmem` agrees, copies and deep
/// persist work, `pmem_unmap` ends it being pmem.
pub fn fsdax_map_file(dir: &Path, map_sync: bool) -> Outcome {
    let path = dir.join("pmem2-libpmem-map");
    let _ = std::fs::remove_file(&path);
    let (addr, len, is_pmem) = map_file(&path, 4 * MIB, CREATE | EXCL)?;
    let want = c_int::from(map_sync);
    if len != 4 * MIB || is_pmem != want {
        return Err(format!(
            "mapped_len {len}, is_pmem {is_pmem}; expected {}, {want}",
            4 * MIB
        ));
    }
    let data = pattern(7, 100_000);
    // SAFETY: the mapping is live and 4 MiB long.
    unsafe {
        if pmem_is_pmem(addr.cast(), len) != want || pmem_is_pmem(addr.add(MIB).cast(), 10) != want
        {
            return Err("pmem_is_pmem disagrees with pmem_map_file".into());
        }
        pmem_memcpy_persist(addr.add(12_345).cast(), data.as_ptr().cast(), data.len());
        if pmem_deep_persist(addr.cast(), len) != 0 {
            return Err(format!("pmem_deep_persist: {}", errormsg()));
        }
        if pmem_unmap(addr.cast(), len) != 0 {
            return Err(format!("pmem_unmap: {}", errormsg()));
        }
        if pmem_is_pmem(addr.cast(), len) != 0 {
            return Err("still pmem after pmem_unmap".into());
        }
    }
    let back = std::fs::read(&path).map_err(|e| e.to_string())?;
    if back[12_345..12_345 + data.len()] != data[..] {
        return Err("the file doesn't hold what was copied".into());
    }
    let again = map_file(&path, 4 * MIB, CREATE | EXCL);
    if again.is_ok() {
        return Err("CREATE|EXCL on an existing file succeeded".into());
    }
    std::fs::remove_file(&path).map_err(|e| e.to_string())?;
    // SAFETY: plain call.
    let auto = unsafe { pmem_has_auto_flush() };
    Ok(format!("is_pmem {is_pmem}, has_auto_flush {auto}"))
}

/// Device DAX: mapped whole (`len` 0), `is_pmem` 1; EXCL and a wrong
/// length are refused with PMDK's messages. Writes only in the middle of the
/// device (the power-cut test owns its start and end).
pub fn devdax_map_file(dev: &Path) -> Outcome {
    let (addr, len, is_pmem) = map_file(dev, 0, 0)?;
    if is_pmem != 1 {
        return Err(format!("is_pmem {is_pmem} for a device DAX"));
    }
    let data = pattern(3, 4096);
    // SAFETY: the mapping is live and `len` bytes long; the middle is unused.
    unsafe {
        let at = addr.add(len / 2);
        pmem_memcpy_persist(at.cast(), data.as_ptr().cast(), data.len());
        if std::slice::from_raw_parts(at, data.len()) != &data[..] {
            return Err("copy to the device".into());
        }
        if pmem_deep_persist(at.cast::<c_void>(), data.len()) != 0 {
            return Err(format!("pmem_deep_persist: {}", errormsg()));
        }
        if pmem_unmap(addr.cast(), len) != 0 {
            return Err(format!("pmem_unmap: {}", errormsg()));
        }
    }
    match map_file(dev, 0, EXCL) {
        Err(e) if e.ends_with("flag unsupported for Device DAX 2") => {}
        other => return Err(format!("EXCL on a device DAX: {other:?}")),
    }
    match map_file(dev, 4096, CREATE) {
        Err(e)
            if e.contains("Device DAX length must be either 0 or the exact size of the device") => {
        }
        other => return Err(format!("a wrong length on a device DAX: {other:?}")),
    }
    Ok(format!("{} MiB mapped, is_pmem 1", len / MIB))
}

/// Write boot: a file created with `pmem_map_file`, a pattern copied and made
/// durable as libpmem's man page says (`pmem_persist` when `is_pmem`, else
/// `pmem_msync`). Verify boot: the pattern is there.
pub fn fsdax_persist_survives(dir: &Path, write: bool) -> Outcome {
    let path = dir.join("pmem2-libpmem-persist");
    let data = pattern(11, 3 * MIB + 77);
    if write {
        let _ = std::fs::remove_file(&path);
        let (addr, len, is_pmem) = map_file(&path, 4 * MIB, CREATE)?;
        // The new file's size and blocks are file-system metadata, which
        // pmem_persist doesn't cover: make them durable first, as an
        // application creating a pool does (fsync of the file and its
        // directory).
        for p in [path.as_path(), dir] {
            std::fs::File::open(p)
                .and_then(|f| f.sync_all())
                .map_err(|e| format!("fsync {}: {e}", p.display()))?;
        }
        // SAFETY: the mapping is live and 4 MiB long.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), addr.add(100), data.len());
            if is_pmem == 1 {
                pmem_persist(addr.add(100).cast(), data.len());
            } else if pmem_msync(addr.add(100).cast(), data.len()) != 0 {
                return Err(format!("pmem_msync: {}", errormsg()));
            }
            pmem_unmap(addr.cast(), len);
        }
        let how = if is_pmem == 1 {
            "pmem_persist"
        } else {
            "pmem_msync"
        };
        return Ok(format!("{} bytes made durable with {how}", data.len()));
    }
    let (addr, len, _) = map_file(&path, 0, 0)?;
    // SAFETY: the mapping is live and `len` bytes long.
    let ok = len == 4 * MIB
        && unsafe { std::slice::from_raw_parts(addr.add(100), data.len()) } == &data[..];
    // SAFETY: the slice above is gone.
    unsafe { pmem_unmap(addr.cast(), len) };
    if ok {
        Ok(format!("{} bytes verified", data.len()))
    } else {
        Err(format!("mapped_len {len}: the data did not survive"))
    }
}
