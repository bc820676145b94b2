//! The last state read per property, shared by API reads and syncs: valid while the
//! property's version (bumped by every non-empty plan, the only writer of state rows)
//! and its creation time are unchanged. A backend checks the version against its
//! record (one small read) before it decodes the whole state again.
//!
//! The cache holds the most recently used [`CAPACITY`] properties: a host of 1,000
//! properties must not keep every one decoded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use epms_engine::{DoorState, Plan};

use crate::PropertyRecord;

/// How many properties' states are kept decoded.
pub(crate) const CAPACITY: usize = 64;

#[derive(Default)]
pub(crate) struct ReadCache {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    /// By cache key: the state and when it was last used.
    states: HashMap<String, (Arc<DoorState>, u64)>,
    clock: u64,
}

impl Entries {
    fn touch(&mut self, key: &str) -> Option<Arc<DoorState>> {
        self.clock += 1;
        let clock = self.clock;
        self.states.get_mut(key).map(|(state, used)| {
            *used = clock;
            state.clone()
        })
    }
}

/// A property's cache key: a property deleted and created again is another one.
pub(crate) fn key(p: &PropertyRecord) -> String {
    format!("{}@{}", p.created_at, p.id)
}

impl ReadCache {
    /// The cached state of this record's version, if it is there.
    pub(crate) fn get(&self, p: &PropertyRecord) -> Option<Arc<DoorState>> {
        self.lookup(&key(p)).filter(|hit| hit.version == p.version)
    }

    fn lookup(&self, key: &str) -> Option<Arc<DoorState>> {
        self.entries().touch(key)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Caches `state` unless a newer version is there already.
    pub(crate) fn put(&self, p: &PropertyRecord, state: Arc<DoorState>) {
        self.put_key(key(p), state);
    }

    fn put_key(&self, key: String, state: Arc<DoorState>) {
        let mut entries = self.entries();
        if entries
            .states
            .get(&key)
            .is_some_and(|(old, _)| old.version > state.version)
        {
            return;
        }
        entries.clock += 1;
        let clock = entries.clock;
        entries.states.insert(key, (state, clock));
        if entries.states.len() > CAPACITY {
            // A linear scan: the cache is small, and this runs once per decoded state.
            let oldest = entries
                .states
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                entries.states.remove(&oldest);
            }
        }
    }

    /// After a committed plan: the cached state at the plan's base version becomes
    /// the next one by the plan's in-memory meaning ([`DoorState::apply`], which the
    /// transaction follows), so the first read after a sync does not decode the
    /// whole property again. The writer pays the copy, not a reader.
    pub(crate) fn advance(&self, p: &PropertyRecord, plan: &Plan) {
        let key = key(p);
        let Some(hit) = self.lookup(&key) else {
            return;
        };
        if hit.version != plan.base_version || plan.is_empty() {
            return;
        }
        // The only other holders are readers of the old version: take it when none is.
        drop(self.entries().states.remove(&key));
        let mut next = Arc::try_unwrap(hit).unwrap_or_else(|shared| (*shared).clone());
        if next.apply(plan).is_ok() {
            self.put_key(key, Arc::new(next));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, version: u64) -> PropertyRecord {
        let mut p = PropertyRecord::new(id, id, 1);
        p.version = version;
        p
    }

    fn state(version: u64) -> Arc<DoorState> {
        Arc::new(DoorState {
            version,
            ..DoorState::default()
        })
    }

    #[test]
    fn keeps_the_most_recently_used_properties() {
        let cache = ReadCache::default();
        for i in 0..CAPACITY {
            cache.put(&record(&format!("p{i}"), 1), state(1));
        }
        // p0 is used again; p1 is then the least recently used.
        assert!(cache.get(&record("p0", 1)).is_some());
        cache.put(&record("new", 1), state(1));
        assert!(cache.get(&record("p0", 1)).is_some());
        assert!(cache.get(&record("p1", 1)).is_none());
        assert!(cache.get(&record("new", 1)).is_some());
        assert_eq!(cache.entries().states.len(), CAPACITY);
    }

    #[test]
    fn an_older_version_neither_hits_nor_replaces_a_newer_one() {
        let cache = ReadCache::default();
        cache.put(&record("p", 2), state(2));
        cache.put(&record("p", 1), state(1));
        assert!(cache.get(&record("p", 1)).is_none());
        assert!(cache.get(&record("p", 2)).is_some());
    }
}
