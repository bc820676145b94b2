//! The rendered JSON of the most read answers (people, alerts), kept while the
//! property's state is the one they were rendered from.
//!
//! A read answers from the shared decoded state ([`epms_store::PropertyStore::state`]),
//! which is the same `Arc` for as long as nothing is applied to the property. An
//! answer is kept with a `Weak` of that `Arc` and served again only while the store
//! hands out that very `Arc`: a sync, a resolution or a deleted and re-created
//! property gives a new one, and the answer is rendered again. The `Weak` keeps the
//! old allocation, so its address cannot be reused by a later state.
//!
//! Rendering a page of people is tens of KiB of JSON; at thousands of reads a second
//! that serialisation, not the lookup, was most of an answer's cost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use axum::body::Bytes;
use epms_engine::DoorState;

/// The most bytes of answers kept; the least recently used go first.
pub const CAPACITY_BYTES: usize = 32 << 20;

/// Answers by (property, request).
#[derive(Default)]
pub struct AnswerCache {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    answers: HashMap<(String, String), Entry>,
    bytes: usize,
    clock: u64,
}

struct Entry {
    state: Weak<DoorState>,
    body: Bytes,
    used: u64,
}

impl AnswerCache {
    /// The answer to `request` about `property`, rendered from `state` by `render`
    /// unless it was rendered from this very state before. `render`'s error is
    /// returned as it is, and nothing is kept.
    pub fn get_or_render<E>(
        &self,
        property: &str,
        request: &str,
        state: &Arc<DoorState>,
        render: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Bytes, E> {
        let current = Arc::downgrade(state);
        if let Some(body) = self.hit(property, request, &current) {
            return Ok(body);
        }
        // Rendered outside the lock: other reads do not wait on this one.
        let body = Bytes::from(render()?);
        self.keep(property, request, current, body.clone());
        Ok(body)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn hit(&self, property: &str, request: &str, current: &Weak<DoorState>) -> Option<Bytes> {
        let mut entries = self.entries();
        entries.clock += 1;
        let clock = entries.clock;
        let entry = entries
            .answers
            .get_mut(&(property.to_owned(), request.to_owned()))?;
        if !Weak::ptr_eq(&entry.state, current) {
            return None;
        }
        entry.used = clock;
        Some(entry.body.clone())
    }

    fn keep(&self, property: &str, request: &str, state: Weak<DoorState>, body: Bytes) {
        if body.len() > CAPACITY_BYTES / 4 {
            return;
        }
        let mut entries = self.entries();
        entries.clock += 1;
        let used = entries.clock;
        let size = body.len();
        let old = entries.answers.insert(
            (property.to_owned(), request.to_owned()),
            Entry { state, body, used },
        );
        entries.bytes = entries.bytes + size - old.map_or(0, |o| o.body.len());
        // Answers of states no longer held by anyone can never be served again.
        if entries.bytes > CAPACITY_BYTES {
            entries.drop_dead();
        }
        while entries.bytes > CAPACITY_BYTES {
            let Some(oldest) = entries
                .answers
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(gone) = entries.answers.remove(&oldest) {
                entries.bytes -= gone.body.len();
            }
        }
    }
}

impl Entries {
    fn drop_dead(&mut self) {
        let mut freed = 0;
        self.answers.retain(|_, e| {
            let alive = e.state.strong_count() > 0;
            if !alive {
                freed += e.body.len();
            }
            alive
        });
        self.bytes -= freed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(version: u64) -> Arc<DoorState> {
        Arc::new(DoorState {
            version,
            ..DoorState::default()
        })
    }

    fn render(text: &str) -> Result<Vec<u8>, ()> {
        Ok(text.as_bytes().to_vec())
    }

    #[test]
    fn serves_an_answer_again_only_from_the_same_state() {
        let cache = AnswerCache::default();
        let first = state(1);
        let a = cache.get_or_render("p", "people", &first, || render("one"));
        assert_eq!(a.unwrap(), "one");
        // The same state: the kept answer, not a new rendering.
        let again = cache.get_or_render("p", "people", &first, || render("never"));
        assert_eq!(again.unwrap(), "one");
        // An equal state that is another value (a property re-created, a fresh
        // decode) is rendered again.
        let twin = state(1);
        let b = cache.get_or_render("p", "people", &twin, || render("two"));
        assert_eq!(b.unwrap(), "two");
        // Other requests and properties have answers of their own.
        let c = cache.get_or_render("p", "alerts", &twin, || render("three"));
        assert_eq!(c.unwrap(), "three");
        let d = cache.get_or_render("q", "people", &twin, || render("four"));
        assert_eq!(d.unwrap(), "four");
    }

    #[test]
    fn a_state_dropped_and_another_made_in_its_place_is_not_taken_for_it() {
        let cache = AnswerCache::default();
        let old = state(1);
        cache
            .get_or_render("p", "people", &old, || render("old"))
            .unwrap();
        drop(old);
        // The allocator may hand the same memory to the next state, but the kept
        // `Weak` holds the old one's allocation, so the new state is elsewhere.
        let new = state(2);
        let body = cache.get_or_render("p", "people", &new, || render("new"));
        assert_eq!(body.unwrap(), "new");
    }

    #[test]
    fn a_failed_rendering_is_returned_and_not_kept() {
        let cache = AnswerCache::default();
        let s = state(1);
        let failed: Result<Bytes, &str> = cache.get_or_render("p", "people", &s, || Err("bad"));
        assert_eq!(failed.unwrap_err(), "bad");
        let body = cache.get_or_render("p", "people", &s, || Ok::<_, &str>(b"ok".to_vec()));
        assert_eq!(body.unwrap(), "ok");
    }

    #[test]
    fn keeps_at_most_its_capacity_dropping_the_least_recently_used() {
        let cache = AnswerCache::default();
        let s = state(1);
        let size = CAPACITY_BYTES / 8;
        let big = |n: u8| move || Ok::<_, ()>(vec![n; size]);
        for n in 0..8u8 {
            cache
                .get_or_render("p", &format!("r{n}"), &s, big(n))
                .unwrap();
        }
        assert_eq!(cache.entries().bytes, CAPACITY_BYTES);
        // r0 is used again, so r1 is the least recently used when r8 comes.
        cache.get_or_render("p", "r0", &s, big(99)).unwrap();
        cache.get_or_render("p", "r8", &s, big(8)).unwrap();
        assert!(cache.entries().bytes <= CAPACITY_BYTES);
        let r0 = cache.get_or_render("p", "r0", &s, big(100)).unwrap();
        assert_eq!(r0[0], 0, "r0 was kept");
        let r1 = cache.get_or_render("p", "r1", &s, big(101)).unwrap();
        assert_eq!(r1[0], 101, "r1 was dropped and rendered again");
    }

    #[test]
    fn answers_of_states_nobody_holds_go_first() {
        let cache = AnswerCache::default();
        let size = CAPACITY_BYTES / 8;
        let gone = state(1);
        for n in 0..7u8 {
            cache
                .get_or_render("p", &format!("old{n}"), &gone, || {
                    Ok::<_, ()>(vec![n; size])
                })
                .unwrap();
        }
        drop(gone);
        let live = state(2);
        cache
            .get_or_render("p", "live", &live, || Ok::<_, ()>(vec![1; size]))
            .unwrap();
        cache
            .get_or_render("p", "more", &live, || Ok::<_, ()>(vec![2; size]))
            .unwrap();
        let entries = cache.entries();
        assert_eq!(
            entries.answers.len(),
            2,
            "only the live state's answers stay"
        );
        assert_eq!(entries.bytes, 2 * size);
    }
}
