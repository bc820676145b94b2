//! State kept for one session (one sync of one credential).
//!
//! The connector value lives for the whole session (see [`crate::Connector`]), so a
//! field of it is session state. [`Memo`] is the common case: an answer computed once
//! per key (a property's whole resident list, a sign-in token) and handed out again.

use std::cell::RefCell;

/// A value computed once per key and kept for the session; a new key replaces it.
#[derive(Debug)]
pub struct Memo<K, V> {
    slot: RefCell<Option<(K, V)>>,
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Memo {
            slot: RefCell::new(None),
        }
    }
}

impl<K: PartialEq + Clone, V: Clone> Memo<K, V> {
    /// The value for `key`: kept from an earlier call, or made by `make` (a failure is
    /// not kept, so the next call tries again).
    pub fn get_or_try<E>(&self, key: &K, make: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        if let Some((k, v)) = self.slot.borrow().as_ref()
            && k == key
        {
            return Ok(v.clone());
        }
        let v = make()?;
        *self.slot.borrow_mut() = Some((key.clone(), v.clone()));
        Ok(v)
    }

    /// Forgets the kept value (e.g. a token the PMS no longer accepts).
    pub fn clear(&self) {
        self.slot.borrow_mut().take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_made_once_per_key_and_failures_are_not_kept() {
        let memo: Memo<String, u32> = Memo::default();
        let mut made = 0;
        let mut get = |k: &str| {
            memo.get_or_try(&k.to_owned(), || {
                made += 1;
                Ok::<_, ()>(made)
            })
        };
        assert_eq!(get("a"), Ok(1));
        assert_eq!(get("a"), Ok(1));
        assert_eq!(get("b"), Ok(2));
        let failed: Result<u32, &str> = memo.get_or_try(&"c".to_owned(), || Err("no"));
        assert_eq!(failed, Err("no"));
        assert_eq!(
            memo.get_or_try(&"b".to_owned(), || Err::<u32, ()>(())),
            Ok(2)
        );
        memo.clear();
        assert_eq!(memo.get_or_try(&"b".to_owned(), || Ok::<_, ()>(9)), Ok(9));
    }
}
