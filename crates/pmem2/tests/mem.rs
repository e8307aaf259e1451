//! memmove/memcpy/memset: every kernel, forced directly, against
//! `ptr::copy` / `ptr::write_bytes` on heap buffers with guard bytes; the
//! environment knobs in child processes.

mod common;

use std::ffi::c_void;

use bitflags::Flags;
use pmem2::mem::{self, KernelKind, MemOps};
use pmem2::{Granularity, MemFlags};
use proptest::prelude::*;

/// Guard bytes around every destination.
const GUARD: usize = 64;
const GUARD_BYTE: u8 = 0xa5;

/// Flag sets that reach every kernel path (non-eADR: temporal+flush,
/// non-temporal, temporal noflush; eADR: temporal, non-temporal).
const FLAG_SETS: [MemFlags; 6] = [
    MemFlags::empty(),
    MemFlags::NONTEMPORAL,
    MemFlags::TEMPORAL,
    MemFlags::NOFLUSH,
    MemFlags::NODRAIN,
    MemFlags::WC,
];

/// Every (kernel, granularity) this CPU runs.
fn all_ops() -> Vec<(KernelKind, Granularity, &'static MemOps)> {
    let mut v = Vec::new();
    for k in KernelKind::ALL {
        for g in Granularity::ALL {
            if let Some(ops) = mem::ops_with(k, g) {
                v.push((k, g, ops));
            }
        }
    }
    v
}

/// Fills a buffer with a position-dependent pattern (never the guard byte
/// pattern, so a stray write shows).
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1)
        .collect()
}

/// Copies `src[src_off..src_off+len]` into a guarded destination at
/// `dst_off` and checks the result and the guards.
fn check_copy(
    ops: &MemOps,
    flags: MemFlags,
    dst_off: usize,
    src_off: usize,
    len: usize,
    what: &str,
) {
    let src = pattern(src_off + len, 7);
    let mut dst = vec![GUARD_BYTE; GUARD + dst_off + len + GUARD];
    let mut want = dst.clone();
    want[GUARD + dst_off..GUARD + dst_off + len].copy_from_slice(&src[src_off..]);
    // SAFETY: destination and source ranges are inside their vectors.
    unsafe {
        let d = dst.as_mut_ptr().add(GUARD + dst_off).cast::<c_void>();
        let r = (ops.memmove)(d, src.as_ptr().add(src_off).cast(), len, flags.bits());
        assert_eq!(r, d, "{what}: return value");
    }
    pmem2_fence_for_nodrain(flags);
    if dst != want {
        let first = dst.iter().zip(&want).position(|(a, b)| a != b).unwrap();
        panic!("{what}: flags {flags:?} dst_off {dst_off} src_off {src_off} len {len}: first difference at {first}");
    }
}

/// With NODRAIN the caller drains; a drain is a fence, and the persist
/// module's byte drain is exactly that.
fn pmem2_fence_for_nodrain(flags: MemFlags) {
    if flags.intersects(MemFlags::NODRAIN | MemFlags::NOFLUSH) {
        // SAFETY: the drain function takes no arguments and only fences.
        unsafe { pmem2::persist::drain_fn(Granularity::Byte)() };
    }
}

fn check_set(ops: &MemOps, flags: MemFlags, dst_off: usize, len: usize, byte: u8, what: &str) {
    let mut dst = vec![GUARD_BYTE; GUARD + dst_off + len + GUARD];
    let mut want = dst.clone();
    want[GUARD + dst_off..GUARD + dst_off + len].fill(byte);
    // SAFETY: the destination range is inside `dst`.
    unsafe {
        let d = dst.as_mut_ptr().add(GUARD + dst_off).cast::<c_void>();
        // The byte is passed as an int with high bits set: only the low 8 count.
        let r = (ops.memset)(d, i32::from(byte) | 0x7f00, len, flags.bits());
        assert_eq!(r, d, "{what}: return value");
    }
    pmem2_fence_for_nodrain(flags);
    assert!(
        dst == want,
        "{what}: memset flags {flags:?} dst_off {dst_off} len {len}"
    );
}

