//! A record's key as the cluster holds it in memory: an interned name or a shared string.

use crate::ids::Name;
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// A record key (`ProducerRecord.key`, the bytes of a v2 record's key field), held either as an
/// interned [`Name`] or as a shared `Arc<str>`. It compares, orders, hashes, prints (`Debug` and
/// `Display`) and serialises exactly as the `str` it stands for, whichever way it is held, so a
/// trace, a snapshot or a digest cannot tell the two apart.
///
/// Why two ways: a busy producer picks each record's key from a small set (`key-0` to
/// `key-999` in heavy.ron) and copies it into the pending record, its `SendInvoked` event and
/// the encoded batch's record. As a shared `Arc<str>` each of those copies and drops was an
/// atomic reference count, and the event's copy is dropped by the thread that writes the
/// trace, so the count's cache line moved between the cores at every record (book:
/// performance). An interned key is copied as a pointer. Interned names are never freed
/// ([`crate::ids::intern`]), so only keys from a bounded set are interned: a producer's cached
/// key names (at most `KEY_NAME_CACHE_LIMIT` of them, the same ones in every producer and run).
/// Every other key is shared ([`Key::Shared`]): one decoded from a batch's bytes, a scripted
/// send's, a group's or the metadata log's, whose texts are unbounded in general or rare.
///
/// The cost: an `Option<Key>` is 24 bytes where an `Option<Arc<str>>` was 16. Keys live in
/// records while they are produced, fetched and processed, not in the logs, which hold bytes.
#[derive(Clone)]
pub enum Key {
    /// An interned name: a copy is a pointer copy.
    Interned(Name),
    /// A shared string: a copy is an atomic reference count.
    Shared(Arc<str>),
}

impl Key {
    /// The interned key `text` (see [`crate::ids::intern`] for which texts may be interned).
    pub fn interned(text: &str) -> Key {
        Key::Interned(Name::new(text))
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        match self {
            Key::Interned(name) => name.as_str(),
            Key::Shared(text) => text,
        }
    }
}

impl Deref for Key {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Key {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `str` hashes, so that `Borrow<str>` lookups in hashed maps agree.
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        // Shared, not interned: a recording or a test's input may hold any number of keys.
        String::deserialize(deserializer).map(Key::from)
    }
}

impl From<&str> for Key {
    fn from(text: &str) -> Key {
        Key::Shared(Arc::from(text))
    }
}

impl From<String> for Key {
    fn from(text: String) -> Key {
        Key::Shared(Arc::from(text))
    }
}

impl From<Arc<str>> for Key {
    fn from(text: Arc<str>) -> Key {
        Key::Shared(text)
    }
}

impl From<Name> for Key {
    fn from(name: Name) -> Key {
        Key::Interned(name)
    }
}

impl PartialEq<str> for Key {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Key {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Key {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn both_forms_print_and_serialise_as_their_text() {
        for key in [Key::interned("key-7"), Key::from("key-7")] {
            assert_eq!(format!("{key:?}"), "\"key-7\"");
            assert_eq!(format!("{key:>7}|"), "  key-7|");
            assert_eq!(ron::to_string(&key).unwrap(), "\"key-7\"");
            assert_eq!(format!("{:?}", Some(key.clone())), format!("{:?}", Some(Arc::<str>::from("key-7"))));
            let back: Key = ron::from_str("\"key-7\"").unwrap();
            assert_eq!(back, key);
        }
    }

    #[test]
    fn an_interned_key_is_one_pointer_and_a_shared_key_is_not_interned() {
        let (a, b) = (Key::interned("key-interned-once"), Key::interned("key-interned-once"));
        let (Key::Interned(a), Key::Interned(b)) = (a, b) else { panic!("interned keys are names") };
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert!(matches!(Key::from("key-shared"), Key::Shared(_)));
        assert!(matches!(ron::from_str::<Key>("\"k\"").unwrap(), Key::Shared(_)));
    }

    proptest! {
        /// Interned and shared keys of any texts compare, order and look up in an ordered map
        /// exactly as their strings do.
        #[test]
        fn keys_order_as_their_texts(texts in proptest::collection::vec("[a-c]{0,3}", 1..12), interned in proptest::collection::vec(any::<bool>(), 12)) {
            let keys: Vec<Key> = texts
                .iter()
                .zip(&interned)
                .map(|(t, &i)| if i { Key::interned(t) } else { Key::from(t.as_str()) })
                .collect();
            for (a, ka) in texts.iter().zip(&keys) {
                for (b, kb) in texts.iter().zip(&keys) {
                    prop_assert_eq!(a.cmp(b), ka.cmp(kb));
                    prop_assert_eq!(a == b, ka == kb);
                }
            }
            let map: BTreeMap<Key, usize> = keys.iter().cloned().zip(0..).collect();
            let model: BTreeMap<&str, usize> = texts.iter().map(String::as_str).zip(0..).collect();
            prop_assert_eq!(map.len(), model.len());
            for t in &texts {
                prop_assert_eq!(map.get(t.as_str()), model.get(t.as_str()));
            }
        }
    }
}
