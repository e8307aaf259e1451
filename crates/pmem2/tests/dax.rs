//! The DAX suite: pmem2 on real fsdax and devdax.
//!
//! It runs in the guest of `cargo xtask dax-test` (see `docs/dax-vm.md`), where emulated
//! NVDIMMs give ext4 and xfs mounted `-o dax` and a device DAX. Anywhere else it is
//! `#[ignore]`d (the guest runs it with `--include-ignored`); run with `--include-ignored`
//! and without `PMEM2_DAX_*`, it fails. The environment it reads:
//!
//! | variable | meaning |
//! |---|---|
//! | `PMEM2_DAX_FSDAX_DIRS` | colon-separated mount points of DAX file systems |
//! | `PMEM2_DAX_DEVDAX` | a device DAX, e.g. `/dev/dax1.0` |
//! | `PMEM2_DAX_PLATFORM` | `default`, `cpu` (eADR), `mem-ctrl` (ADR) or `virtio` (no `MAP_SYNC`) |
//! | `PMEM2_DAX_PHASE` | `write` (first boot) or `verify` (after a power cut) |
//! | `PMEM2_DAX_TESTS` | optional: comma-separated names; run only tests whose name contains one |
//!
//! One `#[test]` drives the registry [`TESTS`] and prints, for every test and target,
//! `DAX-START <test> <target>` and then one line
//! `DAX-RESULT <PASS|FAIL|SKIP> <test> <target> <detail>` that the harness collects.
//!
//! # Adding a test
//! 1. Write `fn my_test(ctx: &Ctx, target: &Target) -> Outcome`: return `Ok(detail)` on
//!    success (the detail is shown in the table, may be empty) and `Err(why)` on failure;
//!    panics are caught and reported as failures too. [`Ctx`] tells the platform and phase,
//!    [`Target`] the mount point or device.
//! 2. Add a line to [`TESTS`]: `test(name, needs, phases, fn)` with [`Needs`] `Fsdax` (one
//!    run per mount point), `Devdax` or `Whole` (once, on the platform), and [`Phases`] `Once`
//!    (first boot only) or `Both` (a test that persists data in the first boot and checks it
//!    in the second).

#[path = "dax/libpmem.rs"]
mod libpmem;
#[path = "dax/ras.rs"]
mod ras;

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use bitflags::Flags;
use pmem2::{Config, FileType, Granularity, Map, MemFlags, Sharing, Source};
use pmem2_ffi::codes::{
    PMEM2_E_GRANULARITY_NOT_SUPPORTED, PMEM2_E_LENGTH_UNALIGNED, PMEM2_E_OFFSET_UNALIGNED,
    PMEM2_E_SRC_DEVDAX_PRIVATE,
};
use Needs::{Devdax, Fsdax, Whole};
use Phases::{Both, Once};

/// What a test returns: a detail for the result table, or why it failed.
type Outcome = Result<String, String>;

/// Where a test runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Once per mount point of `PMEM2_DAX_FSDAX_DIRS`.
    Fsdax,
    /// Once on `PMEM2_DAX_DEVDAX`.
    Devdax,
    /// Once per boot, on the platform as a whole (the target is `/sys`).
    Whole,
}

/// In which boot a test runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phases {
    /// The first boot only.
    Once,
    /// Both boots: the test looks at [`Ctx::phase`] to write or to verify.
    Both,
}

/// The boot the suite runs in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Write,
    Verify,
}

/// The emulated platform.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Platform {
    /// NVDIMMs without a `persistence_domain` file.
    Default,
    /// NVDIMMs with `persistence_domain` = `cpu_cache` (eADR).
    Cpu,
    /// NVDIMMs with `persistence_domain` = `memory_controller` (ADR).
    MemCtrl,
    /// virtio-pmem: DAX, but `MAP_SYNC` is refused.
    Virtio,
}

/// A registered test.
struct DaxTest {
    name: &'static str,
    needs: Needs,
    phases: Phases,
    run: fn(&Ctx, &Target) -> Outcome,
}

/// One line of [`TESTS`].
const fn test(
    name: &'static str,
    needs: Needs,
    phases: Phases,
    run: fn(&Ctx, &Target) -> Outcome,
) -> DaxTest {
    DaxTest {
        name,
        needs,
        phases,
        run,
    }
}

