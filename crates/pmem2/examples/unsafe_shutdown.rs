//! Refusing stale data after an unsafe shutdown.
//!
//! If power fails while stores are still in flight to the NVDIMM (an ADR
//! failure), the device counts an *unsafe shutdown*. A pool that was open
//! at that moment may have lost stores it believed durable. So the pool
//! records, while it is open, the device id and unsafe shutdown count
//! (USC) of its source, plus a "dirty" flag; at the next open:
//!
//! | stored state | verdict |
//! |---|---|
//! | clean | fine: record the current device and count |
//! | dirty, same device, same count | fine: a crash, but no stores were lost |
//! | dirty, same device, count changed | refuse: stores may have been lost |
//! | dirty, another device | refuse: the file was copied while in use |
//!
//! Header updates are made durable with `Map::persist` and then
//! `Map::deep_flush`, which also pushes them out of the memory controller's
//! queues on a device DAX.
//!
//! Files outside an NVDIMM (tmpfs, ext4 on a disk) have no USC: pmem2
//! returns `Error::NotSupported`; the example prints the reason and carries
//! on unchecked. The demo then runs the checks on simulated states, so the
//! logic is exercised on every machine.
//!
//! ```sh
//! cargo run -p pmem2 --example unsafe_shutdown                    # demo, temporary file
//! cargo run -p pmem2 --example unsafe_shutdown -- FILE write TEXT
//! cargo run -p pmem2 --example unsafe_shutdown -- FILE read
//! ```
//!
//! `unsafe_shutdown verify IMAGE` is its crash-consistency checker (for
//! `pmem2 check --explore`): exit status 0 when IMAGE is a pool a crash
//! could leave, 1 if not, 2 when it can't be read. The invariant: no magic
//! and nothing but zeros (never created), or lengths in range and data of
//! the recorded length free of NUL bytes (it comes from a command-line
//! argument or the demo's text: zeros there are data lost, published by a
//! length made durable first).

mod common;

use std::fs::File;
use std::path::Path;

use pmem2::{Config, Error, Granularity, Map, Source};

use common::PoolFile;

const MAGIC: u64 = 0x706d_656d_3275_7363; // "pmem2usc"
const USC: usize = 8;
const DIRTY: usize = 16;
const ID_LEN: usize = 24;
const ID: usize = 32;
const ID_MAX: usize = 480;
const DATA_LEN: usize = 512;
const DATA: usize = 520;

/// The identity and health of the device under a source.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Device {
    id: String,
    usc: u64,
}

/// Why a pool can't be trusted.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    UnsafeShutdown { was: u64, now: u64 },
    OtherDevice,
}

/// The verdict table of the module docs.
fn check(stored: &Device, dirty: bool, current: &Device) -> Result<(), Refusal> {
    if !dirty {
        return Ok(());
    }
    if stored.id != current.id {
        return Err(Refusal::OtherDevice);
    }
    if stored.usc != current.usc {
        return Err(Refusal::UnsafeShutdown {
            was: stored.usc,
            now: current.usc,
        });
    }
    Ok(())
}

