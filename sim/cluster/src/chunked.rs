//! [`Chunked`]: a vector for the simulator's longest lists, grown without doubling.

/// A vector kept in chunks of at most [`Chunked::CHUNK`] items: it grows without copying what
/// it holds, and holds at most one chunk of spare room.
///
/// Why: a long run's largest lists grow one item at a time to millions of items (a producer's
/// sends in the oracle's history, the chunks of a replica's `.log` file on the simulated disk,
/// a segment's batches).
/// A doubling `Vec` holds up to twice what it needs, and for a moment three times, while it
/// moves into a larger allocation; heavy.ron's peak paid for that spare room in every such list.
/// The first chunk grows as a `Vec` does, so a short list (most files hold a few writes) costs
/// no more than a `Vec`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunked<T> {
    /// Full chunks, then the last one, which is never empty.
    chunks: Vec<Vec<T>>,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new() }
    }
}

impl<T> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut chunked = Chunked::default();
        for item in items {
            chunked.push(item);
        }
        chunked
    }
}

impl<T> Chunked<T> {
    /// Items per chunk: a power of two, so that the first chunk, growing by doubling, stops
    /// at exactly this many.
    pub const CHUNK: usize = 4096;

    /// The number of items.
    pub fn len(&self) -> usize {
        self.chunks.last().map_or(0, |last| (self.chunks.len() - 1) * Self::CHUNK + last.len())
    }

    /// Whether it holds no item.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Appends `item`.
    pub fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < Self::CHUNK => last.push(item),
            Some(_) => {
                let mut chunk = Vec::with_capacity(Self::CHUNK);
                chunk.push(item);
                self.chunks.push(chunk);
            }
            None => self.chunks.push(vec![item]),
        }
    }

    /// Removes and returns the last item.
    pub fn pop(&mut self) -> Option<T> {
        let last = self.chunks.last_mut()?;
        let item = last.pop();
        if last.is_empty() {
            self.chunks.pop();
        }
        item
    }

    /// The item at `index`; panics past the end, as indexing a `Vec` does.
    pub fn get(&self, index: usize) -> &T {
        &self.chunks[index / Self::CHUNK][index % Self::CHUNK]
    }

    /// The item at `index`, or `None` past the end.
    pub fn try_get(&self, index: usize) -> Option<&T> {
        (index < self.len()).then(|| self.get(index))
    }

    /// Pushes copies of `value` until the vector holds `len` items (no-op when it holds more).
    pub fn extend_to(&mut self, len: usize, value: T)
    where
        T: Clone,
    {
        while self.len() < len {
            self.push(value.clone());
        }
    }

    /// The item at `index`, to change; panics past the end.
    pub fn get_mut(&mut self, index: usize) -> &mut T {
        &mut self.chunks[index / Self::CHUNK][index % Self::CHUNK]
    }

    /// The last item, to change.
    pub fn last_mut(&mut self) -> Option<&mut T> {
        self.chunks.last_mut().and_then(|last| last.last_mut())
    }

    /// The first item.
    pub fn first(&self) -> Option<&T> {
        self.chunks.first().and_then(|first| first.first())
    }

    /// The last item.
    pub fn last(&self) -> Option<&T> {
        self.chunks.last().and_then(|last| last.last())
    }

    /// The items in order.
    pub fn iter(&self) -> std::iter::Flatten<std::slice::Iter<'_, Vec<T>>> {
        self.chunks.iter().flatten()
    }

    /// The items from `start` on, in order (none when `start` is at or past the end).
    pub fn iter_from(&self, start: usize) -> impl DoubleEndedIterator<Item = &T> + Clone + '_ {
        let (chunk, within) = (start / Self::CHUNK, start % Self::CHUNK);
        let head = self.chunks.get(chunk).map_or(&[][..], |c| c.get(within..).unwrap_or(&[]));
        head.iter().chain(self.chunks.iter().skip(chunk + 1).flatten())
    }

    /// The index of the first item in `range` for which `pred` is false, as
    /// [`slice::partition_point`] finds it in `&items[range]` but counted from the start of
    /// the whole list: the items in the range must be partitioned by `pred` (all the true ones
    /// first). Panics when the range reaches past the end.
    pub fn partition_point_in(&self, range: std::ops::Range<usize>, mut pred: impl FnMut(&T) -> bool) -> usize {
        assert!(range.start <= range.end && range.end <= self.len(), "{range:?} is not within {}", self.len());
        let (mut low, mut high) = (range.start, range.end);
        while low < high {
            let mid = low + (high - low) / 2;
            if pred(self.get(mid)) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }

    /// [`Chunked::partition_point_in`] over every item.
    pub fn partition_point(&self, pred: impl FnMut(&T) -> bool) -> usize {
        self.partition_point_in(0..self.len(), pred)
    }
}

