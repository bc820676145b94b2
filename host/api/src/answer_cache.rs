//! The rendered JSON of the most read answers (people, alerts, suggestions), kept
//! while the property's state is the one they were rendered from.
//!
//! A read answers from the shared decoded state ([`epms_store::PropertyStore::state`]),
//! which is the same `Arc` for as long as nothing is applied to the property. An
//! answer is kept with a `Weak` of that `Arc` and served again only while the store
//! hands out that very `Arc`: a sync, a resolution or a deleted and re-created
//! property gives a new one, and the answer is rendered again. The `Weak` keeps the
//! old allocation, so its address cannot be reused by a later state. Reads that miss
//! at once (a page read by many right after a sync) wait for one rendering.
//!
//! Rendering a page of people is tens of KiB of JSON; at thousands of reads a second
//! that serialisation, not the lookup, was most of an answer's cost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use axum::body::Bytes;
use epms_engine::DoorState;
use tokio::sync::OnceCell;

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
    /// The sum of the counted answers' sizes.
    bytes: usize,
    clock: u64,
}

struct Entry {
    slot: Arc<Slot>,
    /// The answer's size once rendered and counted in [`Entries::bytes`].
    bytes: usize,
    used: u64,
}

/// One request's answer from one state. Reads that miss together wait for one
/// rendering instead of each rendering the same page.
struct Slot {
    state: Weak<DoorState>,
    body: OnceCell<Bytes>,
}

