//! Runs the built `pmem2` binary: every subcommand with `--json` (the JSON
//! is parsed and checked), the data paths of `copy`, and the error and
//! usage exits.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_pmem2");

/// A scratch directory, on tmpfs when there is one (fast `msync`),
/// removed on drop.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        };
        Scratch(
            tempfile::Builder::new()
                .prefix(&format!("pmem2-cli-{name}-"))
                .tempdir_in(base)
                .unwrap(),
        )
    }

    fn dir(&self) -> &Path {
        self.0.path()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    /// A file of `len` bytes of a position-dependent pattern.
    fn file(&self, name: &str, len: usize) -> (PathBuf, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i * 131 % 251) as u8).collect();
        let path = self.path(name);
        std::fs::write(&path, &data).unwrap();
        (path, data)
    }
}

fn pmem2(args: &[&str], cwd: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_remove("PMEM2_FORCE_GRANULARITY")
        .output()
        .unwrap()
}

fn json_ok(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(
        text.trim_end().lines().count(),
        1,
        "one JSON object: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

/// Exit status 1, one line on stderr naming the problem, and with --json
/// an `{"error": ...}` object on stdout.
fn assert_failure(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("pmem2: ") && err.contains(needle), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains(needle), "{v}");
}

#[test]
fn info_json_reports_the_file_and_the_platform() {
    let dir = Scratch::new("info");
    let (path, _) = dir.file("f", 65536);
    let v = json_ok(&pmem2(
        &["info", "--json", path.to_str().unwrap()],
        dir.dir(),
    ));
    assert_eq!(v["path"], path.to_str().unwrap());
    assert_eq!(v["source_type"], "regular");
    assert_eq!(v["size"], 65536);
    assert_eq!(v["alignment"].as_u64().unwrap() % 4096, 0);
    assert_eq!(v["writable"], true);
    assert!(["byte", "cache_line", "page"].contains(&v["granularity"].as_str().unwrap()));
    assert!(v["mem_kernel"].is_string() && v["flush"].is_string());
    assert!(v["regions"].is_array());
    // RAS answers: a number, or "not supported" off an NVDIMM.
    assert!(v["bad_blocks"].is_u64(), "{v}");
    for key in ["unsafe_shutdown_count", "numa_node", "device_id"] {
        assert!(
            v[key].is_number() || v[key] == "not supported" || v[key].is_string(),
            "{key}: {v}"
        );
    }
    if v["namespace"].is_null() {
        assert_eq!(v["unsafe_shutdown_count"], "not supported");
    }

    let forced = Command::new(BIN)
        .args(["info", "--json", path.to_str().unwrap()])
        .env("PMEM2_FORCE_GRANULARITY", "byte")
        .output()
        .unwrap();
    let v = json_ok(&forced);
    assert_eq!(v["granularity"], "byte");
    assert_eq!(v["forced_granularity"], "byte");
}

#[test]
fn info_without_a_path_uses_and_removes_a_probe_file() {
    let dir = Scratch::new("probe");
    let v = json_ok(&pmem2(&["info", "--json"], dir.dir()));
    let probe = PathBuf::from(v["path"].as_str().unwrap());
    assert!(probe.starts_with(dir.dir()), "{}", probe.display());
    assert!(!probe.exists(), "the probe file is removed");
    let text = pmem2(&["info"], dir.dir());
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("store granularity") && text.contains("bad blocks"));
}

