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
}
