//! The host memory one session may make the host hold.
//!
//! Guest linear memory has its own limit (wasmtime's `ResourceLimiter`). This budget
//! is for the bytes the **host** holds because of a guest: response bodies being read
//! and handed over, request bodies being sent, the records a read accumulates, the
//! cursors kept to detect loops, log text. Each holder takes a [`Charge`], which gives
//! its bytes back when dropped; a charge that would pass the budget fails, marks the
//! budget exceeded, and the session's call fails as `out-of-memory`.
//!
//! What cannot be charged byte by byte, the host's resource table (fields, requests,
//! bodies, futures), is bounded by count and reserved up front: at most
//! `resources` live entries, none holding more than [`RESOURCE_BYTES`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;

/// The most one host resource of a guest holds: a `fields` resource is capped at this
/// size (wasi-http's field-size limit) and an outgoing body buffers at most two chunks
/// of half of it.
pub const RESOURCE_BYTES: usize = 64 << 10;

/// A session's host-memory budget. Shared by the store and the gate's tasks.
#[derive(Debug)]
pub struct HostBudget {
    limit: usize,
    used: AtomicUsize,
    peak: AtomicUsize,
    exceeded: AtomicBool,
    /// What the first charge over the budget was for.
    exceeded_by: std::sync::Mutex<Option<&'static str>>,
}

/// A charge over the budget: `what` would have made the session hold more than it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{what} would pass the session's host-memory budget of {limit} bytes")]
pub struct OverBudget {
    pub what: &'static str,
    pub limit: usize,
}

impl HostBudget {
    pub fn new(limit: usize) -> Arc<HostBudget> {
        Arc::new(HostBudget {
            limit,
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            exceeded: AtomicBool::new(false),
            exceeded_by: std::sync::Mutex::new(None),
        })
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Most bytes held at once so far.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Whether a charge ever failed, and what it was for.
    pub fn exceeded(&self) -> Option<&'static str> {
        if !self.exceeded.load(Ordering::Relaxed) {
            return None;
        }
        Some(
            self.exceeded_by
                .lock()
                .ok()
                .and_then(|w| *w)
                .unwrap_or("host memory"),
        )
    }

    /// Takes `bytes` for `what`, or fails without taking anything.
    pub fn charge(
        self: &Arc<Self>,
        what: &'static str,
        bytes: usize,
    ) -> Result<Charge, OverBudget> {
        self.take(what, bytes)?;
        Ok(Charge {
            budget: self.clone(),
            what,
            bytes,
        })
    }

    fn take(&self, what: &'static str, bytes: usize) -> Result<(), OverBudget> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let next = used.checked_add(bytes).filter(|n| *n <= self.limit);
            let Some(next) = next else {
                if !self.exceeded.swap(true, Ordering::Relaxed)
                    && let Ok(mut w) = self.exceeded_by.lock()
                {
                    *w = Some(what);
                }
                return Err(OverBudget {
                    what,
                    limit: self.limit,
                });
            };
            match self
                .used
                .compare_exchange_weak(used, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.peak.fetch_max(next, Ordering::Relaxed);
                    return Ok(());
                }
                Err(now) => used = now,
            }
        }
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Bytes held against a [`HostBudget`] until dropped.
#[derive(Debug)]
pub struct Charge {
    budget: Arc<HostBudget>,
    what: &'static str,
    bytes: usize,
}

impl Charge {
    /// Holds `more` bytes as well, or fails keeping the charge as it was.
    pub fn grow(&mut self, more: usize) -> Result<(), OverBudget> {
        self.budget.take(self.what, more)?;
        self.bytes += more;
        Ok(())
    }

    /// Holds exactly `bytes` from now on.
    pub fn resize(&mut self, bytes: usize) -> Result<(), OverBudget> {
        if bytes > self.bytes {
            self.grow(bytes - self.bytes)
        } else {
            self.budget.give_back(self.bytes - bytes);
            self.bytes = bytes;
            Ok(())
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

/// `data` as [`Bytes`] whose charge lasts as long as any slice of them does: the guest
/// reads a body in pieces, and the bytes are the host's until the last piece is gone.
/// `charge` must already cover `data`'s allocation.
pub fn charged_bytes(data: Vec<u8>, charge: Charge) -> Bytes {
    debug_assert!(charge.bytes() >= data.len());
    Bytes::from_owner(ChargedBuffer {
        data,
        _charge: charge,
    })
}

struct ChargedBuffer {
    data: Vec<u8>,
    _charge: Charge,
}

impl AsRef<[u8]> for ChargedBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_given_back_when_dropped() {
        let budget = HostBudget::new(100);
        let a = budget.charge("a", 60).unwrap();
        assert_eq!(budget.used(), 60);
        assert_eq!(
            budget.charge("b", 41).unwrap_err(),
            OverBudget {
                what: "b",
                limit: 100
            }
        );
        assert_eq!(budget.exceeded(), Some("b"));
        drop(a);
        assert_eq!(budget.used(), 0);
        assert_eq!(budget.peak(), 60);
        let _b = budget.charge("b", 100).unwrap();
    }

    #[test]
    fn a_charge_grows_and_shrinks_within_the_budget() {
        let budget = HostBudget::new(10);
        let mut c = budget.charge("body", 4).unwrap();
        c.grow(6).unwrap();
        assert!(c.grow(1).is_err());
        assert_eq!(c.bytes(), 10);
        c.resize(3).unwrap();
        assert_eq!(budget.used(), 3);
        assert_eq!(budget.charge("x", usize::MAX).unwrap_err().what, "x");
    }

    #[test]
    fn charged_bytes_hold_their_charge_until_the_last_slice_is_dropped() {
        let budget = HostBudget::new(1 << 20);
        let charge = budget.charge("response body", 1000).unwrap();
        let mut bytes = charged_bytes(vec![7u8; 1000], charge);
        assert_eq!(budget.used(), 1000);
        let head = bytes.split_to(10);
        drop(bytes);
        assert_eq!(budget.used(), 1000, "a slice still holds the buffer");
        assert_eq!(&head[..], &[7u8; 10]);
        drop(head);
        assert_eq!(budget.used(), 0);
    }
}
