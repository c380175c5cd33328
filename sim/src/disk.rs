//! `SimDisk`: a node's disk with a page cache, so that unflushed writes can be lost.
//!
//! madsim's own file system never loses a write, so the simulator keeps its own. Every file has
//! its current bytes (what the running process reads: the page cache) and a durable length:
//! the prefix an `fsync` ([`DiskOp::Flush`]) made safe. Files only grow by appends, and
//! truncation, deletion and atomic replacement are durable at once (a journaling file system's
//! metadata operations), so "durable prefix" describes every state a file can be in.
//!
//! A crash or a power loss ([`SimDisk::lose_unflushed`]) cuts every file back to its durable
//! length. The last write may be torn: the operating system writes dirty pages back in order,
//! so in the file written last, the oldest unflushed write may have been half on the platter
//! when the power went. Log recovery must catch that half batch by its CRC.
//!
//! A file's bytes are kept as a list of chunks, each a shared buffer
//! ([`SharedBytes`], 8 bytes a chunk), not as one owned buffer: an append keeps the buffer it
//! was given. A record batch's encoding is one buffer shared by the leader's and every follower's disk
//! ([`RecordBatch::encoded`](cluster::record::RecordBatch::encoded)), so the brokers' copies of
//! a replicated log cost its size in memory once instead of once per replica. Cutting a file
//! drops its last chunks, and copies only the part kept of a chunk it cuts inside (a torn write,
//! or a truncation that is not at a batch boundary, both rare); nothing else is copied until a
//! restarting node reads the file back whole ([`SimDisk::snapshot`]).

use cluster::chunked::Chunked;
use cluster::node::{DiskOp, DiskPath};
use cluster::shared_bytes::SharedBytes;
use rand::Rng;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// One file.
#[derive(Clone, Debug, Default)]
pub struct SimFile {
    /// The content in order, as shared buffers. No chunk is empty.
    chunks: Chunked<SharedBytes>,
    /// The content's length in bytes: the chunks' lengths summed.
    len: usize,
    durable_len: usize,
    /// Length of the oldest write not yet durable, the one write-back would be in the middle of.
    first_pending_len: usize,
    /// When it was last appended to, in disk-wide append order.
    last_append: u64,
}

impl PartialEq for SimFile {
    /// Files are equal when their bytes and write-back state are, however the bytes are cut
    /// into chunks.
    fn eq(&self, other: &SimFile) -> bool {
        self.len == other.len
            && self.durable_len == other.durable_len
            && self.first_pending_len == other.first_pending_len
            && self.last_append == other.last_append
            && self.chunks.iter().flat_map(|c| c.iter()).eq(other.chunks.iter().flat_map(|c| c.iter()))
    }
}

impl Eq for SimFile {}

impl SimFile {
    /// A file holding `bytes`, all of them durable.
    fn durable(bytes: SharedBytes) -> SimFile {
        let len = bytes.len();
        let chunks = if bytes.is_empty() { Chunked::default() } else { std::iter::once(bytes).collect() };
        SimFile { chunks, len, durable_len: len, first_pending_len: 0, last_append: 0 }
    }

    /// The bytes the running process sees: borrowed when the file is one chunk (or empty),
    /// otherwise copied into one buffer, which costs the file's length.
    pub fn contents(&self) -> Cow<'_, [u8]> {
        match self.chunks.len() {
            0 => Cow::Borrowed(&[]),
            1 => Cow::Borrowed(self.chunks.get(0)),
            _ => {
                let mut bytes = Vec::with_capacity(self.len);
                for chunk in self.chunks.iter() {
                    bytes.extend_from_slice(chunk);
                }
                Cow::Owned(bytes)
            }
        }
    }

    /// The file's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the file holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes written but not flushed.
    pub fn pending_bytes(&self) -> usize {
        self.len - self.durable_len
    }

    /// Adds `bytes` at the end, keeping the shared buffer rather than copying it.
    fn push(&mut self, bytes: SharedBytes) {
        if !bytes.is_empty() {
            self.len += bytes.len();
            self.chunks.push(bytes);
        }
    }

    /// Cuts the content to `len` bytes (no-op when it is not longer): whole chunks go from the
    /// end, and the chunk `len` falls inside is replaced by a copy of its part before `len`
    /// (the buffer itself may be shared with other disks, which keep it whole).
    fn truncate(&mut self, len: usize) {
        while self.len > len {
            let last = self.chunks.last_mut().expect("a file with bytes has a chunk");
            let excess = self.len - len;
            if last.len() <= excess {
                self.len -= last.len();
                self.chunks.pop();
            } else {
                *last = SharedBytes::from(&last[..last.len() - excess]);
                self.len = len;
            }
        }
    }
}

