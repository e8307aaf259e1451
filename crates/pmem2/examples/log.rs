//! An append-only log that survives a crash at any point.
//!
//! The log's header records how many bytes of entries are valid. An append
//! first makes the new entries durable, then publishes them by updating the
//! header; a crash before the header update leaves the old, consistent log.
//! The header itself is never updated in place: there are two copies, each
//! with a sequence number and a checksum, and an update overwrites the older
//! one, so a torn header write is detected and the other copy is used.
//!
//! It shows:
//! - `append`: one entry copied with the default flags (durable on return);
//! - `appendv`: several entries copied with `MemFlags::NOFLUSH` and made
//!   durable by one `persist` over the whole appended range;
//! - `rewind` (drop every entry) and `dump` (print them).
//!
//! ```sh
//! cargo run -p pmem2 --example log                       # demo on a temporary file
//! cargo run -p pmem2 --example log -- FILE               # the demo on FILE
//! cargo run -p pmem2 --example log -- FILE append TEXT   # or: appendv TEXT..., rewind, dump
//! ```
//! FILE is created (1 MiB) if missing; an existing FILE that holds no log is
//! formatted.
//!
//! `log verify IMAGE` is its crash-consistency checker (for `pmem2 check
//! --explore --checker "target/release/examples/log verify"`): exit status
//! 0 when IMAGE is a log a crash could leave, 1 if not, 2 when it can't be
//! read. The invariant: no valid header and an all-zero header area (a
//! file never formatted), or a newest valid header whose used size is
//! exactly a run of entries, each non-empty and free of NUL bytes, which
//! the log enforces when appending (an entry published before its bytes
//! were durable would read as zeros).

mod common;

use std::fs::File;
use std::path::Path;

use pmem2::mem::MemFlags;
use pmem2::{Config, Granularity, Map, Source};

use common::PoolFile;

const MAGIC: u64 = 0x706d_656d_326c_6f67; // "pmem2log"
/// Two header copies of 32 bytes, each in its own cache line.
const SLOT: [usize; 2] = [0, 64];
/// Entries start here: `u32` length (little endian), then the bytes.
const DATA: usize = 128;

struct Log {
    map: Map,
    seq: u64,
    used: usize,
}

