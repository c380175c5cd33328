//! [`SharedBytes`]: an immutable byte buffer shared behind a one-word handle.

use std::fmt;
use std::ops::Deref;

/// An immutable byte buffer, reference-counted and shared, whose handle is one pointer (8
/// bytes): the length lives in the allocation, beside the count, not in the handle.
///
/// Why: a stored record batch's bytes ([`crate::record::RecordBatch::encoded`]) are referred
/// to by every replica's simulated disk, one handle per replica and per write. heavy.ron keeps
/// a million such handles; as `Arc<[u8]>` each took 16 bytes (pointer and length), here 8. The
/// allocation is no larger either: `triomphe` keeps no weak count, so the length takes its
/// place.
///
/// Two buffers are equal when their bytes are; [`SharedBytes::ptr_eq`] tells whether two
/// handles share one buffer.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SharedBytes(triomphe::ThinArc<(), u8>);

impl SharedBytes {
    /// Whether `a` and `b` are handles on the same buffer (not merely equal bytes).
    pub fn ptr_eq(a: &SharedBytes, b: &SharedBytes) -> bool {
        a.0.ptr() == b.0.ptr()
    }

    /// A new buffer of `len` bytes, written by `fill` in place: an encoding goes straight into
    /// the shared allocation, with no vector to copy it from.
    pub fn filled(len: usize, fill: impl FnOnce(&mut [u8])) -> SharedBytes {
        let mut bytes = SharedBytes(triomphe::ThinArc::from_header_and_iter((), std::iter::repeat_n(0, len)));
        bytes.modify(fill);
        bytes
    }

    /// Changes the bytes with `f`: in place when this is the only handle on the buffer, else
    /// on a copy that this handle then holds alone, so no other handle ever sees a change.
    pub fn modify(&mut self, f: impl FnOnce(&mut [u8])) {
        if !self.0.with_arc(|arc| arc.is_unique()) {
            *self = SharedBytes::from(&self[..]);
        }
        self.0.with_arc_mut(|arc| {
            let unique = triomphe::Arc::get_mut(arc).expect("the handle was made unique above");
            f(unique.slice_mut());
        });
    }
}

impl Deref for SharedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0.slice
    }
}

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<&[u8]> for SharedBytes {
    /// A new buffer holding a copy of `bytes`.
    fn from(bytes: &[u8]) -> Self {
        SharedBytes(triomphe::ThinArc::from_header_and_slice((), bytes))
    }
}

impl From<Vec<u8>> for SharedBytes {
    /// A new buffer holding `bytes` (copied once into the shared allocation).
    fn from(bytes: Vec<u8>) -> Self {
        SharedBytes::from(&bytes[..])
    }
}

impl fmt::Debug for SharedBytes {
    /// The bytes, as a slice prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_is_one_pointer_and_reads_its_bytes() {
        assert_eq!(std::mem::size_of::<SharedBytes>(), 8);
        let a = SharedBytes::from(vec![1, 2, 3]);
        let b = a.clone();
        let c = SharedBytes::from(&[1u8, 2, 3][..]);
        assert_eq!(&*a, &[1, 2, 3]);
        assert!(SharedBytes::ptr_eq(&a, &b), "a clone shares the buffer");
        assert!(a == c && !SharedBytes::ptr_eq(&a, &c), "equal bytes, two buffers");
        assert_ne!(a, SharedBytes::from(&[1u8, 2][..]));
        assert_eq!(format!("{a:?}"), "[1, 2, 3]");
        assert!(SharedBytes::from(Vec::new()).is_empty());
    }

    #[test]
    fn a_change_is_made_in_place_on_a_lone_handle_and_on_a_copy_of_a_shared_one() {
        let mut a = SharedBytes::from(vec![1, 2, 3]);
        let before = a.0.ptr();
        a.modify(|b| b[0] = 9);
        assert_eq!(&*a, &[9, 2, 3]);
        assert_eq!(a.0.ptr(), before, "the only handle changes its buffer in place");
        let b = a.clone();
        a.modify(|b| b[1] = 8);
        assert_eq!((&*a, &*b), (&[9u8, 8, 3][..], &[9u8, 2, 3][..]), "the other handle keeps its bytes");
        assert!(!SharedBytes::ptr_eq(&a, &b));
        let filled = SharedBytes::filled(3, |b| b.copy_from_slice(&[4, 5, 6]));
        assert_eq!(&*filled, &[4, 5, 6]);
        assert!(SharedBytes::filled(0, |_| {}).is_empty());
    }
}
