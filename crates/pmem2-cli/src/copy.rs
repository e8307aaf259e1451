//! `pmem2 copy SRC DST` and `pmem2 copy --zero DST`: durable copies between
//! files, device DAX and stdin/stdout (`-`), in bounded memory.
//!
//! Two threads share the work: a reading thread fills 256 KiB buffers
//! from SRC and hashes them with XXH3-64 (printed, so that `xxhsum -H3` on
//! either file can confirm the copy) while the main thread writes them to
//! DST. Four buffers are in flight, so each is still in the cache when
//! written.
//!
//! A regular SRC is read with `pread`; a device DAX SRC with pmem2's
//! machine-check-safe `pread_mcsafe` (poisoned media is an error, not a
//! crash); stdin, pipes and character devices in order.
//!
//! Where DST's natural granularity is page (a file in the page cache), it
//! is written with `pwrite` and made durable with one `fdatasync` per
//! 64 MiB; each buffer is read back with `pread` as soon as it is written,
//! and hashed, since what the page cache reads back is what `fdatasync`
//! writes out: by a read-back thread when the process may use more than
//! one CPU (the main thread then only writes), else by the main thread
//! from its own cache. On persistent memory
//! (or with `--method map`) DST is mapped one window (64 MiB) at a time;
//! each window is prefaulted with `MADV_POPULATE_WRITE` (the pages are
//! allocated and mapped in one call, not faulted in one by one) and written
//! with the non-temporal copy kernels: `Map::copy_from_slice(..,
//! MemFlags::NONTEMPORAL)` at cache-line and byte granularity, durable on
//! return; at page granularity the cache-line kernel's non-temporal stores
//! and one `msync` per window. A third thread reads a mapped DST back, a
//! segment at a time once durable, and hashes it.
//!
//! SRC and DST must be different files: a copy of a file onto itself (the
//! same device and inode, whatever the path, hard link or symlink) is
//! refused before anything is written to DST or its size changed, as `cp`
//! refuses it, because an overlapping copy within one file reads back bytes
//! it has already overwritten.
//!
//! Verification: by default (`--verify hash`) the XXH3 of DST as read back
//! must equal the XXH3 of the bytes read from SRC (zeros for --zero); on a
//! difference SRC, when it can be read again, is compared with DST byte
//! for byte to name the first differing byte. `--verify bytes` also reads
//! a file or device DAX SRC again afterwards and compares it byte for byte
//! with DST read afresh, so the check never compares DST with itself.

use std::ffi::{c_int, c_void};
use std::fs::{File, Metadata};
use std::io::{BufWriter, ErrorKind, Read, StdoutLock, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::mpsc;
use std::time::Instant;

use clap::Args;
use pmem2::mem::MemFlags;
use pmem2::{Config, FileType, Granularity, Map, Protection, Source};
use serde_json::json;
use xxhash_rust::xxh3::Xxh3;

use crate::progress::Progress;
use crate::util::{emit, human_bytes, io_err, os_message, parse_size};
use crate::Common;

/// Bytes read, hashed and written at a time: small enough to stay in the
/// L2 cache between the three, and the memory bound.
const BUF: usize = 256 << 10;
/// Buffers in flight between the reading thread and the writer: few
/// enough that a buffer is still in the cache when it is written.
const BUFFERS: usize = 4;
/// Read-back jobs queued at most: the read-back thread stays within a few
/// MiB of the writes, so that it reads DST from the cache.
const READ_BACK_LAG: usize = 8;
/// Bytes of DST made durable at a time on a page-granularity map (one
/// `msync`; then read back) or through `write(2)` (one `fdatasync`).
const SEGMENT: u64 = 64 << 20;
/// Bytes of DST (or of a device DAX SRC) mapped at a time.
const WINDOW: usize = 64 << 20;

/// Arguments of `pmem2 copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// SRC and DST: files, device DAX, or `-` for stdin (SRC) / stdout
    /// (DST). With --zero, only DST.
    #[arg(value_name = "SRC DST", num_args = 1..=2, required = true)]
    pub paths: Vec<String>,
    /// Where in DST to start writing (K, M, G suffixes: powers of 1024).
    #[arg(long, alias = "seek", value_parser = parse_size, default_value = "0")]
    pub offset: u64,
    /// Where in SRC to start reading.
    #[arg(long, value_parser = parse_size, default_value = "0")]
    pub skip: u64,
    /// Bytes to copy or zero. 0, like no --length, means to the end of SRC
    /// (of DST with --zero; until end of input for stdin), as a map length
    /// of 0 means to the end of the file in pmem2.
    #[arg(long, value_parser = parse_size)]
    pub length: Option<u64>,
    /// Zero the range of DST instead of copying.
    #[arg(long)]
    pub zero: bool,
    /// How DST is verified: `hash` reads DST back while the copy goes on
    /// (each buffer as written through write(2); a mapped DST each 64 MiB
    /// once durable) and compares its XXH3 with the XXH3 of the bytes read
    /// from SRC (a difference is then located byte by byte against SRC);
    /// `bytes` also reads SRC again afterwards and compares the two byte
    /// for byte (twice the reading).
    #[arg(long, value_enum, default_value_t = Verify::Hash)]
    pub verify: Verify,
    /// How DST is written: `map` maps it a window at a time, prefaults the
    /// window and stores with non-temporal instructions (then, at page
    /// granularity, one msync per window); `write` uses pwrite(2) and one
    /// fdatasync per window, the same durability for a file in the page
    /// cache without a page fault (and the zeroing of a fresh page) per
    /// page; `auto` maps DST unless its natural granularity is page.
    #[arg(long, value_enum, default_value_t = Method::Auto)]
    pub method: Method,
    #[command(flatten)]
    pub common: Common,
}

/// How `pmem2 copy` verifies DST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Verify {
    /// DST's XXH3 against the XXH3 of what was written.
    Hash,
    /// And SRC read again, compared byte for byte.
    Bytes,
}

/// How `pmem2 copy` writes DST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// `map` for persistent memory (cache-line or byte granularity),
    /// `write` for a file that needs msync (page granularity).
    Auto,
    /// Mapped, prefaulted, non-temporal stores.
    Map,
    /// pwrite(2) and fdatasync.
    Write,
}