/// The registry: every DAX test, in run order. See the module docs to add one.
const TESTS: &[DaxTest] = &[
    test(
        "platform_eadr_detected",
        Whole,
        Once,
        platform_eadr_detected,
    ),
    test(
        "platform_flush_instruction",
        Whole,
        Once,
        platform_flush_instruction,
    ),
    test("fsdax_file_is_dax", Fsdax, Once, fsdax_file_is_dax),
    test("fsdax_shared_granularity", Fsdax, Once, shared_granularity),
    test(
        "fsdax_cache_line_required",
        Fsdax,
        Once,
        cache_line_required,
    ),
    test("fsdax_byte_required", Fsdax, Once, byte_required),
    test("fsdax_private_is_byte", Fsdax, Once, fsdax_private_is_byte),
    test(
        "fsdax_persist_survives_power_cut",
        Fsdax,
        Both,
        persist_survives_power_cut,
    ),
    test("devdax_source", Devdax, Once, devdax_source),
    test(
        "devdax_alignment_enforced",
        Devdax,
        Once,
        devdax_alignment_enforced,
    ),
    test(
        "devdax_private_refused",
        Devdax,
        Once,
        devdax_private_refused,
    ),
    test(
        "devdax_shared_granularity",
        Devdax,
        Once,
        shared_granularity,
    ),
    test("devdax_byte_required", Devdax, Once, byte_required),
    test(
        "devdax_persist_survives_power_cut",
        Devdax,
        Both,
        persist_survives_power_cut,
    ),
    test("libpmem_fsdax_map_file", Fsdax, Once, |c, t| {
        libpmem::fsdax_map_file(&t.path, c.map_sync())
    }),
    test("libpmem_devdax_map_file", Devdax, Once, |_, t| {
        libpmem::devdax_map_file(&t.path)
    }),
    test(
        "libpmem_fsdax_persist_survives_power_cut",
        Fsdax,
        Both,
        |c, t| libpmem::fsdax_persist_survives(&t.path, c.phase == Phase::Write),
    ),
    test("ras_fsdax_deep_flush", Fsdax, Once, |_, t| {
        ras::fsdax_deep_flush(&t.path)
    }),
    test("ras_fsdax_identity", Fsdax, Once, |_, t| {
        ras::fsdax_identity(&t.path)
    }),
    test("ras_devdax_deep_flush", Devdax, Once, |_, t| {
        ras::devdax_deep_flush(&t.path)
    }),
    test("ras_devdax_geometry", Devdax, Once, |_, t| {
        ras::devdax_geometry(&t.path)
    }),
    test("ras_devdax_mcsafe", Devdax, Once, |_, t| {
        ras::devdax_mcsafe(&t.path)
    }),
    test("ras_devdax_bad_blocks_and_usc", Devdax, Once, |_, t| {
        ras::devdax_bad_blocks_and_usc(&t.path)
    }),
    // Last: an emulated NVDIMM can't clear poison, so the injected sector
    // stays bad until the next boot.
    test("ras_fsdax_bad_block", Fsdax, Once, |_, t| {
        ras::fsdax_bad_block(&t.path)
    }),
];

/// What every test may look at.
struct Ctx {
    phase: Phase,
    platform: Platform,
}

impl Ctx {
    /// The granularity a shared mapping of a DAX file or device must get.
    fn shared_granularity(&self) -> Granularity {
        match self.platform {
            Platform::Virtio => Granularity::Page,
            Platform::Cpu => Granularity::Byte,
            Platform::Default | Platform::MemCtrl => Granularity::CacheLine,
        }
    }

    /// Whether `MAP_SYNC` must be accepted.
    fn map_sync(&self) -> bool {
        self.platform != Platform::Virtio
    }
}

/// A mount point or a device DAX.
struct Target {
    /// `ext4`, `xfs` (the file system type), or `devdax`.
    label: String,
    path: PathBuf,
}

const MIB: usize = 1 << 20;
const EADR_MESSAGE: &str =
    "requested granularity not available because the platform doesn't support eADR";
const PAGE_MESSAGE: &str = "requested granularity not available because fd doesn't point to \
     DAX-enabled file or kernel doesn't support MAP_SYNC flag (Linux >= 4.15)";

// ---------------------------------------------------------------------------------------------
// helpers

