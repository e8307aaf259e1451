//! The exported symbols and the symbol check.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// The 49 functions of PMDK 2.x's `LIBPMEM2_2.0` node, which PMDK 1.10-1.13
/// also exported at `LIBPMEM2_1.0`.
pub const API_SYMBOLS: [&str; 49] = [
    "pmem2_badblock_clear",
    "pmem2_badblock_context_delete",
    "pmem2_badblock_context_new",
    "pmem2_badblock_next",
    "pmem2_config_delete",
    "pmem2_config_new",
    "pmem2_config_set_length",
    "pmem2_config_set_offset",
    "pmem2_config_set_protection",
    "pmem2_config_set_required_store_granularity",
    "pmem2_config_set_sharing",
    "pmem2_config_set_vm_reservation",
    "pmem2_deep_flush",
    "pmem2_errormsg",
    "pmem2_get_drain_fn",
    "pmem2_get_flush_fn",
    "pmem2_get_memcpy_fn",
    "pmem2_get_memmove_fn",
    "pmem2_get_memset_fn",
    "pmem2_get_persist_fn",
    "pmem2_map_delete",
    "pmem2_map_from_existing",
    "pmem2_map_get_address",
    "pmem2_map_get_size",
    "pmem2_map_get_store_granularity",
    "pmem2_map_new",
    "pmem2_perror",
    "pmem2_source_alignment",
    "pmem2_source_delete",
    "pmem2_source_device_id",
    "pmem2_source_device_usc",
    "pmem2_source_from_anon",
    "pmem2_source_from_fd",
    "pmem2_source_get_fd",
    "pmem2_source_numa_node",
    "pmem2_source_pread_mcsafe",
    "pmem2_source_pwrite_mcsafe",
    "pmem2_source_size",
    "pmem2_vm_reservation_delete",
    "pmem2_vm_reservation_extend",
    "pmem2_vm_reservation_get_address",
    "pmem2_vm_reservation_get_size",
    "pmem2_vm_reservation_map_find",
    "pmem2_vm_reservation_map_find_first",
    "pmem2_vm_reservation_map_find_last",
    "pmem2_vm_reservation_map_find_next",
    "pmem2_vm_reservation_map_find_prev",
    "pmem2_vm_reservation_new",
    "pmem2_vm_reservation_shrink",
];

/// pmem2's extensions (not in PMDK), exported at their own version node.
pub const EXT_SYMBOLS: [&str; 1] = ["pmem2_check_point"];

/// The version node of [`EXT_SYMBOLS`].
pub const EXT_NODE: &str = "PMEM2_EXT_1.0";

/// The miniasync-based functions of PMDK 1.12-1.13, deliberately absent.
pub const ASYNC_SYMBOLS_1_12: [&str; 4] = [
    "pmem2_config_set_vdm",
    "pmem2_memcpy_async",
    "pmem2_memmove_async",
    "pmem2_memset_async",
];

/// The defined dynamic symbols of a shared library, as `name@VER` /
/// `name@@VER` (as `readelf` prints them; version-node symbols included).
pub fn exported(lib: &Path) -> Result<BTreeSet<String>, String> {
    let out = Command::new("readelf")
        .args(["--dyn-syms", "-W"])
        .arg(lib)
        .output()
        .map_err(|e| format!("readelf: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "readelf {}: {}",
            lib.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            // Num: Value Size Type Bind Vis Ndx Name
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() >= 8 && f[6] != "UND" && (f[4] == "GLOBAL" || f[4] == "WEAK"))
                .then(|| f[7].to_string())
        })
        .collect())
}

