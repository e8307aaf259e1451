//! The `pmem2` tests whose premise QEMU's user mode breaks (`ci/aarch64-qemu.sh` reports
//! them as `SKIPPED <test>: <why>`: it accepts `MAP_SYNC` on tmpfs, answers unknown ioctls
//! with `ENOSYS`, and its cache maintenance never faults) run for real in the arm64 guest, on
//! an arm64 kernel: which test binaries, which of their tests must have run there, and the
//! reading of their libtest output.

/// One test binary of `pmem2` run in the guest.
pub struct Binary {
    /// Cargo's target: `lib` for the unit tests, else the integration test's name; also its
    /// name in the guest (`/dax/emu/<name>`) and in the report.
    pub name: &'static str,
    /// The tests that skip under QEMU's user mode: each must report `ok` in the guest.
    pub must_run: &'static [&'static str],
}

/// Every binary with a test that skips under QEMU's user mode (`ci/aarch64-qemu.sh`'s log).
pub const BINARIES: &[Binary] = &[
    Binary {
        name: "lib",
        must_run: &[
            "sys::ndctl::tests::a_non_bus_device_refuses_the_ioctl",
            "badblock::tests::devdax_clear_goes_to_the_regions_bus_device",
            "libpmem::tests::create_map_unmap_and_rules",
            "mem::tests::page_move_onto_itself_msyncs",
        ],
    },
    Binary {
        name: "granularity_env",
        must_run: &["forced_granularities"],
    },
    Binary {
        name: "map",
        must_run: &[
            "tmpfs_and_disk_refuse_cache_line_and_byte",
            "write_persist_and_read_back_through_a_second_mapping",
        ],
    },
    Binary {
        name: "reservation",
        must_run: &[
            "refused_granularity_leaves_the_range_free",
            "a_refused_map_leaves_other_registrations_alone",
            "deleted_maps_leave_the_range_reserved",
        ],
    },
    Binary {
        name: "truncate",
        must_run: &[
            "every_safe_method_reports_efault_after_truncation_by_this_process",
            "every_safe_method_reports_efault_after_truncation_by_another_process",
            "maps_in_a_reservation_are_guarded_and_repaired_too",
            "without_a_handler_a_foreign_sigbus_still_kills_by_sigbus",
        ],
    },
];

/// The `cargo test --no-run` arguments selecting [`BINARIES`].
pub fn cargo_targets() -> Vec<&'static str> {
    BINARIES
        .iter()
        .flat_map(|b| match b.name {
            "lib" => vec!["--lib"],
            t => vec!["--test", t],
        })
        .collect()
}

/// What one binary's run said.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// From libtest's `test result:` line (`None`: no such line, the binary died).
    pub counts: Option<(usize, usize, usize)>,
    /// Tests libtest reported `FAILED`.
    pub failed: Vec<String>,
    /// Tests of [`Binary::must_run`] not reported `ok`.
    pub not_run: Vec<String>,
    /// Tests of [`Binary::must_run`] reported `ok`.
    pub ran: usize,
    /// `SKIPPED` lines blaming QEMU's user mode: the detection misfired on a real kernel.
    pub user_mode_skips: Vec<String>,
    /// Other `SKIPPED` lines (shown, not failures).
    pub other_skips: Vec<String>,
}

impl Outcome {
    /// Whether the binary passed: exit 0, every test passed and the ones that skip under
    /// QEMU's user mode ran.
    pub fn passed(&self, rc: i32) -> bool {
        rc == 0
            && self.counts.is_some_and(|(_, failed, _)| failed == 0)
            && self.failed.is_empty()
            && self.not_run.is_empty()
            && self.user_mode_skips.is_empty()
    }

    /// One line for the report.
    pub fn detail(&self, rc: i32) -> String {
        let mut parts = vec![match self.counts {
            Some((p, f, i)) => format!("{p} passed, {f} failed, {i} ignored"),
            None => format!("no `test result` line (exit {rc})"),
        }];
        if rc != 0 {
            parts.push(format!("exit {rc}"));
        }
        let list = |what: &str, v: &[String]| format!("{what}: {}", v.join(", "));
        if !self.failed.is_empty() {
            parts.push(list("failed", &self.failed));
        }
        if !self.not_run.is_empty() {
            parts.push(list("not run", &self.not_run));
        }
        if !self.user_mode_skips.is_empty() {
            parts.push(list(
                "skipped as if under QEMU user mode",
                &self.user_mode_skips,
            ));
        }
        if !self.other_skips.is_empty() {
            parts.push(list("skipped", &self.other_skips));
        }
        parts.push(format!(
            "{} test(s) that skip under qemu-user ran for real",
            self.ran
        ));
        parts.join("; ")
    }
}

