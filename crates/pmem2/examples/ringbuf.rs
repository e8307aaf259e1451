//! A persistent ring buffer between a producer thread and a consumer
//! thread: messages survive a restart, and nothing is lost or repeated.
//!
//! The buffer lives in a mapped file: a write position, a read position
//! (each in its own cache line) and a ring of fixed-size slots. The producer
//! copies a message into a free slot with the map's memcpy function and
//! `MemFlags::NONTEMPORAL` (durable, and fenced, on return), then publishes
//! it by advancing the write position and persisting that. The consumer
//! reads a slot, then advances and persists the read position.
//!
//! Two threads share the mapping, so it is accessed through raw pointers
//! and atomics (`Map` is `Sync`; the safe methods need `&mut` to write).
//! Each thread learns the other's position from a copy in DRAM, updated
//! only once the position in the file is durable: were it to read the
//! file's position, it could act on a position a crash would still lose
//! (a consumer taking a message whose publication isn't durable, then
//! making its read position durable past the durable write position; a
//! producer overwriting a slot whose consumption isn't durable).
//! `pmem2 check --explore` with this example's checker finds both when the
//! threads read each other's positions from the file.
//! When the store granularity is `Byte` (eADR), a store is durable once
//! visible, and the explicit persists of the positions are skipped.
//!
//! The demo stops the consumer three messages early, reopens the file and
//! consumes the rest, checking every message arrives once, in order.
//!
//! ```sh
//! cargo run -p pmem2 --example ringbuf              # a temporary file
//! cargo run -p pmem2 --example ringbuf -- FILE      # FILE (created, 64 KiB)
//! ```
//!
//! `ringbuf verify IMAGE` is its crash-consistency checker (for `pmem2
//! check --explore --checker "target/release/examples/ringbuf verify"`):
//! exit status 0 when IMAGE is a ring a crash could leave, 1 if not, 2 when
//! it can't be read. The invariant: no magic (not formatted yet: positions
//! zero), or `read <= write <= read + SLOTS` and every message between them
//! intact (`message SEQ` in the slot of SEQ).

mod common;

use std::ffi::c_void;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use pmem2::{Config, Granularity, Map, MemFlags, Source};

use common::PoolFile;

const MAGIC: u64 = 0x706d_656d_3272_6e67; // "pmem2rng"
const WRITE_POS: usize = 64;
const READ_POS: usize = 128;
const RING: usize = 4096;
const SLOTS: u64 = 16;
const SLOT_SIZE: usize = 64;
const MESSAGES: u64 = 100;
const LEFT_OVER: u64 = 3;

/// The ring, over a map that outlives it.
struct Ring<'m> {
    map: &'m Map,
    granularity: Granularity,
    /// The positions as last made durable, for the other thread.
    published_write: AtomicU64,
    published_read: AtomicU64,
}

impl<'m> Ring<'m> {
    /// Formats the ring if the file doesn't hold one.
    fn open(map: &'m mut Map) -> pmem2::Result<Ring<'m>> {
        let mut magic = [0u8; 8];
        map.read(0, &mut magic)?;
        if u64::from_le_bytes(magic) != MAGIC {
            map.write(WRITE_POS, &0u64.to_le_bytes())?;
            map.write(READ_POS, &0u64.to_le_bytes())?;
            map.write(0, &MAGIC.to_le_bytes())?;
        }
        let granularity = map.store_granularity();
        let mut write = [0u8; 8];
        let mut read = [0u8; 8];
        map.read(WRITE_POS, &mut write)?;
        map.read(READ_POS, &mut read)?;
        Ok(Ring {
            map,
            granularity,
            published_write: AtomicU64::new(u64::from_le_bytes(write)),
            published_read: AtomicU64::new(u64::from_le_bytes(read)),
        })
    }

    #[allow(clippy::cast_ptr_alignment)] // offsets 64 and 128 of a page-aligned map
    fn position(&self, offset: usize) -> &'m AtomicU64 {
        // SAFETY: `offset` is 64 or 128: 8-byte aligned (maps start on a
        // page) and inside the map, which outlives `'m`. AtomicU64 has u64's
        // layout, and while the ring is in use these 8 bytes are only
        // accessed through this atomic.
        unsafe { &*self.map.addr().add(offset).cast::<AtomicU64>() }
    }

    /// Makes a position durable, unless every store already is.
    fn persist_position(&self, offset: usize) {
        if self.granularity != Granularity::Byte {
            let persist = pmem2::persist::persist_fn(self.granularity);
            let position = self.map.addr().wrapping_add(offset).cast();
            // SAFETY: the 8 bytes at `position` are inside the live map.
            unsafe { persist(position, 8) };
        }
    }

    fn slot(&self, pos: u64) -> *mut u8 {
        // `pos % SLOTS` < 16 slots of 64 bytes from 4096: inside the map.
        self.map
            .addr()
            .wrapping_add(RING + (pos % SLOTS) as usize * SLOT_SIZE)
    }

