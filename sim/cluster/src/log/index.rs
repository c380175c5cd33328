//! A segment's sparse indexes: the offset index (`.index`) and the time index (`.timeindex`).
//!
//! Kafka adds one entry per `index.interval.bytes` of log written, so the indexes stay small
//! enough to binary-search in memory, and a lookup ends with a short forward scan of the log
//! (apache/kafka: storage/.../log/OffsetIndex.java, TimeIndex.java). Entries store offsets
//! relative to the segment's base offset, which is why a segment also rolls when an offset no
//! longer fits in 32 bits.

/// Bytes per offset-index entry: relative offset (`i32`) and file position (`i32`).
pub const OFFSET_ENTRY_BYTES: usize = 8;
/// Bytes per time-index entry: timestamp (`i64`) and relative offset (`i32`).
pub const TIME_ENTRY_BYTES: usize = 12;

/// An entry of a sparse index: fixed-size bytes on disk, increasing in both fields.
pub trait IndexEntry: Copy + Eq + std::fmt::Debug {
    /// Bytes per entry in the file.
    const BYTES: usize;
    /// The entry's bytes.
    fn encode(self, out: &mut Vec<u8>);
    /// An entry from exactly [`IndexEntry::BYTES`] bytes.
    fn decode(bytes: &[u8]) -> Self;
    /// The entry's offset relative to the segment's base offset.
    fn relative_offset(self) -> u32;
    /// Whether `self` may follow `previous` (both fields increase).
    fn follows(self, previous: Self) -> bool;
}

/// `(relative_offset, position_bytes)`.
impl IndexEntry for (u32, u32) {
    const BYTES: usize = OFFSET_ENTRY_BYTES;
    fn encode(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_be_bytes());
        out.extend_from_slice(&self.1.to_be_bytes());
    }
    fn decode(bytes: &[u8]) -> Self {
        (
            u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes")),
            u32::from_be_bytes(bytes[4..].try_into().expect("4 bytes")),
        )
    }
    fn relative_offset(self) -> u32 {
        self.0
    }
    fn follows(self, previous: Self) -> bool {
        self.0 > previous.0 && self.1 >= previous.1
    }
}

/// `(timestamp_ms, relative_offset)`.
impl IndexEntry for (i64, u32) {
    const BYTES: usize = TIME_ENTRY_BYTES;
    fn encode(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_be_bytes());
        out.extend_from_slice(&self.1.to_be_bytes());
    }
    fn decode(bytes: &[u8]) -> Self {
        (
            i64::from_be_bytes(bytes[..8].try_into().expect("8 bytes")),
            u32::from_be_bytes(bytes[8..].try_into().expect("4 bytes")),
        )
    }
    fn relative_offset(self) -> u32 {
        self.1
    }
    fn follows(self, previous: Self) -> bool {
        self.0 > previous.0 && self.1 > previous.1
    }
}

/// A sparse index file held in memory: what the offset and time indexes share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SparseIndex<E> {
    base_offset: i64,
    max_entries: usize,
    entries: Vec<E>,
}

impl<E: IndexEntry> SparseIndex<E> {
    /// An empty index for the segment at `base_offset` holding at most
    /// `max_index_bytes / BYTES` entries (`segment.index.bytes`).
    pub fn new(base_offset: i64, max_index_bytes: u64) -> Self {
        SparseIndex { base_offset, max_entries: (max_index_bytes as usize / E::BYTES).max(1), entries: Vec::new() }
    }

    /// The largest size this index may grow to, in bytes.
    pub fn max_bytes(&self) -> u64 {
        (self.max_entries * E::BYTES) as u64
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether no more entries fit (a reason to roll the segment).
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.max_entries
    }

    /// Length of the index file in bytes.
    pub fn file_len_bytes(&self) -> u64 {
        (self.entries.len() * E::BYTES) as u64
    }

    /// The whole index file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * E::BYTES);
        for e in &self.entries {
            e.encode(&mut out);
        }
        out
    }

    /// Reads an index file back. Returns `None` when the file fails Kafka's sanity check (a
    /// length that is not a whole number of entries, or entries that do not increase), in
    /// which case recovery rebuilds the index from the log.
    pub fn from_bytes(base_offset: i64, max_index_bytes: u64, bytes: &[u8]) -> Option<Self> {
        let chunks = bytes.chunks_exact(E::BYTES);
        if !chunks.remainder().is_empty() {
            return None;
        }
        let mut index = SparseIndex::new(base_offset, max_index_bytes);
        for entry in chunks.map(E::decode) {
            if index.entries.last().is_some_and(|&last| !entry.follows(last)) {
                return None;
            }
            index.entries.push(entry);
        }
        Some(index)
    }

    /// Drops entries for offsets at or above `offset` (log truncation). Returns the new file
    /// length in bytes.
    pub fn truncate_to(&mut self, offset: i64) -> u64 {
        let base = self.base_offset;
        self.entries.retain(|e| base + i64::from(e.relative_offset()) < offset);
        self.file_len_bytes()
    }

    /// Adds `entry` if it follows the last one, returning its bytes for the file.
    fn push(&mut self, entry: E) -> Option<Vec<u8>> {
        if self.entries.last().is_some_and(|&last| !entry.follows(last)) {
            return None;
        }
        self.entries.push(entry);
        let mut bytes = Vec::with_capacity(E::BYTES);
        entry.encode(&mut bytes);
        Some(bytes)
    }

    fn relative(&self, offset: i64) -> u32 {
        u32::try_from(offset - self.base_offset).expect("offset fits the segment")
    }
}