#[test]
fn bench_json_has_every_granularity_op_and_the_reference() {
    let dir = Scratch::new("bench");
    let v = json_ok(&pmem2(
        &["bench", "--quick", "--json", "--per-cell-ms", "2"],
        dir.dir(),
    ));
    assert_eq!(v["mode"], "quick");
    assert_eq!(v["per_cell_ms"], 2);
    let results = v["results"].as_array().unwrap();
    // 3 granularities x 3 sizes x (4 flags x 2 ops + persist) + 2 references x 3 sizes.
    assert_eq!(results.len(), 3 * 3 * 9 + 6);
    for g in ["byte", "cache_line", "page"] {
        for op in ["memcpy", "memset", "persist"] {
            assert!(
                results
                    .iter()
                    .any(|r| r["granularity"] == g && r["op"] == op),
                "{op} at {g}"
            );
        }
    }
    for r in results {
        assert!(r["ops"].as_u64().unwrap() > 0, "{r}");
        assert!(r["gib_per_s"].as_f64().unwrap() >= 0.0, "{r}");
        assert!(r["ns_per_op"].as_f64().unwrap() > 0.0, "{r}");
    }
    assert!(results
        .iter()
        .any(|r| r["op"] == "plain memcpy" && r["granularity"].is_null()));
    assert!(results
        .iter()
        .any(|r| r["op"] == "memcpy" && r["flags"] == "NONTEMPORAL"));
    let leftovers: Vec<_> = std::fs::read_dir(dir.dir()).unwrap().collect();
    assert!(leftovers.is_empty(), "the temporary file is removed");
}

#[test]
fn copy_file_to_file_verifies_and_matches() {
    let dir = Scratch::new("copy");
    let (src, data) = dir.file("src", (3 << 20) + 123);
    let dst = dir.path("dst");
    let v = json_ok(&pmem2(
        &[
            "copy",
            "--json",
            src.to_str().unwrap(),
            dst.to_str().unwrap(),
        ],
        dir.dir(),
    ));
    assert_eq!(v["operation"], "copy");
    assert_eq!(v["bytes"], data.len());
    assert_eq!(v["verified"], true);
    assert!(v["granularity"].is_string());
    assert_eq!(std::fs::read(&dst).unwrap(), data);

    // A range: 10000 bytes from SRC+1000 to DST+5000 of the existing DST.
    let v = json_ok(&pmem2(
        &[
            "copy",
            "--json",
            "--skip",
            "1000",
            "--offset",
            "5000",
            "--length",
            "10000",
            src.to_str().unwrap(),
            dst.to_str().unwrap(),
        ],
        dir.dir(),
    ));
    assert_eq!(v["bytes"], 10000);
    assert_eq!(
        (v["skip"].as_u64(), v["offset"].as_u64()),
        (Some(1000), Some(5000))
    );
    let back = std::fs::read(&dst).unwrap();
    assert_eq!(back.len(), data.len(), "DST keeps its size");
    assert_eq!(&back[5000..15000], &data[1000..11000]);
    assert_eq!(&back[..5000], &data[..5000]);

    // --zero a range, then the rest.
    let v = json_ok(&pmem2(
        &[
            "copy",
            "--zero",
            "--json",
            "--offset",
            "4K",
            "--length",
            "8K",
            dst.to_str().unwrap(),
        ],
        dir.dir(),
    ));
    assert_eq!(
        (v["operation"].as_str(), v["bytes"].as_u64()),
        (Some("zero"), Some(8192))
    );
    assert!(v["src"].is_null());
    let back = std::fs::read(&dst).unwrap();
    assert!(back[4096..12288].iter().all(|&b| b == 0));
    assert_eq!(back[4095], data[4095]);
    let v = json_ok(&pmem2(
        &["copy", "--zero", "--json", dst.to_str().unwrap()],
        dir.dir(),
    ));
    assert_eq!(v["bytes"], data.len());
    assert!(std::fs::read(&dst).unwrap().iter().all(|&b| b == 0));
}

/// A hash of a file's bytes (XXH3-64), to show a refused copy changed nothing.
fn file_hash(path: &Path) -> (usize, u64) {
    let bytes = std::fs::read(path).unwrap();
    (bytes.len(), xxhash_rust::xxh3::xxh3_64(&bytes))
}

