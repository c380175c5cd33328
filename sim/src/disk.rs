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

use cluster::node::DiskOp;
use rand::Rng;
use std::collections::BTreeMap;

/// One file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimFile {
    bytes: Vec<u8>,
    durable_len: usize,
    /// Length of the oldest write not yet durable, the one write-back would be in the middle of.
    first_pending_len: usize,
    /// When it was last appended to, in disk-wide append order.
    last_append: u64,
}

impl SimFile {
    /// The bytes the running process sees.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Bytes written but not flushed.
    pub fn pending_bytes(&self) -> usize {
        self.bytes.len() - self.durable_len
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
    files: BTreeMap<String, SimFile>,
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
                let start = file.bytes.len();
                if start == file.durable_len {
                    file.first_pending_len = bytes.len();
                }
                file.bytes.extend_from_slice(&bytes);
                if !bytes.is_empty() {
                    self.appends += 1;
                    file.last_append = self.appends;
                }
            }
            DiskOp::Truncate { path, len_bytes } => {
                if let Some(file) = self.files.get_mut(&path) {
                    let len = (len_bytes as usize).min(file.bytes.len());
                    file.bytes.truncate(len);
                    file.durable_len = file.durable_len.min(len);
                    file.first_pending_len = file.first_pending_len.min(len - file.durable_len);
                }
            }
            DiskOp::WriteAtomically { path, bytes } => {
                let durable_len = bytes.len();
                self.files.insert(path, SimFile { bytes, durable_len, first_pending_len: 0, last_append: 0 });
            }
            DiskOp::Delete { path } => {
                self.files.remove(&path);
            }
            DiskOp::Flush { path } => {
                if let Some(file) = self.files.get_mut(&path) {
                    file.durable_len = file.bytes.len();
                    file.first_pending_len = 0;
                }
            }
        }
    }

    /// Every file, by path.
    pub fn files(&self) -> &BTreeMap<String, SimFile> {
        &self.files
    }

    /// A copy of every file's bytes, which a restarting node reads.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.files.iter().map(|(path, file)| (path.clone(), file.bytes.clone())).collect()
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
            Some(path) if may_tear => {
                let first = self.files[path].first_pending_len;
                rng.gen_bool(0.5).then(|| (path.clone(), first, rng.gen_range(1..first)))
            }
            _ => None,
        };
        for (path, file) in &mut self.files {
            let mut keep = file.durable_len;
            if let Some((torn_path, len, kept)) = &tear {
                if torn_path == path {
                    keep += kept;
                    loss.torn = Some((path.clone(), *kept, *len));
                }
            }
            if keep < file.bytes.len() {
                loss.bytes_lost += file.bytes.len() - keep;
                loss.files += 1;
                file.bytes.truncate(keep);
            }
            // Whatever is on the platter after the power comes back is durable.
            file.durable_len = file.bytes.len();
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
        DiskOp::Append { path: path.into(), bytes: bytes.to_vec() }
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
        assert_eq!(disk.files()["a.log"].bytes(), b"hello");
        assert_eq!(disk.files()["b.log"].bytes(), b"");
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
        assert_eq!(disk.files()["a.log"].bytes(), b"0123");
        assert_eq!(disk.files()["cp"].bytes(), b"0\n0\n");
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
            let len = disk.files()["a.log"].bytes().len();
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
}
