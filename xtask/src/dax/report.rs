//! Reading a boot's console: setup steps, one result per test and target, the exit status of
//! the test binary, the `pmem2 info --json` outputs, and whether the guest got to the end.

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

/// What `pmem2 info --json` did.
fn classify_info(path: &str, rc: i32, stdout: &str, stderr: &str) -> Row {
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
        row.status = Status::Skip;
        row.detail =
            format!("`pmem2 info` not available yet in the CLI (rc={rc}, no output): tolerated");
        return row;
    }
    match serde_json::from_str::<serde_json::Value>(stdout.trim()) {
        Ok(v) if rc == 0 => {
            let keys = v
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>().join(","))
                .unwrap_or_default();
            row.detail = format!("valid JSON {{{keys}}}");
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

/// Parses one boot's console.
pub fn parse(console: &Console) -> BootReport {
    let mut rows = Vec::new();
    let mut setup_passed = 0;
    let mut tests_exit = None;
    let mut done = false;
    let mut info: Option<(String, String)> = None;
    let mut info_end: Option<(String, i32, String, String)> = None;
    let mut pending_info = Vec::new();
    for raw in &console.lines {
        // the kernel or libtest may have written on the same console line first
        let line = raw.find("DAX-").map_or(raw.as_str(), |i| &raw[i..]);
        if let Some((path, out)) = info.as_mut() {
            if let Some(rc) = line.strip_prefix("DAX-INFO-END rc=") {
                let rc = rc.trim().parse().unwrap_or(-1);
                info_end = Some((path.clone(), rc, std::mem::take(out), String::new()));
                info = None;
            } else {
                out.push_str(raw);
                out.push('\n');
            }
            continue;
        }
        if let Some(err) = line.strip_prefix("DAX-INFO-STDERR ") {
            if let Some((_, _, _, stderr)) = info_end.as_mut() {
                stderr.push_str(err);
                stderr.push('\n');
            }
            continue;
        }
        if let Some((path, rc, out, err)) = info_end.take() {
            pending_info.push(classify_info(&path, rc, &out, &err));
        }
        if let Some(rest) = line.strip_prefix("DAX-SETUP ") {
            let mut it = rest.splitn(3, ' ');
            let step = it.next().unwrap_or_default();
            if it.next() == Some("PASS") {
                setup_passed += 1;
            } else {
                rows.push(Row {
                    name: format!("setup:{step}"),
                    target: "-".into(),
                    status: Status::Fail,
                    detail: it.next().unwrap_or_default().to_owned(),
                });
            }
        } else if let Some(rest) = line.strip_prefix("DAX-RESULT ") {
            let mut it = rest.splitn(4, ' ');
            let status = it.next().and_then(Status::parse);
            let name = it.next().unwrap_or_default().to_owned();
            let target = it.next().unwrap_or("-").to_owned();
            let detail = it.next().unwrap_or_default().to_owned();
            rows.push(Row {
                name,
                target,
                status: status.unwrap_or(Status::Fail),
                detail: if status.is_some() {
                    detail
                } else {
                    format!("unreadable result line: {line}")
                },
            });
        } else if let Some(rc) = line.strip_prefix("DAX-TESTS-EXIT rc=") {
            tests_exit = rc.trim().parse::<i32>().ok();
        } else if let Some(path) = line.strip_prefix("DAX-INFO-BEGIN ") {
            info = Some((path.trim().to_owned(), String::new()));
        } else if line.starts_with("DAX-DONE") {
            done = true;
        }
    }
    if let Some((path, rc, out, err)) = info_end.take() {
        pending_info.push(classify_info(&path, rc, &out, &err));
    }
    rows.extend(pending_info);
    let mut fail = |name: &str, detail: String| {
        rows.push(Row {
            name: name.into(),
            target: "-".into(),
            status: Status::Fail,
            detail,
        });
    };
    match tests_exit {
        Some(0) => {}
        Some(rc) => fail("dax-suite-exit", format!("test binary exited with {rc}")),
        None => fail(
            "dax-suite-exit",
            "test binary did not report an exit status".into(),
        ),
    }
    if let Some(p) = &console.problem {
        fail("boot", p.clone());
    } else if !done {
        fail("boot", "the guest did not reach the end of /init".into());
    }
    BootReport { rows, setup_passed }
}
