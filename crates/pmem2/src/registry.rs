//! The process-wide registry of mappings: the one place that knows which
//! address ranges hold a pmem2 map.
//!
//! Every [`Map`](crate::Map) (created, from existing memory, or inside a
//! reservation) is registered here for its lifetime, and a map being
//! created inside a reservation *claims* its range here first. PAGE
//! persist walks the registry to find what to `msync`; reservations answer
//! their `find` queries from it (the entries tagged with their id); the C
//! ABI finds its handles through each entry's user word. Registration
//! refuses a range that overlaps an entry, so the registry never holds two
//! overlapping mappings. The bookkeeping is [`IntervalMap`], which does no
//! system calls and runs under Miri.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Non-overlapping half-open intervals `[start, end)` with a value each,
/// keyed by start.
#[derive(Debug, Clone)]
pub(crate) struct IntervalMap<V> {
    by_start: BTreeMap<usize, (usize, V)>,
}

impl<V> Default for IntervalMap<V> {
    fn default() -> Self {
        IntervalMap {
            by_start: BTreeMap::new(),
        }
    }
}

impl<V> IntervalMap<V> {
    /// Inserts `[start, end)` unless it overlaps an interval already present,
    /// in which case the first overlapping interval's start is returned.
    ///
    /// An empty interval (`start == end`) overlaps an interval that contains
    /// `start`, and two empty intervals at one address overlap each other,
    /// so even zero-length entries stay unique.
    pub(crate) fn insert(&mut self, start: usize, end: usize, value: V) -> Result<(), usize> {
        debug_assert!(start <= end);
        if let Some((existing, _)) = self.first_overlap(start, end) {
            return Err(existing);
        }
        if self.by_start.contains_key(&start) {
            return Err(start);
        }
        self.by_start.insert(start, (end, value));
        Ok(())
    }

    /// Removes the interval starting exactly at `start`.
    pub(crate) fn remove(&mut self, start: usize) -> Option<(usize, V)> {
        self.by_start.remove(&start)
    }

    /// The interval starting exactly at `start`.
    pub(crate) fn get(&self, start: usize) -> Option<(usize, &V)> {
        self.by_start.get(&start).map(|(end, v)| (*end, v))
    }

    /// The value of the interval starting exactly at `start`, mutably.
    pub(crate) fn get_mut(&mut self, start: usize) -> Option<&mut V> {
        self.by_start.get_mut(&start).map(|(_, v)| v)
    }

    /// Intervals overlapping `[start, end)`, in address order, as
    /// `(start, end, value)`. An empty query range overlaps the interval
    /// containing its address.
    pub(crate) fn overlapping(
        &self,
        start: usize,
        end: usize,
    ) -> impl Iterator<Item = (usize, usize, &V)> {
        // The interval starting at or before `start` may reach into the range;
        // every later one starting before `end` (or at `start` for an empty
        // query) does.
        let before = self
            .by_start
            .range(..=start)
            .next_back()
            .filter(|(s, (e, _))| **s < start && *e > start)
            .map(|(s, (e, v))| (*s, *e, v));
        let upper = if end > start {
            Bound::Excluded(end)
        } else {
            Bound::Included(start)
        };
        let within = self
            .by_start
            .range((Bound::Included(start), upper))
            .map(|(s, (e, v))| (*s, *e, v));
        before.into_iter().chain(within)
    }

    /// The first interval overlapping `[start, end)`.
    pub(crate) fn first_overlap(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        self.overlapping(start, end).next().map(|(s, e, _)| (s, e))
    }

    /// The interval immediately before the one starting at `start`.
    pub(crate) fn prev(&self, start: usize) -> Option<(usize, usize, &V)> {
        self.by_start
            .range(..start)
            .next_back()
            .map(|(s, (e, v))| (*s, *e, v))
    }

    /// The interval immediately after the one starting at `start`.
    pub(crate) fn next(&self, start: usize) -> Option<(usize, usize, &V)> {
        self.by_start
            .range((Bound::Excluded(start), Bound::Unbounded))
            .next()
            .map(|(s, (e, v))| (*s, *e, v))
    }
}

/// What the registry knows of one occupied range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Bytes of the source mapped from the range's start (the range itself
    /// is page-rounded).
    pub(crate) size: usize,
    /// Claimed by a map being created in a reservation: occupied, but not
    /// a map yet.
    pub(crate) claimed: bool,
    /// The reservation the range lies in, by its id, if any.
    pub(crate) reservation: Option<usize>,
    /// A word the map's owner may set (the C ABI keeps its handle here).
    #[cfg(feature = "c-abi")]
    pub(crate) user_data: usize,
}