impl AnswerCache {
    /// The answer to `request` about `property`, rendered from `state` by `render`
    /// unless it was rendered from this very state before. `render`'s error is
    /// returned as it is, and nothing is kept (the next read renders again).
    pub async fn get_or_render<E>(
        &self,
        property: &str,
        request: &str,
        state: &Arc<DoorState>,
        render: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Bytes, E> {
        let slot = self.slot(property, request, state);
        let body = slot
            .body
            .get_or_try_init(|| async { render().map(Bytes::from) })
            .await?
            .clone();
        self.count(property, request, &slot, body.len());
        Ok(body)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The slot of this state's answer: the kept one, or a new empty one in its place.
    fn slot(&self, property: &str, request: &str, state: &Arc<DoorState>) -> Arc<Slot> {
        let current = Arc::downgrade(state);
        let mut entries = self.entries();
        entries.clock += 1;
        let used = entries.clock;
        let key = (property.to_owned(), request.to_owned());
        if let Some(entry) = entries.answers.get_mut(&key)
            && Weak::ptr_eq(&entry.slot.state, &current)
        {
            entry.used = used;
            return entry.slot.clone();
        }
        let slot = Arc::new(Slot {
            state: current,
            body: OnceCell::new(),
        });
        let entry = Entry {
            slot: slot.clone(),
            bytes: 0,
            used,
        };
        if let Some(old) = entries.answers.insert(key, entry) {
            entries.bytes -= old.bytes;
        }
        slot
    }

    /// Counts a rendered answer once, then keeps the total within the capacity.
    fn count(&self, property: &str, request: &str, slot: &Arc<Slot>, size: usize) {
        let mut entries = self.entries();
        let key = (property.to_owned(), request.to_owned());
        let Some(entry) = entries.answers.get_mut(&key) else {
            return;
        };
        if !Arc::ptr_eq(&entry.slot, slot) || entry.bytes != 0 {
            return;
        }
        if size > CAPACITY_BYTES / 4 {
            // Too large to keep: served this once, rendered again next time.
            entries.answers.remove(&key);
            return;
        }
        entry.bytes = size;
        entries.bytes += size;
        if entries.bytes > CAPACITY_BYTES {
            // Answers of states no longer held by anyone can never be served again.
            entries.drop_dead();
        }
        while entries.bytes > CAPACITY_BYTES {
            let Some(oldest) = entries
                .answers
                .iter()
                .filter(|(_, e)| e.bytes > 0)
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(gone) = entries.answers.remove(&oldest) {
                entries.bytes -= gone.bytes;
            }
        }
    }
}

impl Entries {
    fn drop_dead(&mut self) {
        let mut freed = 0;
        self.answers.retain(|_, e| {
            let alive = e.slot.state.strong_count() > 0;
            if !alive {
                freed += e.bytes;
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

    #[tokio::test]
    async fn serves_an_answer_again_only_from_the_same_state() {
        let cache = AnswerCache::default();
        let first = state(1);
        let a = cache
            .get_or_render("p", "people", &first, || render("one"))
            .await;
        assert_eq!(a.unwrap(), "one");
        // The same state: the kept answer, not a new rendering.
        let again = cache
            .get_or_render("p", "people", &first, || render("never"))
            .await;
        assert_eq!(again.unwrap(), "one");
        // An equal state that is another value (a property re-created, a fresh
        // decode) is rendered again.
        let twin = state(1);
        let b = cache
            .get_or_render("p", "people", &twin, || render("two"))
            .await;
        assert_eq!(b.unwrap(), "two");
        // Other requests and properties have answers of their own.
        let c = cache
            .get_or_render("p", "alerts", &twin, || render("three"))
            .await;
        assert_eq!(c.unwrap(), "three");
        let d = cache
            .get_or_render("q", "people", &twin, || render("four"))
            .await;
        assert_eq!(d.unwrap(), "four");
    }

    #[tokio::test]
    async fn a_state_dropped_and_another_made_in_its_place_is_not_taken_for_it() {
        let cache = AnswerCache::default();
        let old = state(1);
        cache
            .get_or_render("p", "people", &old, || render("old"))
            .await
            .unwrap();
        drop(old);
        // The allocator may hand the same memory to the next state, but the kept
        // `Weak` holds the old one's allocation, so the new state is elsewhere.
        let new = state(2);
        let body = cache
            .get_or_render("p", "people", &new, || render("new"))
            .await;
        assert_eq!(body.unwrap(), "new");
    }

    #[tokio::test]
    async fn a_failed_rendering_is_returned_and_not_kept() {
        let cache = AnswerCache::default();
        let s = state(1);
        let failed: Result<Bytes, &str> =
            cache.get_or_render("p", "people", &s, || Err("bad")).await;
        assert_eq!(failed.unwrap_err(), "bad");
        let body = cache
            .get_or_render("p", "people", &s, || Ok::<_, &str>(b"ok".to_vec()))
            .await;
        assert_eq!(body.unwrap(), "ok");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn reads_that_miss_together_wait_for_one_rendering() {
        let cache = Arc::new(AnswerCache::default());
        let s = state(1);
        let renders = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let reads: Vec<_> = (0..8)
            .map(|_| {
                let (cache, s, renders) = (cache.clone(), s.clone(), renders.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_render("p", "people", &s, || {
                            renders.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            render("page")
                        })
                        .await
                })
            })
            .collect();
        for read in reads {
            assert_eq!(read.await.unwrap().unwrap(), "page");
        }
        assert_eq!(renders.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn keeps_at_most_its_capacity_dropping_the_least_recently_used() {
        let cache = AnswerCache::default();
        let s = state(1);
        let size = CAPACITY_BYTES / 8;
        let big = |n: u8| move || Ok::<_, ()>(vec![n; size]);
        for n in 0..8u8 {
            cache
                .get_or_render("p", &format!("r{n}"), &s, big(n))
                .await
                .unwrap();
        }
        assert_eq!(cache.entries().bytes, CAPACITY_BYTES);
        // r0 is used again, so r1 is the least recently used when r8 comes.
        cache.get_or_render("p", "r0", &s, big(99)).await.unwrap();
        cache.get_or_render("p", "r8", &s, big(8)).await.unwrap();
        assert!(cache.entries().bytes <= CAPACITY_BYTES);
        let r0 = cache.get_or_render("p", "r0", &s, big(100)).await.unwrap();
        assert_eq!(r0[0], 0, "r0 was kept");
        let r1 = cache.get_or_render("p", "r1", &s, big(101)).await.unwrap();
        assert_eq!(r1[0], 101, "r1 was dropped and rendered again");
    }

    #[tokio::test]
    async fn answers_of_states_nobody_holds_go_first() {
        let cache = AnswerCache::default();
        let size = CAPACITY_BYTES / 8;
        let gone = state(1);
        for n in 0..7u8 {
            cache
                .get_or_render("p", &format!("old{n}"), &gone, || {
                    Ok::<_, ()>(vec![n; size])
                })
                .await
                .unwrap();
        }
        drop(gone);
        let live = state(2);
        cache
            .get_or_render("p", "live", &live, || Ok::<_, ()>(vec![1; size]))
            .await
            .unwrap();
        cache
            .get_or_render("p", "more", &live, || Ok::<_, ()>(vec![2; size]))
            .await
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