/// What a crash or power loss took from a disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loss {
    /// Unflushed bytes dropped, over all files.
    pub bytes_lost: usize,
    /// Files that lost bytes.
    pub files: usize,
    /// The torn write, if any: the file and how many of its last write's bytes survived.
    pub torn: Option<(String, usize, usize)>,
}

impl Loss {
    /// A short description for the trace.
    pub fn describe(&self) -> String {
        let mut text = format!("{} unflushed byte(s) lost in {} file(s)", self.bytes_lost, self.files);
        if let Some((path, kept, len)) = &self.torn {
            text.push_str(&format!(", torn write in {path} ({kept} of {len} bytes reached the disk)"));
        }
        text
    }
}

/// A node's disk.
#[derive(Clone, Debug, Default)]
pub struct SimDisk {
    /// The files, in the order of their keys (not of their paths: see [`SimDisk::files`]).
    ///
    /// A file's key is its [`DiskPath`]: a fingerprint of its path, then the path itself.
    /// Every append, flush and truncation looks its file up by path, tens of thousands of times
    /// a simulated second in a busy run, among a few hundred files. Paths share long prefixes
    /// (a partition's directory, twenty digits of base offset), so ordering by the path alone
    /// cost about fourteen comparisons of some thirty bytes each per lookup, about 3% of
    /// heavy.ron's simulation. Ordered by fingerprint first, a lookup compares numbers and reads
    /// a path only at the end, to confirm the match; an append's path was fingerprinted once,
    /// when its segment made it, and shares its string with the key it finds, so even that
    /// last read is spared.
    files: BTreeMap<DiskPath, SimFile>,
    /// Counts appends: write-back tears the most recently appended file that still has
    /// unflushed bytes.
    appends: u64,
    /// Client state that survives a restart (records a producer has created).
    pub client_sequence: u64,
}

impl SimDisk {
    /// Applies one write.
    pub fn apply(&mut self, op: DiskOp) {
        match op {
            DiskOp::Append { path, bytes } => {
                let file = self.files.entry(path).or_default();
                if file.len == file.durable_len {
                    file.first_pending_len = bytes.len();
                }
                let appended = !bytes.is_empty();
                file.push(bytes);
                if appended {
                    self.appends += 1;
                    file.last_append = self.appends;
                }
            }
            DiskOp::Truncate { path, len_bytes } => {
                if let Some(file) = self.files.get_mut(&DiskPath::from(path)) {
                    let len = (len_bytes as usize).min(file.len);
                    file.truncate(len);
                    file.durable_len = file.durable_len.min(len);
                    file.first_pending_len = file.first_pending_len.min(len - file.durable_len);
                }
            }
            DiskOp::WriteAtomically { path, bytes } => {
                self.files.insert(DiskPath::from(path), SimFile::durable(SharedBytes::from(bytes)));
            }
            DiskOp::Delete { path } => {
                self.files.remove(&DiskPath::from(path));
            }
            DiskOp::Flush { path } => {
                if let Some(file) = self.files.get_mut(&DiskPath::from(path)) {
                    file.durable_len = file.len;
                    file.first_pending_len = 0;
                }
            }
        }
    }

    /// Every file, by path: a map built for the call (the disk keeps its files in another
    /// order, for its lookups), so it is for inspection, not for a hot path.
    pub fn files(&self) -> BTreeMap<&str, &SimFile> {
        self.files.iter().map(|(key, file)| (key.as_str(), file)).collect()
    }

    /// The file at `path`, if there is one.
    pub fn file(&self, path: &str) -> Option<&SimFile> {
        self.files.get(&DiskPath::from(path))
    }

