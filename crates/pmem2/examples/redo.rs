//! A redo log: several updates that become durable all together or not at
//! all, with recovery after a crash.
//!
//! The pool holds a table of accounts (`u64` balances) and a redo log. A
//! transfer between accounts changes two balances; a crash between the two
//! stores would create or destroy money. So a transaction:
//!
//! 1. writes the new values (offset, value pairs) into the log and makes
//!    them durable (`flush` each range, one `drain`);
//! 2. commits: writes the log's checksum and persists it. A log is valid
//!    only when its checksum matches, so a torn or partial log is ignored;
//! 3. applies the values to the table and persists them;
//! 4. retires the log: replaces the checksum by its complement, which no
//!    log matches, and which says "these entries are in the table".
//!
//! Opening the pool runs recovery: a valid log is applied again (the values
//! are absolute, so applying twice is harmless), an invalid one dropped.
//! The demo crashes a transaction before and after the commit and checks
//! that the total of all balances never changes. The `check` view opens the
//! pool with `Sharing::Private`: recovery runs in a copy-on-write mapping
//! and the file is left untouched.
//!
//! ```sh
//! cargo run -p pmem2 --example redo                 # demo on a temporary file
//! cargo run -p pmem2 --example redo -- FILE         # demo on FILE (created, 64 KiB)
//! cargo run -p pmem2 --example redo -- FILE check   # show FILE as recovery would see it
//! ```
//!
//! `redo verify IMAGE` is its crash-consistency checker (for `pmem2 check
//! --explore --checker "target/release/examples/redo verify"`), on a pool
//! the demo created: exit status 0 when IMAGE is a pool a crash could
//! leave, 1 if not, 2 when it can't be read. The invariant: no magic (a pool
//! never created: all zeros but possibly the table and log of the creation
//! in progress), or the balances recovery would produce (the table with a
//! committed log applied) total `ACCOUNTS * INITIAL`, every committed entry
//! is inside the table, and a retired log's entries are all in the table
//! (a transfer committed and retired is never lost).

mod common;

use std::fs::File;
use std::path::Path;

use pmem2::{Config, Granularity, Map, Sharing, Source};

use common::PoolFile;

const MAGIC: u64 = 0x706d_656d_3272_6564; // "pmem2red"
const ACCOUNTS: usize = 8;
const INITIAL: u64 = 1000;
/// Layout: magic, then the log (checksum, count, entries), then the table.
const LOG_SUM: usize = 64;
const LOG_COUNT: usize = 72;
const LOG_ENTRIES: usize = 80;
const MAX_ENTRIES: usize = 16;
const TABLE: usize = 4096;
const POOL_SIZE: u64 = 64 << 10;

/// Where a simulated crash strikes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Crash {
    Never,
    BeforeCommit,
    AfterCommit,
}

struct Pool {
    map: Map,
}

fn log_checksum(entries: &[(u64, u64)]) -> u64 {
    let mut h = MAGIC ^ entries.len() as u64;
    for &(off, val) in entries {
        h = (h ^ off)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(23);
        h = (h ^ val)
            .wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
            .rotate_left(31);
    }
    h | 1 // never 0, which marks "no log"
}

impl Pool {
    fn open(path: &Path, sharing: Sharing) -> Result<Pool, Box<dyn std::error::Error>> {
        let file = File::options().read(true).write(true).open(path)?;
        let source = Source::from_file(&file)?;
        let mut config = Config::with_granularity(Granularity::Page);
        config.set_sharing(sharing);
        let mut pool = Pool {
            map: Map::new(&config, &source)?,
        };
        if pool.map.size() < TABLE + ACCOUNTS * 8 {
            return Err(format!("{}: too small for the pool", path.display()).into());
        }
        if pool.get(0)? != MAGIC {
            println!(
                "{}: new pool, {ACCOUNTS} accounts of {INITIAL}",
                path.display()
            );
            for i in 0..ACCOUNTS {
                pool.put(TABLE + i * 8, INITIAL)?;
            }
            pool.put(LOG_SUM, 0)?;
            pool.map.persist(0, pool.map.size())?;
            pool.put(0, MAGIC)?; // the pool exists once the magic is durable
            pool.map.persist(0, 8)?;
        }
        pool.recover()?;
        Ok(pool)
    }