    fn produce(&self, seq: u64, text: &str) {
        let write = self.position(WRITE_POS);
        let w = write.load(Ordering::Relaxed);
        while w - self.published_read.load(Ordering::Acquire) >= SLOTS {
            std::thread::yield_now(); // full
        }
        let mut message = [0u8; SLOT_SIZE];
        message[..8].copy_from_slice(&seq.to_le_bytes());
        let len = text.len().min(SLOT_SIZE - 9);
        message[8] = len as u8;
        message[9..9 + len].copy_from_slice(&text.as_bytes()[..len]);
        let memcpy = pmem2::mem::memcpy_fn(self.granularity);
        // SAFETY: the slot is inside the map, and free: the consumer is done
        // with it (the acquire load above saw the read position pass it) and
        // won't touch it until the write position below is published. The
        // function fences before returning (no NODRAIN/NOFLUSH), so the
        // non-temporal stores are ordered before that publication.
        unsafe {
            memcpy(
                self.slot(w).cast::<c_void>(),
                message.as_ptr().cast::<c_void>(),
                SLOT_SIZE,
                MemFlags::NONTEMPORAL.bits(),
            );
        }
        write.store(w + 1, Ordering::Relaxed);
        self.persist_position(WRITE_POS);
        self.published_write.store(w + 1, Ordering::Release);
    }

    fn consume(&self) -> (u64, String) {
        let read = self.position(READ_POS);
        let r = read.load(Ordering::Relaxed);
        while self.published_write.load(Ordering::Acquire) == r {
            std::thread::yield_now(); // empty
        }
        let mut message = [0u8; SLOT_SIZE];
        // SAFETY: the slot is inside the map and published (the acquire
        // load saw the write position pass it); the producer won't reuse it
        // until the read position below moves on.
        unsafe { std::ptr::copy_nonoverlapping(self.slot(r), message.as_mut_ptr(), SLOT_SIZE) };
        read.store(r + 1, Ordering::Relaxed);
        self.persist_position(READ_POS);
        self.published_read.store(r + 1, Ordering::Release);
        let seq = u64::from_le_bytes(message[..8].try_into().expect("8 bytes"));
        let len = usize::from(message[8]).min(SLOT_SIZE - 9);
        (
            seq,
            String::from_utf8_lossy(&message[9..9 + len]).into_owned(),
        )
    }
}

fn word(image: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(image[offset..offset + 8].try_into().unwrap())
}

/// Whether `image` (the whole ring file) is consistent: see the module docs.
fn consistent(image: &[u8]) -> bool {
    if image.len() < RING + SLOTS as usize * SLOT_SIZE {
        return false;
    }
    let (write, read) = (word(image, WRITE_POS), word(image, READ_POS));
    if word(image, 0) != MAGIC {
        return write == 0 && read == 0;
    }
    if read > write || write - read > SLOTS {
        return false;
    }
    (read..write).all(|seq| {
        let at = RING + (seq % SLOTS) as usize * SLOT_SIZE;
        let slot = &image[at..at + SLOT_SIZE];
        let len = usize::from(slot[8]).min(SLOT_SIZE - 9);
        word(slot, 0) == seq && slot[9..9 + len] == *format!("message {seq}").as_bytes()
    })
}

fn map_file(path: &Path) -> Result<Map, Box<dyn std::error::Error>> {
    let file = File::options().read(true).write(true).open(path)?;
    let source = Source::from_file(&file)?;
    Ok(Map::new(
        &Config::with_granularity(Granularity::Page),
        &source,
    )?)
}

fn expect(seq: u64, got: &(u64, String)) -> Result<(), String> {
    if got.0 == seq && got.1 == format!("message {seq}") {
        Ok(())
    } else {
        Err(format!("expected message {seq}, got {got:?}"))
    }
}

fn demo(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut map = map_file(path)?;
    let ring = Ring::open(&mut map)?;
    let first = ring.position(READ_POS).load(Ordering::Relaxed);
    let pending = ring.position(WRITE_POS).load(Ordering::Relaxed) - first;
    println!(
        "ring at {} (granularity {}, positions {}persisted explicitly)",
        path.display(),
        ring.granularity,
        if ring.granularity == Granularity::Byte {
            "not "
        } else {
            ""
        }
    );
    if pending > 0 {
        println!("{pending} messages left from an earlier run: consuming them");
        for i in 0..pending {
            expect(first + i, &ring.consume())?;
        }
    }

    // Run 1: the consumer stops LEFT_OVER messages early.
    let base = ring.position(WRITE_POS).load(Ordering::Relaxed);
    std::thread::scope(|s| -> Result<(), String> {
        s.spawn(|| {
            for seq in base..base + MESSAGES {
                ring.produce(seq, &format!("message {seq}"));
            }
        });
        let consumer = s.spawn(|| -> Result<(), String> {
            for seq in base..base + MESSAGES - LEFT_OVER {
                expect(seq, &ring.consume())?;
            }
            Ok(())
        });
        consumer.join().map_err(|_| "the consumer panicked")?
    })?;
    println!(
        "produced {MESSAGES}, consumed {} before stopping",
        MESSAGES - LEFT_OVER
    );
    drop(map); // unmaps: the ring's borrow of it ended above

    // Run 2, as after a restart: the rest is still there, in order.
    let mut map = map_file(path)?;
    let ring = Ring::open(&mut map)?;
    let read = ring.position(READ_POS).load(Ordering::Relaxed);
    let write = ring.position(WRITE_POS).load(Ordering::Relaxed);
    println!("reopened: {} messages waiting", write - read);
    assert_eq!(write - read, LEFT_OVER);
    for seq in read..write {
        let got = ring.consume();
        expect(seq, &got)?;
        println!("  {}: {}", got.0, got.1);
    }
    println!("every message arrived once, in order");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::exit_if_verify("ringbuf", consistent);
    let pool = PoolFile::new(std::env::args_os().nth(1), "ringbuf", 64 << 10)?;
    demo(&pool.path)
}