impl<T> std::ops::Index<usize> for Chunked<T> {
    type Output = T;

    /// The item at `index`; panics past the end.
    fn index(&self, index: usize) -> &T {
        self.get(index)
    }
}

impl<'a, T> IntoIterator for &'a Chunked<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<T>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> IntoIterator for Chunked<T> {
    type Item = T;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<T>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.chunks.into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunked_vector_holds_what_a_vector_holds() {
        // Across chunk boundaries: the first, the last of a chunk, the first of the next.
        let mut chunked = Chunked::default();
        let mut model = Vec::new();
        for i in 0..(2 * Chunked::<u64>::CHUNK + 7) as u64 {
            assert_eq!(chunked.len(), model.len());
            chunked.push(i * 3);
            model.push(i * 3);
        }
        *chunked.get_mut(Chunked::<u64>::CHUNK) += 1;
        model[Chunked::<u64>::CHUNK] += 1;
        assert_eq!(chunked.len(), model.len());
        assert!(model.iter().enumerate().all(|(i, x)| chunked.get(i) == x));
        assert!(chunked.iter().eq(model.iter()));
        assert_eq!(chunked.try_get(model.len() - 1), model.last());
        assert_eq!(chunked.try_get(model.len()), None);
        assert_eq!(chunked.chunks.len(), 3, "full chunks are never grown");
        assert_eq!(chunked.chunks[0].capacity(), Chunked::<u64>::CHUNK, "the first chunk stops at a chunk's size");
        assert_eq!(chunked.chunks[1].capacity(), Chunked::<u64>::CHUNK);
        // Popping across a boundary leaves no empty chunk.
        for _ in 0..8 {
            assert_eq!(chunked.pop(), model.pop());
        }
        assert_eq!(chunked.chunks.len(), 2);
        *chunked.last_mut().expect("not empty") += 1;
        *model.last_mut().expect("not empty") += 1;
        assert!(chunked.iter().eq(model.iter()));
        chunked.extend_to(model.len() + 5000, 9);
        model.resize(model.len() + 5000, 9);
        assert!(chunked.iter().eq(model.iter()));
        chunked.extend_to(3, 1);
        assert_eq!(chunked.len(), model.len(), "extending to less than the length changes nothing");
        while chunked.pop().is_some() {}
        assert_eq!((chunked.len(), chunked.chunks.len()), (0, 0));
    }

    #[test]
    fn searches_and_partial_iterations_match_a_vectors() {
        let n = 2 * Chunked::<u64>::CHUNK + 100;
        let chunked: Chunked<u64> = (0..n as u64).map(|i| i * 2).collect();
        let model: Vec<u64> = (0..n as u64).map(|i| i * 2).collect();
        let edges = [0, 1, Chunked::<u64>::CHUNK - 1, Chunked::<u64>::CHUNK, Chunked::<u64>::CHUNK + 1, n - 1, n];
        for start in edges {
            assert!(chunked.iter_from(start).eq(model[start..].iter()), "from {start}");
            assert!(chunked.iter_from(start).rev().eq(model[start..].iter().rev()), "from {start}, backwards");
            for end in edges.into_iter().filter(|&e| e >= start) {
                for target in [0, 1, 2 * Chunked::<u64>::CHUNK as u64 + 1, u64::MAX] {
                    let expected = start + model[start..end].partition_point(|&x| x < target);
                    assert_eq!(
                        chunked.partition_point_in(start..end, |&x| x < target),
                        expected,
                        "{start}..{end} {target}"
                    );
                }
            }
        }
        assert_eq!(chunked.partition_point(|&x| x < 9), 5);
        assert_eq!(chunked.iter_from(n + 5).count(), 0, "past the end: nothing");
        assert_eq!((chunked.first(), chunked.last(), chunked[7]), (Some(&0), model.last(), 14));
        assert!(chunked.clone().into_iter().eq(model.iter().copied()));
        assert!((&chunked).into_iter().eq(model.iter()));
        assert!(Chunked::<u64>::default().is_empty() && !chunked.is_empty());
    }

    #[test]
    fn a_short_list_costs_what_a_vector_costs() {
        let chunked: Chunked<u64> = (0..3).collect();
        assert_eq!(chunked.chunks.len(), 1);
        assert!(chunked.chunks[0].capacity() < 16, "{}", chunked.chunks[0].capacity());
    }
}
