//! `kafkalab dump-log`: a replica's segment files decoded the way `kafka-dump-log.sh
//! --print-data-log` shows them (apache/kafka: core/src/main/scala/kafka/tools/DumpLogSegments.scala).
//!
//! The dump reads the files on the broker's simulated disk, not the broker's memory, so it works
//! for a broker that is down and shows what a restart would find: bytes not yet flushed are
//! marked, and bytes that do not decode (a torn write) are reported as such.

use crate::world::World;
use cluster::ids::{NodeId, TopicPartition};
use cluster::log::segment::{base_offset_of, file_name};
use cluster::log::PartitionLog;
use cluster::record::RecordBatch;
use serde::Serialize;
use std::fmt::Write as _;

/// One batch as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DumpedBatch {
    /// Byte position in the segment file.
    pub position: u64,
    /// Encoded size in bytes, as stored: for a compressed batch, with its records compressed.
    pub size_bytes: u64,
    /// The CRC-32C stored in the batch header.
    pub crc: u32,
    /// Whether the batch lies wholly in the flushed (durable) part of the file.
    pub flushed: bool,
    /// The decoded batch.
    #[serde(skip)]
    pub batch: RecordBatch,
}

/// One segment file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DumpedSegment {
    /// The file, relative to the broker's data directory.
    pub file: String,
    /// The segment's base offset.
    pub base_offset: i64,
    /// Size of the `.log` file in bytes.
    pub size_bytes: u64,
    /// Bytes of the file not yet flushed (lost on a crash or power loss).
    pub unflushed_bytes: u64,
    /// Whether this is the active (last) segment.
    pub active: bool,
    /// Bytes at the end that do not decode as a batch (a torn write).
    pub invalid_bytes: u64,
    /// Offset-index entries as `(offset, position)`, from the `.index` file.
    pub index_entries: usize,
    /// The batches, oldest first.
    #[serde(skip)]
    pub batches: Vec<DumpedBatch>,
}

/// One record, as `--json` prints it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DumpedRecord {
    /// The record's offset.
    pub offset: i64,
    /// The key, `null` when keyless.
    pub key: Option<String>,
    /// The value, `null` for a tombstone.
    pub value: Option<String>,
    /// CreateTime in milliseconds of simulated time.
    pub timestamp_ms: i64,
    /// The leader epoch of the batch that holds it.
    pub leader_epoch: i32,
}

/// A replica's log as its files hold it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogDump {
    /// The partition.
    pub topic: String,
    /// The partition index.
    pub partition: i32,
    /// The broker whose disk was read.
    pub broker: i32,
    /// Simulated time of the dump, in milliseconds.
    pub time_ms: u64,
    /// Whether the broker process was running.
    pub broker_up: bool,
    /// The segments, oldest first.
    pub segments: Vec<DumpedSegment>,
    /// Every record of every segment, in offset order.
    pub records: Vec<DumpedRecord>,
}

/// Reads `tp`'s files from `broker`'s disk. `None` when the disk holds no directory for it.
pub fn dump(world: &World, broker: NodeId, tp: &TopicPartition) -> Option<LogDump> {
    let slot = world.slots().get(&broker)?;
    let disk = slot.disk.lock().unwrap_or_else(|e| e.into_inner());
    let dir = format!("{}/", PartitionLog::dir_name(tp));
    let mut bases: Vec<i64> =
        disk.files().keys().filter_map(|path| path.strip_prefix(&dir)).filter_map(base_offset_of).collect();
    if bases.is_empty() {
        return None;
    }
    bases.sort_unstable();
    let last = *bases.last().expect("non-empty");
    let mut segments = Vec::new();
    let mut records = Vec::new();
    for base in bases {
        let file = format!("{dir}{}", file_name(base, "log"));
        let stored = disk.file(&file).expect("listed above");
        let bytes = stored.contents();
        let durable = bytes.len() - stored.pending_bytes();
        let mut at = 0usize;
        let mut batches = Vec::new();
        while at < bytes.len() {
            let Ok((batch, used)) = RecordBatch::decode(&bytes[at..]) else { break };
            let crc_at = at + cluster::record::CRC_OFFSET;
            let crc = u32::from_be_bytes(bytes[crc_at..crc_at + 4].try_into().expect("4 bytes"));
            for r in batch.records().iter() {
                records.push(DumpedRecord {
                    offset: batch.offset_of(r),
                    key: r.key.as_deref().map(str::to_string),
                    value: r.value.as_deref().map(str::to_string),
                    timestamp_ms: r.timestamp_ms,
                    leader_epoch: batch.partition_leader_epoch(),
                });
            }
            batches.push(DumpedBatch {
                position: at as u64,
                size_bytes: used as u64,
                crc,
                flushed: at + used <= durable,
                batch,
            });
            at += used;
        }
        let index_entries = disk.file(&format!("{dir}{}", file_name(base, "index"))).map_or(0, |f| f.len() / 8);
        segments.push(DumpedSegment {
            file,
            base_offset: base,
            size_bytes: bytes.len() as u64,
            unflushed_bytes: stored.pending_bytes() as u64,
            active: base == last,
            invalid_bytes: (bytes.len() - at) as u64,
            index_entries,
            batches,
        });
    }
    let broker_up = slot.hosted.lock().unwrap_or_else(|e| e.into_inner()).is_some();
    Some(LogDump {
        topic: tp.topic.to_string(),
        partition: tp.partition,
        broker: broker.0,
        time_ms: world.elapsed().as_millis() as u64,
        broker_up,
        segments,
        records,
    })
}

