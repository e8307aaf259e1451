//! The per-mapping, per-cache-line state machine of the checker: which
//! lines hold stores that are not durable yet, and why.
//!
//! Pure bookkeeping over addresses: it reads the mapped bytes (to compare
//! them with a shadow copy) but makes no system call. The events are the
//! ones pmem2 sees: a CPU flush, a fence, an `msync`, a store by pmem2's own
//! memory functions, and a crash point (unmap, exit, a named point), at
//! which every line still in flight becomes a verdict.
//!
//! | state | entered by | left by |
//! |---|---|---|
//! | clean (absent) | registration; a fence after a flush; an `msync` | a change seen against the shadow; a pmem2 store |
//! | `Dirty` | a change seen against the shadow; a `NOFLUSH` store | a flush (→ `Flushed`); an `msync` |
//! | `Flushed` | a CPU flush of a dirty line; a temporal pmem2 store | a fence; a new change (→ `Dirty`) |
//! | `Nt` | a non-temporal pmem2 store | a fence; a new change (→ `Dirty`) |
//!
//! Per granularity: on a PAGE map only `msync` makes lines durable (CPU
//! flushes and fences change nothing); on a BYTE map (eADR) the caches are
//! persistent, so temporal stores are durable at once and only
//! non-temporal ones wait for a fence.

use std::backtrace::Backtrace;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::Granularity;

/// The cache-line size the checker models (every CPU pmem2 supports).
pub(crate) const LINE: usize = 64;

/// Where an event happened: captured once per event, and only when a line
/// or a verdict keeps it.
pub(crate) type Site = Arc<Backtrace>;

/// A lazily captured [`Site`].
#[derive(Default)]
pub(crate) struct LazySite(Option<Site>);

impl LazySite {
    /// The backtrace of the current call, captured on first use.
    pub(crate) fn get(&mut self) -> Site {
        self.0
            .get_or_insert_with(|| Arc::new(Backtrace::force_capture()))
            .clone()
    }
}

/// What a line in flight is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Modified, never flushed.
    Dirty,
    /// Flushed, not fenced yet.
    Flushed,
    /// Written by non-temporal stores, not drained yet.
    Nt,
}

/// A line in flight.
struct Line {
    state: State,
    /// Where the line entered its state (`None` until the event ends).
    site: Option<Site>,
    /// Already reported at a crash point (not reported again until its
    /// state changes).
    reported: bool,
}

/// How a pmem2 memory function stored a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Store {
    /// Temporal stores, each line flushed.
    Flushed,
    /// Non-temporal stores.
    NonTemporal,
    /// Temporal stores, nothing flushed (`NOFLUSH`).
    NoFlush,
}

/// The kinds of verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    /// 1: modified lines never flushed, at a crash point.
    NotFlushed,
    /// 1: flushed lines never fenced, at a crash point.
    NotFenced,
    /// 2: non-temporal stores never drained, at a crash point.
    NtNotDrained,
    /// 4: persist or flush of a range outside every mapping.
    OutsideMappings,
    /// 3: flush of lines not modified since they were last durable.
    Superfluous,
    /// 3: flush of lines already flushed and not modified since.
    Redundant,
    /// 5: a possible crash state the consistency checker rejects.
    CrashState,
}

impl Kind {
    /// The name used in the JSON report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::NotFlushed => "not_flushed",
            Kind::NotFenced => "not_fenced",
            Kind::NtNotDrained => "nt_not_drained",
            Kind::OutsideMappings => "outside_mappings",
            Kind::Superfluous => "superfluous_flush",
            Kind::Redundant => "redundant_flush",
            Kind::CrashState => "crash_state",
        }
    }

    /// Whether it is a durability verdict (1, 2, 4) rather than a
    /// performance note (3).
    pub(crate) fn is_durability(self) -> bool {
        !matches!(self, Kind::Superfluous | Kind::Redundant)
    }

    fn of(state: State) -> Kind {
        match state {
            State::Dirty => Kind::NotFlushed,
            State::Flushed => Kind::NotFenced,
            State::Nt => Kind::NtNotDrained,
        }
    }
}

/// One finding: `lines` cache lines (or calls, for [`Kind::OutsideMappings`])
/// of one kind at one crash point, caused at one site.
#[derive(Clone)]
pub(crate) struct Finding {
    pub(crate) kind: Kind,
    /// `unmap`, `exit`, `point "NAME"`, or the event (`flush`, ...).
    pub(crate) point: String,
    pub(crate) lines: usize,
    /// Address of the first line (or of the range).
    pub(crate) addr: usize,
    /// Offset of the first line in its map (`None` outside every map).
    pub(crate) offset: Option<usize>,
    pub(crate) site: Option<Site>,
    /// More to say (a crash state's ID and lines).
    pub(crate) detail: Option<String>,
}