/// Moves `len` bytes within one buffer from `src` to `dst` and compares
/// with `ptr::copy` on a copy of the buffer.
fn check_overlap(ops: &MemOps, flags: MemFlags, src: usize, dst: usize, len: usize, what: &str) {
    let size = src.max(dst) + len + GUARD;
    let mut ours = pattern(size, 3);
    let mut want = ours.clone();
    // SAFETY: both ranges lie inside the buffers of `size` bytes.
    unsafe {
        (ops.memmove)(
            ours.as_mut_ptr().add(dst).cast(),
            ours.as_ptr().add(src).cast(),
            len,
            flags.bits(),
        );
        std::ptr::copy(want.as_ptr().add(src), want.as_mut_ptr().add(dst), len);
    }
    pmem2_fence_for_nodrain(flags);
    assert!(
        ours == want,
        "{what}: overlap flags {flags:?} src {src} dst {dst} len {len}"
    );
}

#[test]
fn every_size_up_to_4226() {
    for (k, g, ops) in all_ops() {
        for flags in FLAG_SETS {
            let what = format!("{k}/{g}");
            // Under Miri (generic and libc kernels only): a sample.
            let (max, step) = if cfg!(miri) { (300, 23) } else { (4226, 1) };
            for len in (0..=max).step_by(step) {
                let (d, s) = [(0, 0), (1, 7), (63, 33), (17, 0)][len % 4];
                check_copy(ops, flags, d, s, len, &what);
                if len % 3 == 0 {
                    check_set(ops, flags, d, len, (len % 251) as u8, &what);
                }
            }
        }
    }
}

#[test]
fn every_alignment_pair() {
    let sizes = [0usize, 1, 5, 64, 100, 257, 700];
    for (k, g, ops) in all_ops() {
        if g == Granularity::Page {
            continue; // same kernels as cache line; covered by the other tests
        }
        let what = format!("{k}/{g}");
        for flags in [MemFlags::TEMPORAL, MemFlags::NONTEMPORAL] {
            let step = if cfg!(miri) { 13 } else { 1 };
            for dst_off in (0..64).step_by(step) {
                for src_off in (0..64).step_by(step) {
                    let len = sizes[(dst_off + src_off) % sizes.len()];
                    check_copy(ops, flags, dst_off, src_off, len, &what);
                }
                for len in sizes {
                    check_set(ops, flags, dst_off, len, 0x3c, &what);
                }
            }
        }
    }
}

#[test]
fn overlapping_moves_both_ways() {
    let sizes: &[usize] = if cfg!(miri) {
        &[1, 65, 300]
    } else {
        &[1, 31, 64, 65, 200, 256, 1000, 3000]
    };
    let shifts: &[usize] = if cfg!(miri) {
        &[1, 8, 65]
    } else {
        &[1, 7, 8, 16, 63, 64, 65, 129, 255, 700]
    };
    for (k, g, ops) in all_ops() {
        let what = format!("{k}/{g}");
        for flags in [MemFlags::TEMPORAL, MemFlags::NONTEMPORAL, MemFlags::NOFLUSH] {
            for &len in sizes {
                for &shift in shifts {
                    let base = 5;
                    check_overlap(ops, flags, base, base + shift, len, &what);
                    check_overlap(ops, flags, base + shift, base, len, &what);
                }
            }
        }
    }
}

#[test]
fn random_large_sizes() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for (k, g, ops) in all_ops() {
        if g == Granularity::Page {
            continue;
        }
        let what = format!("{k}/{g}");
        for flags in [MemFlags::empty(), MemFlags::TEMPORAL] {
            for _ in 0..if cfg!(miri) { 1 } else { 3 } {
                let len = 4096 + (next() % if cfg!(miri) { 1 << 13 } else { 1 << 20 }) as usize;
                let (d, s) = ((next() % 64) as usize, (next() % 64) as usize);
                check_copy(ops, flags, d, s, len, &what);
                check_set(ops, flags, d, len, next() as u8, &what);
                let shift = 1 + (next() % 5000) as usize;
                check_overlap(ops, flags, 0, shift, len, &what);
                check_overlap(ops, flags, shift, 0, len, &what);
            }
        }
    }
}