/// A file copied onto itself (the overlapping `--offset 4K f f` that used to
/// corrupt it from byte 1048577 on and report "verified"), by the same path,
/// a hard link or a symlink, in either direction, is refused like `cp`
/// refuses it, before anything is written: exit 1 and the file unchanged.
#[test]
fn copy_refuses_a_file_onto_itself() {
    let dir = Scratch::new("self");
    let (f, data) = dir.file("f", (3 << 20) + 5);
    let hard = dir.path("hard");
    std::fs::hard_link(&f, &hard).unwrap();
    let sym = dir.path("sym");
    std::os::unix::fs::symlink(&f, &sym).unwrap();
    let before = file_hash(&f);
    let f = f.to_str().unwrap();
    let (hard, sym) = (hard.to_str().unwrap(), sym.to_str().unwrap());
    for (src, dst) in [
        (f, f),
        (f, hard),
        (hard, f),
        (f, sym),
        (sym, f),
        (sym, hard),
    ] {
        for extra in [&["--offset", "4K"][..], &[], &["--skip", "4K"]] {
            let mut args = vec!["copy", "--json"];
            args.extend_from_slice(extra);
            args.extend_from_slice(&[src, dst]);
            let out = pmem2(&args, dir.dir());
            assert_failure(&out, "are the same file");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!("'{src}' and '{dst}'")),
                "{args:?}: {err}"
            );
            assert_eq!(file_hash(Path::new(f)), before, "{args:?} changed the file");
        }
    }
    // stdin redirected from the file, and stdout redirected to it.
    let out = Command::new(BIN)
        .args(["copy", "--json", "--offset", "4K", "-", f])
        .stdin(std::fs::File::open(f).unwrap())
        .output()
        .unwrap();
    assert_failure(&out, "are the same file");
    // (No --json here: its error object would go to stdout, into the file.)
    let out = Command::new(BIN)
        .args(["copy", f, "-"])
        .stdout(std::fs::OpenOptions::new().append(true).open(f).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("are the same file"),
        "{out:?}"
    );
    assert_eq!(file_hash(Path::new(f)), before);
    assert_eq!(std::fs::read(f).unwrap(), data);

    // Two files with the same content are not the same file.
    let (other, _) = dir.file("other", 10);
    let v = json_ok(&pmem2(
        &["copy", "--json", f, other.to_str().unwrap()],
        dir.dir(),
    ));
    assert_eq!(v["verified"], true);
    assert_eq!(std::fs::read(&other).unwrap(), data);
}