/// One checked mapping.
pub(crate) struct Tracked {
    pub(crate) start: usize,
    pub(crate) granularity: Granularity,
    /// The bytes as last seen by the checker (the map's size).
    shadow: Vec<u8>,
    /// The bytes known durable (kept only when exploring crash states).
    durable: Option<Vec<u8>>,
    /// Stores seen since the log last took them, as (address, value,
    /// size) of each changed 8-byte word (kept only with a store log).
    pub(crate) stores: Option<Vec<(usize, u64, usize)>>,
    /// The lines in flight, by index.
    pending: BTreeMap<usize, Line>,
    /// With write-tracking: the pages (of [`Tracked::page`] bytes) written
    /// since they were last compared, one bit each. `None`: every
    /// comparison reads every line asked for.
    written: Option<Vec<u64>>,
    page: usize,
}

impl Tracked {
    /// Starts tracking `[start, start + size)`; its current contents are
    /// taken as durable.
    ///
    /// # Safety
    /// The range must be mapped readable while the value lives.
    pub(crate) unsafe fn new(
        start: usize,
        size: usize,
        granularity: Granularity,
        keep_durable: bool,
        keep_stores: bool,
    ) -> Self {
        let mut shadow = vec![0u8; size];
        // SAFETY: the caller guarantees the range is readable; `shadow`
        // is a distinct buffer of the same size. Raw copy, no reference to
        // the mapped bytes.
        unsafe { std::ptr::copy_nonoverlapping(start as *const u8, shadow.as_mut_ptr(), size) };
        Tracked {
            start,
            granularity,
            durable: keep_durable.then(|| shadow.clone()),
            stores: keep_stores.then(Vec::new),
            shadow,
            pending: BTreeMap::new(),
            written: None,
            page: 4096,
        }
    }

    /// From now on, whole-range comparisons ([`Tracked::observe_written`])
    /// read only the pages [`Tracked::mark_written`] names: the caller
    /// tracks writes to the map's pages of `page` bytes, armed before the
    /// shadow was taken.
    pub(crate) fn track_writes(&mut self, page: usize) {
        let pages = self.shadow.len().div_ceil(page);
        self.written = Some(vec![0; pages.div_ceil(64)]);
        self.page = page;
    }

    /// Stops write-tracking (the tracker failed): compare everything.
    pub(crate) fn stop_tracking_writes(&mut self) {
        self.written = None;
    }

    /// The pages of the address ranges `written` were written to since the
    /// last call.
    pub(crate) fn mark_written(&mut self, written: &[(usize, usize)]) {
        let (page, start, size) = (self.page, self.start, self.shadow.len());
        let Some(bits) = &mut self.written else {
            return;
        };
        for &(from, to) in written {
            let from = from.max(start) - start;
            let to = to.min(start + size).saturating_sub(start);
            for p in from / page..to.div_ceil(page) {
                bits[p / 64] |= 1 << (p % 64);
            }
        }
    }

    /// [`Tracked::observe`] of lines `[first, last)`, reading only the
    /// pages written since they were last compared when writes are
    /// tracked; a page wholly compared is no longer marked.
    pub(crate) fn observe_written(&mut self, first: usize, last: usize) -> usize {
        let Some(mut bits) = self.written.take() else {
            return self.observe(first, last);
        };
        let per_page = self.page / LINE;
        let mut changed = 0;
        let pages = (first / per_page)..last.div_ceil(per_page);
        for p in pages {
            if bits[p / 64] & (1 << (p % 64)) == 0 {
                continue;
            }
            let (from, to) = ((p * per_page).max(first), ((p + 1) * per_page).min(last));
            changed += self.observe(from, to);
            let whole = from == p * per_page
                && (to == (p + 1) * per_page || to * LINE >= self.shadow.len());
            if whole {
                bits[p / 64] &= !(1 << (p % 64));
            }
        }
        self.written = Some(bits);
        changed
    }

