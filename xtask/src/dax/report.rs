//! Reading a boot's console: setup steps, one result per test and target, the exit status of
//! the test binary, the `pmem2 info --json` outputs, and whether the guest got to the end.

use super::emulated;
use super::vm::Console;

/// Outcome of one test on one target.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    /// Passed.
    Pass,
    /// Failed.
    Fail,
    /// Did not apply (its device is absent in this configuration).
    Skip,
}

impl Status {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "PASS" => Some(Self::Pass),
            "FAIL" => Some(Self::Fail),
            "SKIP" => Some(Self::Skip),
            _ => None,
        }
    }

    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Skip => "SKIP",
        }
    }
}

/// One line of the result table.
pub struct Row {
    /// Test (or setup step, or `pmem2-info`) name.
    pub name: String,
    /// `ext4`, `xfs`, `devdax`, or `-`.
    pub target: String,
    /// Outcome.
    pub status: Status,
    /// Why (failures) or what (passes), may be empty.
    pub detail: String,
}

/// Everything learnt from one boot.
pub struct BootReport {
    /// Rows in console order: failed setup steps, tests, `pmem2 info`, and the boot itself
    /// when it did not complete.
    pub rows: Vec<Row>,
    /// Setup steps that passed (only counted, to keep the table short).
    pub setup_passed: usize,
}

/// What `pmem2 info --json` must say on `platform` (a configuration name), for the keys it
/// reports.
fn info_expectations(platform: &str, devdax: bool) -> Vec<(&'static str, serde_json::Value)> {
    let granularity = match platform {
        "virtio" => "page",
        "cpu" => "byte",
        _ => "cache_line",
    };
    vec![
        ("granularity", granularity.into()),
        ("map_sync", (platform != "virtio").into()),
        ("eadr", (platform == "cpu").into()),
        (
            "source_type",
            if devdax { "devdax" } else { "regular" }.into(),
        ),
    ]
}

/// What `pmem2 info --json` did, checked against what `platform` must give.
fn classify_info(platform: &str, path: &str, rc: i32, stdout: &str, stderr: &str) -> Row {
    let target = if path.starts_with("/dev/") {
        "devdax".to_owned()
    } else {
        path.trim_start_matches("/mnt/")
            .split('/')
            .next()
            .unwrap_or("-")
            .to_owned()
    };
    let mut row = Row {
        name: "pmem2-info-json".into(),
        target,
        status: Status::Pass,
        detail: String::new(),
    };
    let missing = stderr.contains("unrecognized subcommand")
        || stderr.contains("unexpected argument")
        || (rc == 0 && stdout.trim().is_empty());
    if missing {
        row.status = Status::Fail;
        row.detail = format!("`pmem2 info` is missing from the CLI (rc={rc}, no output)");
        return row;
    }
    match serde_json::from_str::<serde_json::Value>(stdout.trim()) {
        Ok(v) if rc == 0 => {
            let devdax = row.target == "devdax";
            let wrong = info_expectations(platform, devdax)
                .into_iter()
                .filter(|(key, want)| v.get(key).is_some_and(|got| got != want))
                .map(|(key, want)| format!("{key}={} (want {want})", v[key]))
                .collect::<Vec<_>>();
            if wrong.is_empty() {
                row.detail = ["source_type", "granularity", "map_sync", "eadr", "flush"]
                    .iter()
                    .filter_map(|k| v.get(k).map(|x| format!("{k}={x}")))
                    .collect::<Vec<_>>()
                    .join(" ");
            } else {
                row.status = Status::Fail;
                row.detail = format!("unexpected: {}", wrong.join(", "));
            }
        }
        Ok(_) => {
            row.status = Status::Fail;
            row.detail = format!("exit status {rc}: {}", stderr.trim());
        }
        Err(e) => {
            row.status = Status::Fail;
            row.detail = format!(
                "rc={rc}, output is not JSON ({e}); stderr: {}",
                stderr.trim()
            );
        }
    }
    row
}