impl Entry {
    /// A live map outside any reservation.
    pub(crate) fn map(size: usize) -> Self {
        Entry {
            size,
            claimed: false,
            reservation: None,
            #[cfg(feature = "c-abi")]
            user_data: 0,
        }
    }
}

/// The registry type.
pub(crate) type Registry = IntervalMap<Entry>;

static REGISTRY: RwLock<Registry> = RwLock::new(IntervalMap {
    by_start: BTreeMap::new(),
});

/// Shared access to the registry. A poisoned lock is still consistent: every
/// update is a single map operation.
pub(crate) fn read() -> RwLockReadGuard<'static, Registry> {
    fork::install();
    REGISTRY.read().unwrap_or_else(PoisonError::into_inner)
}

/// Exclusive access to the registry.
pub(crate) fn write() -> RwLockWriteGuard<'static, Registry> {
    fork::install();
    lock_exclusive()
}

fn lock_exclusive() -> RwLockWriteGuard<'static, Registry> {
    REGISTRY.write().unwrap_or_else(PoisonError::into_inner)
}

/// Fork safety: a registry lock that another thread held at a fork would
/// never be released in the child, and its first PAGE persist would hang.
/// Handlers registered once before the registry is first used hold the lock
/// exclusively across every fork (waiting for the other threads' short
/// registry operations), so the child starts with it free and the
/// registry consistent.
mod fork {
    // Miri can't fork: there the handlers are never registered.
    #![cfg_attr(miri, allow(dead_code))]

    use crate::sys::process::{hold_across_fork, ForkLock};

    struct RegistryLock;

    impl ForkLock for RegistryLock {
        fn take() -> Option<Box<dyn std::any::Any>> {
            Some(Box::new(super::lock_exclusive()))
        }
    }

    /// Registers the handlers once per process.
    pub(super) fn install() {
        #[cfg(not(miri))]
        {
            static ONCE: std::sync::Once = std::sync::Once::new();
            ONCE.call_once(|| {
                // ENOMEM is the only documented failure; without the
                // handlers pmem2 works as before, only not across fork.
                let registered = hold_across_fork::<RegistryLock>();
                debug_assert!(registered, "pthread_atfork");
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_refuses_overlaps() {
        let mut m = IntervalMap::default();
        m.insert(100, 200, 'a').unwrap();
        assert_eq!(m.insert(150, 160, 'b'), Err(100));
        assert_eq!(m.insert(50, 101, 'b'), Err(100));
        assert_eq!(m.insert(199, 300, 'b'), Err(100));
        assert_eq!(m.insert(0, 1000, 'b'), Err(100));
        m.insert(200, 300, 'c').unwrap();
        m.insert(0, 100, 'd').unwrap();
        assert_eq!(m.overlapping(0, 300).count(), 3);
    }

    #[test]
    fn empty_intervals_stay_unique() {
        let mut m = IntervalMap::default();
        m.insert(100, 100, 'z').unwrap();
        assert_eq!(m.insert(100, 100, 'y'), Err(100));
        assert_eq!(m.insert(100, 200, 'y'), Err(100));
        m.insert(0, 100, 'x').unwrap();
        let mut other = IntervalMap::default();
        other.insert(0, 200, 'a').unwrap();
        assert_eq!(other.insert(50, 50, 'b'), Err(0));
    }

    #[test]
    fn overlapping_in_order() {
        let mut m = IntervalMap::default();
        for (s, e) in [(0, 10), (10, 20), (30, 40), (40, 50)] {
            m.insert(s, e, ()).unwrap();
        }
        let got: Vec<_> = m.overlapping(5, 35).map(|(s, e, ())| (s, e)).collect();
        assert_eq!(got, vec![(0, 10), (10, 20), (30, 40)]);
        assert_eq!(m.overlapping(20, 30).count(), 0);
        assert_eq!(
            m.overlapping(45, 45)
                .map(|(s, _, ())| s)
                .collect::<Vec<_>>(),
            vec![40]
        );
        assert_eq!(m.first_overlap(19, 31), Some((10, 20)));
    }

    #[test]
    fn neighbours() {
        let mut m = IntervalMap::default();
        for s in [0, 100, 200] {
            m.insert(s, s + 50, s).unwrap();
        }
        assert_eq!(m.prev(100).map(|(s, _, _)| s), Some(0));
        assert_eq!(m.prev(0).map(|(s, _, _)| s), None);
        assert_eq!(m.next(100).map(|(s, _, _)| s), Some(200));
        assert_eq!(m.next(200).map(|(s, _, _)| s), None);
        assert_eq!(m.remove(100), Some((150, 100)));
        assert_eq!(m.get(100), None);
        assert_eq!(m.next(0).map(|(s, _, _)| s), Some(200));
    }
}