/// Runs `pmem2 copy`.
// One sequence, read top to bottom: open SRC and DST, copy while a scoped
// thread reads DST back, report.
#[allow(clippy::too_many_lines)]
pub fn run(args: &CopyArgs) -> Result<(), String> {
    let (src, dst) = match (args.zero, args.paths.as_slice()) {
        (true, [dst]) => (None, dst.as_str()),
        (false, [src, dst]) => (Some(src.as_str()), dst.as_str()),
        (true, _) => crate::usage_error("copy", "copy --zero takes one path: DST"),
        (false, _) => crate::usage_error("copy", "copy takes two paths: SRC DST"),
    };
    let started = Instant::now();

    let mut reader = match src {
        Some(s) => Some(Reader::open(s, args.skip)?),
        None => None,
    };
    // --length 0 is "to the end", as pmem2's Config::set_length(0).
    let length = match (args.length.filter(|&n| n != 0), &reader) {
        (Some(n), _) => Some(n),
        (None, Some(r)) => r.remaining(),
        (None, None) => None,
    };
    // Check SRC's range before DST is created or grown.
    if let (Some(r), Some(n)) = (&reader, length) {
        r.check_range(n)?;
    }
    let src_id = reader.as_ref().and_then(Reader::identity);
    let mut writer = Writer::open(dst, args.offset, length, args.zero, args.method, |dst_id| {
        refuse_same_file(src.unwrap_or("-"), src_id, dst, dst_id)
    })?;
    let length = if args.zero {
        length.or_else(|| writer.remaining(args.offset))
    } else {
        length
    };

    let label = if args.zero { "zero" } else { "copy" };
    let checker = match (&writer, args.verify) {
        (Writer::Pmem(w), Verify::Hash) => Some(w.file.try_clone().map_err(io_err(dst))?),
        _ => None,
    };
    let (mut progress, mut verify_progress) =
        Progress::pair([label, "verify"], length, args.common.progress);
    let offset = args.offset;
    let (granularity, done, checksum, mismatch, verify_start) = std::thread::scope(|scope| {
        // A reading thread fills buffers from SRC and hashes them while
        // this one writes them to DST. Through write(2) each buffer is read
        // back as soon as it is written: by a read-back thread when the
        // process may use more than one CPU (this thread then only writes,
        // as `cp` does: less wall time), else by this thread from its own
        // cache (less CPU in all); both measured in docs/benchmarks.md. A
        // map is read back by the read-back thread, a segment at a time
        // once durable.
        let per_buffer = checker.is_some() && writer.read_back_now();
        let read_back_now = per_buffer && !spare_core();
        let (jobs, queue) = mpsc::sync_channel::<Job>(READ_BACK_LAG);
        let mut verify_bar = Some(&mut verify_progress);
        let checker = checker.filter(|_| !read_back_now).map(|file| {
            let progress = verify_bar.take().expect("one read-back thread");
            scope.spawn(move || read_back(dst, &file, &queue, progress))
        });
        // This thread's read-back buffer, only when it reads back itself.
        let mut back = read_back_now.then(PageBuf::new);
        let mut back_hash = Xxh3::new();
        let (full, filled) = mpsc::sync_channel::<(PageBuf, usize)>(BUFFERS);
        let (free, empty) = mpsc::sync_channel::<PageBuf>(BUFFERS);
        for _ in 0..BUFFERS {
            free.send(PageBuf::new()).expect("the receiver is alive");
        }
        let source = reader.as_mut();
        let reading = scope.spawn(move || fill(source, src, length, &empty, &full));
        let mut done = 0u64;
        let mut segment = 0u64;
        let copied = (|| -> Result<Option<Granularity>, String> {
            for (buf, n) in filled {
                writer.write(offset + done, &buf.bytes()[..n], args.zero)?;
                // The reading thread has stopped if this fails; the loop
                // ends when it drops its sender.
                let _ = free.send(buf);
                progress.add(n as u64);
                let pos = offset + done;
                done += n as u64;
                if let Some(back) = back.as_mut() {
                    writer.read_back(pos, &mut back.bytes_mut()[..n])?;
                    back_hash.update(&back.bytes()[..n]);
                    if let Some(bar) = verify_bar.as_mut() {
                        bar.add(n as u64);
                    }
                    segment = done;
                } else if per_buffer {
                    let _ = jobs.send(Job { pos, len: n as u64 });
                    segment = done;
                } else if done - segment >= SEGMENT {
                    // Durable first, then read back.
                    writer.persist()?;
                    let _ = jobs.send(Job {
                        pos: offset + segment,
                        len: done - segment,
                    });
                    segment = done;
                }
            }
            let granularity = writer.finish(offset + done)?;
            if done > segment {
                let _ = jobs.send(Job {
                    pos: offset + segment,
                    len: done - segment,
                });
            }
            Ok(granularity)
        })();
        // Stops the reading thread if the writes failed first.
        drop(free);
        let produced = reading.join().expect("the reading thread panicked");
        progress.finish();
        let verify_start = Instant::now();
        drop(jobs);
        let read_back = checker.map(|t| t.join().expect("the verifying thread panicked"));
        let granularity = copied?;
        let (read, checksum) = produced?;
        assert_eq!(read, done, "every byte read was written");
        let mismatch = match read_back {
            Some(Err(e)) => return Err(e),
            Some(Ok(hash)) => hash != checksum,
            None => read_back_now && back_hash.digest() != checksum,
        };
        Ok((granularity, done, checksum, mismatch, verify_start))
    })?;
    let copy_secs = verify_start.duration_since(started).as_secs_f64();

    let verified = match &writer {
        Writer::Stdout(_) => {
            verify_progress.clear();
            None
        }
        Writer::Pmem(w) => {
            if mismatch {
                return Err(explain_mismatch(w, reader.as_mut(), args, done));
            }
            if args.verify == Verify::Bytes {
                verify_copy(
                    w,
                    reader.as_mut(),
                    args,
                    done,
                    checksum,
                    &mut vec![0u8; BUF],
                    &mut verify_progress,
                )?;
            }
            verify_progress.finish();
            Some(true)
        }
    };
    let verify_secs = verify_start.elapsed().as_secs_f64();
    let outcome = Outcome {
        src,
        dst,
        bytes: done,
        granularity,
        checksum,
        verified,
        copy_secs,
        verify_secs,
        total_secs: started.elapsed().as_secs_f64(),
        to_stdout: matches!(writer, Writer::Stdout(_)),
    };
    outcome.print(args)?;
    Ok(())
}