    /// Records the 8-byte words of line `idx` whose new bytes `now` differ
    /// from the shadow (store log only).
    fn log_words(&mut self, idx: usize, now: &[u8]) {
        let Some(stores) = &mut self.stores else {
            return;
        };
        let off = idx * LINE;
        for (w, new) in now.chunks(8).enumerate() {
            let at = off + w * 8;
            if *new != self.shadow[at..at + new.len()] {
                let mut word = [0u8; 8];
                word[..new.len()].copy_from_slice(new);
                stores.push((self.start + at, u64::from_ne_bytes(word), new.len()));
            }
        }
    }

    /// Line `idx` became durable with its shadow bytes.
    fn make_durable(&mut self, idx: usize) {
        if let Some(durable) = &mut self.durable {
            let off = idx * LINE;
            let n = LINE.min(self.shadow.len() - off);
            durable[off..off + n].copy_from_slice(&self.shadow[off..off + n]);
        }
    }

    /// The lines in flight, in address order.
    pub(crate) fn in_flight(&self) -> Vec<usize> {
        self.pending.keys().copied().collect()
    }

    /// The lines a fence would make durable now (flushed or non-temporal).
    pub(crate) fn fenceable(&self) -> Vec<usize> {
        if self.granularity == Granularity::Page {
            return Vec::new();
        }
        self.pending
            .iter()
            .filter(|(_, l)| l.state != State::Dirty)
            .map(|(k, _)| *k)
            .collect()
    }

    /// A possible crash image: the durable bytes with the (shadow) bytes of
    /// `lines` applied. `None` unless the tracker keeps the durable image.
    pub(crate) fn image(&self, lines: &[usize]) -> Option<Vec<u8>> {
        let mut image = self.durable.clone()?;
        for &idx in lines {
            let off = idx * LINE;
            let n = LINE.min(self.shadow.len() - off);
            image[off..off + n].copy_from_slice(&self.shadow[off..off + n]);
        }
        Some(image)
    }

    pub(crate) fn end(&self) -> usize {
        self.start + self.shadow.len()
    }

    /// The line indices `[first, last)` of this map that `[addr, addr + len)`
    /// touches (clipped to the map).
    pub(crate) fn lines_of(&self, addr: usize, len: usize) -> (usize, usize) {
        let from = addr.max(self.start) - self.start;
        let to = addr
            .saturating_add(len)
            .min(self.end())
            .saturating_sub(self.start);
        if to <= from {
            return (0, 0);
        }
        (from / LINE, to.div_ceil(LINE))
    }

    /// Compares lines `[first, last)` with the shadow; every changed line
    /// is copied into the shadow and becomes dirty (its site to be filled
    /// by [`Tracked::fill_sites`]). Returns the number of changed lines.
    pub(crate) fn observe(&mut self, first: usize, last: usize) -> usize {
        let mut changed = 0;
        let size = self.shadow.len();
        for idx in first..last {
            let off = idx * LINE;
            let n = LINE.min(size - off);
            let mut now = [0u8; LINE];
            // SAFETY: `[start + off, start + off + n)` is inside the
            // tracked map, readable while it is tracked (`new`'s contract).
            unsafe {
                std::ptr::copy_nonoverlapping((self.start + off) as *const u8, now.as_mut_ptr(), n);
            }
            if now[..n] == self.shadow[off..off + n] {
                continue;
            }
            self.log_words(idx, &now[..n]);
            self.shadow[off..off + n].copy_from_slice(&now[..n]);
            changed += 1;
            if self.granularity == Granularity::Byte {
                // eADR: a store in the cache is durable.
                self.make_durable(idx);
                continue;
            }
            self.pending.insert(
                idx,
                Line {
                    state: State::Dirty,
                    site: None,
                    reported: false,
                },
            );
        }
        changed
    }

    /// Gives every line in `[first, last)` that is in flight without a site
    /// the site of the event that just ended.
    pub(crate) fn fill_sites(&mut self, first: usize, last: usize, site: &mut LazySite) {
        for line in self.pending.range_mut(first..last).map(|(_, l)| l) {
            if line.site.is_none() {
                line.site = Some(site.get());
            }
        }
    }

    /// A CPU flush of lines `[first, last)` (after [`Tracked::observe`]).
    /// Returns `(superfluous, redundant)` line counts.
    pub(crate) fn flush(&mut self, first: usize, last: usize) -> (usize, usize) {
        if self.granularity != Granularity::CacheLine {
            // PAGE: a CPU flush doesn't reach the file; BYTE: not needed.
            return (0, 0);
        }
        let (mut superfluous, mut redundant) = (0, 0);
        for idx in first..last {
            match self.pending.get_mut(&idx) {
                None => superfluous += 1,
                Some(line) => match line.state {
                    State::Dirty => {
                        line.state = State::Flushed;
                        line.site = None;
                        line.reported = false;
                    }
                    State::Flushed => redundant += 1,
                    State::Nt => {}
                },
            }
        }
        (superfluous, redundant)
    }

