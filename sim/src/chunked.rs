//! [`Chunked`]: a vector for the simulator's longest lists, grown without doubling.

/// A vector kept in chunks of at most [`Chunked::CHUNK`] items: it grows without copying what
/// it holds, and holds at most one chunk of spare room.
///
/// Why: a long run's largest lists grow one item at a time to millions of items (a producer's
/// sends in the oracle's history, the chunks of a replica's `.log` file on the simulated disk).
/// A doubling `Vec` holds up to twice what it needs, and for a moment three times, while it
/// moves into a larger allocation; heavy.ron's peak paid for that spare room in every such list.
/// The first chunk grows as a `Vec` does, so a short list (most files hold a few writes) costs
/// no more than a `Vec`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Chunked<T> {
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
    pub(crate) const CHUNK: usize = 4096;

    pub(crate) fn len(&self) -> usize {
        self.chunks.last().map_or(0, |last| (self.chunks.len() - 1) * Self::CHUNK + last.len())
    }

    pub(crate) fn push(&mut self, item: T) {
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
    pub(crate) fn pop(&mut self) -> Option<T> {
        let last = self.chunks.last_mut()?;
        let item = last.pop();
        if last.is_empty() {
            self.chunks.pop();
        }
        item
    }

    /// The item at `index`; panics past the end, as indexing a `Vec` does.
    pub(crate) fn get(&self, index: usize) -> &T {
        &self.chunks[index / Self::CHUNK][index % Self::CHUNK]
    }

    /// The item at `index`, or `None` past the end.
    pub(crate) fn try_get(&self, index: usize) -> Option<&T> {
        (index < self.len()).then(|| self.get(index))
    }

    /// Pushes copies of `value` until the vector holds `len` items (no-op when it holds more).
    pub(crate) fn extend_to(&mut self, len: usize, value: T)
    where
        T: Clone,
    {
        while self.len() < len {
            self.push(value.clone());
        }
    }

    pub(crate) fn get_mut(&mut self, index: usize) -> &mut T {
        &mut self.chunks[index / Self::CHUNK][index % Self::CHUNK]
    }

    pub(crate) fn last_mut(&mut self) -> Option<&mut T> {
        self.chunks.last_mut().and_then(|last| last.last_mut())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + Clone + '_ {
        self.chunks.iter().flatten()
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
        assert!(chunked.len() == 0 && chunked.chunks.is_empty());
    }

    #[test]
    fn a_short_list_costs_what_a_vector_costs() {
        let chunked: Chunked<u64> = (0..3).collect();
        assert_eq!(chunked.chunks.len(), 1);
        assert!(chunked.chunks[0].capacity() < 16, "{}", chunked.chunks[0].capacity());
    }
}
