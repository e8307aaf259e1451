//! `pmem2_config_*`: the mapping configuration.

use std::os::raw::{c_int, c_uint};

use pmem2::{Config, Error, Granularity, Protection, Sharing};

use crate::guard::{self, call};
use crate::reservation::ReservationHandle;

/// `struct pmem2_config`: opaque to C.
#[derive(Debug, Clone, Default)]
pub struct ConfigHandle {
    /// The Rust configuration the setters fill in.
    pub config: Config,
}

/// Creates a config with PMDK's defaults (offset 0, length 0 = whole
/// source, shared, read-write, no granularity) and stores it in `*cfg`.
///
/// # Safety
/// `cfg` must be NULL (→ `-EINVAL`) or valid for a pointer write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_config_new(cfg: *mut *mut ConfigHandle) -> c_int {
    const F: &str = "pmem2_config_new";
    call(F, || {
        if cfg.is_null() {
            return Err(guard::null_arg(F, "cfg"));
        }
        // SAFETY: non-NULL, valid for writes by the caller's contract.
        unsafe { guard::give(cfg, ConfigHandle::default()) };
        Ok(())
    })
}

/// Frees `*cfg` (NULL is fine) and sets `*cfg` to NULL. Always 0 unless
/// `cfg` itself is NULL (`-EINVAL`; PMDK crashes).
///
/// # Safety
/// `cfg` must be NULL or valid for reads and writes; `*cfg` must be NULL or
/// a config from [`pmem2_config_new`], not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_config_delete(cfg: *mut *mut ConfigHandle) -> c_int {
    const F: &str = "pmem2_config_delete";
    call(F, || {
        if cfg.is_null() {
            return Err(guard::null_arg(F, "cfg"));
        }
        // SAFETY: `cfg` is valid (caller's contract); `*cfg` is ours or NULL.
        drop(unsafe { guard::take(cfg) });
        Ok(())
    })
}

/// Sets the coarsest store granularity the application accepts.
/// A value outside 0..=2 → `PMEM2_E_GRANULARITY_NOT_SUPPORTED`.
///
/// # Safety
/// `cfg` must be NULL (→ `-EINVAL`) or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_config_set_required_store_granularity(
    cfg: *mut ConfigHandle,
    g: c_int,
) -> c_int {
    const F: &str = "pmem2_config_set_required_store_granularity";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live, unaliased config.
        let cfg = unsafe { guard::handle_mut(cfg, F, "cfg") }?;
        cfg.config
            .set_required_store_granularity(Granularity::try_from(g)?);
        Ok(())
    })
}

/// Sets the offset into the source; `> INT64_MAX` →
/// `PMEM2_E_OFFSET_OUT_OF_RANGE`. Alignment is checked by `pmem2_map_new`.
///
/// # Safety
/// `cfg` must be NULL (→ `-EINVAL`) or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_config_set_offset(cfg: *mut ConfigHandle, offset: usize) -> c_int {
    const F: &str = "pmem2_config_set_offset";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live, unaliased config.
        let cfg = unsafe { guard::handle_mut(cfg, F, "cfg") }?;
        cfg.config.set_offset(offset)?;
        Ok(())
    })
}

/// Sets the length to map (0: to the end of the source). Always 0.
///
/// # Safety
/// `cfg` must be NULL (→ `-EINVAL`) or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_config_set_length(cfg: *mut ConfigHandle, length: usize) -> c_int {
    const F: &str = "pmem2_config_set_length";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live, unaliased config.
        let cfg = unsafe { guard::handle_mut(cfg, F, "cfg") }?;
        cfg.config.set_length(length);
        Ok(())
    })
}

/// Sets `PMEM2_SHARED` or `PMEM2_PRIVATE`; another value →
/// `PMEM2_E_INVALID_SHARING_VALUE`.
///
/// # Safety
/// `cfg` must be NULL (→ `-EINVAL`) or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_config_set_sharing(cfg: *mut ConfigHandle, sharing: c_int) -> c_int {
    const F: &str = "pmem2_config_set_sharing";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live, unaliased config.
        let cfg = unsafe { guard::handle_mut(cfg, F, "cfg") }?;
        cfg.config.set_sharing(Sharing::try_from(sharing)?);
        Ok(())
    })
}

/// Sets the protection: an OR of `PMEM2_PROT_READ/WRITE/EXEC`, or
/// `PMEM2_PROT_NONE`; other bits → `PMEM2_E_INVALID_PROT_FLAG`.
///
/// # Safety
/// `cfg` must be NULL (→ `-EINVAL`) or a live config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_config_set_protection(
    cfg: *mut ConfigHandle,
    prot: c_uint,
) -> c_int {
    const F: &str = "pmem2_config_set_protection";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live, unaliased config.
        let cfg = unsafe { guard::handle_mut(cfg, F, "cfg") }?;
        cfg.config.set_protection(protection_from_c(prot)?);
        Ok(())
    })
}