    /// A fence: flushed and non-temporal lines become durable.
    pub(crate) fn fence(&mut self) {
        for idx in self.fenceable() {
            self.pending.remove(&idx);
            self.make_durable(idx);
        }
    }

    /// An `msync` of lines `[first, last)` (after [`Tracked::observe`]):
    /// they become durable. Returns whether any of them was in flight.
    pub(crate) fn msync(&mut self, first: usize, last: usize) -> bool {
        let keys: Vec<usize> = self.pending.range(first..last).map(|(k, _)| *k).collect();
        for &k in &keys {
            self.pending.remove(&k);
            self.make_durable(k);
        }
        !keys.is_empty()
    }

    /// A pmem2 memory function stored lines `[first, last)`, which already
    /// hold the new bytes: they enter the state the store leaves them in.
    pub(crate) fn stored(&mut self, first: usize, last: usize, how: Store) {
        let size = self.shadow.len();
        for idx in first..last {
            let off = idx * LINE;
            let n = LINE.min(size - off);
            let mut now = [0u8; LINE];
            // SAFETY: as in `observe`: inside the tracked, readable map.
            unsafe {
                std::ptr::copy_nonoverlapping((self.start + off) as *const u8, now.as_mut_ptr(), n);
            }
            self.log_words(idx, &now[..n]);
            self.shadow[off..off + n].copy_from_slice(&now[..n]);
            let state = match (self.granularity, how) {
                (Granularity::Byte | Granularity::CacheLine, Store::NonTemporal) => Some(State::Nt),
                (Granularity::Byte, _) => None,
                (Granularity::Page, _) | (_, Store::NoFlush) => Some(State::Dirty),
                (Granularity::CacheLine, Store::Flushed) => Some(State::Flushed),
            };
            match state {
                None => {
                    self.pending.remove(&idx);
                    self.make_durable(idx);
                }
                Some(state) => {
                    self.pending.insert(
                        idx,
                        Line {
                            state,
                            site: None,
                            reported: false,
                        },
                    );
                }
            }
        }
    }