#[test]
fn copy_streams_stdin_and_stdout() {
    let dir = Scratch::new("stream");
    let (src, data) = dir.file("src", (1 << 20) + 77);
    let dst = dir.path("from-stdin");
    let mut child = Command::new(BIN)
        .args(["copy", "--json", "-", dst.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let v = json_ok(&child.wait_with_output().unwrap());
    assert_eq!(
        (v["bytes"].as_u64(), v["verified"].as_bool()),
        (Some(data.len() as u64), Some(true))
    );
    assert_eq!(
        std::fs::read(&dst).unwrap(),
        data,
        "grown, then trimmed to the input"
    );

    let out = pmem2(&["copy", src.to_str().unwrap(), "-"], dir.dir());
    assert!(out.status.success());
    assert_eq!(out.stdout, data, "stdout carries only the data");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(
        report.contains("copied") && report.contains("xxh3"),
        "{report}"
    );
}

#[test]
fn copy_progress_only_when_asked_or_on_a_terminal() {
    let dir = Scratch::new("progress");
    let (src, _) = dir.file("src", 2 << 20);
    let dst = dir.path("dst");
    let quiet = pmem2(
        &["copy", src.to_str().unwrap(), dst.to_str().unwrap()],
        dir.dir(),
    );
    assert!(quiet.status.success());
    assert!(quiet.stderr.is_empty(), "no bar when stderr is a pipe");
    let loud = pmem2(
        &[
            "copy",
            "--progress",
            src.to_str().unwrap(),
            dst.to_str().unwrap(),
        ],
        dir.dir(),
    );
    assert!(loud.status.success());
    let bar = String::from_utf8_lossy(&loud.stderr);
    assert!(
        bar.contains("copy") && bar.contains("100%") && bar.contains("verify"),
        "{bar}"
    );
}

#[test]
fn badblocks_json_lists_nothing_off_an_nvdimm() {
    let dir = Scratch::new("bb");
    let (path, _) = dir.file("f", 8192);
    let v = json_ok(&pmem2(
        &["badblocks", "--json", path.to_str().unwrap()],
        dir.dir(),
    ));
    assert_eq!(v["path"], path.to_str().unwrap());
    assert_eq!(v["source_type"], "regular");
    let list = v["bad_blocks"].as_array().unwrap();
    assert_eq!(v["count"], list.len());
    for bb in list {
        assert!(bb["offset"].is_u64() && bb["length"].as_u64().unwrap() > 0);
    }
    let v = json_ok(&pmem2(
        &["badblocks", "--clear", "--json", path.to_str().unwrap()],
        dir.dir(),
    ));
    assert_eq!(v["cleared"], !list.is_empty());
}

#[test]
fn failures_exit_1_with_one_line() {
    let dir = Scratch::new("fail");
    let missing = dir.path("missing");
    let m = missing.to_str().unwrap();
    assert_failure(&pmem2(&["info", "--json", m], dir.dir()), "missing");
    assert_failure(&pmem2(&["badblocks", "--json", m], dir.dir()), "missing");
    assert_failure(&pmem2(&["copy", "--json", m, "x"], dir.dir()), "missing");
    // bench creates a missing PATH (see bench_creates_path), not a missing directory.
    let nowhere = dir.path("missing/x");
    assert_failure(
        &pmem2(&["bench", "--json", nowhere.to_str().unwrap()], dir.dir()),
        "missing/x: No such file or directory",
    );
    let (small, _) = dir.file("small", 100);
    let s = small.to_str().unwrap();
    assert_failure(
        &pmem2(
            &["copy", "--json", "--skip", "99", "--length", "2", s, "y"],
            dir.dir(),
        ),
        "past the end",
    );
    assert_failure(&pmem2(&["bench", "--json", s], dir.dir()), "too small");
    assert_failure(
        &pmem2(&["info", "--json", dir.dir().to_str().unwrap()], dir.dir()),
        "directory",
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = Scratch::new("usage");
    for args in [
        &["copy", "onlyone"][..],
        &["copy", "--zero", "a", "b"],
        &["bench", "--quick", "--full"],
        &["copy", "--length", "12q", "a", "b"],
        &["frobnicate"],
        &[],
    ] {
        let out = pmem2(args, dir.dir());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(!out.stderr.is_empty());
        assert!(out.stdout.is_empty(), "no JSON without --json");
    }
    // With --json, the usage error is a JSON object on stdout as well.
    for args in [
        &["copy", "--json", "onlyone"][..],
        &["bench", "--json", "--quick", "--full"],
        &["info", "--json", "--bogus"],
    ] {
        let out = pmem2(args, dir.dir());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["usage"], true, "{v}");
        assert!(!v["error"].as_str().unwrap().is_empty(), "{v}");
    }
    let help = pmem2(&["copy", "--help"], dir.dir());
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--zero"));
}

/// The XXH3-64 that `copy` prints is the file's, as `xxhsum -H3` computes
/// it, for a copy and for a range; --length 0 means "to the end", as a map
/// length of 0 does in pmem2.
#[test]
fn copy_prints_the_xxh3_of_what_it_copied_and_length_0_is_to_the_end() {
    let dir = Scratch::new("xxh3");
    let (src, data) = dir.file("src", (2 << 20) + 999);
    let dst = dir.path("dst");
    let (s, d) = (src.to_str().unwrap(), dst.to_str().unwrap());
    let v = json_ok(&pmem2(&["copy", "--json", s, d], dir.dir()));
    let xxh3 = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&data));
    assert_eq!(v["xxh3"], xxh3.as_str());
    let text = pmem2(&["copy", s, d], dir.dir());
    assert!(
        String::from_utf8_lossy(&text.stdout).contains(&format!("xxh3 {xxh3}")),
        "{text:?}"
    );

    let v = json_ok(&pmem2(
        &["copy", "--json", "--skip", "10", "--length", "1000", s, d],
        dir.dir(),
    ));
    assert_eq!(
        v["xxh3"],
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&data[10..1010])).as_str()
    );

    // --length 0: everything from --skip on, like no --length.
    let zero_len = dir.path("zero-len");
    let v = json_ok(&pmem2(
        &[
            "copy",
            "--json",
            "--skip",
            "7",
            "--length",
            "0",
            s,
            zero_len.to_str().unwrap(),
        ],
        dir.dir(),
    ));
    assert_eq!(v["bytes"], data.len() - 7);
    assert_eq!(std::fs::read(&zero_len).unwrap(), &data[7..]);
    // And with --zero: to the end of DST.
    let v = json_ok(&pmem2(
        &[
            "copy",
            "--zero",
            "--json",
            "--offset",
            "4K",
            "--length",
            "0",
            zero_len.to_str().unwrap(),
        ],
        dir.dir(),
    ));
    assert_eq!(v["bytes"], data.len() - 7 - 4096);
    let back = std::fs::read(&zero_len).unwrap();
    assert_eq!(&back[..4096], &data[7..4103]);
    assert!(back[4096..].iter().all(|&b| b == 0));
}

