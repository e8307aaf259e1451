//! Where a new mapping goes and how the source is mapped there.
//!
//! A mapping is placed at an address aligned to 2 MiB (1 GiB when it is
//! 2 GiB or larger), and at least to the source's alignment, so the kernel
//! can use huge pages. An inaccessible placeholder larger than needed is
//! reserved first and the source mapped *over* its aligned part with
//! `MAP_FIXED` before the rest is trimmed, so no other thread can take the
//! range between the two steps. Inside a reservation the claimed range is
//! the target.

use crate::config::{Config, Protection, Sharing};
use crate::error::{Errno, Error, Result};
use crate::reservation::Placement;
use crate::source::Source;
use crate::sys::mm::{self, FileMapKind, Mapping, ProtFlags};

const MEGABYTE: usize = 1 << 20;
const GIGABYTE: usize = 1 << 30;

/// Mapping alignment: 2 MiB, 1 GiB for 2 GiB and more, at least the source's.
pub(super) fn map_alignment(len: usize, source_alignment: usize) -> usize {
    let preferred = if len >= 2 * GIGABYTE {
        GIGABYTE
    } else {
        2 * MEGABYTE
    };
    preferred.max(source_alignment)
}

/// Where the real mapping goes. Dropping it undoes the placement: the
/// placeholder is unmapped, a reservation range mended and freed.
pub(super) enum Target {
    /// An inaccessible anonymous mapping big enough to hold an aligned
    /// range, and the aligned address inside it.
    Placeholder {
        placeholder: Mapping,
        aligned: usize,
    },
    /// A range claimed in a reservation.
    InReservation(Placement),
}

impl Target {
    /// Where a map of `size` bytes (`reserved` with its page rounding) of a
    /// source with `alignment` goes: the config's reservation, else a new
    /// aligned placeholder.
    pub(super) fn for_config(
        config: &Config,
        reserved: usize,
        size: usize,
        alignment: usize,
    ) -> Result<Self> {
        match &config.reservation {
            Some((weak, offset)) => {
                let rsv = weak.upgrade().ok_or_else(|| {
                    Error::os(
                        Errno::INVAL,
                        "the vm reservation set in the config was deleted",
                    )
                })?;
                Ok(Target::InReservation(
                    rsv.claim(*offset, reserved, size, alignment)?,
                ))
            }
            None => Target::placeholder(reserved, map_alignment(size, alignment)),
        }
    }

    /// A placeholder for `len` bytes aligned to `alignment`.
    pub(super) fn placeholder(len: usize, alignment: usize) -> Result<Self> {
        let total = len
            .checked_add(alignment)
            .ok_or_else(|| Error::os(Errno::NOMEM, "mmap MAP_ANONYMOUS"))?;
        let placeholder =
            Mapping::reserve(total).map_err(|errno| Error::os(errno, "mmap MAP_ANONYMOUS"))?;
        let aligned = placeholder.addr().next_multiple_of(alignment);
        Ok(Target::Placeholder {
            placeholder,
            aligned,
        })
    }

    pub(super) fn address(&self) -> usize {
        match self {
            Target::Placeholder { aligned, .. } => *aligned,
            Target::InReservation(p) => p.address(),
        }
    }
}

/// `mmap` the source at the target with `MAP_FIXED`; returns whether
/// `MAP_SYNC` was accepted.
pub(super) fn map_at(
    target: &Target,
    size: usize,
    config: &Config,
    source: &Source<'_>,
    offset: usize,
) -> Result<bool> {
    let addr = target.address();
    let prot = prot_flags(config.protection);
    let translate = |errno: Errno| match errno {
        Errno::ACCESS => Error::NoAccess("mmap: Permission denied".into()),
        Errno::NOTSUP => Error::NotSupported("mmap: Operation not supported".into()),
        Errno::EXIST => Error::MappingExists("mmap: File exists".into()),
        other => Error::os(other, "mmap"),
    };
    let Some(fd) = source.file_fd() else {
        let shared = config.sharing == Sharing::Shared;
        // SAFETY: the target range is owned by pmem2 (a placeholder or a
        // reservation range claimed for this map) and replaced atomically.
        unsafe { mm::map_anonymous_fixed(addr, size, prot, shared) }.map_err(translate)?;
        return Ok(false);
    };
    let offset = offset as u64;
    let map = |kind| {
        // SAFETY: as above; the descriptor is valid while `source` lives.
        unsafe { mm::map_file_fixed(addr, size, prot, kind, fd, offset) }
    };
    if config.sharing == Sharing::Private {
        map(FileMapKind::Private).map_err(translate)?;
        return Ok(false);
    }
    match map(FileMapKind::SharedSync) {
        Ok(()) => Ok(true),
        Err(Errno::INVAL | Errno::NOTSUP) => {
            map(FileMapKind::Shared).map_err(translate)?;
            Ok(false)
        }
        Err(errno) => Err(translate(errno)),
    }
}

pub(super) fn prot_flags(protection: Protection) -> ProtFlags {
    let mut prot = ProtFlags::empty();
    if protection.contains(Protection::READ) {
        prot |= ProtFlags::READ;
    }
    if protection.contains(Protection::WRITE) {
        prot |= ProtFlags::WRITE;
    }
    if protection.contains(Protection::EXEC) {
        prot |= ProtFlags::EXEC;
    }
    prot
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_choice() {
        assert_eq!(map_alignment(4096, 4096), 2 * MEGABYTE);
        assert_eq!(map_alignment(2 * GIGABYTE - 1, 4096), 2 * MEGABYTE);
        assert_eq!(map_alignment(2 * GIGABYTE, 4096), GIGABYTE);
        assert_eq!(map_alignment(4096, 4 * MEGABYTE), 4 * MEGABYTE);
    }
}