/// What a copy did, for the report.
struct Outcome<'a> {
    src: Option<&'a str>,
    dst: &'a str,
    bytes: u64,
    granularity: Option<Granularity>,
    checksum: u64,
    verified: Option<bool>,
    copy_secs: f64,
    verify_secs: f64,
    total_secs: f64,
    to_stdout: bool,
}

impl Outcome<'_> {
    fn print(&self, args: &CopyArgs) -> Result<(), String> {
        let mib_per_s = self.bytes as f64 / f64::from(1u32 << 20) / self.copy_secs.max(1e-9);
        if args.common.json {
            let report = json!({
                "operation": if args.zero { "zero" } else { "copy" },
                "src": self.src,
                "dst": self.dst,
                "skip": args.skip,
                "offset": args.offset,
                "bytes": self.bytes,
                "granularity": self.granularity.map(|g| g.to_string()),
                "xxh3": format!("{:016x}", self.checksum),
                "verified": self.verified,
                "copy_s": round3(self.copy_secs),
                "verify_s": round3(self.verify_secs),
                "elapsed_s": round3(self.total_secs),
                "mib_per_s": (mib_per_s * 10.0).round() / 10.0,
            });
            return emit(&format!("{report}\n"));
        }
        let what = match self.src {
            Some(s) => format!(
                "copied {} from {s} to {}",
                human_bytes(self.bytes),
                self.dst
            ),
            None => format!("zeroed {} of {}", human_bytes(self.bytes), self.dst),
        };
        let line = format!(
            "{what} at offset {} in {:.2} s ({mib_per_s:.0} MiB/s, granularity {}); {}",
            args.offset,
            self.copy_secs,
            self.granularity
                .map_or_else(|| "-".to_owned(), |g| g.to_string()),
            match self.verified {
                Some(_) => format!(
                    "verified in {:.2} s; xxh3 {:016x}",
                    self.verify_secs, self.checksum
                ),
                None => format!("xxh3 {:016x} (stdout can't be re-read)", self.checksum),
            }
        );
        // With DST on stdout the report goes to stderr, out of the data's way.
        if self.to_stdout {
            eprintln!("{line}");
            Ok(())
        } else {
            emit(&format!("{line}\n"))
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn pm_err(path: &str) -> impl Fn(pmem2::Error) -> String + Copy + '_ {
    move |e| format!("{path}: {e} ({})", e.code_name())
}

/// Verifies the `done` bytes just copied to DST: against SRC read again
/// when it can be (a file or device DAX), else against `sum`, the checksum
/// of what was read (a stream) or written (--zero).
fn verify_copy(
    w: &PmemWriter,
    reader: Option<&mut Reader>,
    args: &CopyArgs,
    done: u64,
    sum: u64,
    buf: &mut [u8],
    progress: &mut Progress,
) -> Result<(), String> {
    let dst = w.windows.name.as_str();
    let mut dst_windows = Windows::new(dst, &w.file, Protection::READ)?;
    if let Some(r) = reader.and_then(|r| r.rewind(args.skip).then_some(r)) {
        verify(r, &mut dst_windows, args.offset, done, progress)?;
    } else if dst_windows.checksum(args.offset, done, buf, progress)? != sum {
        return Err(format!(
            "{dst}: verification failed: DST reads back differently from what was {}",
            if args.zero { "zeroed" } else { "read from SRC" }
        ));
    }
    Ok(())
}

/// `BUF` bytes starting on a page boundary: the kernel's copies to and
/// from user memory run faster aligned (a plain 256 KiB `Vec` starts 16
/// bytes past one, after the allocator's header).
struct PageBuf {
    memory: Vec<u8>,
    start: usize,
}

impl PageBuf {
    const ALIGN: usize = 4096;

    fn new() -> Self {
        let memory = vec![0u8; BUF + Self::ALIGN];
        // align_offset may decline (usize::MAX): unaligned is only slower.
        let start = match memory.as_ptr().align_offset(Self::ALIGN) {
            s if s < Self::ALIGN => s,
            _ => 0,
        };
        PageBuf { memory, start }
    }

    fn bytes(&self) -> &[u8] {
        &self.memory[self.start..self.start + BUF]
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.memory[self.start..self.start + BUF]
    }
}

/// The reading thread: fills the buffers coming back from the writer with
/// SRC's bytes (zeros, as they were allocated, for --zero) and hashes
/// them; returns the byte count and their XXH3. Stops early when the
/// writer has stopped (it drops its ends of the channels).
fn fill(
    mut reader: Option<&mut Reader>,
    src: Option<&str>,
    length: Option<u64>,
    empty: &mpsc::Receiver<PageBuf>,
    full: &mpsc::SyncSender<(PageBuf, usize)>,
) -> Result<(u64, u64), String> {
    let mut sum = Xxh3::new();
    let mut done = 0u64;
    loop {
        let want = length.map_or(BUF, |n| (n - done).min(BUF as u64) as usize);
        if want == 0 {
            break;
        }
        let Ok(mut buf) = empty.recv() else { break };
        let n = match &mut reader {
            Some(r) => r.read(&mut buf.bytes_mut()[..want])?,
            None => want,
        };
        if n == 0 {
            if length.is_some() {
                return Err(format!(
                    "{}: ended after {done} bytes",
                    src.unwrap_or("SRC")
                ));
            }
            break;
        }
        sum.update(&buf.bytes()[..n]);
        if full.send((buf, n)).is_err() {
            break;
        }
        done += n as u64;
    }
    Ok((done, sum.digest()))
}

/// A range of DST, `[pos, pos + len)`, written and durable, to read back.
#[derive(Debug, Clone, Copy)]
struct Job {
    pos: u64,
    len: u64,
}

/// Reads back the ranges of DST as they come (`pread`, or fresh read-only
/// maps for a device DAX); returns the XXH3 of them all, in order (the
/// whole copy's range).
/// Whether the process may run on more than one CPU (its affinity mask
/// and cgroup quota, as std reads them), so that a read-back thread runs
/// beside the writer rather than taking turns with it.
fn spare_core() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

fn read_back(
    name: &str,
    file: &File,
    jobs: &mpsc::Receiver<Job>,
    progress: &mut Progress,
) -> Result<u64, String> {
    let mut read = Windows::new(name, file, Protection::READ)?;
    let mut buf = vec![0u8; BUF];
    let mut hash = Xxh3::new();
    for Job { pos, len } in jobs {
        let end = pos + len;
        let mut pos = pos;
        while pos < end {
            let n = (end - pos).min(BUF as u64) as usize;
            read.read_exact(pos as usize, &mut buf[..n])?;
            hash.update(&buf[..n]);
            pos += n as u64;
            progress.add(n as u64);
        }
    }
    Ok(hash.digest())
}

/// The error when DST's XXH3 differs from the XXH3 of the bytes written:
/// SRC (when it can be read again) is compared with DST byte for byte to
/// name the first difference.
fn explain_mismatch(
    w: &PmemWriter,
    reader: Option<&mut Reader>,
    args: &CopyArgs,
    done: u64,
) -> String {
    let dst = w.windows.name.as_str();
    if let Some(r) = reader.and_then(|r| r.rewind(args.skip).then_some(r)) {
        let compared = Windows::new(dst, &w.file, Protection::READ).and_then(|mut windows| {
            let mut quiet = Progress::new("verify", None, false);
            verify(r, &mut windows, args.offset, done, &mut quiet)
        });
        if let Err(e) = compared {
            return e;
        }
    }
    format!(
        "{dst}: verification failed: DST reads back differently from what was {}",
        if args.zero { "zeroed" } else { "read from SRC" }
    )
}

/// Refuses a copy of a file onto itself, as `cp` does (`cp: 'f' and 'f' are
/// the same file`): within one file the copy would read bytes it has
/// already overwritten.
fn refuse_same_file(
    src: &str,
    src_id: Option<FileId>,
    dst: &str,
    dst_id: FileId,
) -> Result<(), String> {
    if Some(dst_id) == src_id {
        return Err(format!(
            "'{src}' and '{dst}' are the same file (device {:#x}, inode {}); \
             refusing to copy a file onto itself",
            dst_id.dev, dst_id.ino
        ));
    }
    Ok(())
}

/// A file's identity: two paths name the same file when these are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    fn of(meta: &Metadata) -> Self {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    /// The identity of the regular file behind `fd` (stdin or stdout
    /// redirected from or to a file); `None` for pipes, terminals and
    /// anything else that can't be overwritten in place.
    fn of_regular(fd: impl AsFd) -> Option<Self> {
        let file = File::from(fd.as_fd().try_clone_to_owned().ok()?);
        let meta = file.metadata().ok()?;
        meta.is_file().then(|| FileId::of(&meta))
    }
}