    /// A crash point: every line still in flight and not yet reported
    /// becomes a finding (grouped by kind and site, in address order).
    pub(crate) fn crash_point(&mut self, point: &str, out: &mut Vec<Finding>) {
        let mut groups: Vec<Finding> = Vec::new();
        for (&idx, line) in &mut self.pending {
            if line.reported {
                continue;
            }
            line.reported = true;
            let kind = Kind::of(line.state);
            let same = |f: &Finding| {
                f.kind == kind
                    && match (&f.site, &line.site) {
                        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                        (None, None) => true,
                        _ => false,
                    }
            };
            if let Some(f) = groups.iter_mut().find(|f| same(f)) {
                f.lines += 1;
            } else {
                groups.push(Finding {
                    kind,
                    point: point.to_owned(),
                    lines: 1,
                    addr: self.start + idx * LINE,
                    offset: Some(idx * LINE),
                    site: line.site.clone(),
                    detail: None,
                });
            }
        }
        out.extend(groups);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(buf: &mut [u8], g: Granularity) -> Tracked {
        // SAFETY: the buffer outlives the tracker in each test.
        unsafe { Tracked::new(buf.as_ptr() as usize, buf.len(), g, true, true) }
    }

    fn kinds(t: &mut Tracked) -> Vec<(Kind, usize)> {
        let mut out = Vec::new();
        t.crash_point("test", &mut out);
        out.iter().map(|f| (f.kind, f.lines)).collect()
    }

    /// With write-tracking, whole-map comparisons read only the pages marked
    /// written, and a page compared whole is unmarked.
    #[test]
    fn write_tracking_narrows_comparisons() {
        let mut buf = vec![0u8; 4 * 4096];
        let mut t = tracked(&mut buf, Granularity::CacheLine);
        t.track_writes(4096);
        let base = t.start;
        // SAFETY: inside `buf`, which `t` reads; no reference held.
        let poke = |off: usize, v: u8| unsafe { ((base + off) as *mut u8).write_volatile(v) };
        poke(100, 1); // page 0
        poke(2 * 4096 + 64, 2); // page 2
        let (first, last) = t.lines_of(base, usize::MAX);
        // Nothing marked: nothing read.
        assert_eq!(t.observe_written(first, last), 0);
        t.mark_written(&[(base + 2 * 4096, base + 3 * 4096)]);
        assert_eq!(t.observe_written(first, last), 1);
        assert_eq!(t.in_flight(), vec![(2 * 4096 + 64) / LINE]);
        // Page 2 was compared whole: unmarked, a new store there is unseen
        // until the tracker reports it again.
        poke(2 * 4096 + 128, 3);
        assert_eq!(t.observe_written(first, last), 0);
        // A partial comparison leaves the page marked.
        t.mark_written(&[(base, base + 4096), (base + 2 * 4096, base + 3 * 4096)]);
        assert_eq!(t.observe_written(0, 1), 0);
        assert_eq!(t.observe_written(first, last), 2);
        // Without tracking, everything is read.
        t.stop_tracking_writes();
        poke(3 * 4096, 4);
        assert_eq!(t.observe_written(first, last), 1);
    }

    #[test]
    fn store_flush_fence_cycle() {
        let mut buf = vec![0u8; 1000];
        let mut t = tracked(&mut buf, Granularity::CacheLine);
        let p = buf.as_mut_ptr();
        // SAFETY: inside the buffer (raw store, as a program would).
        unsafe { p.add(70).write_volatile(1) };
        assert_eq!(t.observe(0, 16), 1);
        assert_eq!(kinds(&mut t), vec![(Kind::NotFlushed, 1)]);
        // Reported once only.
        assert_eq!(kinds(&mut t), vec![]);
        assert_eq!(t.flush(1, 2), (0, 0));
        assert_eq!(kinds(&mut t), vec![(Kind::NotFenced, 1)]);
        assert_eq!(t.flush(0, 2), (1, 1));
        t.fence();
        assert_eq!(kinds(&mut t), vec![]);
        assert_eq!(t.observe(0, 16), 0);
        // The last line is partial (1000 = 15 * 64 + 40).
        // SAFETY: inside the buffer.
        unsafe { p.add(999).write_volatile(9) };
        assert_eq!(t.lines_of(p as usize + 990, 100), (15, 16));
        assert_eq!(t.observe(15, 16), 1);
    }

    #[test]
    fn crash_images() {
        let mut buf = vec![0u8; 256];
        let mut t = tracked(&mut buf, Granularity::CacheLine);
        let p = buf.as_mut_ptr();
        // SAFETY: inside the buffer.
        unsafe {
            p.write_volatile(1);
            p.add(64).write_volatile(2);
        }
        t.observe(0, 4);
        let base = buf.as_ptr() as usize;
        assert_eq!(
            t.stores.take().unwrap(),
            vec![(base, 1, 8), (base + 64, 2, 8)]
        );
        t.flush(1, 2);
        assert_eq!(t.in_flight(), vec![0, 1]);
        assert_eq!(t.fenceable(), vec![1]);
        let none = t.image(&[]).unwrap();
        assert!(none.iter().all(|&b| b == 0));
        let both = t.image(&[0, 1]).unwrap();
        assert_eq!((both[0], both[64]), (1, 2));
        t.fence();
        let after = t.image(&[]).unwrap();
        assert_eq!((after[0], after[64]), (0, 2));
    }

    #[test]
    fn stores_by_kind_and_granularity() {
        let mut buf = vec![0u8; 256];
        let mut t = tracked(&mut buf, Granularity::CacheLine);
        t.stored(0, 1, Store::NonTemporal);
        t.stored(1, 2, Store::NoFlush);
        t.stored(2, 3, Store::Flushed);
        let mut got = kinds(&mut t);
        got.sort();
        assert_eq!(
            got,
            vec![
                (Kind::NotFlushed, 1),
                (Kind::NotFenced, 1),
                (Kind::NtNotDrained, 1)
            ]
        );
        t.fence();
        assert_eq!(t.pending.len(), 1);
        let mut page = tracked(&mut buf, Granularity::Page);
        page.stored(0, 2, Store::Flushed);
        page.fence();
        assert_eq!(page.flush(0, 2), (0, 0));
        assert!(page.msync(0, 4));
        assert!(!page.msync(0, 4));
        let mut byte = tracked(&mut buf, Granularity::Byte);
        byte.stored(0, 2, Store::Flushed);
        byte.stored(2, 3, Store::NonTemporal);
        assert_eq!(kinds(&mut byte), vec![(Kind::NtNotDrained, 1)]);
    }
}
