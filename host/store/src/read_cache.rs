//! The last state read per property, shared by API reads: valid while the property's
//! version (bumped by every non-empty plan, the only writer of state rows) and its
//! creation time are unchanged. A backend checks the version against its record (one
//! small read) before it decodes the whole state again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use epms_engine::{DoorState, Plan};

use crate::PropertyRecord;

#[derive(Default)]
pub(crate) struct ReadCache {
    states: Mutex<HashMap<String, Arc<DoorState>>>,
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
        let cache = self.states.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(key).cloned()
    }

    /// Caches `state` unless a newer version is there already.
    pub(crate) fn put(&self, p: &PropertyRecord, state: Arc<DoorState>) {
        self.put_key(key(p), state);
    }

    fn put_key(&self, key: String, state: Arc<DoorState>) {
        let mut cache = self.states.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(&key) {
            Some(old) if old.version > state.version => {}
            _ => {
                cache.insert(key, state);
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
        let mut next = (*hit).clone();
        if next.apply(plan).is_ok() {
            self.put_key(key, Arc::new(next));
        }
    }
}