/// Compares `len` bytes of DST from `offset` with SRC from its current read
/// position, a buffer at a time; the first difference is an error naming its
/// offset in DST.
fn verify(
    src: &mut Reader,
    dst: &mut Windows,
    offset: u64,
    len: u64,
    progress: &mut Progress,
) -> Result<(), String> {
    let mut expected = vec![0u8; BUF.min(usize::try_from(len).unwrap_or(BUF))];
    let mut actual = vec![0u8; expected.len()];
    let mut done: u64 = 0;
    while done < len {
        let want = (len - done).min(expected.len() as u64) as usize;
        let got = src.read(&mut expected[..want])?;
        if got < want {
            return Err(format!(
                "{}: verification failed: SRC ended after {} bytes, {len} were copied",
                dst.name,
                done + got as u64
            ));
        }
        dst.read_exact((offset + done) as usize, &mut actual[..want])?;
        if expected[..want] == actual[..want] {
            done += want as u64;
            progress.add(want as u64);
            continue;
        }
        if let Some(i) = expected[..want]
            .iter()
            .zip(&actual[..want])
            .position(|(a, b)| a != b)
        {
            return Err(format!(
                "{}: verification failed: DST differs from SRC at byte {} of DST \
                 ({:#04x} instead of {:#04x})",
                dst.name,
                offset + done + i as u64,
                actual[i],
                expected[i]
            ));
        }
        done += want as u64;
        progress.add(want as u64);
    }
    Ok(())
}

/// A file or device DAX mapped one window at a time.
struct Windows {
    name: String,
    source: Source<'static>,
    protection: Protection,
    /// Start offset in the source and the map of the current window.
    current: Option<(usize, Map)>,
    /// Where in the source prefaulting a new window stops (the end of the
    /// range a copy will touch); `None`: the window's end.
    populate_end: Option<usize>,
    /// A regular file opened to be read only: read with `pread`, which
    /// reads the file's pages without mapping them (mapping and unmapping
    /// costs more than the copy); a device DAX has no `read(2)`, it is
    /// mapped.
    pread: Option<File>,
}

impl Windows {
    fn new(name: &str, file: &File, protection: Protection) -> Result<Self, String> {
        let fd = OwnedFd::from(file.try_clone().map_err(io_err(name))?);
        let source = Source::from_owned_fd(fd).map_err(pm_err(name))?;
        let pread = if protection == Protection::READ && source.file_type() == FileType::Regular {
            Some(file.try_clone().map_err(io_err(name))?)
        } else {
            None
        };
        Ok(Windows {
            name: name.to_owned(),
            source,
            protection,
            current: None,
            populate_end: None,
            pread,
        })
    }

    /// Prefaults `[from, window end or populate_end)` of the new window:
    /// one `madvise` maps every page (allocating DST's, writable), instead
    /// of one page fault per page during the copy.
    fn populate(&self, start: usize, map: &Map, from: usize) -> Result<(), String> {
        let write = self.protection.contains(Protection::WRITE);
        if write && self.populate_end.is_none() {
            // A stream of unknown length: its pages are faulted in as
            // written, not a whole window of them that may stay unused.
            return Ok(());
        }
        let page = pmem2::page_size();
        let off = (from - start) / page * page;
        let end = self
            .populate_end
            .map_or(map.size(), |e| e.saturating_sub(start).min(map.size()));
        if end <= off {
            return Ok(());
        }
        let advice = if write {
            rustix::mm::Advice::LinuxPopulateWrite
        } else {
            rustix::mm::Advice::LinuxPopulateRead
        };
        // SAFETY: the range lies inside `map`, a live mapping owned by this
        // process; populating only faults its pages in (as touching them
        // would), it changes no contents and no other mapping.
        let result =
            unsafe { rustix::mm::madvise(map.addr().add(off).cast::<c_void>(), end - off, advice) };
        match result {
            // A kernel older than 5.14 doesn't know the advice (EINVAL), a
            // mapping may not support it (EPERM, EOPNOTSUPP): pages are then
            // faulted in as they are touched.
            Ok(())
            | Err(
                rustix::io::Errno::INVAL | rustix::io::Errno::PERM | rustix::io::Errno::OPNOTSUPP,
            ) => Ok(()),
            // EFAULT/ENOMEM: the pages can't be had (the file system is
            // full); say so now rather than fault in the copy.
            Err(e) => Err(format!(
                "{}: cannot allocate {} bytes at offset {}: {}",
                self.name,
                end - off,
                start + off,
                os_message(&std::io::Error::from(e))
            )),
        }
    }