/// Both ways of writing DST (mapped with non-temporal stores, pwrite) and
/// both verifications give the same file, also at a forced cache-line
/// granularity (the mapped path `auto` takes on persistent memory).
#[test]
fn copy_methods_and_verifications_agree() {
    let dir = Scratch::new("methods");
    let (src, data) = dir.file("src", (5 << 20) + 4097);
    let s = src.to_str().unwrap();
    for (method, verify, force) in [
        ("map", "hash", None),
        ("write", "hash", None),
        ("auto", "bytes", None),
        ("map", "bytes", None),
        ("auto", "hash", Some("cache_line")),
    ] {
        let dst = dir.path(&format!("dst-{method}-{verify}-{force:?}"));
        let mut cmd = Command::new(BIN);
        cmd.args([
            "copy",
            "--json",
            "--method",
            method,
            "--verify",
            verify,
            "--offset",
            "100",
            s,
            dst.to_str().unwrap(),
        ]);
        cmd.env_remove("PMEM2_FORCE_GRANULARITY");
        if let Some(g) = force {
            cmd.env("PMEM2_FORCE_GRANULARITY", g);
        }
        let v = json_ok(&cmd.output().unwrap());
        assert_eq!(v["verified"], true, "{method} {verify}");
        assert_eq!(v["granularity"], force.unwrap_or("page"), "{v}");
        let back = std::fs::read(&dst).unwrap();
        assert!(back[..100].iter().all(|&b| b == 0));
        assert_eq!(&back[100..], &data[..], "{method} {verify} {force:?}");
    }
}

/// Sizes around the copy's units (its 256 KiB buffers, the 4 buffers in
/// flight, its 64 MiB segments and windows; 0 and 1 byte), with both ways of
/// writing DST and a range inside SRC and DST: DST holds exactly SRC's
/// bytes and the printed XXH3 is theirs.
#[test]
fn copy_sizes_across_buffers_segments_and_ranges() {
    const BUF: usize = 256 << 10;
    let dir = Scratch::new("sizes");
    let (big, data) = dir.file("src", (64 << 20) + BUF + 3);
    let d = dir.path("dst");
    let dst = d.to_str().unwrap();
    let copy = |extra: &[&str], src: &Path| {
        let _ = std::fs::remove_file(&d);
        let mut args = vec!["copy", "--json"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[src.to_str().unwrap(), dst]);
        json_ok(&pmem2(&args, dir.dir()))
    };
    for len in [0, 1, 4095, BUF - 1, BUF, BUF + 1, 5 * BUF + 7] {
        let (src, bytes) = dir.file(&format!("src-{len}"), len);
        for method in ["write", "map"] {
            let v = copy(&["--method", method], &src);
            assert_eq!(v["bytes"], len, "{len} {method}");
            assert_eq!(v["verified"], true);
            let xxh3 = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes));
            assert_eq!(v["xxh3"], xxh3.as_str(), "{len} {method}");
            assert_eq!(std::fs::read(&d).unwrap(), bytes, "{len} {method}");
        }
    }
    // Past a segment and a window, whole and as a range of odd bounds.
    for method in ["write", "map"] {
        let v = copy(&["--method", method], &big);
        assert_eq!(v["bytes"], data.len());
        assert_eq!(std::fs::read(&d).unwrap(), data, "{method}");
        let (skip, offset, len) = (BUF + 1, 3, (64 << 20) + 1);
        let v = copy(
            &[
                "--method",
                method,
                "--skip",
                &skip.to_string(),
                "--offset",
                &offset.to_string(),
                "--length",
                &len.to_string(),
            ],
            &big,
        );
        let part = &data[skip..skip + len];
        let xxh3 = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(part));
        assert_eq!(v["xxh3"], xxh3.as_str(), "{method}");
        let back = std::fs::read(&d).unwrap();
        assert_eq!(back.len(), offset + len);
        assert!(back[..offset].iter().all(|&b| b == 0));
        assert!(back[offset..] == *part, "{method}");
    }
}