    fn get(&self, offset: usize) -> pmem2::Result<u64> {
        let mut b = [0u8; 8];
        self.map.read(offset, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Stores without flushing; the callers flush or persist.
    fn put(&mut self, offset: usize, value: u64) -> pmem2::Result<()> {
        self.map
            .copy_from_slice(offset, &value.to_le_bytes(), pmem2::MemFlags::NOFLUSH)
    }

    fn balance(&self, account: usize) -> pmem2::Result<u64> {
        self.get(TABLE + account * 8)
    }

    fn total(&self) -> pmem2::Result<u64> {
        (0..ACCOUNTS).map(|a| self.balance(a)).sum()
    }

    /// The log's entries if it is committed (its checksum matches).
    fn committed_log(&self) -> pmem2::Result<Option<Vec<(u64, u64)>>> {
        let sum = self.get(LOG_SUM)?;
        let count = self.get(LOG_COUNT)? as usize;
        if sum == 0 || count > MAX_ENTRIES {
            return Ok(None);
        }
        let mut entries = Vec::with_capacity(count);
        for i in 0..count {
            let at = LOG_ENTRIES + i * 16;
            entries.push((self.get(at)?, self.get(at + 8)?));
        }
        Ok((log_checksum(&entries) == sum).then_some(entries))
    }

    /// Applies a committed log, then retires it.
    fn recover(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        if let Some(entries) = self.committed_log()? {
            println!(
                "recovery: applying a committed log of {} updates",
                entries.len()
            );
            self.apply(&entries)?;
        }
        Ok(())
    }

    fn apply(&mut self, entries: &[(u64, u64)]) -> Result<(), Box<dyn std::error::Error>> {
        for &(offset, value) in entries {
            let offset = usize::try_from(offset)?;
            if offset < TABLE || offset + 8 > self.map.size() {
                return Err(format!("log entry outside the table: {offset}").into());
            }
            self.put(offset, value)?;
            self.map.flush(offset, 8)?;
        }
        self.map.drain();
        // Retire the log: once this is durable, recovery won't replay it.
        // The complement (never a valid checksum, which is odd) rather than
        // 0 records that the entries are applied: a checker can then tell a
        // retired log from one never committed.
        self.put(LOG_SUM, !log_checksum(entries))?;
        self.map.persist(LOG_SUM, 8)?;
        Ok(())
    }

    /// Sets several balances atomically.
    fn transaction(
        &mut self,
        updates: &[(usize, u64)],
        crash: Crash,
    ) -> Result<(), Box<dyn std::error::Error>> {
        assert!(updates.len() <= MAX_ENTRIES);
        let entries: Vec<(u64, u64)> = updates
            .iter()
            .map(|&(account, value)| ((TABLE + account * 8) as u64, value))
            .collect();
        // 1. The log's contents, flushed range by range, then one drain.
        for (i, &(offset, value)) in entries.iter().enumerate() {
            self.put(LOG_ENTRIES + i * 16, offset)?;
            self.put(LOG_ENTRIES + i * 16 + 8, value)?;
        }
        self.put(LOG_COUNT, entries.len() as u64)?;
        self.map.flush(LOG_ENTRIES, entries.len() * 16)?;
        self.map.flush(LOG_COUNT, 8)?;
        self.map.drain();
        if crash == Crash::BeforeCommit {
            return Ok(());
        }
        // 2. The commit point.
        self.put(LOG_SUM, log_checksum(&entries))?;
        self.map.persist(LOG_SUM, 8)?;
        if crash == Crash::AfterCommit {
            return Ok(());
        }
        // 3 and 4.
        self.apply(&entries)
    }

    fn transfer(
        &mut self,
        from: usize,
        to: usize,
        amount: u64,
        crash: Crash,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let (a, b) = (self.balance(from)?, self.balance(to)?);
        let left = a.checked_sub(amount).ok_or("insufficient funds")?;
        self.transaction(&[(from, left), (to, b + amount)], crash)
    }

    fn print(&self) -> pmem2::Result<()> {
        let balances: Vec<u64> = (0..ACCOUNTS)
            .map(|a| self.balance(a))
            .collect::<pmem2::Result<_>>()?;
        println!("balances {balances:?}, total {}", self.total()?);
        Ok(())
    }
}

fn word(image: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(image[offset..offset + 8].try_into().unwrap())
}

/// Whether `image` (the whole pool) is consistent: see the module docs.
fn consistent(image: &[u8]) -> bool {
    if image.len() < TABLE + ACCOUNTS * 8 {
        return false;
    }
    if word(image, 0) != MAGIC {
        // Not created yet: the creation writes only the table and the
        // log's checksum (0) before the magic.
        return image[8..TABLE].iter().all(|&b| b == 0);
    }
    let mut table: Vec<u64> = (0..ACCOUNTS).map(|a| word(image, TABLE + a * 8)).collect();
    let (sum, count) = (word(image, LOG_SUM), word(image, LOG_COUNT) as usize);
    if sum != 0 && count <= MAX_ENTRIES {
        let entries: Vec<(u64, u64)> = (0..count)
            .map(|i| {
                let at = LOG_ENTRIES + i * 16;
                (word(image, at), word(image, at + 8))
            })
            .collect();
        if !log_checksum(&entries) == sum {
            // Retired: applied, and nothing changed those balances since
            // (a later transaction's commit replaces the checksum first).
            let applied = entries.iter().all(|&(offset, value)| {
                usize::try_from(offset)
                    .ok()
                    .and_then(|o| o.checked_sub(TABLE))
                    .is_some_and(|s| s % 8 == 0 && s / 8 < ACCOUNTS && table[s / 8] == value)
            });
            if !applied {
                return false;
            }
        }
        if log_checksum(&entries) == sum {
            for (offset, value) in entries {
                let slot = usize::try_from(offset)
                    .ok()
                    .and_then(|o| o.checked_sub(TABLE))
                    .filter(|s| s % 8 == 0 && s / 8 < ACCOUNTS);
                let Some(slot) = slot else { return false };
                table[slot / 8] = value;
            }
        }
    }
    table.iter().try_fold(0u64, |t, &b| t.checked_add(b)) == Some(ACCOUNTS as u64 * INITIAL)
}

fn demo(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut pool = Pool::open(path, Sharing::Shared)?;
    let total = pool.total()?;
    pool.transfer(0, 1, 100, Crash::Never)?;
    pool.transfer(2, 3, 250, Crash::Never)?;
    pool.print()?;
    assert_eq!(pool.total()?, total);

    println!("transfer 1 -> 4 of 50, crashing before the commit");
    let before = pool.balance(4)?;
    pool.transfer(1, 4, 50, Crash::BeforeCommit)?;
    drop(pool);
    let pool = Pool::open(path, Sharing::Shared)?;
    assert_eq!(
        pool.balance(4)?,
        before,
        "an uncommitted transfer must vanish"
    );
    assert_eq!(pool.total()?, total);
    pool.print()?;

    println!("transfer 5 -> 6 of 70, crashing after the commit");
    let mut pool = pool;
    let before = pool.balance(6)?;
    pool.transfer(5, 6, 70, Crash::AfterCommit)?;
    drop(pool);
    // A private view first: recovery runs in memory only...
    let view = Pool::open(path, Sharing::Private)?;
    assert_eq!(view.balance(6)?, before + 70);
    drop(view);
    // ...so the shared open still finds the log and recovers for real.
    let pool = Pool::open(path, Sharing::Shared)?;
    assert_eq!(
        pool.balance(6)?,
        before + 70,
        "a committed transfer must survive"
    );
    assert_eq!(pool.total()?, total);
    pool.print()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::exit_if_verify("redo", consistent);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pool = PoolFile::new(args.first(), "redo", POOL_SIZE)?;
    match args.get(1).map(String::as_str) {
        None => demo(&pool.path),
        Some("check") => Pool::open(&pool.path, Sharing::Private)?
            .print()
            .map_err(Into::into),
        Some(_) => Err("usage: redo [FILE [check]]".into()),
    }
}