    /// The window holding `pos`, and `pos`'s offset in it. The caller deals
    /// with the previous window (persisting it) before asking for another.
    fn at(&mut self, pos: usize) -> Result<(&mut Map, usize), String> {
        let covered = matches!(&self.current, Some((start, map)) if (*start..start + map.size()).contains(&pos));
        if !covered {
            self.current = None;
            let fail = pm_err(&self.name);
            let align = self.source.alignment().map_err(&fail)?;
            let size = self.source.size().map_err(&fail)?;
            if pos >= size {
                return Err(format!(
                    "{}: offset {pos} is past the end ({size})",
                    self.name
                ));
            }
            let start = pos / align * align;
            let span = WINDOW.max(align);
            // Length 0 maps to the end of the source, whatever its alignment.
            let length = if start + span >= size { 0 } else { span };
            let mut config = Config::with_granularity(Granularity::Page);
            config
                .set_length(length)
                .set_protection(self.protection)
                .set_offset(start)
                .map_err(&fail)?;
            let map = Map::new(&config, &self.source).map_err(&fail)?;
            self.populate(start, &map, pos)?;
            self.current = Some((start, map));
        }
        let (start, map) = self.current.as_mut().expect("a window was just mapped");
        let off = pos - *start;
        Ok((map, off))
    }

    /// Fills `buf` from `pos`, across windows.
    fn read_exact(&mut self, mut pos: usize, mut buf: &mut [u8]) -> Result<(), String> {
        if let Some(file) = &self.pread {
            return file.read_exact_at(buf, pos as u64).map_err(|e| {
                if e.kind() == ErrorKind::UnexpectedEof {
                    format!("{}: ended before byte {}", self.name, pos + buf.len())
                } else {
                    io_err(&self.name)(e)
                }
            });
        }
        while !buf.is_empty() {
            let name = self.name.clone();
            let (map, off) = self.at(pos)?;
            let n = (map.size() - off).min(buf.len());
            map.read(off, &mut buf[..n]).map_err(pm_err(&name))?;
            pos += n;
            buf = &mut buf[n..];
        }
        Ok(())
    }

    /// The checksum of `[offset, offset + len)`.
    fn checksum(
        &mut self,
        offset: u64,
        len: u64,
        buf: &mut [u8],
        progress: &mut Progress,
    ) -> Result<u64, String> {
        let mut sum = Xxh3::new();
        let mut pos = offset as usize;
        let end = (offset + len) as usize;
        while pos < end {
            let n = buf.len().min(end - pos);
            self.read_exact(pos, &mut buf[..n])?;
            sum.update(&buf[..n]);
            pos += n;
            progress.add(n as u64);
        }
        Ok(sum.digest())
    }
}

/// Where the bytes come from.
enum Reader {
    /// A regular file, read with `pread` from `pos`.
    File {
        name: String,
        file: File,
        pos: u64,
        size: u64,
    },
    /// A device DAX, read with `pread_mcsafe`: poisoned media gives an
    /// error instead of a SIGBUS.
    Dax {
        name: String,
        source: Source<'static>,
        pos: usize,
        size: usize,
    },
    /// stdin, a pipe or a character device: read in order.
    Stream {
        name: String,
        input: Box<dyn Read + Send>,
    },
}

impl Reader {
    fn open(name: &str, skip: u64) -> Result<Self, String> {
        if name == "-" {
            let mut input: Box<dyn Read + Send> = Box::new(std::io::stdin());
            discard(&mut input, skip).map_err(io_err(name))?;
            return Ok(Reader::Stream {
                name: name.to_owned(),
                input,
            });
        }
        let file = File::open(name).map_err(io_err(name))?;
        let fd = OwnedFd::from(file.try_clone().map_err(io_err(name))?);
        match Source::from_owned_fd(fd) {
            Ok(source) if source.file_type() == FileType::DeviceDax => {
                let size = source.size().map_err(pm_err(name))?;
                Ok(Reader::Dax {
                    name: name.to_owned(),
                    source,
                    pos: skip as usize,
                    size,
                })
            }
            Ok(_) => {
                let size = file.metadata().map_err(io_err(name))?.len();
                Ok(Reader::File {
                    name: name.to_owned(),
                    file,
                    pos: skip,
                    size,
                })
            }
            Err(pmem2::Error::InvalidFileType(_)) => {
                if file.metadata().map_err(io_err(name))?.is_dir() {
                    // The words DST gets from open(2) for the same problem.
                    return Err(io_err(name)(std::io::Error::from_raw_os_error(
                        rustix::io::Errno::ISDIR.raw_os_error(),
                    )));
                }
                let mut input: Box<dyn Read + Send> = Box::new(file);
                discard(&mut input, skip).map_err(io_err(name))?;
                Ok(Reader::Stream {
                    name: name.to_owned(),
                    input,
                })
            }
            Err(e) => Err(pm_err(name)(e)),
        }
    }

    /// The identity of the file read, when it is one that a copy could
    /// overwrite: a regular file, a device DAX, or stdin redirected from a
    /// regular file.
    fn identity(&self) -> Option<FileId> {
        match self {
            Reader::File { file, .. } => file.metadata().ok().map(|m| FileId::of(&m)),
            Reader::Dax { source, .. } => source.fd().ok().and_then(|fd| {
                let file = File::from(fd.try_clone_to_owned().ok()?);
                file.metadata().ok().map(|m| FileId::of(&m))
            }),
            Reader::Stream { name, .. } if name == "-" => FileId::of_regular(std::io::stdin()),
            Reader::Stream { .. } => None,
        }
    }

    /// Moves the read position back to `to` for a second pass; false for a
    /// stream, which can't be read twice.
    fn rewind(&mut self, to: u64) -> bool {
        match self {
            Reader::File { pos, .. } => {
                *pos = to;
                true
            }
            Reader::Dax { pos, .. } => match usize::try_from(to) {
                Ok(to) => {
                    *pos = to;
                    true
                }
                Err(_) => false,
            },
            Reader::Stream { .. } => false,
        }
    }