/// Allowed one CPU (`taskset -c 0`), copy reads DST back in the writing
/// thread instead of a read-back thread; the result is the same.
#[test]
fn copy_on_one_cpu_reads_back_in_the_writer() {
    const BUF: usize = 256 << 10;
    let dir = Scratch::new("one-cpu");
    let d = dir.path("dst");
    for len in [1, 5 * BUF + 7, (64 << 20) + BUF + 3] {
        let (src, bytes) = dir.file(&format!("src-{len}"), len);
        let _ = std::fs::remove_file(&d);
        let out = Command::new("taskset")
            .args(["-c", "0", BIN, "copy", "--json", "--method", "write"])
            .arg(&src)
            .arg(&d)
            .current_dir(dir.dir())
            .env_remove("PMEM2_FORCE_GRANULARITY")
            .output()
            .expect("taskset (util-linux) runs");
        let v = json_ok(&out);
        assert_eq!(v["verified"], true, "{len}");
        let xxh3 = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes));
        assert_eq!(v["xxh3"], xxh3.as_str(), "{len}");
        assert_eq!(std::fs::read(&d).unwrap(), bytes, "{len}");
    }
}

/// SRC and DST name the same problem in the same words.
#[test]
fn src_and_dst_errors_are_worded_alike() {
    let dir = Scratch::new("wording");
    let (file, _) = dir.file("f", 10);
    let (f, d) = (file.to_str().unwrap(), dir.dir().to_str().unwrap());
    let missing = dir.path("nope");
    let m = missing.to_str().unwrap();
    let nowhere = dir.path("nope/x");
    let n = nowhere.to_str().unwrap();
    for (args, message) in [
        (["copy", "--json", d, f], format!("{d}: Is a directory")),
        (["copy", "--json", f, d], format!("{d}: Is a directory")),
        (
            ["copy", "--json", m, f],
            format!("{m}: No such file or directory"),
        ),
        (
            ["copy", "--json", f, n],
            format!("{n}: No such file or directory"),
        ),
    ] {
        let out = pmem2(&args, dir.dir());
        assert_failure(&out, &message);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end(), format!("pmem2: {message}"), "{args:?}");
    }
}

/// `cd /proc && pmem2 info`: no file can be made there, the platform is
/// still reported, with the reason the file part is missing.
#[test]
fn info_reports_the_platform_where_no_probe_file_can_be_made() {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        eprintln!("skipped: no /proc here");
        return;
    }
    let out = pmem2(&["info"], proc);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("platform") && text.contains("flush instruction"),
        "{text}"
    );
    assert!(
        text.contains("no file examined") && text.contains("/proc"),
        "{text}"
    );
    let v = json_ok(&pmem2(&["info", "--json"], proc));
    assert!(v["flush"].is_string() && v["mem_kernel"].is_string(), "{v}");
    assert!(v["path"].is_null(), "{v}");
    assert!(
        v["file_error"]
            .as_str()
            .unwrap()
            .contains("cannot create a temporary file in /proc: No such file or directory;"),
        "{v}"
    );
}

