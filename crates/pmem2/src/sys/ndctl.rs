//! NVDIMM bus commands through `/dev/ndctlN` (`<linux/ndctl.h>`): clearing
//! poisoned ranges, which sysfs can't do.
//!
//! Clearing is the ARS-capabilities command (to learn the clear unit) then
//! the clear-error command over the physical range, as libndctl does for
//! PMDK's device DAX `pmem2_badblock_clear`. The kernel drops the cleared
//! range from the region's and block devices' bad-block lists. It needs
//! root (the bus device is root-only and the command writes) and firmware
//! support: emulated NVDIMMs (QEMU) usually lack it and fail with `ENOTTY`
//! or a firmware status.

use std::path::Path;

use rustix::fs::{Mode, OFlags};

use crate::error::{Errno, Error, Result};

/// `struct nd_cmd_ars_cap`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct ArsCap {
    address: u64,
    length: u64,
    status: u32,
    max_ars_out: u32,
    clear_err_unit: u32,
    flags: u16,
    reserved: u16,
}

/// `struct nd_cmd_clear_error`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct ClearError {
    address: u64,
    length: u64,
    status: u32,
    reserved: [u8; 4],
    cleared: u64,
}

// The kernel's structs are `__packed` but naturally aligned: same layout.
const _: () = assert!(std::mem::size_of::<ArsCap>() == 32);
const _: () = assert!(std::mem::size_of::<ClearError>() == 32);

/// `ND_IOCTL_ARS_CAP` = `_IOWR('N', ND_CMD_ARS_CAP = 1, struct nd_cmd_ars_cap)`.
const ND_IOCTL_ARS_CAP: rustix::ioctl::Opcode =
    rustix::ioctl::opcode::read_write::<ArsCap>(b'N', 1);
/// `ND_IOCTL_CLEAR_ERROR` = `_IOWR('N', ND_CMD_CLEAR_ERROR = 4, struct nd_cmd_clear_error)`.
const ND_IOCTL_CLEAR_ERROR: rustix::ioctl::Opcode =
    rustix::ioctl::opcode::read_write::<ClearError>(b'N', 4);

/// The firmware status bits of a command's `status` (`ARS_STATUS_MASK`).
const STATUS_MASK: u32 = 0xffff;

/// Clears `length` bytes of poison at physical `address` through the bus
/// device `ndctl` (e.g. `/dev/ndctl0`).
///
/// # Errors
/// [`Error::Os`] naming the step: opening the bus device, either ioctl
/// (e.g. `ENOTTY` without firmware support), a non-zero firmware status
/// (`ENXIO`), or fewer bytes cleared than asked (`ENXIO`, as libndctl
/// reports it); [`Error::Unknown`] for an invalid clear unit.
pub(crate) fn clear_error(ndctl: &Path, address: u64, length: u64) -> Result<()> {
    let fd = rustix::fs::open(ndctl, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::os(e, format!("open \"{}\"", ndctl.display())))?;
    let mut cap = ArsCap {
        address,
        length,
        ..ArsCap::default()
    };
    // SAFETY: ND_IOCTL_ARS_CAP reads and writes exactly one
    // `struct nd_cmd_ars_cap`, which `ArsCap` mirrors; it lives for the call.
    let ioctl = unsafe { rustix::ioctl::Updater::<ND_IOCTL_ARS_CAP, ArsCap>::new(&mut cap) };
    // SAFETY: opcode and buffer type match, as said above.
    unsafe { rustix::ioctl::ioctl(&fd, ioctl) }
        .map_err(|e| Error::os(e, "ioctl ND_IOCTL_ARS_CAP"))?;
    if cap.status & STATUS_MASK != 0 {
        return Err(Error::os(
            Errno::NXIO,
            format!("ARS capabilities: firmware status {:#x}", cap.status),
        ));
    }
    if !cap.clear_err_unit.is_power_of_two() {
        return Err(Error::Unknown(
            format!("invalid clear error unit {}", cap.clear_err_unit).into(),
        ));
    }
    let mut clear = ClearError {
        address,
        length,
        ..ClearError::default()
    };
    // SAFETY: ND_IOCTL_CLEAR_ERROR reads and writes exactly one
    // `struct nd_cmd_clear_error`, which `ClearError` mirrors.
    let ioctl =
        unsafe { rustix::ioctl::Updater::<ND_IOCTL_CLEAR_ERROR, ClearError>::new(&mut clear) };
    // SAFETY: opcode and buffer type match, as said above.
    unsafe { rustix::ioctl::ioctl(&fd, ioctl) }
        .map_err(|e| Error::os(e, "ioctl ND_IOCTL_CLEAR_ERROR"))?;
    if clear.status & STATUS_MASK != 0 {
        return Err(Error::os(
            Errno::NXIO,
            format!("clear error: firmware status {:#x}", clear.status),
        ));
    }
    if clear.cleared < length {
        return Err(Error::os(
            Errno::NXIO,
            format!(
                "failed to clear {} out of {length} bytes of bad blocks",
                length - clear.cleared
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcodes_match_the_kernel_header() {
        // _IOWR('N', 1, 32 bytes) and _IOWR('N', 4, 32 bytes) on x86_64/aarch64
        assert_eq!(u64::from(ND_IOCTL_ARS_CAP), 0xc020_4e01);
        assert_eq!(u64::from(ND_IOCTL_CLEAR_ERROR), 0xc020_4e04);
    }

    #[test]
    fn a_missing_bus_device_is_reported_by_name() {
        let e = clear_error(Path::new("/nonexistent/ndctl0"), 0, 512).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::NOENT));
        assert!(
            e.to_string().starts_with("open \"/nonexistent/ndctl0\""),
            "{e}"
        );
    }

    #[test]
    fn a_non_bus_device_refuses_the_ioctl() {
        if crate::sys::emulation::unknown_ioctl_answers_enosys() {
            let why = crate::sys::emulation::IOCTL_WHY;
            return crate::sys::emulation::skip("a_non_bus_device_refuses_the_ioctl", why);
        }
        let f = tempfile::NamedTempFile::new().unwrap();
        let e = clear_error(f.path(), 0, 512).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::NOTTY), "{e}");
        assert!(e.to_string().starts_with("ioctl ND_IOCTL_ARS_CAP"), "{e}");
    }
}
