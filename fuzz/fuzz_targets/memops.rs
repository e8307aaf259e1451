//! Differential fuzzing of pmem2's memmove/memcpy/memset against
//! `ptr::copy` / `ptr::write_bytes` on a twin buffer.
//!
//! The input picks the granularity, the kernel (the process's own functions
//! from `memmove_fn`/`memcpy_fn`/`memset_fn`, or any kernel family this CPU
//! runs, forced with `ops_with`), the six flag bits, the operation, a length
//! of at most 8 KiB and the source and destination offsets (memmove ranges
//! overlap in both directions). Checked: the result equals the twin's, the
//! guard bytes around the ranges are untouched, and the return value is
//! `dest`.
#![no_main]

use std::ffi::{c_int, c_uint, c_void};
use std::sync::atomic::{fence, Ordering};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pmem2::mem::{self, KernelKind, MemOps};
use pmem2::Granularity;
use pmem2_fuzz::Reader;

/// Longest operation.
const MAX_LEN: usize = 8192;
/// Bytes before and after the area an operation may touch.
const GUARD: usize = 128;
/// Room for offsets: the touched area is `MAX_LEN + SLACK` bytes.
const SLACK: usize = 256;
/// Size of the area operations may touch.
const AREA: usize = MAX_LEN + SLACK;
/// Size of a whole buffer: guard, area, guard.
const BUF: usize = GUARD + AREA + GUARD;

/// A 64-byte-aligned block, so that offsets choose the alignment exactly.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Block([u8; 64]);

/// A heap buffer of `BUF` bytes aligned to 64.
struct Buffer(Vec<Block>);

impl Buffer {
    /// A zeroed buffer.
    fn new() -> Self {
        Buffer(vec![Block([0; 64]); BUF.div_ceil(64)])
    }

    /// The buffer as bytes.
    fn bytes(&self) -> &[u8] {
        // SAFETY: `Block` is `repr(C)` over `[u8; 64]` with no padding, so the
        // vector's storage is `len * 64` initialized bytes, borrowed shared here.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>(), self.0.len() * 64) }
    }

    /// The buffer as mutable bytes.
    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and the borrow of `self` is exclusive.
        unsafe {
            std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<u8>(), self.0.len() * 64)
        }
    }
}

/// Where the functions under test come from.
#[derive(Debug, Clone, Copy)]
enum Kernel {
    /// `mem::memmove_fn` / `memcpy_fn` / `memset_fn`: the process's choice.
    Default,
    /// `mem::ops_with(kind, g)`.
    Forced(KernelKind),
}

/// The kernels this process can run: the default plus every supported family.
fn kernels() -> &'static [Kernel] {
    static KERNELS: OnceLock<Vec<Kernel>> = OnceLock::new();
    KERNELS.get_or_init(|| {
        let mut v = vec![Kernel::Default];
        for kind in KernelKind::ALL {
            if mem::ops_with(kind, Granularity::Byte).is_some() {
                v.push(Kernel::Forced(kind));
            }
        }
        v
    })
}

/// The operation under test.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// memmove within one buffer; the ranges may overlap.
    Memmove,
    /// memcpy from a second buffer (never overlapping).
    Memcpy,
    /// memset with a full `int` value.
    Memset(c_int),
}