    /// Bytes from the read position to the end, when known.
    fn remaining(&self) -> Option<u64> {
        match self {
            Reader::File { pos, size, .. } => Some(size.saturating_sub(*pos)),
            Reader::Dax { pos, size, .. } => Some(size.saturating_sub(*pos) as u64),
            Reader::Stream { .. } => None,
        }
    }

    fn check_range(&self, length: u64) -> Result<(), String> {
        let (name, end, size) = match self {
            Reader::File {
                name, pos, size, ..
            } => (name.as_str(), pos.checked_add(length), *size),
            Reader::Dax {
                name, pos, size, ..
            } => (
                name.as_str(),
                (*pos as u64).checked_add(length),
                *size as u64,
            ),
            Reader::Stream { .. } => return Ok(()),
        };
        match end {
            Some(end) if end <= size => Ok(()),
            _ => Err(format!(
                "{name}: the range to read ends past the end ({size} bytes)"
            )),
        }
    }

    /// Fills `buf` as far as the input goes; 0 at the end.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, String> {
        match self {
            Reader::File {
                name, file, pos, ..
            } => {
                let mut got = 0;
                while got < buf.len() {
                    match file.read_at(&mut buf[got..], *pos) {
                        Ok(0) => break,
                        Ok(n) => {
                            got += n;
                            *pos += n as u64;
                        }
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(io_err(name)(e)),
                    }
                }
                Ok(got)
            }
            Reader::Dax {
                name,
                source,
                pos,
                size,
            } => {
                let n = (*size - (*pos).min(*size)).min(buf.len());
                source.pread_mcsafe(&mut buf[..n], *pos).map_err(|e| {
                    format!(
                        "{name}: reading {n} bytes at {pos}: {e} ({})",
                        e.code_name()
                    )
                })?;
                *pos += n;
                Ok(n)
            }
            Reader::Stream { name, input } => {
                let mut got = 0;
                while got < buf.len() {
                    match input.read(&mut buf[got..]) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(io_err(name)(e)),
                    }
                }
                Ok(got)
            }
        }
    }
}

fn discard(input: &mut dyn Read, n: u64) -> std::io::Result<()> {
    let skipped = std::io::copy(&mut input.take(n), &mut std::io::sink())?;
    if skipped < n {
        return Err(std::io::Error::new(
            ErrorKind::UnexpectedEof,
            format!("ended after {skipped} bytes while skipping {n}"),
        ));
    }
    Ok(())
}

/// Writes `data` (zeros if `zero`) at `off` in a page-granularity `map`
/// with the cache-line kernel's non-temporal stores and no drain: the bytes
/// go past the cache straight to the page cache, and the caller fences and
/// persists (one `msync`) once per window. The page-granularity kernels
/// would `msync` every call, and with `NOFLUSH` store through the cache.
fn nt_store(map: &Map, off: usize, data: &[u8], zero: bool) {
    assert!(off + data.len() <= map.size(), "the window holds the range");
    let flags = (MemFlags::NONTEMPORAL | MemFlags::NODRAIN).bits();
    let dst = map.addr().wrapping_add(off).cast::<c_void>();
    if zero {
        let memset = pmem2::mem::memset_fn(Granularity::CacheLine);
        // SAFETY: `[off, off + len)` lies inside `map` (asserted), a live
        // writable mapping of DST whose pages were prefaulted; nothing else
        // in this process refers to them. (Another process truncating DST
        // meanwhile would raise SIGBUS here, as for any mmap writer.)
        unsafe { memset(dst, c_int::from(0u8), data.len(), flags) };
    } else {
        let memcpy = pmem2::mem::memcpy_fn(Granularity::CacheLine);
        // SAFETY: as above for the destination; `data` is a distinct Rust
        // buffer of `data.len()` readable bytes.
        unsafe { memcpy(dst, data.as_ptr().cast::<c_void>(), data.len(), flags) };
    }
}

/// The store granularity of a map of `file` (an empty file is given one
/// page for the time it takes to ask, as a stream will grow it anyway).
fn natural_granularity(windows: &Windows, file: &File) -> Result<Option<Granularity>, String> {
    let name = windows.name.as_str();
    let size = windows.source.size().map_err(pm_err(name))?;
    if size == 0 {
        if file.set_len(pmem2::page_size() as u64).is_err() {
            return Ok(None);
        }
        let granularity = natural_granularity(windows, file);
        file.set_len(0).map_err(io_err(name))?;
        return granularity;
    }
    let alignment = windows.source.alignment().map_err(pm_err(name))?;
    let mut config = Config::with_granularity(Granularity::Page);
    // The smallest map: length 0 maps to the end when the file is shorter
    // than one alignment unit.
    config.set_length(if size < alignment { 0 } else { alignment });
    let map = Map::new(&config, &windows.source).map_err(pm_err(name))?;
    Ok(Some(map.store_granularity()))
}

