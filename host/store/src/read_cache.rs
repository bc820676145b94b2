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

    /// Before a plan's transaction commits: the state the plan leaves, made from the
    /// cached state at the plan's base version by the plan's in-memory meaning
    /// ([`DoorState::apply`], which the transaction follows). The backend [`put`]s it
    /// once the commit is done, so the first read after a sync does not decode the
    /// whole property again. It is made before the commit because readers that see
    /// the new version while it is being made would each decode the property from
    /// the store (milliseconds each, on the threads that answer the API). The writer
    /// pays the copy, not a reader; the cached state stays for readers until then.
    ///
    /// [`put`]: ReadCache::put
    pub(crate) fn prepare(&self, p: &PropertyRecord, plan: &Plan) -> Option<Arc<DoorState>> {
        if plan.is_empty() {
            return None;
        }
        let hit = self.lookup(&key(p))?;
        if hit.version != plan.base_version {
            return None;
        }
        let mut next = (*hit).clone();
        drop(hit);
        next.apply(plan).ok()?;
        Some(Arc::new(next))
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
    fn a_prepared_state_is_read_only_once_it_is_put() {
        let cache = ReadCache::default();
        let base = state(1);
        cache.put(&record("p", 1), base.clone());
        let mut plan = Plan::empty(&base);
        plan.door_units_created.push(epms_engine::DoorUnit {
            id: 1,
            name: "Door 1".into(),
            building: None,
        });
        plan.next_door_unit_id = 2;
        let next = cache
            .prepare(&record("p", 2), &plan)
            .expect("the base is cached");
        assert_eq!(next.version, 2);
        assert_eq!(next.door_units.len(), 1);
        // Until the commit, readers of the old version still find the old state.
        let old = cache.get(&record("p", 1)).expect("the base stays cached");
        assert!(Arc::ptr_eq(&old, &base));
        assert!(cache.get(&record("p", 2)).is_none());
        cache.put(&record("p", 2), next.clone());
        assert!(Arc::ptr_eq(&cache.get(&record("p", 2)).unwrap(), &next));
        // Nothing is prepared from another version, nor for an empty plan.
        assert!(cache.prepare(&record("p", 3), &plan).is_none());
        assert!(
            cache
                .prepare(&record("p", 2), &Plan::empty(&next))
                .is_none()
        );
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