/// Maps offsets to byte positions in the segment's `.log` file.
pub type OffsetIndex = SparseIndex<(u32, u32)>;

impl OffsetIndex {
    /// The entries as absolute `(offset, position_bytes)` pairs.
    pub fn entries(&self) -> impl Iterator<Item = (i64, u32)> + '_ {
        self.entries.iter().map(|&(rel, pos)| (self.base_offset + i64::from(rel), pos))
    }

    /// Adds `(offset, position)` and returns the entry's bytes for the `.index` file. Offsets
    /// must increase; an entry that does not is an impossible state and panics.
    pub fn append(&mut self, offset: i64, position: u32) -> Vec<u8> {
        let entry = (self.relative(offset), position);
        self.push(entry)
            .unwrap_or_else(|| panic!("offset index entries must increase ({entry:?} after {:?})", self.entries.last()))
    }

    /// The entry with the largest offset at or below `target`, or `(base_offset, 0)` when there
    /// is none: where a forward scan for `target` starts (`OffsetIndex.lookup`).
    pub fn lookup(&self, target: i64) -> (i64, u32) {
        let at = self.entries.partition_point(|&(rel, _)| self.base_offset + i64::from(rel) <= target);
        match at {
            0 => (self.base_offset, 0),
            n => {
                let (rel, pos) = self.entries[n - 1];
                (self.base_offset + i64::from(rel), pos)
            }
        }
    }
}

/// Maps timestamps to offsets: each entry says "records from this offset on have timestamps
/// above the previous entry's", so a lookup by time finds where to start scanning.
pub type TimeIndex = SparseIndex<(i64, u32)>;

impl TimeIndex {
    /// The entries as `(timestamp_ms, offset)` pairs.
    pub fn entries(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.entries.iter().map(|&(ts, rel)| (ts, self.base_offset + i64::from(rel)))
    }

    /// Adds `(timestamp_ms, offset)` when both are newer than the last entry's
    /// (`TimeIndex.maybeAppend`), returning the entry's bytes for the `.timeindex` file.
    pub fn maybe_append(&mut self, timestamp_ms: i64, offset: i64) -> Option<Vec<u8>> {
        let entry = (timestamp_ms, self.relative(offset));
        self.push(entry)
    }

    /// The entry with the largest timestamp below `target_ms`, as an offset to start scanning
    /// from; the segment's base offset when there is none (`TimeIndex.lookup`, shifted so the
    /// scan cannot miss an earlier record with an equal timestamp).
    pub fn lookup(&self, target_ms: i64) -> i64 {
        let at = self.entries.partition_point(|&(ts, _)| ts < target_ms);
        match at {
            0 => self.base_offset,
            n => self.base_offset + i64::from(self.entries[n - 1].1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_lookup_finds_the_floor_entry() {
        let mut index = OffsetIndex::new(100, 1024);
        index.append(104, 300);
        index.append(110, 900);
        assert_eq!(index.lookup(99), (100, 0));
        assert_eq!(index.lookup(103), (100, 0));
        assert_eq!(index.lookup(104), (104, 300));
        assert_eq!(index.lookup(109), (104, 300));
        assert_eq!(index.lookup(500), (110, 900));
        assert_eq!(OffsetIndex::from_bytes(100, 1024, &index.to_bytes()), Some(index.clone()));
        assert_eq!(OffsetIndex::from_bytes(100, 1024, &index.to_bytes()[..12]), None, "torn entry");
        index.truncate_to(110);
        assert_eq!(index.lookup(500), (104, 300));
    }

    #[test]
    fn an_index_is_full_at_segment_index_bytes() {
        let mut index = OffsetIndex::new(0, 16);
        index.append(1, 10);
        assert!(!index.is_full());
        index.append(2, 20);
        assert!(index.is_full());
    }

    #[test]
    fn time_lookup_starts_before_the_first_newer_entry() {
        let mut index = TimeIndex::new(0, 1200);
        assert!(index.maybe_append(1_000, 5).is_some());
        assert!(index.maybe_append(900, 7).is_none(), "timestamps must grow");
        assert!(index.maybe_append(2_000, 9).is_some());
        assert_eq!(index.lookup(500), 0);
        assert_eq!(index.lookup(1_000), 0);
        assert_eq!(index.lookup(1_500), 5);
        assert_eq!(index.lookup(9_999), 9);
        assert_eq!(TimeIndex::from_bytes(0, 1200, &index.to_bytes()), Some(index));
    }
}