/// Where the bytes go.
#[allow(clippy::large_enum_variant)] // one writer per run: boxing buys nothing
enum Writer {
    Stdout(BufWriter<StdoutLock<'static>>),
    Pmem(PmemWriter),
}

/// DST mapped with pmem2.
struct PmemWriter {
    file: File,
    windows: Windows,
    /// The part of the current window written but not yet persisted (with
    /// `write(2)`: bytes since the last `fdatasync`).
    dirty: Option<(usize, usize)>,
    /// The file's size before we grew it (regular files only).
    grown_from: Option<u64>,
    regular: bool,
    /// DST's natural granularity is page: written with `pwrite` and made
    /// durable with `fdatasync` once per window instead of mapped (see
    /// [`Method`]); `Some(granularity)` then.
    via_write: Option<Granularity>,
}

impl Writer {
    /// Opens DST; `check` sees DST's identity before anything is written or
    /// resized and can refuse it.
    fn open(
        name: &str,
        offset: u64,
        length: Option<u64>,
        zero: bool,
        method: Method,
        check: impl Fn(FileId) -> Result<(), String>,
    ) -> Result<Self, String> {
        if name == "-" {
            if zero {
                return Err("cannot zero stdout".to_owned());
            }
            if let Some(id) = FileId::of_regular(std::io::stdout()) {
                check(id)?;
            }
            return Ok(Writer::Stdout(BufWriter::with_capacity(
                BUF,
                std::io::stdout().lock(),
            )));
        }
        let mut options = File::options();
        options.read(true).write(true);
        if !zero {
            options.create(true);
        }
        let file = options.open(name).map_err(io_err(name))?;
        check(FileId::of(&file.metadata().map_err(io_err(name))?))?;
        let mut windows = Windows::new(name, &file, Protection::READ | Protection::WRITE)?;
        // Prefault only what the copy writes (a stream of unknown length
        // into a file grown a window at a time: each window whole).
        windows.populate_end = length.map(|n| (offset + n) as usize);
        let regular = match windows.source.file_type() {
            FileType::Regular => true,
            FileType::DeviceDax => false,
            FileType::Anonymous => return Err(format!("{name}: not a file")),
        };
        let size = windows.source.size().map_err(pm_err(name))? as u64;
        let mut grown_from = None;
        match length.map(|n| offset.checked_add(n)) {
            Some(None) => return Err(format!("{name}: offset + length overflows")),
            Some(Some(end)) if end > size => {
                if !regular || zero {
                    return Err(format!(
                        "{name}: the range ends at {end}, past the end of DST ({size} bytes)"
                    ));
                }
                file.set_len(end).map_err(io_err(name))?;
                grown_from = Some(size);
            }
            _ => {}
        }
        if zero && offset > size {
            return Err(format!(
                "{name}: offset {offset} is past the end ({size} bytes)"
            ));
        }
        let via_write = match method {
            Method::Write if regular => Some(Granularity::Page),
            Method::Write => {
                return Err(format!(
                    "{name}: a device DAX can't be written with write(2): use --method map"
                ))
            }
            Method::Auto if regular => {
                let granularity = natural_granularity(&windows, &file)?;
                (granularity == Some(Granularity::Page)).then_some(Granularity::Page)
            }
            Method::Map | Method::Auto => None,
        };
        Ok(Writer::Pmem(PmemWriter {
            file,
            windows,
            dirty: None,
            grown_from,
            regular,
            via_write,
        }))
    }

    /// Bytes from `offset` to the end of DST (for --zero).
    fn remaining(&self, offset: u64) -> Option<u64> {
        match self {
            Writer::Stdout(_) => None,
            Writer::Pmem(w) => w
                .windows
                .source
                .size()
                .ok()
                .map(|s| (s as u64).saturating_sub(offset)),
        }
    }

    fn write(&mut self, pos: u64, data: &[u8], zero: bool) -> Result<(), String> {
        match self {
            Writer::Stdout(out) => out.write_all(data).map_err(io_err("stdout")),
            Writer::Pmem(w) => w.write(pos as usize, data, zero),
        }
    }

    /// Whether what [`Writer::write`] stored can be read back right away:
    /// through `write(2)` it reads back from the page cache exactly as it
    /// will after the `fdatasync` that writes those pages out unchanged (so
    /// each buffer is read back while still in the cache). A map is read
    /// back a segment at a time, once the segment is durable.
    fn read_back_now(&self) -> bool {
        matches!(self, Writer::Pmem(w) if w.via_write.is_some())
    }

    /// Reads DST's bytes at `pos` into `buf` with `pread` (see
    /// [`Writer::read_back_now`]).
    fn read_back(&self, pos: u64, buf: &mut [u8]) -> Result<(), String> {
        match self {
            Writer::Stdout(_) => Err("stdout can't be read back".to_owned()),
            Writer::Pmem(w) => w
                .file
                .read_exact_at(buf, pos)
                .map_err(io_err(&w.windows.name)),
        }
    }

    /// Makes what was written so far durable.
    fn persist(&mut self) -> Result<(), String> {
        match self {
            Writer::Stdout(_) => Ok(()),
            Writer::Pmem(w) => w.persist_dirty(),
        }
    }

    /// Persists what is left and trims a grown file to `end`; returns the
    /// granularity DST was written with.
    fn finish(&mut self, end: u64) -> Result<Option<Granularity>, String> {
        match self {
            Writer::Stdout(out) => {
                out.flush().map_err(io_err("stdout"))?;
                Ok(None)
            }
            Writer::Pmem(w) => {
                let granularity = w.via_write.or_else(|| {
                    w.windows
                        .current
                        .as_ref()
                        .map(|(_, m)| m.store_granularity())
                });
                w.persist_dirty()?;
                w.windows.current = None;
                if let Some(before) = w.grown_from {
                    w.file
                        .set_len(end.max(before))
                        .map_err(io_err(&w.windows.name))?;
                }
                Ok(granularity)
            }
        }
    }
}

impl PmemWriter {
    fn write(&mut self, mut pos: usize, mut data: &[u8], zero: bool) -> Result<(), String> {
        if self.via_write.is_some() {
            self.make_room(pos, data.len())?;
            // `data` is zeros for --zero.
            self.file
                .write_all_at(data, pos as u64)
                .map_err(io_err(&self.windows.name))?;
            let (lo, hi) = self.dirty.unwrap_or((pos, pos));
            self.dirty = Some((lo.min(pos), hi.max(pos + data.len())));
            if hi.max(pos + data.len()) - lo.min(pos) >= WINDOW {
                self.persist_dirty()?;
            }
            return Ok(());
        }
        while !data.is_empty() {
            self.make_room(pos, data.len())?;
            let covered = matches!(&self.windows.current, Some((start, map)) if (*start..start + map.size()).contains(&pos));
            if !covered {
                self.persist_dirty()?;
            }
            let name = self.windows.name.clone();
            let (map, off) = self.windows.at(pos)?;
            let n = (map.size() - off).min(data.len());
            if map.store_granularity() == Granularity::Page {
                nt_store(map, off, &data[..n], zero);
            } else if zero {
                // Non-temporal stores bypass the cache, and the safe API
                // fences them: durable on return at cache-line and byte
                // granularity.
                map.fill(off, n, 0, MemFlags::NONTEMPORAL)
                    .map_err(pm_err(&name))?;
            } else {
                map.copy_from_slice(off, &data[..n], MemFlags::NONTEMPORAL)
                    .map_err(pm_err(&name))?;
            }
            let page = map.store_granularity() == Granularity::Page;
            if page {
                self.dirty = Some(match self.dirty {
                    Some((lo, hi)) => (lo.min(off), hi.max(off + n)),
                    None => (off, off + n),
                });
            }
            pos += n;
            data = &data[n..];
        }
        Ok(())
    }

