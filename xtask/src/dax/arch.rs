//! The guest architectures: what differs between the x86-64 guest (`pc` machine, `SeaBIOS`,
//! the host's own Debian packages) and the arm64 guest (`virt` machine, UEFI firmware, arm64
//! packages from a private apt state, the bookworm-backports kernel).

/// A guest architecture.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Arch {
    /// `qemu-system-x86_64 -M pc`, Debian 12's amd64 kernel.
    X86_64,
    /// `qemu-system-aarch64 -M virt` under EDK2, Debian 12's arm64 backports kernel.
    Aarch64,
}

impl Arch {
    /// Short name used in file names and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Aarch64 => "aarch64",
        }
    }

    /// Rust target triple of the guest's binaries.
    pub fn rust_target(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64-unknown-linux-gnu",
            Self::Aarch64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// QEMU system emulator (in the host tree's `usr/bin`).
    pub fn qemu(self) -> &'static str {
        match self {
            Self::X86_64 => "qemu-system-x86_64",
            Self::Aarch64 => "qemu-system-aarch64",
        }
    }

    /// Serial console device of the guest kernel.
    pub fn console(self) -> &'static str {
        match self {
            Self::X86_64 => "ttyS0",
            // the virt machine's PL011
            Self::Aarch64 => "ttyAMA0",
        }
    }

    /// Debian multiarch directory name (`lib/<this>`).
    pub fn multiarch(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64-linux-gnu",
            Self::Aarch64 => "aarch64-linux-gnu",
        }
    }

    /// Kernel modules the guest loads (their dependencies are added). crc32c is loaded
    /// explicitly: ext4 asks the crypto API for it at mount time, and the guest has no
    /// `modprobe` to find it.
    pub fn modules(self) -> &'static [&'static str] {
        match self {
            Self::X86_64 => &[
                "crc32c_generic",
                "crc32c-intel",
                "libnvdimm",
                "nfit",
                "nd_pmem",
                "nd_btt",
                "dax_pmem",
                "device_dax",
                "virtio_pci",
                "virtio_pmem",
                "ext4",
                "xfs",
            ],
            // virtio_pci is built in; no virtio-pmem configuration on arm64
            Self::Aarch64 => &[
                "crc32c_generic",
                "libnvdimm",
                "nfit",
                "nd_pmem",
                "nd_btt",
                "dax_pmem",
                "device_dax",
                "ext4",
                "xfs",
            ],
        }
    }
}