/// `bench PATH` creates a missing PATH, as `copy` creates DST, and keeps it;
/// its rows of granularities that aren't durable on the file are marked.
#[test]
fn bench_creates_path_and_marks_granularities_not_durable() {
    let dir = Scratch::new("bench-path");
    let path = dir.path("new-file");
    let v = json_ok(&pmem2(
        &[
            "bench",
            "--quick",
            "--json",
            "--per-cell-ms",
            "1",
            path.to_str().unwrap(),
        ],
        dir.dir(),
    ));
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        v["region"].as_u64().unwrap()
    );
    // tmpfs (or a disk): page is the natural granularity; byte and
    // cache_line stores are not durable there.
    let natural = v["natural_granularity"].as_str().unwrap();
    let not_durable = not_durable(&v);
    let order = ["byte", "cache_line", "page"];
    let rank = |g: &str| order.iter().position(|o| *o == g).unwrap();
    for g in order {
        assert_eq!(not_durable.contains(&g), rank(g) < rank(natural), "{g}");
    }
    for r in v["results"].as_array().unwrap() {
        match r["granularity"].as_str() {
            Some(g) => assert_eq!(r["durable"], !not_durable.contains(&g), "{r}"),
            None => assert!(r["durable"].is_null(), "{r}"),
        }
        assert!(r["mib_per_s"].as_f64().unwrap() >= 0.0);
    }
    if natural == "page" {
        let text = pmem2(
            &[
                "bench",
                "--quick",
                "--per-cell-ms",
                "1",
                path.to_str().unwrap(),
            ],
            dir.dir(),
        );
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(
            text.contains("cache_line *") && text.contains("byte *"),
            "{text}"
        );
        assert!(
            text.contains("NOT durable here (byte, cache_line)"),
            "{text}"
        );
        // One precision per table: MiB/s with one decimal.
        let table: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("throughput"))
            .skip(2)
            .take_while(|l| !l.is_empty())
            .collect();
        assert!(!table.is_empty(), "{text}");
        for line in table {
            for cell in line.split_whitespace().rev().take(3) {
                let decimals = cell.split_once('.').map(|(_, d)| d.len());
                assert_eq!(decimals, Some(1), "{line}");
            }
        }
    }
}

/// `pmem2 bench --quick --json` (1 ms cells) drawing its chart to `plot`.
/// The granularities a bench's JSON marks not durable on its file.
fn not_durable(v: &Value) -> Vec<&str> {
    v["not_durable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect()
}

fn quick_bench_plotting(dir: &Scratch, plot: &Path) -> Value {
    json_ok(&pmem2(
        &[
            "bench",
            "--quick",
            "--json",
            "--per-cell-ms",
            "1",
            "--plot",
            plot.to_str().unwrap(),
        ],
        dir.dir(),
    ))
}

/// `bench --plot FILE` draws an SVG: one panel per granularity, the
/// natural one and the not-durable ones named.
#[test]
fn bench_plot_draws_an_svg() {
    let dir = Scratch::new("plot");
    let svg = dir.path("out.svg");
    let v = quick_bench_plotting(&dir, &svg);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.trim_start().starts_with("<svg") && text.trim_end().ends_with("</svg>"));
    let natural = v["natural_granularity"].as_str().unwrap();
    assert!(
        text.contains(&format!("{natural}: natural granularity of this file")),
        "natural panel"
    );
    for g in not_durable(&v) {
        assert!(text.contains(&format!("{g}: NOT DURABLE on this file")));
    }
    for series in ["memcpy NONTEMPORAL", "memset 0", "persist", "plain memcpy"] {
        assert!(text.contains(series), "{series}");
    }
    // Neither .svg nor .png: a usage error naming both.
    for bad in ["x.txt", "x"] {
        let out = pmem2(&["bench", "--plot", bad], dir.dir());
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(".svg or .png"), "{err}");
    }
}