fn check(seq: u64, used: u64) -> u64 {
    (MAGIC ^ seq.rotate_left(17) ^ used.rotate_left(41)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The newest valid header copy in `head` (the file's first [`DATA`]
/// bytes) of a log file of `size` bytes: its sequence number and used size.
fn newest_header(head: &[u8], size: usize) -> Option<(u64, usize)> {
    let mut newest: Option<(u64, usize)> = None;
    for slot in SLOT {
        let h = &head[slot..slot + 32];
        let word = |i: usize| u64::from_le_bytes(h[i * 8..i * 8 + 8].try_into().unwrap());
        let (magic, seq, used, sum) = (word(0), word(1), word(2), word(3));
        let valid = magic == MAGIC
            && sum == check(seq, used)
            && usize::try_from(used).is_ok_and(|u| u <= size - DATA);
        if valid && newest.is_none_or(|(s, _)| seq > s) {
            newest = Some((seq, used as usize));
        }
    }
    newest
}

/// What the log accepts as an entry: non-empty, without NUL bytes (as
/// command-line arguments are), so that bytes lost in a crash (zeros) are
/// never a valid entry.
fn valid_entry(entry: &[u8]) -> bool {
    !entry.is_empty() && !entry.contains(&0)
}

/// Whether `image` (a whole log file) is a state a crash could leave: see
/// the module docs.
fn consistent(image: &[u8]) -> bool {
    if image.len() < DATA + 4 {
        return false;
    }
    let Some((_, used)) = newest_header(&image[..DATA], image.len()) else {
        return image[..DATA].iter().all(|&b| b == 0);
    };
    let mut at = DATA;
    while at < DATA + used {
        let Some(len) = image.get(at..at + 4) else {
            return false;
        };
        let len = u32::from_le_bytes(len.try_into().unwrap()) as usize;
        if !image.get(at + 4..at + 4 + len).is_some_and(valid_entry) {
            return false;
        }
        at += 4 + len;
    }
    at == DATA + used
}

impl Log {
    /// Maps the log and finds the newest valid header (formats the file if
    /// there is none).
    fn open(path: &Path) -> Result<Log, Box<dyn std::error::Error>> {
        let file = File::options().read(true).write(true).open(path)?;
        let source = Source::from_file(&file)?;
        let map = Map::new(&Config::with_granularity(Granularity::Page), &source)?;
        if map.size() < DATA + 4 {
            return Err(format!("{}: too small for a log", path.display()).into());
        }
        let mut head = [0u8; DATA];
        map.read(0, &mut head)?;
        let newest = newest_header(&head, map.size());
        let mut log = Log {
            map,
            seq: 0,
            used: 0,
        };
        if let Some((seq, used)) = newest {
            (log.seq, log.used) = (seq, used);
        } else {
            println!("{}: no log found, formatting", path.display());
            log.commit(0)?;
        }
        Ok(log)
    }

    /// Publishes `used` bytes of entries: writes the older header copy and
    /// makes it durable. This one persist is the commit point.
    fn commit(&mut self, used: usize) -> pmem2::Result<()> {
        let seq = self.seq + 1;
        let mut h = [0u8; 32];
        for (i, w) in [MAGIC, seq, used as u64, check(seq, used as u64)]
            .iter()
            .enumerate()
        {
            h[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        self.map.write(SLOT[(seq % 2) as usize], &h)?; // copies and persists
        self.seq = seq;
        self.used = used;
        Ok(())
    }

    /// Copies `entries` after the last one and makes them durable, without
    /// publishing them; returns the new used size.
    fn write_entries(&mut self, entries: &[&[u8]]) -> Result<usize, Box<dyn std::error::Error>> {
        let start = DATA + self.used;
        if !entries.iter().all(|e| valid_entry(e)) {
            return Err("entries are non-empty text without NUL bytes".into());
        }
        let total: usize = entries.iter().map(|e| 4 + e.len()).sum();
        if start + total > self.map.size() {
            return Err("the log is full".into());
        }
        let mut at = start;
        for entry in entries {
            let len = u32::try_from(entry.len())?.to_le_bytes();
            // NOFLUSH: no flush per piece; one persist below covers them all.
            self.map.copy_from_slice(at, &len, MemFlags::NOFLUSH)?;
            self.map.copy_from_slice(at + 4, entry, MemFlags::NOFLUSH)?;
            at += 4 + entry.len();
        }
        self.map.persist(start, total)?;
        Ok(self.used + total)
    }

    /// Appends one entry: a copy that is durable on return, then the commit.
    fn append(&mut self, entry: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
        if !valid_entry(entry) {
            return Err("entries are non-empty text without NUL bytes".into());
        }
        let at = DATA + self.used;
        if at + 4 + entry.len() > self.map.size() {
            return Err("the log is full".into());
        }
        let len = u32::try_from(entry.len())?.to_le_bytes();
        self.map.copy_from_slice(at, &len, MemFlags::empty())?;
        self.map.copy_from_slice(at + 4, entry, MemFlags::empty())?;
        self.commit(self.used + 4 + entry.len())?;
        Ok(())
    }

    /// Appends several entries with one persist and one commit.
    fn appendv(&mut self, entries: &[&[u8]]) -> Result<(), Box<dyn std::error::Error>> {
        let used = self.write_entries(entries)?;
        self.commit(used)?;
        Ok(())
    }

    /// Forgets every entry.
    fn rewind(&mut self) -> pmem2::Result<()> {
        self.commit(0)
    }

    /// The published entries.
    fn entries(&self) -> pmem2::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let mut at = DATA;
        while at < DATA + self.used {
            let mut len = [0u8; 4];
            self.map.read(at, &mut len)?;
            let mut entry = vec![0u8; u32::from_le_bytes(len) as usize];
            self.map.read(at + 4, &mut entry)?;
            at += 4 + entry.len();
            out.push(entry);
        }
        Ok(out)
    }

    fn dump(&self) -> pmem2::Result<()> {
        println!("log: {} bytes used (header #{})", self.used, self.seq);
        for (i, e) in self.entries()?.iter().enumerate() {
            println!("  {i}: {}", String::from_utf8_lossy(e));
        }
        Ok(())
    }
}

fn demo(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut log = Log::open(path)?;
    log.rewind()?;
    log.append(b"first entry")?;
    log.appendv(&[b"second", b"third, in the same persist"])?;
    log.dump()?;

    // A crash after the entries are durable but before the commit: write
    // them, then drop the log without publishing, as a power cut would.
    log.write_entries(&[b"never committed"])?;
    drop(log);
    let log = Log::open(path)?;
    let entries = log.entries()?;
    assert_eq!(entries.len(), 3, "an uncommitted append must not appear");
    println!("after a simulated crash before the commit:");
    log.dump()?;

    let mut log = log;
    log.rewind()?;
    log.append(b"after rewind")?;
    drop(log);
    let log = Log::open(path)?;
    assert_eq!(log.entries()?, vec![b"after rewind".to_vec()]);
    log.dump()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::exit_if_verify("log", consistent);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pool = PoolFile::new(args.first(), "log", 1 << 20)?;
    let Some(command) = args.get(1) else {
        return demo(&pool.path);
    };
    let mut log = Log::open(&pool.path)?;
    let rest: Vec<&[u8]> = args[2..].iter().map(String::as_bytes).collect();
    match (command.as_str(), rest.as_slice()) {
        ("append", [entry]) => log.append(entry)?,
        ("appendv", entries) if !entries.is_empty() => log.appendv(entries)?,
        ("rewind", []) => log.rewind()?,
        ("dump", []) => log.dump()?,
        _ => {
            return Err("usage: log [FILE [append TEXT | appendv TEXT... | rewind | dump]]".into())
        }
    }
    Ok(())
}