#[test]
fn pointers_are_process_wide_and_kernels_are_distinct() {
    for g in Granularity::ALL {
        assert_eq!(mem::memcpy_fn(g) as usize, mem::memmove_fn(g) as usize);
        // The process's functions are its kernel's table entries.
        let own = mem::ops_with(mem::info().kernel, g).unwrap();
        assert_eq!(mem::memmove_fn(g) as usize, own.memmove as usize);
        assert_eq!(mem::memset_fn(g) as usize, own.memset as usize);
    }
    let kinds: Vec<_> = KernelKind::ALL
        .into_iter()
        .filter(|&k| mem::ops_with(k, Granularity::Page).is_some())
        .collect();
    for (i, a) in kinds.iter().enumerate() {
        for b in &kinds[i + 1..] {
            let (pa, pb) = (
                mem::ops_with(*a, Granularity::CacheLine).unwrap(),
                mem::ops_with(*b, Granularity::CacheLine).unwrap(),
            );
            assert_ne!(pa.memmove as usize, pb.memmove as usize, "{a} vs {b}");
        }
    }
    assert!(
        mem::ops_with(KernelKind::Generic, Granularity::Page).is_some()
            && mem::ops_with(KernelKind::Libc, Granularity::Page).is_some()
    );
    assert!(!mem::info().kernel.to_string().is_empty());
}

/// One memset across two adjacent buffers' worth of memory, as PMDK's
/// `map_multiple_files` example does across maps.
#[test]
fn one_memset_spans_adjacent_regions() {
    let mut buf = vec![0u8; 3 * 4096];
    let memset = mem::memset_fn(Granularity::CacheLine);
    // SAFETY: `[100, 100 + 8000)` is inside `buf`.
    unsafe { memset(buf.as_mut_ptr().add(100).cast(), 0x11, 8000, 0) };
    assert!(buf[100..8100].iter().all(|&b| b == 0x11));
    assert!(buf[..100].iter().chain(&buf[8100..]).all(|&b| b == 0));
}

proptest! {
    // No failure persistence: it needs the working directory, which Miri's
    // isolation hides.
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 4 } else { 256 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn default_functions_match_ptr_copy(
        len in 0usize..6000,
        dst_off in 0usize..128,
        src_off in 0usize..128,
        bits in 0u32..64,
        g in prop::sample::select(Granularity::ALL.to_vec()),
    ) {
        let flags = MemFlags::from_bits_retain(bits);
        check_copy(mem::ops_with(mem::info().kernel, g).unwrap(), flags, dst_off, src_off, len, "default");
        check_set(mem::ops_with(mem::info().kernel, g).unwrap(), flags, dst_off, len, bits as u8, "default");
    }

    #[test]
    fn default_memmove_matches_ptr_copy_on_overlap(
        len in 0usize..3000,
        a in 0usize..300,
        b in 0usize..300,
        bits in 0u32..64,
    ) {
        let flags = MemFlags::from_bits_retain(bits);
        check_overlap(mem::ops_with(mem::info().kernel, Granularity::CacheLine).unwrap(), flags, a, b, len, "default");
    }
}