/// Fills `buf` with a pattern derived from `seed` (xorshift), so that
/// misplaced bytes show.
fn pattern(buf: &mut [u8], mut seed: u64) {
    seed |= 1;
    for b in buf {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        *b = (seed >> 24) as u8;
    }
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let granularity = Granularity::ALL[usize::from(r.u8()) % 3];
    let kernels = kernels();
    let kernel = kernels[usize::from(r.u8()) % kernels.len()];
    let flags = c_uint::from(r.u8() & 0x3f);
    let op_sel = r.u8();
    let len = usize::from(r.u16()) % (MAX_LEN + 1);
    let room = AREA - len;
    let dest_off = usize::from(r.u16()) % (room + 1);
    let src_off = match r.u8() {
        // Near dest on either side: overlapping moves in both directions.
        shift @ 0..=191 => (dest_off + usize::from(shift)).saturating_sub(96).min(room),
        _ => usize::from(r.u16()) % (room + 1),
    };
    let op = match op_sel % 3 {
        0 => Op::Memmove,
        1 => Op::Memcpy,
        _ => Op::Memset(r.u32() as c_int),
    };
    let seed = r.u64();

    let ops: Option<&MemOps> = match kernel {
        Kernel::Default => None,
        Kernel::Forced(kind) => Some(mem::ops_with(kind, granularity).expect("supported")),
    };

    let mut buf = Buffer::new();
    pattern(buf.bytes_mut(), seed);
    let mut src_buf = Buffer::new();
    pattern(src_buf.bytes_mut(), seed.rotate_left(17) ^ 0x5555);
    let mut twin = buf.bytes().to_vec();
    let src_snapshot = src_buf.bytes().to_vec();

    let base = buf.bytes_mut().as_mut_ptr();
    // SAFETY: GUARD + dest_off + len <= GUARD + AREA < BUF: inside the buffer.
    let dest = unsafe { base.add(GUARD + dest_off) };
    let ret = match op {
        Op::Memmove => {
            let f = ops.map_or_else(|| mem::memmove_fn(granularity), |o| o.memmove);
            // SAFETY: GUARD + src_off + len <= GUARD + AREA: inside the buffer.
            let src = unsafe { base.add(GUARD + src_off) };
            // SAFETY: both ranges lie within `buf`, which is writable and
            // outlives the call; memmove allows overlap.
            unsafe { f(dest.cast::<c_void>(), src.cast::<c_void>(), len, flags) }
        }
        Op::Memcpy => {
            let f = ops.map_or_else(|| mem::memcpy_fn(granularity), |o| o.memmove);
            // SAFETY: GUARD + src_off + len <= BUF: inside `src_buf`, a
            // different allocation from `buf`, so the ranges don't overlap.
            let src = unsafe { src_buf.bytes().as_ptr().add(GUARD + src_off) };
            // SAFETY: `dest` is writable for `len` bytes, `src` readable for
            // `len`, both live across the call, disjoint.
            unsafe { f(dest.cast::<c_void>(), src.cast::<c_void>(), len, flags) }
        }
        Op::Memset(c) => {
            let f = ops.map_or_else(|| mem::memset_fn(granularity), |o| o.memset);
            // SAFETY: `dest` is writable for `len` bytes and lives across the call.
            unsafe { f(dest.cast::<c_void>(), c, len, flags) }
        }
    };
    // NODRAIN / NOFLUSH leave non-temporal stores unfenced: MFENCE orders
    // them before the reads below.
    fence(Ordering::SeqCst);

    // The reference result on the twin.
    let d = GUARD + dest_off;
    match op {
        Op::Memmove => twin.copy_within(GUARD + src_off..GUARD + src_off + len, d),
        Op::Memcpy => {
            let src = &src_snapshot[GUARD + src_off..GUARD + src_off + len];
            twin[d..d + len].copy_from_slice(src);
        }
        Op::Memset(c) => twin[d..d + len].fill(c as u8),
    }

    let ctx = || {
        format!(
            "{op:?} kernel {kernel:?} granularity {granularity:?} flags {flags:#x} \
             len {len} dest_off {dest_off} src_off {src_off} (dest align {})",
            dest as usize % 64
        )
    };
    assert_eq!(
        ret,
        dest.cast::<c_void>(),
        "return value is not dest: {}",
        ctx()
    );
    let got = buf.bytes();
    assert!(
        got[..d] == twin[..d],
        "bytes before dest changed: {}",
        ctx()
    );
    assert!(
        got[d + len..] == twin[d + len..],
        "bytes after dest + len changed: {}",
        ctx()
    );
    if let Some(i) = (d..d + len).find(|&i| got[i] != twin[i]) {
        panic!(
            "byte {} of dest is {:#04x}, expected {:#04x}: {}",
            i - d,
            got[i],
            twin[i],
            ctx()
        );
    }
    assert!(
        src_buf.bytes() == &src_snapshot[..],
        "memcpy wrote to its source: {}",
        ctx()
    );
});
