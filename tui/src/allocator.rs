//! The binary's global allocator: mimalloc, called through its plain entry points whenever
//! they give the alignment asked for.
//!
//! The `mimalloc` crate's allocator sends every allocation to mimalloc's aligned entry points
//! (`mi_malloc_aligned`, `mi_realloc_aligned`), which check the alignment and look for a block
//! that happens to meet it before they allocate. A simulation allocates about 13 million times
//! in heavy.ron, almost always with an alignment of 8 or less, and the aligned path cost about
//! 35 instructions an allocation against 17 for `mi_malloc` (callgrind, heavy.ron's first 6 s;
//! book: performance). mimalloc places every block at a multiple of its size's natural alignment:
//! up to [`MAX_ALIGN_SIZE_BYTES`], a block of at least `align` bytes is aligned to `align`
//! (mimalloc's `mi_malloc_is_naturally_aligned`, in `alloc-aligned.c`, relies on the same
//! rule). Only layouts outside it take the aligned entry points.
//!
//! No allocation address reaches a run's output, so the allocator cannot change a trace.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// mimalloc's `MI_MAX_ALIGN_SIZE` (types.h), `sizeof(max_align_t)` on the platforms kafkalab
/// builds for: the largest alignment a plain allocation of at least that many bytes has.
pub const MAX_ALIGN_SIZE_BYTES: usize = 16;

/// mimalloc as the global allocator, through `mi_malloc`, `mi_zalloc` and `mi_realloc` for
/// naturally aligned layouts ([`is_natural`]) and the aligned entry points for the others.
pub struct MiMalloc;

/// Whether a plain mimalloc allocation of `size_bytes` is aligned to `align` (a power of two):
/// when `align` is at most both [`MAX_ALIGN_SIZE_BYTES`] and the size. A smaller block (an
/// 8-byte one) may sit at any multiple of its own size only.
pub fn is_natural(size_bytes: usize, align: usize) -> bool {
    align <= MAX_ALIGN_SIZE_BYTES && align <= size_bytes
}

// SAFETY: every pointer returned comes from mimalloc and meets the layout's size and
// alignment: plain entry points only where `is_natural` says mimalloc's blocks are aligned
// enough, aligned ones otherwise. `mi_free` takes any pointer mimalloc returned, whichever
// entry point made it, and `mi_realloc` keeps the natural alignment of the new size.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: mimalloc's allocation functions accept any size; a null return is passed on
        // as the allocation failure `GlobalAlloc` expects.
        unsafe {
            if is_natural(layout.size(), layout.align()) {
                mi::mi_malloc(layout.size()) as *mut u8
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if is_natural(layout.size(), layout.align()) {
                mi::mi_zalloc(layout.size()) as *mut u8
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` was returned by this allocator, so by mimalloc.
        unsafe { mi::mi_free(ptr as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was returned by this allocator for `layout`; the block it becomes must
        // have the layout's alignment at `new_size`, which `is_natural` decides as in `alloc`.
        unsafe {
            if is_natural(new_size, layout.align()) {
                mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
            } else {
                mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size from 1 to 4 KiB and every alignment up to 64 bytes, allocated, zeroed,
    /// grown and shrunk: each block has its layout's alignment, and what was written survives
    /// a move. A plain entry point used where a block is not aligned enough fails here.
    #[test]
    fn every_block_has_its_layouts_alignment_through_alloc_zeroing_and_realloc() {
        let allocator = MiMalloc;
        let aligned = |p: *mut u8, align: usize| !p.is_null() && (p as usize) & (align - 1) == 0;
        let mut checked = 0;
        for align in [1, 2, 4, 8, 16, 32, 64] {
            for size in (1..=4096).step_by(7) {
                let layout = Layout::from_size_align(size, align).expect("a valid layout");
                // SAFETY: the layout has a non-zero size; each block is freed once, with the
                // layout (or grown layout) it was made with.
                unsafe {
                    let p = allocator.alloc(layout);
                    assert!(aligned(p, align), "alloc({size}, {align}) gave {p:?}");
                    p.write_bytes(0xAB, size);
                    let grown = allocator.realloc(p, layout, size * 3);
                    assert!(aligned(grown, align), "realloc to {} at align {align} gave {grown:?}", size * 3);
                    assert!((0..size).all(|i| *grown.add(i) == 0xAB), "realloc kept the bytes");
                    let shrunk_size = size.div_ceil(2);
                    let grown_layout = Layout::from_size_align(size * 3, align).expect("valid");
                    let shrunk = allocator.realloc(grown, grown_layout, shrunk_size);
                    assert!(aligned(shrunk, align), "realloc to {shrunk_size} at align {align} gave {shrunk:?}");
                    allocator.dealloc(shrunk, Layout::from_size_align(shrunk_size, align).expect("valid"));
                    let z = allocator.alloc_zeroed(layout);
                    assert!(aligned(z, align), "alloc_zeroed({size}, {align}) gave {z:?}");
                    assert!((0..size).all(|i| *z.add(i) == 0), "alloc_zeroed zeroes");
                    allocator.dealloc(z, layout);
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 7 * 586);
    }

    #[test]
    fn only_layouts_mimalloc_aligns_by_size_take_the_plain_entry_points() {
        assert!(is_natural(8, 8));
        assert!(is_natural(24, 16), "a 24-byte block is in a bin of 16-byte multiples");
        assert!(is_natural(1, 1));
        assert!(!is_natural(8, 16), "an 8-byte block may sit at any multiple of 8");
        assert!(!is_natural(64, 32), "past MI_MAX_ALIGN_SIZE only the aligned path is sure");
        assert!(!is_natural(0, 1), "a zero-size request has no natural alignment");
    }
}