/// Reads the libtest output of `binary` (`None`: not one of [`BINARIES`]).
pub fn read(binary: &str, output: &str) -> Option<Outcome> {
    let b = BINARIES.iter().find(|b| b.name == binary)?;
    let mut o = Outcome::default();
    let mut ok = Vec::new();
    for line in output.lines() {
        // libtest may print `test x ... ` and a skip line of another thread on one line
        for (i, _) in line.match_indices("SKIPPED ") {
            let skip = line[i + "SKIPPED ".len()..].trim().to_owned();
            if skip.contains("QEMU user mode") {
                o.user_mode_skips.push(skip);
            } else {
                o.other_skips.push(skip);
            }
        }
        if let Some(rest) = line.trim_start().strip_prefix("test ") {
            if let Some(name) = rest.strip_suffix(" ... ok") {
                ok.push(name.to_owned());
            } else if let Some(name) = rest.strip_suffix(" ... FAILED") {
                o.failed.push(name.to_owned());
            }
            if let Some(counts) = rest.strip_prefix("result: ") {
                o.counts = counts_of(counts);
            }
        }
    }
    o.not_run = b
        .must_run
        .iter()
        .filter(|t| !ok.iter().any(|n| n == *t))
        .map(|t| (*t).to_owned())
        .collect();
    o.ran = b.must_run.len() - o.not_run.len();
    Some(o)
}

/// `ok. 4 passed; 0 failed; 3 ignored; ...`: passed, failed, ignored.
fn counts_of(s: &str) -> Option<(usize, usize, usize)> {
    let (_, rest) = s.split_once(". ")?;
    let mut n = [None; 3];
    for part in rest.split("; ") {
        let (count, what) = part.split_once(' ')?;
        let slot = match what {
            "passed" => 0,
            "failed" => 1,
            "ignored" => 2,
            _ => continue,
        };
        n[slot] = count.parse().ok();
    }
    Some((n[0]?, n[1]?, n[2]?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP_OK: &str = "\
running 3 tests
test other ... ok
test tmpfs_and_disk_refuse_cache_line_and_byte ... ok
test write_persist_and_read_back_through_a_second_mapping ... ok

test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 2.1s
";

    #[test]
    fn a_run_where_the_skipped_tests_ran_passes() {
        let o = read("map", MAP_OK).unwrap();
        assert_eq!(o.counts, Some((3, 0, 1)));
        assert_eq!(o.ran, 2);
        assert!(o.passed(0), "{}", o.detail(0));
        assert!(!o.passed(101));
        assert!(o
            .detail(0)
            .contains("2 test(s) that skip under qemu-user ran for real"));
    }

    #[test]
    fn a_user_mode_skip_or_a_missing_test_fails() {
        let skipped = MAP_OK.replace(
            "test tmpfs_and_disk_refuse_cache_line_and_byte ... ok",
            "test tmpfs_and_disk_refuse_cache_line_and_byte ... SKIPPED tmpfs_and_disk_refuse_cache_line_and_byte: \
             MAP_SYNC is accepted on a non-DAX file here (QEMU user mode ignores the flag)",
        );
        let o = read("map", &skipped).unwrap();
        assert_eq!(o.user_mode_skips.len(), 1);
        assert_eq!(o.not_run, ["tmpfs_and_disk_refuse_cache_line_and_byte"]);
        assert!(!o.passed(0));
        let o = read(
            "map",
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured",
        )
        .unwrap();
        assert_eq!(o.not_run.len(), 2);
        assert!(!o.passed(0));
    }

    #[test]
    fn failures_and_a_dead_binary_fail() {
        let failed =
            "test a ... FAILED\ntest result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured";
        let o = read("granularity_env", failed).unwrap();
        assert_eq!(o.failed, ["a"]);
        assert_eq!(o.counts, Some((1, 1, 0)));
        assert!(!o.passed(101));
        let o = read(
            "truncate",
            "test maps_in_a_reservation_are_guarded_and_repaired_too ... ok",
        )
        .unwrap();
        assert_eq!(o.counts, None);
        assert!(!o.passed(137));
        assert!(o.detail(137).contains("no `test result` line"));
        assert!(read("unknown", "").is_none());
    }

    #[test]
    fn every_binary_is_built() {
        let args = cargo_targets();
        assert_eq!(
            args.iter().filter(|a| **a == "--test").count() + 1,
            BINARIES.len()
        );
        assert!(args.contains(&"--lib"));
    }
}
