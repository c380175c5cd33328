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

/// Maps offsets to byte positions in the segment's `.log` file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OffsetIndex {
    base_offset: i64,
    max_entries: usize,
    /// `(relative_offset, position_bytes)`, increasing in both.
    entries: Vec<(u32, u32)>,
}

impl OffsetIndex {
    /// An empty index for the segment at `base_offset` holding at most `max_index_bytes / 8`
    /// entries (`segment.index.bytes`).
    pub fn new(base_offset: i64, max_index_bytes: u64) -> OffsetIndex {
        OffsetIndex {
            base_offset,
            max_entries: (max_index_bytes as usize / OFFSET_ENTRY_BYTES).max(1),
            entries: Vec::new(),
        }
    }

    /// The largest size this index may grow to, in bytes (`segment.index.bytes`).
    pub fn max_bytes(&self) -> u64 {
        (self.max_entries * OFFSET_ENTRY_BYTES) as u64
    }

    /// The entries as absolute `(offset, position_bytes)` pairs.
    pub fn entries(&self) -> impl Iterator<Item = (i64, u32)> + '_ {
        self.entries.iter().map(|&(rel, pos)| (self.base_offset + i64::from(rel), pos))
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

    /// Adds `(offset, position)` and returns the entry's bytes for the `.index` file. Offsets
    /// must increase; an entry that does not is an impossible state and panics.
    pub fn append(&mut self, offset: i64, position: u32) -> [u8; OFFSET_ENTRY_BYTES] {
        let relative = u32::try_from(offset - self.base_offset).expect("offset fits the segment");
        if let Some(&(last, _)) = self.entries.last() {
            assert!(relative > last, "offset index entries must increase ({relative} after {last})");
        }
        self.entries.push((relative, position));
        let mut bytes = [0u8; OFFSET_ENTRY_BYTES];
        bytes[..4].copy_from_slice(&relative.to_be_bytes());
        bytes[4..].copy_from_slice(&position.to_be_bytes());
        bytes
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

    /// Drops entries for offsets at or above `offset` (log truncation). Returns the new length
    /// of the `.index` file in bytes.
    pub fn truncate_to(&mut self, offset: i64) -> u64 {
        self.entries.retain(|&(rel, _)| self.base_offset + i64::from(rel) < offset);
        self.file_len_bytes()
    }

    /// Length of the `.index` file in bytes.
    pub fn file_len_bytes(&self) -> u64 {
        (self.entries.len() * OFFSET_ENTRY_BYTES) as u64
    }

    /// The whole `.index` file.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.entries.iter().flat_map(|&(rel, pos)| rel.to_be_bytes().into_iter().chain(pos.to_be_bytes())).collect()
    }

    /// Reads an `.index` file back. Returns `None` when the file fails Kafka's sanity check (a
    /// length that is not a whole number of entries, or offsets that do not increase), in
    /// which case recovery rebuilds the index from the log.
    pub fn from_bytes(base_offset: i64, max_index_bytes: u64, bytes: &[u8]) -> Option<OffsetIndex> {
        if !bytes.chunks_exact(OFFSET_ENTRY_BYTES).remainder().is_empty() {
            return None;
        }
        let mut index = OffsetIndex::new(base_offset, max_index_bytes);
        for entry in bytes.chunks_exact(OFFSET_ENTRY_BYTES) {
            let rel = u32::from_be_bytes(entry[..4].try_into().expect("4 bytes"));
            let pos = u32::from_be_bytes(entry[4..].try_into().expect("4 bytes"));
            if index.entries.last().is_some_and(|&(last, last_pos)| rel <= last || pos < last_pos) {
                return None;
            }
            index.entries.push((rel, pos));
        }
        Some(index)
    }
}

/// Maps timestamps to offsets: each entry says "records from this offset on have timestamps
/// above the previous entry's", so a lookup by time finds where to start scanning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimeIndex {
    base_offset: i64,
    max_entries: usize,
    /// `(timestamp_ms, relative_offset)`, increasing in both.
    entries: Vec<(i64, u32)>,
}

impl TimeIndex {
    /// An empty index for the segment at `base_offset` holding at most `max_index_bytes / 12`
    /// entries.
    pub fn new(base_offset: i64, max_index_bytes: u64) -> TimeIndex {
        TimeIndex {
            base_offset,
            max_entries: (max_index_bytes as usize / TIME_ENTRY_BYTES).max(1),
            entries: Vec::new(),
        }
    }

    /// The largest size this index may grow to, in bytes (`segment.index.bytes`).
    pub fn max_bytes(&self) -> u64 {
        (self.max_entries * TIME_ENTRY_BYTES) as u64
    }

    /// The entries as `(timestamp_ms, offset)` pairs.
    pub fn entries(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.entries.iter().map(|&(ts, rel)| (ts, self.base_offset + i64::from(rel)))
    }

    /// Whether no more entries fit (a reason to roll the segment).
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.max_entries
    }

    /// Adds `(timestamp_ms, offset)` when the timestamp is newer than the last entry's
    /// (`TimeIndex.maybeAppend`), returning the entry's bytes for the `.timeindex` file.
    pub fn maybe_append(&mut self, timestamp_ms: i64, offset: i64) -> Option<[u8; TIME_ENTRY_BYTES]> {
        let relative = u32::try_from(offset - self.base_offset).expect("offset fits the segment");
        if let Some(&(last_ts, last_rel)) = self.entries.last() {
            if timestamp_ms <= last_ts || relative <= last_rel {
                return None;
            }
        }
        self.entries.push((timestamp_ms, relative));
        let mut bytes = [0u8; TIME_ENTRY_BYTES];
        bytes[..8].copy_from_slice(&timestamp_ms.to_be_bytes());
        bytes[8..].copy_from_slice(&relative.to_be_bytes());
        Some(bytes)
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

    /// Drops entries for offsets at or above `offset`. Returns the new file length in bytes.
    pub fn truncate_to(&mut self, offset: i64) -> u64 {
        self.entries.retain(|&(_, rel)| self.base_offset + i64::from(rel) < offset);
        self.file_len_bytes()
    }

    /// Length of the `.timeindex` file in bytes.
    pub fn file_len_bytes(&self) -> u64 {
        (self.entries.len() * TIME_ENTRY_BYTES) as u64
    }

    /// The whole `.timeindex` file.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.entries.iter().flat_map(|&(ts, rel)| ts.to_be_bytes().into_iter().chain(rel.to_be_bytes())).collect()
    }

    /// Reads a `.timeindex` file back; `None` when it fails the sanity check.
    pub fn from_bytes(base_offset: i64, max_index_bytes: u64, bytes: &[u8]) -> Option<TimeIndex> {
        if !bytes.chunks_exact(TIME_ENTRY_BYTES).remainder().is_empty() {
            return None;
        }
        let mut index = TimeIndex::new(base_offset, max_index_bytes);
        for entry in bytes.chunks_exact(TIME_ENTRY_BYTES) {
            let ts = i64::from_be_bytes(entry[..8].try_into().expect("8 bytes"));
            let rel = u32::from_be_bytes(entry[8..].try_into().expect("4 bytes"));
            if index.entries.last().is_some_and(|&(last_ts, last_rel)| ts <= last_ts || rel <= last_rel) {
                return None;
            }
            index.entries.push((ts, rel));
        }
        Some(index)
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
