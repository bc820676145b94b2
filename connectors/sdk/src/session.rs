//! State kept for one session (one sync of one credential).
//!
//! The connector value lives for the whole session (see [`crate::Connector`]), so a
//! field of it is session state. [`Memo`] is the common case: an answer computed once
//! per key (a property's whole resident list, a sign-in token) and handed out again.

use std::cell::RefCell;
use std::rc::Rc;

/// A value computed once per key and kept for the session; a new key replaces it.
/// The value is shared, never copied: a kept answer is often a whole property's
/// records, and each reader takes only its part of it.
#[derive(Debug)]
pub struct Memo<K, V> {
    slot: RefCell<Option<(K, Rc<V>)>>,
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Memo {
            slot: RefCell::new(None),
        }
    }
}

impl<K: PartialEq + Clone, V> Memo<K, V> {
    /// The value for `key`: kept from an earlier call, or made by `make` (a failure is
    /// not kept, so the next call tries again).
    pub fn get_or_try<E>(&self, key: &K, make: impl FnOnce() -> Result<V, E>) -> Result<Rc<V>, E> {
        if let Some((k, v)) = self.slot.borrow().as_ref()
            && k == key
        {
            return Ok(Rc::clone(v));
        }
        let v = Rc::new(make()?);
        *self.slot.borrow_mut() = Some((key.clone(), Rc::clone(&v)));
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
        assert_eq!(get("a"), Ok(Rc::new(1)));
        assert_eq!(get("a"), Ok(Rc::new(1)));
        assert_eq!(get("b"), Ok(Rc::new(2)));
        let failed: Result<Rc<u32>, &str> = memo.get_or_try(&"c".to_owned(), || Err("no"));
        assert_eq!(failed, Err("no"));
        let kept = memo.get_or_try(&"b".to_owned(), || Err::<u32, ()>(()));
        assert_eq!(kept, Ok(Rc::new(2)));
        let again = memo.get_or_try(&"b".to_owned(), || Err::<u32, ()>(()));
        assert!(
            Rc::ptr_eq(&kept.unwrap(), &again.unwrap()),
            "shared, not copied"
        );
        memo.clear();
        assert_eq!(
            memo.get_or_try(&"b".to_owned(), || Ok::<_, ()>(9)),
            Ok(Rc::new(9))
        );
    }
}