    /// For a stream into a regular file of unknown length: grows the file a
    /// window at a time so the write at `pos` fits.
    fn make_room(&mut self, pos: usize, len: usize) -> Result<(), String> {
        if !self.regular || self.windows.populate_end.is_some() {
            // Sized when opened for a copy of known length.
            return Ok(());
        }
        let name = &self.windows.name;
        let size = self.file.metadata().map_err(io_err(name))?.len();
        let end = (pos + len) as u64;
        if end <= size {
            return Ok(());
        }
        self.persist_dirty()?;
        self.windows.current = None;
        self.grown_from.get_or_insert(size);
        self.file
            .set_len(end.next_multiple_of(WINDOW as u64))
            .map_err(io_err(&self.windows.name))
    }

    fn persist_dirty(&mut self) -> Result<(), String> {
        if self.via_write.is_some() {
            if self.dirty.take().is_some() {
                // What msync of a page-granularity map does: write back and
                // wait, through the file system.
                self.file.sync_data().map_err(io_err(&self.windows.name))?;
            }
            return Ok(());
        }
        if let (Some((lo, hi)), Some((_, map))) = (self.dirty.take(), &self.windows.current) {
            // Order the non-temporal stores before the msync.
            // SAFETY: a drain function takes no arguments and only fences.
            unsafe { pmem2::persist::drain_fn(Granularity::CacheLine)() };
            map.persist(lo, hi - lo)
                .map_err(pm_err(&self.windows.name))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch file of `data` in the system's temporary directory,
    /// removed on drop.
    struct TempFile(tempfile::NamedTempFile);

    impl TempFile {
        fn new(name: &str, data: &[u8]) -> Self {
            let file = tempfile::Builder::new()
                .prefix(&format!("pmem2-copy-unit-{name}-"))
                .tempfile()
                .unwrap();
            std::fs::write(file.path(), data).unwrap();
            TempFile(file)
        }

        fn name(&self) -> &str {
            self.0.path().to_str().unwrap()
        }
    }

    /// Runs `verify` on `len` bytes of `src` from `skip` against `dst` from
    /// `offset`.
    fn run_verify(
        src: &TempFile,
        skip: u64,
        dst: &TempFile,
        offset: u64,
        len: u64,
    ) -> Result<(), String> {
        let mut reader = Reader::open(src.name(), skip)?;
        let file = File::open(dst.0.path()).unwrap();
        let mut windows = Windows::new(dst.name(), &file, Protection::READ)?;
        let mut progress = Progress::new("verify", Some(len), false);
        verify(&mut reader, &mut windows, offset, len, &mut progress)
    }

    #[test]
    fn verify_compares_dst_with_src_byte_for_byte() {
        let len = BUF * 2 + 4097;
        let data: Vec<u8> = (0..len).map(|i| (i * 131 % 251) as u8).collect();
        let src = TempFile::new("src", &data);

        // DST = 100 bytes of something else, then SRC from byte 10.
        let mut good = vec![0x5a; 100];
        good.extend_from_slice(&data[10..]);
        let dst = TempFile::new("good", &good);
        let n = (len - 10) as u64;
        run_verify(&src, 10, &dst, 100, n).unwrap();
        run_verify(&src, 10, &dst, 100, 1).unwrap();

        // One byte changed, in the first buffer and past the first buffer.
        for at in [100, 100 + BUF + 17, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            let dst = TempFile::new(&format!("bad{at}"), &bad);
            let err = run_verify(&src, 10, &dst, 100, n).unwrap_err();
            assert!(
                err.contains("verification failed")
                    && err.contains(&format!("differs from SRC at byte {at} of DST")),
                "{err}"
            );
        }

        // Comparing at the wrong offset fails: DST is not checked against itself.
        let err = run_verify(&src, 10, &dst, 99, n).unwrap_err();
        assert!(err.contains("differs from SRC at byte 99 of DST"), "{err}");

        // SRC shorter than what was copied (truncated since): a failure too.
        let short = TempFile::new("short", &data[..1000]);
        let err = run_verify(&short, 10, &dst, 100, n).unwrap_err();
        assert!(err.contains("SRC ended after 990 bytes"), "{err}");
    }

    /// The read-back thread hashes exactly the ranges it is sent, in order:
    /// their XXH3 is the XXH3 of the bytes there, and a changed byte
    /// changes it.
    #[test]
    fn read_back_hashes_the_ranges_sent() {
        let data: Vec<u8> = (0..(BUF * 3 + 77)).map(|i| (i * 7 % 253) as u8).collect();
        let dst = TempFile::new("read-back", &data);
        let file = File::open(dst.0.path()).unwrap();
        let hash_of = |ranges: &[(u64, u64)], file: &File| {
            let (tx, rx) = mpsc::channel();
            for &(pos, len) in ranges {
                tx.send(Job { pos, len }).unwrap();
            }
            drop(tx);
            let mut progress = Progress::new("verify", None, false);
            read_back(dst.name(), file, &rx, &mut progress).unwrap()
        };
        let (a, b, c) = (5u64, BUF as u64 + 3, data.len() as u64 - 1);
        assert_eq!(
            hash_of(&[(a, b - a), (b, c - b)], &file),
            xxhash_rust::xxh3::xxh3_64(&data[a as usize..c as usize])
        );
        let mut changed = data.clone();
        changed[BUF * 2] ^= 0x80;
        let other = TempFile::new("read-back-changed", &changed);
        let other_file = File::open(other.0.path()).unwrap();
        assert_ne!(
            hash_of(&[(a, c - a)], &other_file),
            xxhash_rust::xxh3::xxh3_64(&data[a as usize..c as usize])
        );
    }

    #[test]
    fn reader_identity_sees_the_file_behind_a_link() {
        let a = TempFile::new("id-a", b"abc");
        let b = TempFile::new("id-b", b"abc");
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(a.0.path(), &link).unwrap();
        let id = |name: &str| Reader::open(name, 0).unwrap().identity();
        assert!(id(a.name()).is_some());
        assert_eq!(id(a.name()), id(link.to_str().unwrap()));
        assert_ne!(id(a.name()), id(b.name()));
        // A reader can be rewound unless it is a stream.
        assert!(Reader::open(a.name(), 0).unwrap().rewind(1));
    }
}