/// Runs this test binary again with `vars` set, running only
/// `env_child_report`, and returns what it printed on its `MEMINFO` line.
#[cfg(not(miri))]
fn child_report(vars: &[(&str, &str)]) -> String {
    let mut cmd = common::self_command();
    cmd.args([
        "--exact",
        "env_child_report",
        "--include-ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("PMEM2_MEM_TEST_CHILD", "1");
    for var in [
        "PMEM_NO_MOVNT",
        "PMEM_NO_GENERIC_MEMCPY",
        "PMEM_AVX",
        "PMEM_AVX512F",
        "PMEM_MOVNT_THRESHOLD",
        "PMEM_NO_CLWB",
        "PMEM_NO_CLFLUSHOPT",
        "PMEM_WC_WORKAROUND",
        "PMEM_MOVDIR64B",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once("MEMINFO ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no MEMINFO line in: {stdout}"))
        .to_owned()
}

/// In a child process (see [`child_report`]): prints the chosen kernel and
/// checks that the default functions, and every kernel with this process's
/// flush instruction, copy correctly.
#[test]
#[ignore = "a child process of the env_* tests: child_report runs it with PMEM2_MEM_TEST_CHILD"]
fn env_child_report() {
    assert!(
        std::env::var_os("PMEM2_MEM_TEST_CHILD").is_some(),
        "env_child_report runs as a child of the env_* tests (PMEM2_MEM_TEST_CHILD set)"
    );
    let info = mem::info();
    let mut all: Vec<&MemOps> = Granularity::ALL
        .into_iter()
        .map(|g| mem::ops_with(info.kernel, g).unwrap())
        .collect();
    all.extend(all_ops().into_iter().map(|(_, _, ops)| ops));
    for ops in all {
        for flags in FLAG_SETS {
            for len in [0, 3, 64, 255, 256, 257, 5000] {
                check_copy(ops, flags, 3, 1, len, "child");
                check_set(ops, flags, 5, len, 0x42, "child");
            }
        }
    }
    println!(
        "MEMINFO kernel={} flush={} threshold={} wc={}",
        info.kernel, info.flush, info.movnt_threshold, info.wc_workaround
    );
}

#[cfg(not(miri))]
#[test]
fn environment_selects_the_kernel() {
    let default = child_report(&[]);
    assert!(
        default.contains(&format!("kernel={}", mem::info().kernel)),
        "{default}"
    );
    assert!(default.contains("threshold=256"), "{default}");

    let r = child_report(&[("PMEM_NO_MOVNT", "1")]);
    assert!(r.contains("kernel=generic"), "{r}");
    let r = child_report(&[("PMEM_NO_MOVNT", "1"), ("PMEM_NO_GENERIC_MEMCPY", "2")]);
    assert!(r.contains("kernel=libc"), "{r}");
    // PMEM_NO_GENERIC_MEMCPY only matters when the SIMD kernels are off
    // (or, as on aarch64, absent).
    let r = child_report(&[("PMEM_NO_GENERIC_MEMCPY", "1")]);
    assert_eq!(
        r.contains("kernel=libc"),
        !cfg!(target_arch = "x86_64"),
        "{r}"
    );
    // Only exactly "1" disables movnt.
    let r = child_report(&[("PMEM_NO_MOVNT", "yes")]);
    assert_eq!(r, default);

    let r = child_report(&[("PMEM_MOVNT_THRESHOLD", "1000")]);
    assert!(r.contains("threshold=1000"), "{r}");
    let r = child_report(&[("PMEM_MOVNT_THRESHOLD", "-5")]);
    assert!(r.contains("threshold=256"), "{r}");

    // PMEM_WC_WORKAROUND applies to the SSE2 and AVX families only, as in
    // PMDK, whose AVX-512F kernel ignores it.
    let r = child_report(&[("PMEM_WC_WORKAROUND", "1"), ("PMEM_AVX512F", "0")]);
    assert!(r.contains("wc=true"), "{r}");
    let r = child_report(&[("PMEM_WC_WORKAROUND", "0"), ("PMEM_AVX512F", "0")]);
    assert!(r.contains("wc=false"), "{r}");
    if mem::ops_with(KernelKind::Avx512f, Granularity::Page).is_some() {
        for vars in [
            &[("PMEM_WC_WORKAROUND", "1")][..],
            &[("PMEM_WC_WORKAROUND", "1"), ("PMEM_AVX512F", "1")],
        ] {
            let r = child_report(vars);
            assert!(
                r.contains("kernel=avx512f") && r.contains("wc=false"),
                "{vars:?}: {r}"
            );
        }
    }

    if cfg!(target_arch = "x86_64") {
        let r = child_report(&[("PMEM_AVX", "0"), ("PMEM_AVX512F", "0")]);
        assert!(r.contains("kernel=sse2"), "{r}");
        if mem::ops_with(KernelKind::Avx, Granularity::Page).is_some() {
            let r = child_report(&[("PMEM_AVX512F", "0")]);
            assert!(r.contains("kernel=avx "), "{r}");
        }
        if mem::ops_with(KernelKind::Avx512f, Granularity::Page).is_some() {
            // With AVX ruled out, or AVX-512F asked for, it's AVX-512F on
            // every vendor.
            let r = child_report(&[("PMEM_AVX", "0")]);
            assert!(r.contains("kernel=avx512f"), "{r}");
            let r = child_report(&[("PMEM_AVX512F", "1")]);
            assert!(r.contains("kernel=avx512f"), "{r}");
        }
        // MOVDIR64B is opt-in and not implemented: asking for it changes nothing.
        let r = child_report(&[("PMEM_MOVDIR64B", "1")]);
        assert_eq!(r, default);
        let r = child_report(&[("PMEM_NO_CLWB", "1")]);
        assert!(!r.contains("flush=clwb"), "{r}");
        let r = child_report(&[("PMEM_NO_CLWB", "1"), ("PMEM_NO_CLFLUSHOPT", "1")]);
        assert!(r.contains("flush=clflush "), "{r}");
    }
}

/// A map of a fresh file in /dev/shm (page granularity there) and of
/// anonymous memory (byte granularity).
#[cfg(not(miri))]
fn maps(size: usize) -> Vec<pmem2::Map> {
    use pmem2::{Config, Map, Source};
    let path = std::env::temp_dir().join(format!("pmem2-mem-test-{}-{size}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    file.set_len(size as u64).unwrap();
    let source = Source::from_file(&file).unwrap();
    let file_map = Map::new(&Config::with_granularity(Granularity::Page), &source).unwrap();
    std::fs::remove_file(&path).unwrap();
    let anon = Source::anonymous(size).unwrap();
    let anon_map = Map::new(&Config::with_granularity(Granularity::Page), &anon).unwrap();
    vec![file_map, anon_map]
}

#[cfg(not(miri))]
#[test]
fn safe_map_api_copies_fills_and_checks_ranges() {
    use pmem2_ffi::codes::PMEM2_E_MAP_RANGE;
    for mut map in maps(64 * 1024) {
        let size = map.size();
        let data = pattern(5000, 9);
        for flags in FLAG_SETS.into_iter().chain([MemFlags::all()]) {
            map.copy_from_slice(123, &data, flags).unwrap();
            let mut back = vec![0u8; data.len()];
            map.read(123, &mut back).unwrap();
            assert_eq!(back, data, "{flags:?} {}", map.store_granularity());

            map.fill(7, 3000, 0xcd, flags).unwrap();
            map.read(0, &mut back).unwrap();
            assert!(back[7..3007].iter().all(|&b| b == 0xcd));
            assert_eq!(&back[3007..], &data[3007 - 123..5000 - 123]);

            map.copy_within(7, 100, 4000, flags).unwrap();
            map.read(100, &mut back[..4000]).unwrap();
            assert!(back[..3000].iter().all(|&b| b == 0xcd));
        }
        map.copy_from_slice(size - 10, &data[..10], MemFlags::empty())
            .unwrap();
        map.fill(size, 0, 1, MemFlags::empty()).unwrap();
        for err in [
            map.copy_from_slice(size - 9, &data[..10], MemFlags::empty()),
            map.fill(size - 1, 2, 0, MemFlags::empty()),
            map.fill(usize::MAX, 2, 0, MemFlags::empty()),
            map.copy_within(0, size - 1, 2, MemFlags::empty()),
            map.copy_within(size, 0, 1, MemFlags::empty()),
        ] {
            let err = err.unwrap_err();
            assert_eq!(err.code(), PMEM2_E_MAP_RANGE);
            assert!(err.to_string().contains("outside the map"), "{err}");
        }
        let ops = mem::ops_with(mem::info().kernel, map.store_granularity()).unwrap();
        assert_eq!(
            ops.memmove as usize,
            mem::memmove_fn(map.store_granularity()) as usize
        );
    }
}

#[cfg(not(miri))]
#[test]
fn read_only_map_refuses_writes() {
    use pmem2::{Config, Map, Protection, Source};
    let source = Source::anonymous(8192).unwrap();
    let mut config = Config::with_granularity(Granularity::Page);
    config.set_protection(Protection::READ);
    let mut map = Map::new(&config, &source).unwrap();
    assert_eq!(
        map.fill(0, 10, 1, MemFlags::empty()).unwrap_err().code(),
        pmem2_ffi::codes::PMEM2_E_NO_ACCESS
    );
    assert!(map.copy_from_slice(0, &[1, 2], MemFlags::empty()).is_err());
}