    /// A copy of every file's bytes, by path, which a restarting node reads: each file's chunks
    /// concatenated into one buffer (restarts are rare, appends are not).
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.files.iter().map(|(key, file)| (key.to_string(), file.contents().into_owned())).collect()
    }

    /// Bytes written but not flushed, over all files.
    pub fn pending_bytes(&self) -> usize {
        self.files.values().map(SimFile::pending_bytes).sum()
    }

    /// The page cache is gone: every file is cut back to its durable length. With `may_tear`,
    /// `rng` may decide that write-back was in the middle of the file written last: part of its
    /// oldest unflushed write survives, a torn batch for recovery to find.
    pub fn lose_unflushed(&mut self, rng: &mut impl Rng, may_tear: bool) -> Loss {
        let mut loss = Loss::default();
        let last_pending = self
            .files
            .iter()
            .filter(|(_, f)| f.first_pending_len > 1 && f.last_append > 0)
            .max_by_key(|(_, f)| f.last_append)
            .map(|(p, _)| p);
        let tear = match last_pending {
            Some(key) if may_tear => {
                let first = self.files[key].first_pending_len;
                rng.gen_bool(0.5).then(|| (key.clone(), first, rng.gen_range(1..first)))
            }
            _ => None,
        };
        // Each file is cut on its own, so the order the files are visited in changes nothing
        // (and the file written last is one: every append numbers its file anew).
        for (key, file) in &mut self.files {
            let mut keep = file.durable_len;
            if let Some((torn_key, len, kept)) = &tear {
                if torn_key == key {
                    keep += kept;
                    loss.torn = Some((key.to_string(), *kept, *len));
                }
            }
            if keep < file.len {
                loss.bytes_lost += file.len - keep;
                loss.files += 1;
                file.truncate(keep);
            }
            // Whatever is on the platter after the power comes back is durable.
            file.durable_len = file.len;
            file.first_pending_len = 0;
        }
        loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn append(path: &str, bytes: &[u8]) -> DiskOp {
        DiskOp::Append { path: path.into(), bytes: SharedBytes::from(bytes) }
    }

    #[test]
    fn only_flushed_bytes_survive() {
        let mut disk = SimDisk::default();
        disk.apply(append("a.log", b"hello"));
        disk.apply(DiskOp::Flush { path: "a.log".into() });
        disk.apply(append("a.log", b" world"));
        disk.apply(append("b.log", b"gone"));
        assert_eq!(disk.pending_bytes(), 10);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let loss = disk.lose_unflushed(&mut rng, false);
        assert_eq!(loss, Loss { bytes_lost: 10, files: 2, torn: None });
        assert_eq!(&*disk.file("a.log").unwrap().contents(), b"hello");
        assert_eq!(&*disk.file("b.log").unwrap().contents(), b"");
    }

    #[test]
    fn truncation_and_atomic_writes_are_durable_at_once() {
        let mut disk = SimDisk::default();
        disk.apply(append("a.log", b"0123456789"));
        disk.apply(DiskOp::Flush { path: "a.log".into() });
        disk.apply(DiskOp::Truncate { path: "a.log".into(), len_bytes: 4 });
        disk.apply(DiskOp::WriteAtomically { path: "cp".into(), bytes: b"0\n0\n".to_vec() });
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        disk.lose_unflushed(&mut rng, true);
        assert_eq!(&*disk.file("a.log").unwrap().contents(), b"0123");
        assert_eq!(&*disk.file("cp").unwrap().contents(), b"0\n0\n");
    }

    #[test]
    fn a_torn_write_keeps_part_of_the_last_append() {
        let mut torn_seen = false;
        for seed in 0..20 {
            let mut disk = SimDisk::default();
            disk.apply(append("a.log", b"first-write!"));
            disk.apply(append("a.log", b"second"));
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let loss = disk.lose_unflushed(&mut rng, true);
            let len = disk.file("a.log").unwrap().len();
            match loss.torn {
                Some((_, kept, 12)) => {
                    torn_seen = true;
                    assert!((1..12).contains(&kept), "part of the oldest unflushed write");
                    assert_eq!(len, kept, "nothing after it survives");
                }
                Some(other) => panic!("unexpected tear {other:?}"),
                None => assert_eq!(len, 0),
            }
        }
        assert!(torn_seen, "some seed tears the write");
    }

    #[test]
    fn truncation_drops_whole_chunks_and_shortens_the_one_it_falls_in() {
        let mut disk = SimDisk::default();
        for part in [&b"abc"[..], b"defg", b"hi"] {
            disk.apply(append("a.log", part));
        }
        disk.apply(DiskOp::Flush { path: "a.log".into() });
        disk.apply(DiskOp::Truncate { path: "a.log".into(), len_bytes: 5 });
        let file = disk.file("a.log").unwrap();
        assert_eq!((&*file.contents(), file.len(), file.chunks.len()), (&b"abcde"[..], 5, 2));
        assert_eq!(file.pending_bytes(), 0, "the cut is durable and nothing past it is pending");
        disk.apply(append("a.log", b"XY"));
        assert_eq!(&*disk.file("a.log").unwrap().contents(), b"abcdeXY");
        disk.apply(DiskOp::Truncate { path: "a.log".into(), len_bytes: 100 });
        assert_eq!(&*disk.file("a.log").unwrap().contents(), b"abcdeXY", "cutting to a greater length changes nothing");
        disk.apply(DiskOp::Truncate { path: "a.log".into(), len_bytes: 3 });
        assert_eq!(
            (&*disk.file("a.log").unwrap().contents(), disk.file("a.log").unwrap().chunks.len()),
            (&b"abc"[..], 1)
        );
        disk.apply(DiskOp::Truncate { path: "a.log".into(), len_bytes: 0 });
        let file = disk.file("a.log").unwrap();
        assert!(file.is_empty() && file.chunks.is_empty(), "no empty chunk is kept");
        assert_eq!(disk.snapshot()["a.log"], Vec::<u8>::new());
    }

    #[test]
    fn a_torn_write_after_durable_chunks_keeps_them_and_part_of_the_next() {
        let mut torn_seen = false;
        for seed in 0..20 {
            let mut disk = SimDisk::default();
            disk.apply(append("a.log", b"safe"));
            disk.apply(append("a.log", b"-and-sound"));
            disk.apply(DiskOp::Flush { path: "a.log".into() });
            disk.apply(append("a.log", b"first-write!"));
            disk.apply(append("a.log", b"second"));
            assert_eq!(disk.file("a.log").unwrap().pending_bytes(), 18);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let loss = disk.lose_unflushed(&mut rng, true);
            let contents = disk.snapshot().remove("a.log").expect("the file stays");
            match loss.torn {
                Some((_, kept, 12)) => {
                    torn_seen = true;
                    assert_eq!(loss.bytes_lost, 18 - kept);
                    assert_eq!(contents, [&b"safe-and-sound"[..], &b"first-write!"[..kept]].concat());
                }
                Some(other) => panic!("unexpected tear {other:?}"),
                None => assert_eq!(contents, b"safe-and-sound"),
            }
            assert_eq!(disk.file("a.log").unwrap().pending_bytes(), 0, "what survived is durable");
        }
        assert!(torn_seen, "some seed tears the write");
    }

    #[test]
    fn disks_share_an_appended_buffer_and_cut_it_independently() {
        let batch: SharedBytes = SharedBytes::from(&b"one batch, encoded once"[..]);
        let mut disks = [SimDisk::default(), SimDisk::default(), SimDisk::default()];
        for disk in &mut disks {
            disk.apply(append("a.log", b"head:"));
            disk.apply(DiskOp::Append { path: "a.log".into(), bytes: batch.clone() });
        }
        for disk in &disks {
            let chunk = disk.file("a.log").unwrap().chunks.get(1);
            assert_eq!(chunk.as_ptr(), batch.as_ptr(), "every disk holds the one buffer, not a copy");
        }
        disks[0].apply(DiskOp::Truncate { path: "a.log".into(), len_bytes: 8 });
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        disks[1].lose_unflushed(&mut rng, false);
        assert_eq!(&*disks[0].file("a.log").unwrap().contents(), b"head:one");
        assert_eq!(&*disks[1].file("a.log").unwrap().contents(), b"");
        assert_eq!(&*disks[2].file("a.log").unwrap().contents(), b"head:one batch, encoded once");
        assert_eq!(&batch[..], b"one batch, encoded once", "cutting a file never changes the buffer");
    }

    /// A segment appends through one shared path; flushes, truncations and lookups build the
    /// path afresh from text. Both find the same file, and the files list in path order.
    #[test]
    fn a_shared_path_and_one_built_from_text_name_the_same_file() {
        let shared = DiskPath::from("orders-0/00000000000000000000.log");
        let mut disk = SimDisk::default();
        disk.apply(DiskOp::Append { path: shared.clone(), bytes: SharedBytes::from(&b"first "[..]) });
        disk.apply(append("orders-0/00000000000000000000.log", b"second "));
        disk.apply(DiskOp::Append { path: shared.clone(), bytes: SharedBytes::from(&b"third"[..]) });
        disk.apply(append("orders-0/00000000000000000000.index", b"i"));
        disk.apply(DiskOp::Flush { path: "orders-0/00000000000000000000.log".to_string() });
        let file = disk.file(&shared).expect("one file");
        assert_eq!(&*file.contents(), b"first second third");
        assert_eq!(file.pending_bytes(), 0, "the flush found the file the appends wrote");
        let paths: Vec<&str> = disk.files().into_keys().collect();
        assert_eq!(paths, ["orders-0/00000000000000000000.index", "orders-0/00000000000000000000.log"]);
        let rebuilt = DiskPath::from(shared.to_string());
        assert!(shared == rebuilt && shared.cmp(&rebuilt).is_eq(), "equal paths are equal keys");
        assert_eq!(
            format!("{shared} {shared:?}"),
            r#"orders-0/00000000000000000000.log "orders-0/00000000000000000000.log""#
        );
    }

    #[test]
    fn files_compare_by_content_not_by_chunks() {
        let split = SimFile {
            chunks: [SharedBytes::from(&b"ab"[..]), SharedBytes::from(&b"cd"[..])].into_iter().collect(),
            len: 4,
            ..SimFile::default()
        };
        let whole =
            SimFile { chunks: [SharedBytes::from(&b"abcd"[..])].into_iter().collect(), len: 4, ..SimFile::default() };
        let other =
            SimFile { chunks: [SharedBytes::from(&b"abce"[..])].into_iter().collect(), len: 4, ..SimFile::default() };
        assert_eq!(split, whole);
        assert_ne!(split, other);
        assert_eq!(split.contents(), whole.contents());
    }

    /// A disk against a plain model, a map from path to (bytes, durable length): after any
    /// appends, flushes, truncations, atomic writes and deletions over paths that share long
    /// prefixes, the files are the model's, listed by path whatever order the disk keeps them in,
    /// and a power loss (without a tear) cuts each back to the model's durable length.
    mod model {
        use super::*;
        use proptest::prelude::*;

        const PATHS: [&str; 6] = [
            "orders-0/00000000000000000000.log",
            "orders-0/00000000000000000000.index",
            "orders-1/00000000000000000000.log",
            "orders-10/00000000000000000000.log",
            "__consumer_offsets-0/00000000000000000000.log",
            "__consumer_offsets-0/00000000000000000042.log",
        ];

        fn op() -> impl Strategy<Value = (u8, usize, Vec<u8>)> {
            (0u8..5, 0..PATHS.len(), proptest::collection::vec(any::<u8>(), 0..6))
        }

        proptest! {
            #[test]
            fn a_disk_holds_what_a_map_of_paths_holds(ops in proptest::collection::vec(op(), 1..60), lose in any::<bool>()) {
                let mut disk = SimDisk::default();
                let mut model: BTreeMap<String, (Vec<u8>, usize)> = BTreeMap::new();
                for (kind, p, bytes) in ops {
                    let path = PATHS[p].to_string();
                    match kind {
                        0 => {
                            model.entry(path.clone()).or_default().0.extend_from_slice(&bytes);
                            disk.apply(DiskOp::Append { path: path.into(), bytes: SharedBytes::from(bytes) });
                        }
                        1 => {
                            if let Some((content, durable)) = model.get_mut(&path) {
                                *durable = content.len();
                            }
                            disk.apply(DiskOp::Flush { path });
                        }
                        2 => {
                            let len = bytes.len();
                            if let Some((content, durable)) = model.get_mut(&path) {
                                content.truncate(len);
                                *durable = (*durable).min(content.len());
                            }
                            disk.apply(DiskOp::Truncate { path, len_bytes: len as u64 });
                        }
                        3 => {
                            model.insert(path.clone(), (bytes.clone(), bytes.len()));
                            disk.apply(DiskOp::WriteAtomically { path, bytes });
                        }
                        _ => {
                            model.remove(&path);
                            disk.apply(DiskOp::Delete { path });
                        }
                    }
                }
                if lose {
                    let lost = disk.lose_unflushed(&mut rand_chacha::ChaCha8Rng::seed_from_u64(7), false);
                    let mut expected = Loss::default();
                    for (content, durable) in model.values_mut() {
                        if content.len() > *durable {
                            expected.bytes_lost += content.len() - *durable;
                            expected.files += 1;
                            content.truncate(*durable);
                        }
                    }
                    prop_assert_eq!(lost, expected);
                }
                let listed: Vec<(&str, Vec<u8>, usize)> =
                    disk.files().into_iter().map(|(path, f)| (path, f.contents().into_owned(), f.pending_bytes())).collect();
                let wanted: Vec<(&str, Vec<u8>, usize)> =
                    model.iter().map(|(path, (content, durable))| (path.as_str(), content.clone(), content.len() - durable)).collect();
                prop_assert_eq!(listed, wanted);
                for path in PATHS {
                    prop_assert_eq!(disk.file(path).map(|f| f.contents().into_owned()), model.get(path).map(|(c, _)| c.clone()));
                }
            }
        }
    }
}