/// The device under `source`, or `None` (with the reason printed) when the
/// platform can't tell.
fn current_device(source: &Source<'_>) -> pmem2::Result<Option<Device>> {
    let answer = source.device_id().and_then(|id| {
        Ok(Device {
            id,
            usc: source.device_usc()?,
        })
    });
    match answer {
        Ok(d) => Ok(Some(d)),
        Err(e @ (Error::NotSupported(_) | Error::DaxRegionNotFound(_))) => {
            println!(
                "unsafe shutdown detection not available: {e} ({})",
                e.code_name()
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

struct Pool {
    map: Map,
}

impl Pool {
    /// Opens the pool, checking it against the device; marks it dirty.
    fn open(path: &Path) -> Result<Pool, Box<dyn std::error::Error>> {
        let file = File::options().read(true).write(true).open(path)?;
        let source = Source::from_file(&file)?;
        let mut pool = Pool {
            map: Map::new(&Config::with_granularity(Granularity::Page), &source)?,
        };
        let device = current_device(&source)?;
        if pool.u64_at(0)? != MAGIC {
            pool.set(DATA_LEN, &0u64.to_le_bytes())?;
            pool.set(DIRTY, &0u64.to_le_bytes())?;
            pool.set(0, &MAGIC.to_le_bytes())?;
        } else if let Some(current) = &device {
            let stored = pool.stored_device()?;
            let dirty = pool.u64_at(DIRTY)? != 0;
            match check(&stored, dirty, current) {
                Ok(()) => {}
                Err(Refusal::UnsafeShutdown { was, now }) => {
                    return Err(format!(
                        "{}: unsafe shutdown while in use (count {was} -> {now}): data may be lost, refusing it",
                        path.display()
                    )
                    .into())
                }
                Err(Refusal::OtherDevice) => {
                    return Err(format!(
                        "{}: copied from another device while in use: refusing it",
                        path.display()
                    )
                    .into())
                }
            }
        }
        if let Some(d) = &device {
            pool.set_device(d)?;
        }
        pool.set(DIRTY, &1u64.to_le_bytes())?;
        Ok(pool)
    }

    fn u64_at(&self, offset: usize) -> pmem2::Result<u64> {
        let mut b = [0u8; 8];
        self.map.read(offset, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Writes and makes durable all the way into the persistence domain.
    fn set(&mut self, offset: usize, bytes: &[u8]) -> pmem2::Result<()> {
        self.map.write(offset, bytes)?; // copy + persist
        self.map.deep_flush(offset, bytes.len())
    }

    fn stored_device(&self) -> pmem2::Result<Device> {
        let len = (self.u64_at(ID_LEN)? as usize).min(ID_MAX);
        let mut id = vec![0u8; len];
        self.map.read(ID, &mut id)?;
        Ok(Device {
            id: String::from_utf8_lossy(&id).into_owned(),
            usc: self.u64_at(USC)?,
        })
    }

    fn set_device(&mut self, d: &Device) -> pmem2::Result<()> {
        let id = &d.id.as_bytes()[..d.id.len().min(ID_MAX)];
        self.set(ID, id)?;
        self.set(ID_LEN, &(id.len() as u64).to_le_bytes())?;
        self.set(USC, &d.usc.to_le_bytes())
    }

    fn write_data(&mut self, data: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
        if data.contains(&0) {
            return Err("data must not contain NUL bytes".into());
        }
        if DATA + data.len() > self.map.size() {
            return Err("data too long for the pool".into());
        }
        self.set(DATA, data)?;
        self.set(DATA_LEN, &(data.len() as u64).to_le_bytes())?;
        Ok(())
    }

    fn read_data(&self) -> pmem2::Result<String> {
        let len = (self.u64_at(DATA_LEN)? as usize).min(self.map.size() - DATA);
        let mut data = vec![0u8; len];
        self.map.read(DATA, &mut data)?;
        Ok(String::from_utf8_lossy(&data).into_owned())
    }

    /// A clean close: the next open needn't check anything.
    fn close(mut self) -> pmem2::Result<()> {
        self.set(DIRTY, &0u64.to_le_bytes())
    }
}

/// Whether `image` (the whole pool) is consistent: see the module docs.
fn consistent(image: &[u8]) -> bool {
    let word = |at: usize| u64::from_le_bytes(image[at..at + 8].try_into().unwrap());
    if image.len() < DATA {
        return false;
    }
    if word(0) != MAGIC {
        return image.iter().all(|&b| b == 0);
    }
    let (id_len, data_len) = (word(ID_LEN), word(DATA_LEN));
    id_len <= ID_MAX as u64
        && word(DIRTY) <= 1
        && usize::try_from(data_len)
            .ok()
            .and_then(|n| image.get(DATA..DATA + n))
            .is_some_and(|data| !data.contains(&0))
}

fn demo(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut pool = Pool::open(path)?;
    pool.write_data(b"important data")?;
    pool.close()?;
    let pool = Pool::open(path)?;
    println!("read back: {}", pool.read_data()?);
    pool.close()?;

    println!("the checks, on simulated device states:");
    let dev = |id: &str, usc| Device {
        id: id.to_owned(),
        usc,
    };
    let cases = [
        ("clean pool, count changed", false, dev("nmem0", 7), Ok(())),
        (
            "dirty pool, same count (a crash, no loss)",
            true,
            dev("nmem0", 3),
            Ok(()),
        ),
        (
            "dirty pool, count 3 -> 4",
            true,
            dev("nmem0", 4),
            Err(Refusal::UnsafeShutdown { was: 3, now: 4 }),
        ),
        (
            "dirty pool, other device",
            true,
            dev("nmem9", 3),
            Err(Refusal::OtherDevice),
        ),
    ];
    for (what, dirty, current, expected) in cases {
        let verdict = check(&dev("nmem0", 3), dirty, &current);
        println!("  {what}: {verdict:?}");
        assert_eq!(verdict, expected);
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::exit_if_verify("unsafe_shutdown", consistent);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pool = PoolFile::new(args.first(), "usc", 4096)?;
    match (args.get(1).map(String::as_str), args.get(2)) {
        (None, _) => demo(&pool.path),
        (Some("write"), Some(data)) => {
            let mut p = Pool::open(&pool.path)?;
            p.write_data(data.as_bytes())?;
            Ok(p.close()?)
        }
        (Some("read"), None) => {
            let p = Pool::open(&pool.path)?;
            println!("{}", p.read_data()?);
            Ok(p.close()?)
        }
        _ => Err("usage: unsafe_shutdown [FILE [write DATA | read]]".into()),
    }
}