/// `--plot FILE.png` draws the chart as a PNG (the built-in font: no fonts
/// need be installed): 1500x620 RGB, text in the title, captions and axis
/// labels (dark pixels there), coloured lines in every panel, the panels
/// whose stores are not durable tinted red and the natural one white.
#[test]
fn bench_plot_draws_a_png() {
    let dir = Scratch::new("plot-png");
    let png_path = dir.path("out.png");
    let v = quick_bench_plotting(&dir, &png_path);
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut rgb = vec![0u8; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut rgb).unwrap();
    assert_eq!((info.width, info.height), (1500, 620));
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Rgb, png::BitDepth::Eight)
    );
    let pixel = |x: usize, y: usize| {
        let i = (y * 1500 + x) * 3;
        (rgb[i], rgb[i + 1], rgb[i + 2])
    };
    let count = |xs: std::ops::Range<usize>,
                 ys: std::ops::Range<usize>,
                 f: &dyn Fn((u8, u8, u8)) -> bool| {
        ys.flat_map(|y| xs.clone().map(move |x| (x, y)))
            .filter(|&(x, y)| f(pixel(x, y)))
            .count()
    };
    let dark = |(r, g, b): (u8, u8, u8)| r < 100 && g < 100 && b < 100;
    let coloured = |(r, g, b): (u8, u8, u8)| r.max(g).max(b) - r.min(g).min(b) > 120;
    // The title, centred on the top 30 rows.
    assert!(count(300..1200, 0..30, &dark) > 300, "title text");
    let natural = v["natural_granularity"].as_str().unwrap();
    let not_durable = not_durable(&v);
    for (i, g) in ["byte", "cache_line", "page"].into_iter().enumerate() {
        let x0 = i * 500;
        assert!(
            count(x0 + 100..x0 + 400, 35..65, &dark) > 150,
            "{g}: caption"
        );
        assert!(
            count(x0..x0 + 75, 80..560, &dark) > 150,
            "{g}: y-axis labels"
        );
        assert!(
            count(x0 + 80..x0 + 490, 70..570, &coloured) > 1000,
            "{g}: lines"
        );
        // A corner of the panel, outside the plot.
        let background = pixel(x0 + 5, 615);
        if not_durable.contains(&g) {
            assert_eq!(background, (255, 236, 236), "{g}: tinted, not durable");
        } else if g == natural {
            assert_eq!(background, (255, 255, 255), "{g}: natural");
        }
    }
}

/// badblocks on a file that isn't on an NVDIMM says that no list exists,
/// not "no bad blocks found".
#[test]
fn badblocks_off_an_nvdimm_says_so() {
    let dir = Scratch::new("bb-text");
    let (path, _) = dir.file("f", 4096);
    let p = path.to_str().unwrap();
    let v = json_ok(&pmem2(&["badblocks", "--json", p], dir.dir()));
    if v["nvdimm"] == true {
        eprintln!("skipped: the scratch directory is on an NVDIMM");
        return;
    }
    assert!(
        v["note"]
            .as_str()
            .unwrap()
            .contains("not on an NVDIMM namespace"),
        "{v}"
    );
    let out = pmem2(&["badblocks", p], dir.dir());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("not on an NVDIMM namespace") && !text.contains("Cannot find"),
        "{text}"
    );
}

/// `--json` usage errors carry clap's whole message, and the usage line.
#[test]
fn json_usage_errors_are_whole() {
    let dir = Scratch::new("usage-json");
    let out = pmem2(&["copy", "--json"], dir.dir());
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["error"],
        "the following required arguments were not provided: <SRC DST>..."
    );
    assert!(v["usage_line"].as_str().unwrap().starts_with("pmem2 copy"));
    let out = pmem2(&["bench", "--json", "--quick", "--full"], dir.dir());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = v["error"].as_str().unwrap();
    assert!(e.contains("--quick") && e.contains("--full"), "{v}");
}

/// `pmem2 completions bash` is a script bash accepts and that completes
/// pmem2's subcommands; the other shells get a script too.
#[test]
fn completions() {
    let dir = Scratch::new("completions");
    let out = pmem2(&["completions", "bash"], dir.dir());
    assert!(out.status.success());
    let words = String::from_utf8_lossy(&out.stdout);
    for word in ["info", "bench", "copy", "badblocks", "--plot", "--verify"] {
        assert!(words.contains(word), "{word}");
    }
    let script = dir.path("pmem2.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let bash = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p pmem2", script.display()))
        .output();
    // bash is on every machine CI runs on (the CI scripts are bash).
    let o = bash.expect("running bash");
    assert!(o.status.success(), "{o:?}");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("-F _pmem2 pmem2"), "{text}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = pmem2(&["completions", shell], dir.dir());
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
}

/// `pmem2 check` on a program that doesn't use pmem2: no report, exit 1
/// with one line naming the program; `--explore` needs `--checker` (usage
/// error, exit 2). The fixtures themselves run in `ci/check.sh`.
#[test]
fn check_needs_a_program_using_pmem2() {
    let dir = Scratch::new("check");
    let out = pmem2(&["check", "--json", "--", "true"], dir.dir());
    assert_failure(&out, "true (exit status: 0) wrote no report");
    let out = pmem2(&["check", "--explore", "--", "true"], dir.dir());
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--checker"));
}
