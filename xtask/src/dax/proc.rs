//! Child processes with deadlines: every command the harness starts has a timeout, is killed
//! with its process group when the timeout passes, and dies with the harness
//! (`PR_SET_PDEATHSIG`), so no process is left behind on any path.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a finished command left behind.
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything it wrote on stdout.
    pub stdout: String,
    /// Everything it wrote on stderr.
    pub stderr: String,
}

/// A running child that is killed (and reaped) when dropped, unless it already exited.
pub struct Guard {
    child: Option<Child>,
    what: String,
}

impl Guard {
    /// Starts `cmd` so that it dies with this process.
    pub fn spawn(cmd: &mut Command, what: &str) -> Result<Self, String> {
        die_with_parent(cmd);
        // its own process group, so a timeout also ends what it started (rustc under cargo)
        cmd.process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {what} ({}): {e}", cmd.get_program().display()))?;
        Ok(Self {
            child: Some(child),
            what: what.to_owned(),
        })
    }

    /// The running child.
    pub fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("child is present until dropped")
    }

    /// Non-blocking: `Some(status)` once the child has exited.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, String> {
        let what = self.what.clone();
        self.child()
            .try_wait()
            .map_err(|e| format!("waiting for {what}: {e}"))
    }

    /// Waits until the child exits or `deadline` passes; on timeout the child is killed.
    pub fn wait_until(&mut self, deadline: Instant) -> Result<ExitStatus, String> {
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(format!("{} timed out and was killed", self.what));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the child and everything it started (its process group), then reaps it; no-op
    /// if it already exited.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Ok(None) = child.try_wait() {
                if let Ok(pgid) = libc::pid_t::try_from(child.id()) {
                    // SAFETY: plain system call; the group is the one this child leads (it was
                    // started with `process_group(0)` and is not reaped yet, so the id is ours).
                    unsafe { libc::kill(-pgid, libc::SIGKILL) };
                }
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Makes the kernel send SIGKILL to the child when the thread that started it (this harness)
/// dies, even by SIGKILL.
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and only calls prctl(2), which
    // is async-signal-safe; it touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs `cmd` to completion within `timeout`, capturing stdout and stderr (stdin is empty).
pub fn run(cmd: &mut Command, what: &str, timeout: Duration) -> Result<Output, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut guard = Guard::spawn(cmd, what)?;
    let out = drain(guard.child().stdout.take());
    let err = drain(guard.child().stderr.take());
    let status = guard.wait_until(Instant::now() + timeout)?;
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// Like [`run`], but a non-zero exit is an error that quotes the end of stderr.
pub fn run_ok(cmd: &mut Command, what: &str, timeout: Duration) -> Result<Output, String> {
    let out = run(cmd, what, timeout)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{what} failed ({}):\n{}",
            out.status,
            tail(&out.stderr, 20)
        ))
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