/// Validates raw C protection flags as `pmem2_config_set_protection` does:
/// only `PMEM2_PROT_{EXEC,READ,WRITE}` bits (none is `PMEM2_PROT_NONE`).
///
/// # Errors
/// `PMEM2_E_INVALID_PROT_FLAG` for any other bit.
pub fn protection_from_c(prot: c_uint) -> Result<Protection, Error> {
    <Protection as bitflags::Flags>::from_bits(prot)
        .ok_or_else(|| Error::InvalidProtFlag(format!("invalid flag {prot}").into()))
}

/// Makes maps of this config go to `offset` of the reservation `rsv`
/// (NULL: no reservation). Always 0; the offset is checked by
/// `pmem2_map_new`. The config doesn't keep the reservation alive: once it
/// is deleted, `pmem2_map_new` with this config returns `-EINVAL` (PMDK
/// would follow a dangling pointer).
///
/// # Safety
/// `cfg` must be NULL (→ `-EINVAL`) or a live config; `rsv` NULL or a live
/// reservation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem2_config_set_vm_reservation(
    cfg: *mut ConfigHandle,
    rsv: *mut ReservationHandle,
    offset: usize,
) -> c_int {
    const F: &str = "pmem2_config_set_vm_reservation";
    call(F, || {
        // SAFETY: caller's contract: NULL or a live, unaliased config.
        let cfg = unsafe { guard::handle_mut(cfg, F, "cfg") }?;
        // SAFETY: caller's contract: NULL or a live reservation.
        let rsv = unsafe { rsv.cast_const().as_ref() };
        cfg.config
            .set_vm_reservation(rsv.map(|r| &r.reservation), offset);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::*;
    use crate::errormsg::last_message;
    use std::ptr::null_mut;

    #[test]
    fn lifecycle_and_setters() {
        let mut cfg: *mut ConfigHandle = null_mut();
        // SAFETY: `cfg` is a live local; the handle is used only while alive.
        unsafe {
            assert_eq!(pmem2_config_new(&raw mut cfg), 0);
            assert!(!cfg.is_null());
            assert_eq!(pmem2_config_set_required_store_granularity(cfg, 2), 0);
            assert_eq!(
                pmem2_config_set_required_store_granularity(cfg, 3),
                PMEM2_E_GRANULARITY_NOT_SUPPORTED
            );
            assert_eq!(last_message(), "unknown granularity value 3");
            assert_eq!(
                (*cfg).config.required_store_granularity(),
                Some(Granularity::Page),
                "a refused value leaves the old one"
            );
            assert_eq!(pmem2_config_set_offset(cfg, 4096), 0);
            assert_eq!(
                pmem2_config_set_offset(cfg, usize::MAX),
                PMEM2_E_OFFSET_OUT_OF_RANGE
            );
            assert_eq!(pmem2_config_set_length(cfg, 8192), 0);
            assert_eq!(pmem2_config_set_sharing(cfg, 1), 0);
            assert_eq!(
                pmem2_config_set_sharing(cfg, 2),
                PMEM2_E_INVALID_SHARING_VALUE
            );
            assert_eq!(pmem2_config_set_protection(cfg, 0), 0);
            assert_eq!(
                pmem2_config_set_protection(cfg, 1),
                PMEM2_E_INVALID_PROT_FLAG
            );
            let c = &(*cfg).config;
            // The Rust config has no getters for these: its Debug form
            // shows what the C setters stored.
            let shown = format!("{c:?}");
            for part in ["offset: 4096", "length: 8192", "sharing: Private"] {
                assert!(shown.contains(part), "{part} in {shown}");
            }
            assert_eq!(c.protection(), Protection::empty());
            assert_eq!(pmem2_config_delete(&raw mut cfg), 0);
            assert!(cfg.is_null());
            assert_eq!(pmem2_config_delete(&raw mut cfg), 0, "NULL-safe");
        }
    }

    #[test]
    fn null_handles_are_errors() {
        // SAFETY: NULL is accepted by every function.
        unsafe {
            assert_eq!(pmem2_config_new(null_mut()), -libc::EINVAL);
            assert_eq!(
                last_message(),
                "pmem2_config_new: cfg is NULL: Invalid argument"
            );
            assert_eq!(pmem2_config_delete(null_mut()), -libc::EINVAL);
            assert_eq!(pmem2_config_set_offset(null_mut(), 0), -libc::EINVAL);
            assert_eq!(pmem2_config_set_length(null_mut(), 0), -libc::EINVAL);
            assert_eq!(pmem2_config_set_sharing(null_mut(), 0), -libc::EINVAL);
            assert_eq!(pmem2_config_set_protection(null_mut(), 0), -libc::EINVAL);
            assert_eq!(
                pmem2_config_set_required_store_granularity(null_mut(), 0),
                -libc::EINVAL
            );
        }
    }

    #[test]
    fn protection_from_c_accepts_pmdk_bits_only() {
        use bitflags::Flags;
        assert_eq!(protection_from_c(0).unwrap(), Protection::empty());
        let rwx = (1 << 29) | (1 << 30) | (1 << 31);
        assert_eq!(protection_from_c(rwx).unwrap(), Protection::all());
        for bad in [1, 1 << 28, rwx | 4] {
            let err = protection_from_c(bad).unwrap_err();
            assert_eq!(err.code(), PMEM2_E_INVALID_PROT_FLAG);
        }
    }
}