fn open_rw(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("open {}: {e}", path.display()))
}

/// A file of `size` bytes in a DAX mount point, created (and its size made durable) if absent.
fn dax_file(dir: &Path, name: &str, size: usize) -> Result<File, String> {
    let path = dir.join(name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("create {}: {e}", path.display()))?;
    file.set_len(size as u64)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("size {}: {e}", path.display()))?;
    Ok(file)
}

/// The file or device a test maps: a fresh 4 MiB file for fsdax, the device for devdax.
fn open_target(target: &Target, name: &str) -> Result<File, String> {
    if target.label == "devdax" {
        open_rw(&target.path)
    } else {
        dax_file(&target.path, name, 4 * MIB)
    }
}

fn map(config: &Config, source: &Source<'_>) -> Result<Map, String> {
    Map::new(config, source).map_err(|e| format!("Map::new: {} ({e})", e.code_name()))
}

/// Checks that `result` failed with `code` (and `message`, when given).
fn expect_error<T>(
    result: pmem2::Result<T>,
    code: i32,
    message: Option<&str>,
    what: &str,
) -> Result<(), String> {
    match result {
        Ok(_) => Err(format!("{what}: succeeded, expected code {code}")),
        Err(e) if e.code() != code => Err(format!(
            "{what}: {} ({e}), expected code {code}",
            e.code_name()
        )),
        Err(e) => match message {
            Some(m) if format!("{e:#}") != m => Err(format!(
                "{what}: message {:?}, expected {m:?}",
                e.to_string()
            )),
            _ => Ok(()),
        },
    }
}

/// Checks a map's effective granularity and `MAP_SYNC` state.
fn expect_map(map: &Map, granularity: Granularity, map_sync: bool) -> Result<String, String> {
    if map.store_granularity() != granularity || map.map_sync() != map_sync {
        return Err(format!(
            "store granularity {:?}, map_sync {}; expected {granularity:?}, map_sync {map_sync}",
            map.store_granularity(),
            map.map_sync()
        ));
    }
    Ok(format!("{granularity:?} map_sync={map_sync}"))
}

/// The sysfs directory of the device DAX behind `path`.
fn devdax_sysfs(path: &Path) -> Result<PathBuf, String> {
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: no device name", path.display()))?;
    Ok(Path::new("/sys/bus/dax/devices").join(name))
}