/// The version nodes a program's `pmem2_*` imports are bound to.
pub fn imported_versions(exe: &Path) -> Result<BTreeSet<String>, String> {
    let out = Command::new("readelf")
        .args(["--dyn-syms", "-W"])
        .arg(exe)
        .output()
        .map_err(|e| format!("readelf: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // Name: "pmem2_x@LIBPMEM2_1.0", followed by "(3)".
            (f.len() >= 8 && f[6] == "UND" && f[7].starts_with("pmem2_")).then(|| {
                f[7].split_once('@')
                    .map_or("<unversioned>", |(_, v)| v.trim_start_matches('@'))
                    .to_string()
            })
        })
        .collect())
}

/// API functions the library references but doesn't define.
pub fn undefined_api(lib: &Path) -> Result<Vec<String>, String> {
    let out = Command::new("readelf")
        .args(["--dyn-syms", "-W"])
        .arg(lib)
        .output()
        .map_err(|e| format!("readelf: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() >= 8 && f[6] == "UND" && f[7].starts_with("pmem2_")).then(|| f[7].to_string())
        })
        .collect())
}

/// The soname of a shared library.
pub fn soname(lib: &Path) -> Result<String, String> {
    let out = Command::new("readelf")
        .args(["-d", "-W"])
        .arg(lib)
        .output()
        .map_err(|e| format!("readelf: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.contains("(SONAME)"))
        .and_then(|l| l.split('[').nth(1))
        .map(|s| s.trim_end_matches(']').to_string())
        .ok_or_else(|| format!("{}: no SONAME", lib.display()))
}

/// The symbol check: the soname, all 49 at `@@LIBPMEM2_2.0`, all 49 at
/// `@LIBPMEM2_1.0`, the extensions at `@@PMEM2_EXT_1.0`, every name of `reference` (PMDK 1.x's library, if
/// given) present at `LIBPMEM2_1.0` except the async ones, nothing else.
/// Returns a report; `Err` lists every problem.
pub fn check(ours: &Path, reference: Option<&Path>) -> Result<String, String> {
    let mut problems = Vec::new();
    let name = soname(ours)?;
    if name != "libpmem2.so.1" {
        problems.push(format!("soname is {name}, expected libpmem2.so.1"));
    }
    let have = exported(ours)?;
    let mut expected: BTreeSet<String> =
        ["LIBPMEM2_1.0".to_string(), "LIBPMEM2_2.0".to_string()].into();
    for sym in API_SYMBOLS {
        expected.insert(format!("{sym}@@LIBPMEM2_2.0"));
        expected.insert(format!("{sym}@LIBPMEM2_1.0"));
    }
    expected.insert(EXT_NODE.to_string());
    for sym in EXT_SYMBOLS {
        expected.insert(format!("{sym}@@{EXT_NODE}"));
    }
    for missing in expected.difference(&have) {
        problems.push(format!("missing: {missing}"));
    }
    for extra in have.difference(&expected) {
        problems.push(format!("extra: {extra}"));
    }
    let mut report = format!(
        "soname {name}; {} symbols at LIBPMEM2_2.0 (default), {} at LIBPMEM2_1.0, {} exported in all",
        have.iter().filter(|s| s.ends_with("@@LIBPMEM2_2.0")).count(),
        have.iter().filter(|s| s.ends_with("@LIBPMEM2_1.0")).count(),
        have.len(),
    );
    if let Some(reference) = reference {
        let theirs = exported(reference)?;
        let mut compared = 0;
        for sym in &theirs {
            let Some((base, ver)) = sym.split_once('@') else {
                continue; // the version-node symbol itself
            };
            let ver = ver.trim_start_matches('@');
            if ASYNC_SYMBOLS_1_12.contains(&base) {
                continue;
            }
            compared += 1;
            if !have.contains(&format!("{base}@{ver}")) && !have.contains(&format!("{base}@@{ver}"))
            {
                problems.push(format!(
                    "{} exports {base}@{ver}, we don't",
                    reference.display()
                ));
            }
        }
        let _ = write!(
            report,
            "; all {compared} non-async symbols of {} present",
            reference.display()
        );
    }
    if problems.is_empty() {
        Ok(report)
    } else {
        Err(problems.join("\n"))
    }
}