fn fail_row(name: &str, target: &str, detail: String) -> Row {
    Row {
        name: name.to_owned(),
        target: target.to_owned(),
        status: Status::Fail,
        detail,
    }
}

/// `DAX-RESULT <status> <test> <target> <detail>`.
fn result_row(rest: &str) -> Row {
    let mut it = rest.splitn(4, ' ');
    let status = it.next().and_then(Status::parse);
    let name = it.next().unwrap_or_default();
    let target = it.next().unwrap_or("-");
    match status {
        Some(status) => Row {
            name: name.to_owned(),
            target: target.to_owned(),
            status,
            detail: it.next().unwrap_or_default().to_owned(),
        },
        None => fail_row(name, target, format!("unreadable result line: {rest}")),
    }
}

/// The console being read.
#[derive(Default)]
struct Parser {
    /// Configuration name.
    platform: String,
    rows: Vec<Row>,
    setup_passed: usize,
    tests_exit: Option<i32>,
    done: bool,
    /// Inside a `pmem2 info` block: path and stdout so far.
    info: Option<(String, String)>,
    /// A finished `pmem2 info` block collecting its stderr lines: path, rc, stdout, stderr.
    info_end: Option<(String, i32, String, String)>,
    info_rows: Vec<Row>,
    /// `<test> <target>` of a test that started and has no result yet.
    started: Option<String>,
    /// `DAX-RESULT` lines seen: none at all means the suite did not run.
    results: usize,
    /// The boot must run [`emulated::BINARIES`].
    emulated: bool,
    /// Inside a `DAX-EMU` block: binary and output so far.
    emu: Option<(String, String)>,
    /// The `DAX-EMU` blocks that ended.
    emu_done: Vec<String>,
}

impl Parser {
    fn line(&mut self, raw: &str) {
        if let Some((name, out)) = self.emu.as_mut() {
            if let Some(i) = raw.find("DAX-EMU-END ") {
                let rc = raw[i..]
                    .split_once(" rc=")
                    .and_then(|(_, rc)| rc.trim().parse().ok())
                    .unwrap_or(-1);
                let (name, out) = (name.clone(), std::mem::take(out));
                self.emu = None;
                self.emu_row(&name, rc, &out);
            } else {
                out.push_str(raw);
                out.push('\n');
            }
            return;
        }
        // the kernel or libtest may have written on the same console line first
        let line = raw.find("DAX-").map_or(raw, |i| &raw[i..]);
        if let Some((path, out)) = self.info.as_mut() {
            if let Some(rc) = line.strip_prefix("DAX-INFO-END rc=") {
                let rc = rc.trim().parse().unwrap_or(-1);
                self.info_end = Some((path.clone(), rc, std::mem::take(out), String::new()));
                self.info = None;
            } else {
                out.push_str(raw);
                out.push('\n');
            }
            return;
        }
        if let Some(err) = line.strip_prefix("DAX-INFO-STDERR ") {
            if let Some((_, _, _, stderr)) = self.info_end.as_mut() {
                stderr.push_str(err);
                stderr.push('\n');
            }
            return;
        }
        self.end_info();
        if let Some(rest) = line.strip_prefix("DAX-SETUP ") {
            let mut it = rest.splitn(3, ' ');
            let step = it.next().unwrap_or_default();
            if it.next() == Some("PASS") {
                self.setup_passed += 1;
            } else {
                let detail = it.next().unwrap_or_default().to_owned();
                self.rows
                    .push(fail_row(&format!("setup:{step}"), "-", detail));
            }
        } else if let Some(rest) = line.strip_prefix("DAX-START ") {
            self.started = Some(rest.trim().to_owned());
        } else if let Some(rest) = line.strip_prefix("DAX-RESULT ") {
            self.started = None;
            self.results += 1;
            self.rows.push(result_row(rest));
        } else if let Some(rc) = line.strip_prefix("DAX-TESTS-EXIT rc=") {
            self.tests_exit = rc.trim().parse::<i32>().ok();
            self.unfinished(&format!("the suite died in this test (exit {})", rc.trim()));
        } else if let Some(name) = line.strip_prefix("DAX-EMU-BEGIN ") {
            self.emu = Some((name.trim().to_owned(), String::new()));
        } else if let Some(path) = line.strip_prefix("DAX-INFO-BEGIN ") {
            self.info = Some((path.trim().to_owned(), String::new()));
        } else if line.starts_with("DAX-DONE") {
            self.done = true;
        }
    }