/// The dump as `kafka-dump-log.sh --print-data-log` prints it, one block per segment file.
pub fn render_text(dump: &LogDump) -> String {
    let mut out = String::new();
    let state = if dump.broker_up { "up" } else { "down" };
    // Dedicated controllers keep only the metadata log; their ids start at 3000.
    let kind = if cluster::ids::NodeId(dump.broker).is_broker() { "broker" } else { "controller" };
    let _ = writeln!(
        out,
        "# {kind} {} ({state}) at {}.{:03}s, {}-{}",
        dump.broker,
        dump.time_ms / 1000,
        dump.time_ms % 1000,
        dump.topic,
        dump.partition
    );
    for s in &dump.segments {
        let _ = writeln!(out, "Dumping {}", s.file);
        let _ = writeln!(out, "Log starting offset: {}", s.base_offset);
        for b in &s.batches {
            let batch = &b.batch;
            let last_sequence =
                if batch.base_sequence() < 0 { -1 } else { batch.base_sequence() + batch.last_offset_delta() };
            let horizon =
                batch.delete_horizon_ms().map_or("OptionalLong.empty".to_string(), |h| format!("OptionalLong[{h}]"));
            let _ = writeln!(
                out,
                "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {last_sequence} producerId: {} \
                 producerEpoch: {} partitionLeaderEpoch: {} isTransactional: false isControl: {} deleteHorizonMs: {horizon} \
                 position: {} CreateTime: {} size: {} magic: 2 compresscodec: {} crc: {} isvalid: true{}",
                batch.base_offset(),
                batch.last_offset(),
                batch.record_count(),
                batch.base_sequence(),
                batch.producer_id(),
                batch.producer_epoch(),
                batch.partition_leader_epoch(),
                batch.is_control(),
                b.position,
                batch.max_timestamp_ms(),
                b.size_bytes,
                batch.compression().name(),
                b.crc,
                if b.flushed { "" } else { " (unflushed)" },
            );
            for r in batch.records().iter() {
                let sequence = if batch.base_sequence() < 0 { -1 } else { batch.base_sequence() + r.offset_delta };
                let headers: Vec<&str> = r.headers.iter().map(|(k, _)| &**k).collect();
                let _ = writeln!(
                    out,
                    "| offset: {} CreateTime: {} keySize: {} valueSize: {} sequence: {sequence} headerKeys: [{}] key: {} payload: {}",
                    batch.offset_of(r),
                    r.timestamp_ms,
                    r.key.as_ref().map_or(-1, |k| k.len() as i64),
                    r.value.as_ref().map_or(-1, |v| v.len() as i64),
                    headers.join(","),
                    r.key.as_deref().unwrap_or("null"),
                    r.value.as_deref().unwrap_or("null"),
                );
            }
        }
        if s.invalid_bytes > 0 {
            let _ = writeln!(
                out,
                "Found {} invalid bytes at the end of {} (a torn write; log recovery cuts them)",
                s.invalid_bytes, s.file
            );
        }
        let _ = writeln!(
            out,
            "# {} bytes, {} unflushed, {} offset-index entries{}",
            s.size_bytes,
            s.unflushed_bytes,
            s.index_entries,
            if s.active { ", active segment" } else { "" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A topic stored in `topic_codec` by its `compression.type` (the producer sends uncompressed
    /// batches), run until every record is written, dumped from broker 1.
    fn dump_of_a_compressed_topic(topic_codec: &str) -> LogDump {
        let source = format!(
            r#"Scenario(
                name: "compressed topic",
                description: "A topic whose compression.type makes the broker recompress.",
                seed: 1,
                kafka_version: "3.9",
                duration: "5s",
                cluster: (brokers: 1),
                topics: [(name: "metrics", partitions: 1, replication_factor: 1, configs: {{"compression.type": "{topic_codec}"}})],
                clients: [
                    Producer(id: "p", topic: "metrics", configs: {{"acks": "1"}}, records: [
                        (at: "2s", key: "k", value: "temperature reading 1 of sensor-7"),
                        (at: "2.5s", key: "k", value: "temperature reading 2 of sensor-7"),
                    ]),
                ],
            )"#
        );
        let scenario = crate::scenario::parse_str(&source, "test").unwrap_or_else(|e| panic!("{e}"));
        crate::dump_log(scenario, 1, None, "metrics", 0, Some(1)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_batch_line_names_the_stored_codec_and_its_real_size() {
        for codec in ["uncompressed", "gzip", "snappy", "lz4", "zstd"] {
            let dump = dump_of_a_compressed_topic(codec);
            let batches: Vec<&DumpedBatch> = dump.segments.iter().flat_map(|s| &s.batches).collect();
            assert_eq!(batches.len(), 2, "{codec}");
            let name = if codec == "uncompressed" { "none" } else { codec };
            let text = render_text(&dump);
            for b in batches {
                assert_eq!(b.batch.compression().name(), name);
                // The size shown is the stored (compressed) encoding's.
                assert_eq!(b.size_bytes, b.batch.size_bytes() as u64, "{codec}");
                let expected =
                    format!("size: {} magic: 2 compresscodec: {name} crc: {} isvalid: true", b.size_bytes, b.crc);
                assert!(text.contains(&expected), "{codec}: no \"{expected}\" in\n{text}");
            }
        }
    }
}