fn sysfs_number(path: &Path) -> Result<usize, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    text.trim()
        .parse()
        .map_err(|e| format!("{}: {text:?}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// the tests

/// The harness's precondition, checked by the kernel's own word: files on the mount point are
/// DAX (`STATX_ATTR_DAX`).
fn fsdax_file_is_dax(_ctx: &Ctx, target: &Target) -> Outcome {
    use rustix::fs::{statx, AtFlags, StatxAttributes, StatxFlags, CWD};
    let path = target.path.join("pmem2-dax-statx");
    dax_file(&target.path, "pmem2-dax-statx", MIB)?;
    let st = statx(CWD, &path, AtFlags::empty(), StatxFlags::BASIC_STATS)
        .map_err(|e| format!("statx {}: {e}", path.display()))?;
    if !st.stx_attributes_mask.contains(StatxAttributes::DAX) {
        return Err("the kernel does not report STATX_ATTR_DAX".into());
    }
    if !st.stx_attributes.contains(StatxAttributes::DAX) {
        return Err(format!(
            "{} is not DAX (STATX_ATTR_DAX clear)",
            path.display()
        ));
    }
    Ok("STATX_ATTR_DAX".into())
}

/// A shared mapping gets `CacheLine` (Byte with eADR, Page without `MAP_SYNC`) and `MAP_SYNC`.
fn shared_granularity(ctx: &Ctx, target: &Target) -> Outcome {
    let file = open_target(target, "pmem2-dax-granularity")?;
    let source = Source::from_file(&file).map_err(|e| format!("Source::from_file: {e}"))?;
    let m = map(&Config::with_granularity(Granularity::Page), &source)?;
    let source_size = source.size().map_err(|e| format!("size: {e}"))?;
    if m.size() != source_size {
        return Err(format!(
            "map size {} != source size {source_size}",
            m.size()
        ));
    }
    expect_map(&m, ctx.shared_granularity(), ctx.map_sync())
}

/// `CacheLine` required: granted with `MAP_SYNC`, refused with PMDK's message without it.
fn cache_line_required(ctx: &Ctx, target: &Target) -> Outcome {
    let file = open_target(target, "pmem2-dax-granularity")?;
    let source = Source::from_file(&file).map_err(|e| format!("Source::from_file: {e}"))?;
    let config = Config::with_granularity(Granularity::CacheLine);
    if ctx.map_sync() {
        let m = map(&config, &source)?;
        expect_map(&m, ctx.shared_granularity(), true)
    } else {
        expect_error(
            Map::new(&config, &source),
            PMEM2_E_GRANULARITY_NOT_SUPPORTED,
            Some(PAGE_MESSAGE),
            "CacheLine required",
        )?;
        Ok("refused: PAGE only".into())
    }
}

/// Byte required: granted on eADR only; refused with the eADR message on ADR platforms and
/// with the `MAP_SYNC` message on virtio-pmem.
fn byte_required(ctx: &Ctx, target: &Target) -> Outcome {
    let file = open_target(target, "pmem2-dax-granularity")?;
    let source = Source::from_file(&file).map_err(|e| format!("Source::from_file: {e}"))?;
    let config = Config::with_granularity(Granularity::Byte);
    let result = Map::new(&config, &source);
    match ctx.platform {
        Platform::Cpu => {
            let m = result.map_err(|e| format!("Byte refused on eADR: {} ({e})", e.code_name()))?;
            expect_map(&m, Granularity::Byte, true)
        }
        Platform::Default | Platform::MemCtrl => {
            expect_error(
                result,
                PMEM2_E_GRANULARITY_NOT_SUPPORTED,
                Some(EADR_MESSAGE),
                "Byte required",
            )?;
            Ok("refused: no eADR".into())
        }
        Platform::Virtio => {
            expect_error(
                result,
                PMEM2_E_GRANULARITY_NOT_SUPPORTED,
                Some(PAGE_MESSAGE),
                "Byte required",
            )?;
            Ok("refused: no MAP_SYNC".into())
        }
    }
}

/// A private mapping is Byte (copy-on-write memory needs no flushing), without `MAP_SYNC`, and
/// its stores never reach the file.
fn fsdax_private_is_byte(_ctx: &Ctx, target: &Target) -> Outcome {
    let file = dax_file(&target.path, "pmem2-dax-private", 4 * MIB)?;
    let source = Source::from_file(&file).map_err(|e| format!("Source::from_file: {e}"))?;
    let mut config = Config::with_granularity(Granularity::Byte);
    config.set_sharing(Sharing::Private);
    let mut m = map(&config, &source)?;
    let detail = expect_map(&m, Granularity::Byte, false)?;
    m.write(4096, b"private")
        .map_err(|e| format!("write to the private map: {e}"))?;
    let mut back = [0u8; 7];
    m.read(4096, &mut back).map_err(|e| format!("read: {e}"))?;
    if &back != b"private" {
        return Err(format!("private map reads back {back:?}"));
    }
    let mut on_file = [0u8; 7];
    std::os::unix::fs::FileExt::read_exact_at(&file, &mut on_file, 4096)
        .map_err(|e| format!("pread: {e}"))?;
    if on_file != [0; 7] {
        return Err(format!("a private store reached the file: {on_file:?}"));
    }
    Ok(detail)
}

/// The flush instruction pmem2 chose is the best one the guest CPU lists in
/// `/proc/cpuinfo`: on x86-64 CLWB, else CLFLUSHOPT, else CLFLUSH (`flags`); on aarch64
/// `DC CVAP` when the CPU has `DCPoP` (`Features: dcpop`; system emulation implements it, so
/// the probe must not trap), else `DC CVAC`.
fn platform_flush_instruction(_: &Ctx, _: &Target) -> Outcome {
    let cpuinfo =
        std::fs::read_to_string("/proc/cpuinfo").map_err(|e| format!("/proc/cpuinfo: {e}"))?;
    let key = if cfg!(target_arch = "aarch64") {
        "Features"
    } else {
        "flags"
    };
    let flags: Vec<&str> = cpuinfo
        .lines()
        .find(|l| l.starts_with(key))
        .ok_or_else(|| format!("no {key} line in /proc/cpuinfo"))?
        .split_whitespace()
        .collect();
    let has = |f: &str| flags.contains(&f);
    let expected = if cfg!(target_arch = "aarch64") {
        if has("dcpop") {
            "dc_cvap"
        } else {
            "dc_cvac"
        }
    } else if has("clwb") {
        "clwb"
    } else if has("clflushopt") {
        "clflushopt"
    } else {
        "clflush"
    };
    let chosen = pmem2::mem::info().flush.to_string();
    if chosen != expected {
        return Err(format!("pmem2 chose {chosen}, the CPU offers {expected}"));
    }
    if cfg!(target_arch = "aarch64") {
        return Ok(format!("{chosen}; cpu also has dcpodp={}", has("dcpodp")));
    }
    Ok(format!(
        "{chosen}; cpu also has movdir64b={} avx512f={}",
        has("movdir64b"),
        has("avx512f")
    ))
}

/// eADR is detected exactly on the `cpu` platform; the regions' `persistence_domain` files
/// say what the machine was started with.
fn platform_eadr_detected(ctx: &Ctx, target: &Target) -> Outcome {
    let eadr = pmem2::platform_is_eadr();
    if eadr != (ctx.platform == Platform::Cpu) {
        return Err(format!("platform_is_eadr() = {eadr} on {:?}", ctx.platform));
    }
    let want = match ctx.platform {
        Platform::Cpu => Some("cpu_cache"),
        Platform::MemCtrl => Some("memory_controller"),
        Platform::Default | Platform::Virtio => None,
    };
    let regions = target.path.join("bus/nd/devices");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&regions).map_err(|e| format!("{}: {e}", regions.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("region") {
            continue;
        }
        let domain = std::fs::read_to_string(entry.path().join("persistence_domain")).ok();
        let domain = domain.as_deref().map(str::trim).filter(|d| !d.is_empty());
        if domain != want {
            return Err(format!(
                "{name}/persistence_domain is {domain:?}, expected {want:?}"
            ));
        }
        seen.push(name);
    }
    if seen.is_empty() {
        return Err(format!("no region in {}", regions.display()));
    }
    Ok(format!(
        "eADR {eadr}, {} regions {}",
        seen.len(),
        want.unwrap_or("without persistence_domain")
    ))
}

/// Device DAX: detected as such, size and alignment as sysfs says (2 MiB alignment).
fn devdax_source(_ctx: &Ctx, target: &Target) -> Outcome {
    let file = open_rw(&target.path)?;
    let source = Source::from_file(&file).map_err(|e| format!("Source::from_file: {e}"))?;
    if source.file_type() != FileType::DeviceDax {
        return Err(format!(
            "file type {:?}, expected DeviceDax",
            source.file_type()
        ));
    }
    let sys = devdax_sysfs(&target.path)?;
    let size = source.size().map_err(|e| format!("size: {e}"))?;
    let want_size = sysfs_number(&sys.join("size"))?;
    if size != want_size {
        return Err(format!("size {size}, sysfs says {want_size}"));
    }
    let align = source.alignment().map_err(|e| format!("alignment: {e}"))?;
    let want_align = sysfs_number(&sys.join("align"))?;
    if align != want_align || align != 2 * MIB {
        return Err(format!(
            "alignment {align}, sysfs says {want_align}, expected 2 MiB"
        ));
    }
    Ok(format!("size {} MiB, alignment 2 MiB", size / MIB))
}

/// Offsets and lengths must be multiples of the device's alignment; an aligned window maps.
fn devdax_alignment_enforced(ctx: &Ctx, target: &Target) -> Outcome {
    let file = open_rw(&target.path)?;
    let source = Source::from_file(&file).map_err(|e| format!("Source::from_file: {e}"))?;
    let mut config = Config::with_granularity(Granularity::Page);
    config
        .set_offset(4096)
        .map_err(|e| format!("set_offset: {e}"))?;
    expect_error(
        Map::new(&config, &source),
        PMEM2_E_OFFSET_UNALIGNED,
        Some("offset is not a multiple of 2097152"),
        "offset 4 KiB",
    )?;
    let mut config = Config::with_granularity(Granularity::Page);
    config.set_length(4096);
    expect_error(
        Map::new(&config, &source),
        PMEM2_E_LENGTH_UNALIGNED,
        None,
        "length 4 KiB",
    )?;
    let mut config = Config::with_granularity(Granularity::Page);
    config
        .set_offset(2 * MIB)
        .map_err(|e| format!("set_offset: {e}"))?;
    config.set_length(2 * MIB);
    let m = map(&config, &source)?;
    if m.size() != 2 * MIB || !(m.addr() as usize).is_multiple_of(2 * MIB) {
        return Err(format!("2 MiB window: size {} at {:p}", m.size(), m.addr()));
    }
    expect_map(&m, ctx.shared_granularity(), true)?;
    Ok("4 KiB offset and length refused, 2 MiB window mapped".into())
}

/// Private mappings of a device DAX are refused.
fn devdax_private_refused(_ctx: &Ctx, target: &Target) -> Outcome {
    let file = open_rw(&target.path)?;
    let source = Source::from_file(&file).map_err(|e| format!("Source::from_file: {e}"))?;
    let mut config = Config::with_granularity(Granularity::Page);
    config.set_sharing(Sharing::Private);
    expect_error(
        Map::new(&config, &source),
        PMEM2_E_SRC_DEVDAX_PRIVATE,
        None,
        "Sharing::Private",
    )?;
    Ok("PMEM2_E_SRC_DEVDAX_PRIVATE".into())
}

// ---------------------------------------------------------------------------------------------
// persistence across a power cut

/// Bytes of the region the persistence test writes, at the start of the map.
const REGION: usize = 2 * MIB;
/// One slot per memory-operation flag combination.
const SLOTS: usize = 64;
const SLOT: usize = REGION / SLOTS;
/// Bytes written at the very end of the map as well.
const TAIL: usize = 4096;

/// A deterministic byte stream (xorshift64*), so the verify boot can recompute what the
/// write boot stored.
struct Pattern(u64);

impl Pattern {
    fn new(seed: &str) -> Self {
        // FNV-1a of the seed text; never zero.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Pattern(h | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.next() >> 56) as u8).collect()
    }
}

/// One store of the persistence test.
enum Op {
    /// Copy these bytes to the offset (`Map::copy_from_slice`).
    Copy(usize, Vec<u8>),
    /// Set `len` bytes at the offset to the byte (`Map::fill`).
    Fill(usize, usize, u8),
    /// Move `len` bytes from the first offset to the second, overlapping (`Map::copy_within`).
    Move(usize, usize, usize),
}

/// The stores of the persistence test on a map of `map_size` bytes: in slot `i`, a copy, a
/// fill, an overlapping move and a short copy (under the non-temporal threshold) at odd
/// offsets and lengths, all with flag combination `i` (every subset of the six `MemFlags`);
/// and a copy to the last bytes of the map.
fn persist_ops(seed: &str, map_size: usize) -> Vec<(MemFlags, Op)> {
    let mut p = Pattern::new(seed);
    let mut ops = Vec::new();
    for i in 0..SLOTS {
        let flags = MemFlags::from_bits_truncate(i as u32);
        let base = i * SLOT;
        let copy_off = base + (i * 67) % 256;
        let copy_len = 4096 + (i * 997) % 8192;
        ops.push((flags, Op::Copy(copy_off, p.bytes(copy_len))));
        let fill_off = base + SLOT / 2 + (i * 13) % 64;
        let fill_len = 256 + (i * 61) % 8000;
        let byte = (p.next() >> 56) as u8 | 1;
        ops.push((flags, Op::Fill(fill_off, fill_len, byte)));
        // forward (even slots) or backward (odd slots) overlapping moves
        let op = if i % 2 == 0 {
            Op::Move(copy_off, copy_off + 100 + i, 2048)
        } else {
            Op::Move(fill_off + 512, fill_off + 462 - i, 1024)
        };
        ops.push((flags, op));
        // short copies take the temporal path whatever the flags
        let small_len = 1 + (i * 7) % 250;
        ops.push((flags, Op::Copy(base + 13_000 + i, p.bytes(small_len))));
    }
    ops.push((MemFlags::empty(), Op::Copy(map_size - TAIL, p.bytes(TAIL))));
    ops
}

/// Applies one store.
fn apply(map: &mut Map, flags: MemFlags, op: &Op) -> Result<(), String> {
    match op {
        Op::Copy(off, data) => map
            .copy_from_slice(*off, data, flags)
            .map_err(|e| format!("copy {} bytes at {off} ({flags:?}): {e}", data.len())),
        Op::Fill(off, len, byte) => map
            .fill(*off, *len, *byte, flags)
            .map_err(|e| format!("fill {len} bytes at {off} ({flags:?}): {e}")),
        Op::Move(src, dst, len) => map
            .copy_within(*src, *dst, *len, flags)
            .map_err(|e| format!("move {len} bytes {src} -> {dst} ({flags:?}): {e}")),
    }
}

/// What the region and the tail must hold after `ops` on zeroed memory.
fn expected(ops: &[(MemFlags, Op)], map_size: usize) -> (Vec<u8>, Vec<u8>) {
    let mut region = vec![0u8; REGION];
    let mut tail = vec![0u8; TAIL];
    for (_, op) in ops {
        match op {
            Op::Copy(off, data) if *off >= map_size - TAIL => tail.copy_from_slice(data),
            Op::Copy(off, data) => region[*off..*off + data.len()].copy_from_slice(data),
            Op::Fill(off, len, byte) => region[*off..*off + len].fill(*byte),
            Op::Move(src, dst, len) => region.copy_within(*src..*src + len, *dst),
        }
    }
    (region, tail)
}

fn compare(what: &str, base: usize, got: &[u8], want: &[u8]) -> Result<(), String> {
    let bad: Vec<usize> = (0..want.len()).filter(|&i| got[i] != want[i]).collect();
    match bad.first() {
        None => Ok(()),
        Some(&first) => Err(format!(
            "{what}: {} of {} bytes differ, first at offset {} (got {:#04x}, want {:#04x})",
            bad.len(),
            want.len(),
            base + first,
            got[first],
            want[first]
        )),
    }
}

/// Write boot: zero the region, store with every flag combination, persist the whole region
/// (which covers the stores made with `NODRAIN` or `NOFLUSH`).
/// Verify boot (after a power cut without unmounting): every byte is there.
fn persist_survives_power_cut(ctx: &Ctx, target: &Target) -> Outcome {
    let name = "pmem2-dax-persist";
    let file = if target.label == "devdax" {
        open_rw(&target.path)?
    } else if ctx.phase == Phase::Write {
        dax_file(&target.path, name, 4 * MIB)?
    } else {
        open_rw(&target.path.join(name))?
    };
    let source = Source::from_file(&file).map_err(|e| format!("Source::from_file: {e}"))?;
    let mut m = map(&Config::with_granularity(Granularity::Page), &source)?;
    let size = m.size();
    if size < REGION + TAIL {
        return Err(format!("map of {size} bytes is too small"));
    }
    let seed = format!("{:?}/{}/{}", ctx.platform, target.label, size);
    let ops = persist_ops(&seed, size);
    let (want_region, want_tail) = expected(&ops, size);
    match ctx.phase {
        Phase::Write => {
            m.write(0, &vec![0u8; REGION])
                .map_err(|e| format!("zeroing: {e}"))?;
            for (flags, op) in &ops {
                apply(&mut m, *flags, op)?;
            }
            m.persist(0, REGION)
                .and_then(|()| m.persist(size - TAIL, TAIL))
                .map_err(|e| format!("persist: {e}"))?;
            // read back now, so a failure in the verify boot means the data did not survive
            let mut got = vec![0u8; REGION];
            m.read(0, &mut got).map_err(|e| format!("read: {e}"))?;
            compare("read back", 0, &got, &want_region)?;
            Ok(format!(
                "{} stores persisted ({:?})",
                ops.len(),
                m.store_granularity()
            ))
        }
        Phase::Verify => {
            let mut got = vec![0u8; REGION];
            m.read(0, &mut got).map_err(|e| format!("read: {e}"))?;
            compare("after power cut", 0, &got, &want_region)?;
            let mut got = vec![0u8; TAIL];
            m.read(size - TAIL, &mut got)
                .map_err(|e| format!("read: {e}"))?;
            compare("after power cut (tail)", size - TAIL, &got, &want_tail)?;
            Ok(format!("{} bytes verified", REGION + TAIL))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// the driver

/// The file system type of mount point `dir`, from `/proc/mounts`.
fn fs_type(dir: &Path) -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (_, mnt, ty) = (f.next()?, f.next()?, f.next()?);
        (Path::new(mnt) == dir).then(|| ty.to_owned())
    })
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The suite's view of its environment.
struct Env {
    ctx: Ctx,
    fsdax: Vec<Target>,
    devdax: Option<Target>,
}

fn parse_env() -> Result<Option<Env>, String> {
    let dirs = env_nonempty("PMEM2_DAX_FSDAX_DIRS");
    let devdax = env_nonempty("PMEM2_DAX_DEVDAX");
    if dirs.is_none() && devdax.is_none() {
        return Ok(None);
    }
    let platform = match env_nonempty("PMEM2_DAX_PLATFORM").as_deref() {
        None | Some("default") => Platform::Default,
        Some("cpu") => Platform::Cpu,
        Some("mem-ctrl") => Platform::MemCtrl,
        Some("virtio") => Platform::Virtio,
        Some(other) => return Err(format!("PMEM2_DAX_PLATFORM={other}: unknown platform")),
    };
    let phase = match env_nonempty("PMEM2_DAX_PHASE").as_deref() {
        None | Some("write") => Phase::Write,
        Some("verify") => Phase::Verify,
        Some(other) => return Err(format!("PMEM2_DAX_PHASE={other}: unknown phase")),
    };
    let fsdax = dirs
        .iter()
        .flat_map(|d| d.split(':'))
        .filter(|d| !d.is_empty())
        .map(|d| {
            let path = PathBuf::from(d);
            let label = fs_type(&path).unwrap_or_else(|| d.replace('/', "_"));
            Target { label, path }
        })
        .collect();
    let devdax = devdax.map(|d| Target {
        label: "devdax".into(),
        path: PathBuf::from(d),
    });
    Ok(Some(Env {
        ctx: Ctx { phase, platform },
        fsdax,
        devdax,
    }))
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

#[test]
#[ignore = "needs PMEM2_DAX_* (run cargo xtask dax-test)"]
fn dax() {
    let Env { ctx, fsdax, devdax } = match parse_env() {
        Ok(Some(env)) => env,
        Ok(None) => panic!(
            "PMEM2_DAX_* not set: the DAX suite needs DAX mounts or a device DAX \
             (run `cargo xtask dax-test`, see docs/dax-vm.md)"
        ),
        Err(e) => panic!("{e}"),
    };
    let whole = Target {
        label: "platform".into(),
        path: PathBuf::from("/sys"),
    };
    let only: Vec<String> = env_nonempty("PMEM2_DAX_TESTS")
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    println!();
    let mut failures = String::new();
    for t in TESTS {
        if (t.phases == Phases::Once && ctx.phase != Phase::Write)
            || (!only.is_empty() && !only.iter().any(|o| t.name.contains(o.as_str())))
        {
            continue;
        }
        let targets: Vec<&Target> = match t.needs {
            Needs::Fsdax => fsdax.iter().collect(),
            Needs::Devdax => devdax.iter().collect(),
            Needs::Whole => vec![&whole],
        };
        if targets.is_empty() {
            let what = if t.needs == Needs::Devdax {
                "PMEM2_DAX_DEVDAX"
            } else {
                "PMEM2_DAX_FSDAX_DIRS"
            };
            println!("DAX-RESULT SKIP {} - {what} not set", t.name);
            continue;
        }
        for target in targets {
            // a crash (SIGSEGV, SIGBUS) can't be caught: the harness reports a START without
            // a RESULT as the test that killed the suite
            println!("DAX-START {} {}", t.name, target.label);
            let outcome = catch_unwind(AssertUnwindSafe(|| (t.run)(&ctx, target)))
                .unwrap_or_else(|p| Err(format!("panicked: {}", panic_text(p.as_ref()))));
            match outcome {
                Ok(detail) => println!("DAX-RESULT PASS {} {} {detail}", t.name, target.label),
                Err(why) => {
                    let why = why.replace('\n', " | ");
                    println!("DAX-RESULT FAIL {} {} {why}", t.name, target.label);
                    let _ = writeln!(failures, "{} on {}: {why}", t.name, target.label);
                }
            }
        }
    }
    assert!(failures.is_empty(), "DAX tests failed:\n{failures}");
}