    fn end_info(&mut self) {
        if let Some((path, rc, out, err)) = self.info_end.take() {
            self.info_rows
                .push(classify_info(&self.platform, &path, rc, &out, &err));
        }
    }

    /// One row for a test binary of [`emulated::BINARIES`].
    fn emu_row(&mut self, name: &str, rc: i32, out: &str) {
        self.emu_done.push(name.to_owned());
        let row_name = format!("qemu-user-skips:{name}");
        let row = match emulated::read(name, out) {
            Some(o) => Row {
                name: row_name,
                target: "tmpfs".into(),
                status: if o.passed(rc) {
                    Status::Pass
                } else {
                    Status::Fail
                },
                detail: o.detail(rc),
            },
            None => fail_row(&row_name, "tmpfs", "not a known test binary".into()),
        };
        self.rows.push(row);
    }

    /// A test that started and never reported.
    fn unfinished(&mut self, why: &str) {
        if let Some(test) = self.started.take() {
            let (name, target) = test.split_once(' ').unwrap_or((&test, "-"));
            self.rows
                .push(fail_row(name, target, format!("no result: {why}")));
        }
    }

    fn finish(mut self, console: &Console) -> BootReport {
        self.end_info();
        if let Some((name, _)) = self.emu.take() {
            self.emu_done.push(name.clone());
            self.rows.push(fail_row(
                &format!("qemu-user-skips:{name}"),
                "tmpfs",
                "no end: the boot ended in this binary".into(),
            ));
        }
        if self.emulated {
            for b in emulated::BINARIES {
                if !self.emu_done.iter().any(|n| n == b.name) {
                    self.rows.push(fail_row(
                        &format!("qemu-user-skips:{}", b.name),
                        "tmpfs",
                        "did not run".into(),
                    ));
                }
            }
        }
        self.unfinished("the boot ended in this test");
        self.rows.append(&mut self.info_rows);
        match self.tests_exit {
            // libtest exits 0 when the suite's test is ignored or filtered out: a boot
            // without a single result is a failure, never a silent pass.
            Some(0) if self.results == 0 => self.rows.push(fail_row(
                "dax-suite-exit",
                "-",
                "the suite reported no result (ignored? init.sh runs it with \
                 --include-ignored)"
                    .into(),
            )),
            Some(0) => {}
            Some(rc) => self.rows.push(fail_row(
                "dax-suite-exit",
                "-",
                format!("test binary exited with {rc}"),
            )),
            None => self.rows.push(fail_row(
                "dax-suite-exit",
                "-",
                "test binary did not report an exit status".into(),
            )),
        }
        if let Some(p) = &console.problem {
            self.rows.push(fail_row("boot", "-", p.clone()));
        } else if !self.done {
            self.rows.push(fail_row(
                "boot",
                "-",
                "the guest did not reach the end of /init".into(),
            ));
        }
        BootReport {
            rows: self.rows,
            setup_passed: self.setup_passed,
        }
    }
}

