//! Checkpoint files: small text files Kafka rewrites atomically (write a temporary file, flush,
//! rename) to remember offsets across restarts (apache/kafka:
//! server-common/.../checkpoint/CheckpointFile.java).
//!
//! Every file is `version`, `count`, then `count` lines. Broker-wide offset checkpoints
//! (`replication-offset-checkpoint`, `recovery-point-offset-checkpoint`,
//! `log-start-offset-checkpoint`, `cleaner-offset-checkpoint`) have lines `topic partition
//! offset`; a partition's `leader-epoch-checkpoint` has lines `epoch start_offset`.

use crate::ids::TopicPartition;
use std::collections::BTreeMap;

/// The high watermark of every partition, rewritten every
/// `replica.high.watermark.checkpoint.interval.ms`.
pub const HIGH_WATERMARK_FILE: &str = "replication-offset-checkpoint";
/// The recovery point of every log: offsets below it were flushed and need no recovery,
/// rewritten every `log.flush.offset.checkpoint.interval.ms`.
pub const RECOVERY_POINT_FILE: &str = "recovery-point-offset-checkpoint";
/// The log start offset of every log, rewritten every
/// `log.flush.start.offset.checkpoint.interval.ms`.
pub const LOG_START_OFFSET_FILE: &str = "log-start-offset-checkpoint";
/// The log cleaner's first dirty offset of every compacted log, rewritten after each cleaning.
pub const CLEANER_OFFSET_FILE: &str = "cleaner-offset-checkpoint";
/// A partition's leader-epoch cache, beside its segments.
pub const LEADER_EPOCH_FILE: &str = "leader-epoch-checkpoint";

const VERSION: &str = "0";

/// Why a checkpoint file could not be read. Kafka treats an unreadable checkpoint as missing
/// and falls back to the safe value (offset 0, a full recovery), and so does the simulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointError(pub String);

/// Encodes a broker-wide offset checkpoint.
pub fn encode_offsets(offsets: &BTreeMap<TopicPartition, i64>) -> Vec<u8> {
    let mut text = format!("{VERSION}\n{}\n", offsets.len());
    for (tp, offset) in offsets {
        text.push_str(&format!("{} {} {offset}\n", tp.topic, tp.partition));
    }
    text.into_bytes()
}

/// Decodes a broker-wide offset checkpoint.
pub fn decode_offsets(bytes: &[u8]) -> Result<BTreeMap<TopicPartition, i64>, CheckpointError> {
    let lines = body(bytes)?;
    let mut out = BTreeMap::new();
    for line in lines {
        let fields: Vec<&str> = line.split(' ').collect();
        let [topic, partition, offset] = fields[..] else {
            return Err(CheckpointError(format!("expected `topic partition offset`, found {line:?}")));
        };
        let partition = partition.parse().map_err(|_| CheckpointError(format!("bad partition in {line:?}")))?;
        let offset = offset.parse().map_err(|_| CheckpointError(format!("bad offset in {line:?}")))?;
        out.insert(TopicPartition::new(topic, partition), offset);
    }
    Ok(out)
}

/// Encodes a `leader-epoch-checkpoint` from `(epoch, start_offset)` entries.
pub fn encode_epochs(entries: &[(i32, i64)]) -> Vec<u8> {
    let mut text = format!("{VERSION}\n{}\n", entries.len());
    for (epoch, start) in entries {
        text.push_str(&format!("{epoch} {start}\n"));
    }
    text.into_bytes()
}

/// Decodes a `leader-epoch-checkpoint`.
pub fn decode_epochs(bytes: &[u8]) -> Result<Vec<(i32, i64)>, CheckpointError> {
    body(bytes)?
        .into_iter()
        .map(|line| {
            let (epoch, start) = line
                .split_once(' ')
                .ok_or_else(|| CheckpointError(format!("expected `epoch offset`, found {line:?}")))?;
            Ok((
                epoch.parse().map_err(|_| CheckpointError(format!("bad epoch in {line:?}")))?,
                start.parse().map_err(|_| CheckpointError(format!("bad offset in {line:?}")))?,
            ))
        })
        .collect()
}

fn body(bytes: &[u8]) -> Result<Vec<&str>, CheckpointError> {
    let text = std::str::from_utf8(bytes).map_err(|_| CheckpointError("not UTF-8".into()))?;
    let mut lines = text.lines();
    if lines.next() != Some(VERSION) {
        return Err(CheckpointError("unknown checkpoint version".into()));
    }
    let count: usize =
        lines.next().and_then(|c| c.parse().ok()).ok_or_else(|| CheckpointError("missing entry count".into()))?;
    let entries: Vec<&str> = lines.collect();
    if entries.len() != count {
        return Err(CheckpointError(format!("expected {count} entries, found {}", entries.len())));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_and_look_like_kafkas() {
        let mut offsets = BTreeMap::new();
        offsets.insert(TopicPartition::new("orders", 1), 45);
        offsets.insert(TopicPartition::new("__consumer_offsets", 12), 3);
        let bytes = encode_offsets(&offsets);
        assert_eq!(String::from_utf8(bytes.clone()).unwrap(), "0\n2\n__consumer_offsets 12 3\norders 1 45\n");
        assert_eq!(decode_offsets(&bytes), Ok(offsets));
        assert!(decode_offsets(b"0\n3\norders 1 45\n").is_err(), "count mismatch");
    }

    #[test]
    fn epochs_round_trip() {
        let entries = vec![(0, 0), (3, 120)];
        assert_eq!(decode_epochs(&encode_epochs(&entries)), Ok(entries));
        assert!(decode_epochs(b"1\n0\n").is_err());
    }
}