/// Parses one boot's console of configuration `platform`; `emulated`: the boot must have run
/// the tests that skip under QEMU's user mode ([`emulated::BINARIES`]).
pub fn parse(platform: &str, emulated: bool, console: &Console) -> BootReport {
    let mut p = Parser {
        platform: platform.to_owned(),
        emulated,
        ..Parser::default()
    };
    for line in &console.lines {
        p.line(line);
    }
    p.finish(console)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn console(lines: &[&str], problem: Option<&str>) -> Console {
        Console {
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
            problem: problem.map(str::to_owned),
            seconds: 1.0,
        }
    }

    fn summary(rep: &BootReport) -> Vec<(String, String, Status)> {
        rep.rows
            .iter()
            .map(|r| (r.name.clone(), r.target.clone(), r.status))
            .collect()
    }

    #[test]
    fn a_complete_boot() {
        let rep = parse(
            "virtio",
            false,
            &console(
                &[
                    "DAX-SETUP mkfs-ext4 PASS",
                    "DAX-SETUP mount-xfs FAIL exit=32: mount: wrong fs type",
                    "test dax ... DAX-START t1 ext4",
                    "DAX-RESULT PASS t1 ext4 CacheLine map_sync=true",
                    "DAX-START t2 devdax",
                    "DAX-RESULT FAIL t2 devdax expected Byte",
                    "DAX-RESULT SKIP t3 - PMEM2_DAX_DEVDAX not set",
                    "DAX-TESTS-EXIT rc=101",
                    "DAX-INFO-BEGIN /mnt/ext4/pmem2-info",
                    "{\"granularity\":\"page\",",
                    "\"map_sync\":false}",
                    "",
                    "DAX-INFO-END rc=0",
                    "DAX-INFO-BEGIN /dev/dax1.0",
                    "",
                    "DAX-INFO-END rc=2",
                    "DAX-INFO-STDERR error: no such device",
                    "DAX-DONE",
                ],
                None,
            ),
        );
        assert_eq!(rep.setup_passed, 1);
        assert_eq!(
            summary(&rep),
            vec![
                ("setup:mount-xfs".into(), "-".into(), Status::Fail),
                ("t1".into(), "ext4".into(), Status::Pass),
                ("t2".into(), "devdax".into(), Status::Fail),
                ("t3".into(), "-".into(), Status::Skip),
                ("pmem2-info-json".into(), "ext4".into(), Status::Pass),
                ("pmem2-info-json".into(), "devdax".into(), Status::Fail),
                ("dax-suite-exit".into(), "-".into(), Status::Fail),
            ]
        );
        assert_eq!(rep.rows[1].detail, "CacheLine map_sync=true");
        assert_eq!(rep.rows[4].detail, "granularity=\"page\" map_sync=false");
        assert!(rep.rows[5].detail.contains("no such device"));
    }

    #[test]
    fn a_test_that_kills_the_suite_is_named() {
        let rep = parse(
            "default",
            false,
            &console(
                &["DAX-START t1 xfs", "DAX-TESTS-EXIT rc=137", "DAX-DONE"],
                None,
            ),
        );
        assert_eq!(rep.rows[0].name, "t1");
        assert_eq!(rep.rows[0].target, "xfs");
        assert_eq!(rep.rows[0].status, Status::Fail);
        assert!(rep.rows[0].detail.contains("exit 137"));
    }

    #[test]
    fn a_killed_boot_fails_and_names_the_running_test() {
        let rep = parse(
            "default",
            false,
            &console(
                &["DAX-START t1 devdax"],
                Some("no power-off within 300s: QEMU killed"),
            ),
        );
        assert_eq!(
            summary(&rep),
            vec![
                ("t1".into(), "devdax".into(), Status::Fail),
                ("dax-suite-exit".into(), "-".into(), Status::Fail),
                ("boot".into(), "-".into(), Status::Fail),
            ]
        );
    }

    #[test]
    fn a_suite_that_runs_nothing_fails() {
        let rep = parse(
            "default",
            false,
            &console(
                &[
                    "test dax ... ignored, needs PMEM2_DAX_*",
                    "DAX-TESTS-EXIT rc=0",
                    "DAX-DONE",
                ],
                None,
            ),
        );
        assert_eq!(
            summary(&rep),
            vec![("dax-suite-exit".into(), "-".into(), Status::Fail)]
        );
        assert!(rep.rows[0].detail.contains("no result"));
    }

    #[test]
    fn a_missing_info_subcommand_fails() {
        for (rc, stderr) in [(0, ""), (2, "error: unrecognized subcommand 'info'")] {
            let row = classify_info("cpu", "/mnt/xfs/f", rc, "\n", stderr);
            assert_eq!((row.status, row.target.as_str()), (Status::Fail, "xfs"));
            assert!(row.detail.contains("missing"), "{}", row.detail);
        }
        let row = classify_info("cpu", "/dev/dax1.0", 0, "not json\n", "");
        assert_eq!(row.status, Status::Fail);
    }

    #[test]
    fn info_must_match_the_platform() {
        let cpu = r#"{"granularity":"byte","map_sync":true,"eadr":true,"source_type":"devdax"}"#;
        let row = classify_info("cpu", "/dev/dax1.0", 0, cpu, "");
        assert_eq!(row.status, Status::Pass, "{}", row.detail);
        let row = classify_info("mem-ctrl", "/dev/dax1.0", 0, cpu, "");
        assert_eq!(row.status, Status::Fail);
        assert!(row
            .detail
            .contains("granularity=\"byte\" (want \"cache_line\")"));
        assert!(row.detail.contains("eadr=true (want false)"));
        // keys the CLI does not report are not required
        let row = classify_info("virtio", "/mnt/ext4/f", 0, r#"{"map_sync":false}"#, "");
        assert_eq!(row.status, Status::Pass, "{}", row.detail);
    }

    #[test]
    fn the_qemu_user_skips_are_one_row_per_binary_and_must_all_run() {
        let ok = |name: &str, tests: &[&str]| {
            let mut v = vec![format!("DAX-EMU-BEGIN {name}")];
            v.extend(tests.iter().map(|t| format!("test {t} ... ok")));
            v.push("test result: ok. 9 passed; 0 failed; 0 ignored; 0 measured".into());
            v.push(format!("DAX-EMU-END {name} rc=0"));
            v
        };
        let mut lines = vec![
            "DAX-RESULT PASS t1 ext4".to_owned(),
            "DAX-TESTS-EXIT rc=0".into(),
        ];
        for b in emulated::BINARIES {
            lines.extend(ok(b.name, b.must_run));
        }
        lines.push("DAX-DONE".into());
        let refs = lines.iter().map(String::as_str).collect::<Vec<_>>();
        let rep = parse("default", true, &console(&refs, None));
        assert_eq!(rep.rows.len(), 1 + emulated::BINARIES.len());
        assert!(rep.rows.iter().all(|r| r.status == Status::Pass));
        assert_eq!(rep.rows[1].name, "qemu-user-skips:lib");
        assert_eq!(rep.rows[1].target, "tmpfs");

        // a binary that is missing, or one that never ends, fails
        let cut = lines.iter().position(|l| l == "DAX-EMU-BEGIN map").unwrap();
        let refs = lines[..cut + 2]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>();
        let rep = parse("default", true, &console(&refs, Some("killed")));
        let failed = rep
            .rows
            .iter()
            .filter(|r| r.status == Status::Fail)
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>();
        assert_eq!(
            failed,
            [
                "qemu-user-skips:map",
                "qemu-user-skips:reservation",
                "qemu-user-skips:truncate",
                "boot"
            ]
        );
        // not required where the configuration does not run them
        let rep = parse("default", false, &console(&refs[..2], None));
        assert!(rep.rows.iter().all(|r| r.name != "qemu-user-skips:map"));
    }

    #[test]
    fn an_unreadable_result_line_fails() {
        let row = result_row("MAYBE t1 ext4 ?");
        assert_eq!(row.status, Status::Fail);
    }
}
