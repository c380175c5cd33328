//! Unit and model-based tests of the log: the epoch cache against Kafka's examples, the log
//! against a `Vec` model through appends, reads, truncation, rolls, retention, crashes and
//! recovery, and the cleaner against a `BTreeMap` model.

use super::segment::RollReason;
use super::*;
use crate::key::Key;
use crate::shared_bytes::SharedBytes;
use proptest::prelude::*;

fn rec(key: Option<&str>, value: Option<&str>, timestamp_ms: i64) -> Record {
    Record {
        offset_delta: 0,
        timestamp_ms,
        key: key.map(Key::from),
        value: value.map(Arc::from),
        headers: Default::default(),
    }
}

fn records(values: &[String], timestamp_ms: i64) -> Vec<Record> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| Record { offset_delta: i as i32, ..rec(None, Some(v), timestamp_ms) })
        .collect()
}

fn tp() -> TopicPartition {
    TopicPartition::new("t", 0)
}

fn small_segments() -> LogConfig {
    LogConfig { segment_bytes: 400, index_interval_bytes: 100, ..LogConfig::default() }
}

/// A file system for tests: each file's bytes and how many of them are durable, applying the
/// log's disk operations as the simulator's disk does.
#[derive(Default)]
struct TestDisk {
    files: BTreeMap<String, (Vec<u8>, usize)>,
}

impl TestDisk {
    fn apply(&mut self, ops: Vec<DiskOp>) {
        for op in ops {
            match op {
                DiskOp::Append { path, bytes } => {
                    self.files.entry(path.to_string()).or_default().0.extend_from_slice(&bytes)
                }
                DiskOp::Truncate { path, len_bytes } => {
                    if let Some((bytes, durable)) = self.files.get_mut(&path) {
                        bytes.truncate(len_bytes as usize);
                        *durable = (*durable).min(bytes.len());
                    }
                }
                DiskOp::WriteAtomically { path, bytes } => {
                    let len = bytes.len();
                    self.files.insert(path, (bytes, len));
                }
                DiskOp::Delete { path } => {
                    self.files.remove(&path);
                }
                DiskOp::Flush { path } => {
                    if let Some((bytes, durable)) = self.files.get_mut(&path) {
                        *durable = bytes.len();
                    }
                }
            }
        }
    }

    /// Power loss: files go back to their durable bytes, and `torn` extra bytes of the
    /// unflushed part of the active segment survive.
    fn lose_unflushed(&mut self, torn: usize) {
        let active = self.files.keys().filter(|p| p.ends_with(".log")).max().cloned();
        for (path, (bytes, durable)) in &mut self.files {
            let keep = if Some(path) == active.as_ref() { (*durable + torn).min(bytes.len()) } else { *durable };
            bytes.truncate(keep);
            *durable = keep;
        }
    }

    fn dir_files(&self) -> BTreeMap<String, Vec<u8>> {
        self.files
            .iter()
            .filter_map(|(path, (bytes, _))| path.strip_prefix("t-0/").map(|name| (name.to_string(), bytes.clone())))
            .collect()
    }
}

fn values(log: &PartitionLog, from: i64) -> Vec<String> {
    log.read(from, log.log_end_offset(), usize::MAX)
        .iter()
        .flat_map(|b| {
            b.records()
                .iter()
                .filter(|r| b.offset_of(r) >= from)
                .map(|r| r.value.as_deref().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn epoch_cache_lookup_matches_kafkas_examples() {
    // The reference's invented check: cache [(0,0),(2,40),(5,90)], LEO 120.
    let mut cache = LeaderEpochCache::default();
    cache.assign(0, 0);
    cache.assign(2, 40);
    cache.assign(5, 90);
    assert_eq!(cache.end_offset_for(5, 120), (5, 120));
    assert_eq!(cache.end_offset_for(3, 120), (2, 90));
    assert_eq!(cache.end_offset_for(2, 120), (2, 90));
    assert_eq!(cache.end_offset_for(1, 120), (0, 40));
    assert_eq!(cache.end_offset_for(7, 120), (-1, -1));
    let mut other = LeaderEpochCache::default();
    other.assign(4, 200);
    other.assign(6, 260);
    assert_eq!(other.end_offset_for(2, 300), (2, 200));
}

#[test]
fn assigning_an_older_epoch_drops_newer_entries_and_the_start_moves_with_the_log() {
    let mut cache = LeaderEpochCache::default();
    cache.assign(1, 0);
    cache.assign(3, 10);
    cache.assign(2, 5);
    assert_eq!(cache.entries(), &[(1, 0), (2, 5)]);
    cache.assign(2, 8); // same epoch, later start: ignored
    assert_eq!(cache.entries(), &[(1, 0), (2, 5)]);
    cache.truncate_from_start(7);
    assert_eq!(cache.entries(), &[(2, 7)]);
}

#[test]
fn truncation_drops_records_and_epochs_and_clamps_the_high_watermark() {
    let mut log = PartitionLog::new(tp(), LogConfig::default(), 0);
    log.append_as_leader(0, vec![rec(None, Some("a"), 0)], 0);
    log.append_as_leader(0, vec![rec(None, Some("b"), 0)], 0);
    log.append_as_leader(1, vec![rec(None, Some("c"), 0)], 0);
    log.set_high_watermark(3);
    assert_eq!(log.truncate_to(1, 0), 1);
    assert_eq!(log.high_watermark(), 1);
    assert_eq!(log.epochs().entries(), &[(0, 0)]);
    assert_eq!(log.record_at(0).and_then(|r| r.value).as_deref(), Some("a"));
    assert!(log.record_at(1).is_none());
}

#[test]
fn segments_roll_by_size_and_time_and_rolled_segments_are_flushed() {
    let config = LogConfig { segment_bytes: 300, segment_ms: 10_000, ..LogConfig::default() };
    let mut log = PartitionLog::new(tp(), config, 0);
    for i in 0..6 {
        log.append_as_leader(0, records(&[format!("value-{i}")], 1_000), 1_000);
    }
    assert!(log.segments().len() > 1, "300-byte segments roll");
    let rolled_at = log.segments()[1].base_offset();
    assert_eq!(log.recovery_point(), log.segments().last().unwrap().base_offset(), "a roll flushes");
    let events = log.take_events();
    assert!(events.iter().any(|e| matches!(e, Event::SegmentRolled { base_offset, reason, .. }
        if *base_offset == rolled_at && reason.contains("segment.bytes"))));
    // A segment whose first record is older than segment.ms rolls on the next append.
    let config = LogConfig { segment_ms: 10_000, ..LogConfig::default() };
    let mut log = PartitionLog::new(tp(), config, 0);
    log.append_as_leader(0, records(&["early".into()], 1_000), 1_000);
    log.append_as_leader(0, records(&["still early".into()], 5_000), 5_000);
    assert_eq!(log.segments().len(), 1);
    log.append_as_leader(0, records(&["late".into()], 20_000), 20_000);
    assert_eq!(log.segments().len(), 2, "segment.ms rolls an old segment");
    assert!(log
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::SegmentRolled { base_offset: 2, reason, .. } if reason.contains("segment.ms"))));
    // A compacted log rolls by max.compaction.lag.ms too, so its records become cleanable.
    let config = LogConfig {
        cleanup_policy: crate::config::CleanupPolicy { delete: false, compact: true },
        max_compaction_lag_ms: 3_000,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::new(tp(), config, 0);
    log.append_as_leader(0, vec![rec(Some("k"), Some("1"), 1_000)], 1_000);
    log.append_as_leader(0, vec![rec(Some("k"), Some("2"), 5_000)], 5_000);
    assert_eq!(log.segments().len(), 2);
}

#[test]
fn lookups_by_time_use_the_time_index() {
    let mut log = PartitionLog::new(tp(), small_segments(), 0);
    for i in 0..40i64 {
        log.append_as_leader(0, records(&[format!("v{i}")], i * 100), i * 100);
    }
    log.set_high_watermark(40);
    assert!(log.segments().iter().any(|s| s.time_index().entries().count() > 0));
    assert_eq!(log.offset_for_timestamp(0), Some((0, 0)));
    assert_eq!(log.offset_for_timestamp(1_050), Some((11, 1_100)));
    assert_eq!(log.offset_for_timestamp(3_900), Some((39, 3_900)));
    assert_eq!(log.offset_for_timestamp(3_901), None);
}

#[test]
fn retention_deletes_old_segments_but_never_past_the_high_watermark() {
    let config = LogConfig { segment_bytes: 300, retention_ms: 5_000, ..LogConfig::default() };
    let mut log = PartitionLog::new(tp(), config, 0);
    for i in 0..20i64 {
        log.append_as_leader(0, records(&[format!("value-{i}")], i * 1_000), i * 1_000);
    }
    assert_eq!(log.delete_old_segments(30_000), 0, "the high watermark is 0: nothing may go");
    log.set_high_watermark(20);
    let deleted = log.delete_old_segments(30_000);
    assert!(deleted > 0);
    assert_eq!(log.log_start_offset(), log.segments()[0].base_offset());
    assert_eq!(log.segments().len(), 1, "every record is old, so only a fresh active segment remains");
    assert_eq!(log.log_start_offset(), 20);
    assert_eq!(log.log_end_offset(), 20);
}

#[test]
fn the_cleaner_follows_the_references_example() {
    // `0 a=1, 1 b=1, 2 a=2, 3 c=1, 4 b=null, 5 a=3 | 6 d=1, 7 c=2`, HW 8, active segment at 6.
    let config = LogConfig {
        cleanup_policy: crate::config::CleanupPolicy { delete: false, compact: true },
        delete_retention_ms: 1_000,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::new(tp(), config, 0);
    for (k, v) in
        [("a", Some("1")), ("b", Some("1")), ("a", Some("2")), ("c", Some("1")), ("b", None), ("a", Some("3"))]
    {
        log.append_as_leader(0, vec![rec(Some(k), v, 0)], 0);
    }
    log.roll(RollReason::SegmentMs, 0);
    log.append_as_leader(0, vec![rec(Some("d"), Some("1"), 0)], 0);
    log.append_as_leader(0, vec![rec(Some("c"), Some("2"), 0)], 0);
    log.set_high_watermark(8);
    let offsets = |log: &PartitionLog| log.batches().flat_map(|b| b.record_offsets()).collect::<Vec<_>>();
    assert_eq!(log.cleaning_need(10), Some(cleaner::CleaningNeed::DirtyRatio(1.0)));
    log.clean(10);
    assert_eq!(offsets(&log), [3, 4, 5, 6, 7]);
    assert_eq!(log.read(0, 8, usize::MAX)[0].base_offset(), 3, "a fetch at 0 starts at the next survivor");
    // Once 6 and 7 are in a cleaned segment, 3 goes; after the horizon, 4 goes too.
    log.append_as_leader(0, vec![rec(Some("e"), Some("1"), 0)], 0);
    log.roll(RollReason::SegmentMs, 0);
    log.append_as_leader(0, vec![rec(Some("f"), Some("1"), 0)], 0);
    log.set_high_watermark(10);
    log.clean(20);
    assert_eq!(offsets(&log), [4, 5, 6, 7, 8, 9], "the tombstone is still inside its horizon");
    assert_eq!(log.cleaning_need(2_000), Some(cleaner::CleaningNeed::TombstonesExpired));
    log.clean(2_000);
    assert_eq!(offsets(&log), [5, 6, 7, 8, 9]);
}

/// One step of the model-based test.
#[derive(Clone, Debug)]
enum Op {
    Append(Vec<String>),
    Roll,
    Truncate(usize),
    Flush,
    Retention,
    Crash { torn: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec("[a-z]{1,6}", 1..4).prop_map(Op::Append),
        1 => Just(Op::Roll),
        1 => (0usize..40).prop_map(Op::Truncate),
        1 => Just(Op::Flush),
        1 => Just(Op::Retention),
        1 => (0usize..200).prop_map(|torn| Op::Crash { torn }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The log against a `Vec` of values through appends, rolls, truncation, flushes,
    /// retention, and crashes followed by recovery from the test disk: reads always give the
    /// model's values from the log start, offsets are positions in the model, and a crash keeps
    /// at least everything flushed and never a record the model does not have.
    #[test]
    fn the_log_matches_a_vec_model(ops in proptest::collection::vec(op(), 1..60)) {
        let config = LogConfig { retention_bytes: 600, ..small_segments() };
        let mut log = PartitionLog::new(tp(), config.clone(), 0);
        let mut disk = TestDisk::default();
        let mut model: Vec<String> = Vec::new();
        let mut boundaries: Vec<usize> = vec![0];
        let mut now = 0;
        for op in ops {
            now += 100;
            match op {
                Op::Append(values) => {
                    let batch = log.append_as_leader(0, records(&values, now), now);
                    prop_assert_eq!(batch.base_offset(), model.len() as i64);
                    model.extend(values);
                    boundaries.push(model.len());
                }
                Op::Roll => log.roll(RollReason::SegmentMs, now),
                Op::Truncate(k) => {
                    let k = (k as i64).clamp(log.log_start_offset(), log.log_end_offset());
                    let expected = boundaries.iter().copied().filter(|&b| b as i64 <= k).max().unwrap_or(0) as i64;
                    log.truncate_to(k, now);
                    prop_assert_eq!(log.log_end_offset(), expected.max(log.log_start_offset()));
                    model.truncate(log.log_end_offset() as usize);
                    boundaries.retain(|&b| b <= model.len());
                }
                Op::Flush => log.flush(log.log_end_offset(), now),
                Op::Retention => {
                    log.set_high_watermark(log.log_end_offset());
                    log.delete_old_segments(now);
                    prop_assert_eq!(log.log_start_offset(), log.segments()[0].base_offset());
                }
                Op::Crash { torn } => {
                    disk.apply(log.take_disk_ops());
                    let flushed = log.recovery_point();
                    disk.lose_unflushed(torn);
                    let checkpoints = Checkpoints {
                        recovery_point: Some(flushed),
                        log_start_offset: Some(log.log_start_offset()),
                        high_watermark: None,
                        cleaner_offset: None,
                    };
                    log = PartitionLog::load(tp(), config.clone(), &disk.dir_files(), checkpoints, now);
                    prop_assert!(log.log_end_offset() >= flushed, "recovery keeps every flushed record");
                    prop_assert!(log.log_end_offset() as usize <= model.len());
                    model.truncate(log.log_end_offset() as usize);
                    boundaries.retain(|&b| b <= model.len());
                }
            }
            disk.apply(log.take_disk_ops());
            let start = log.log_start_offset();
            prop_assert_eq!(values(&log, start), model[start as usize..].to_vec());
            prop_assert_eq!(log.log_end_offset(), model.len() as i64);
            if start < log.log_end_offset() {
                let probe = (start + log.log_end_offset()) / 2;
                let first = &log.read(probe, log.log_end_offset(), 1)[0];
                prop_assert!(first.base_offset() <= probe && probe <= first.last_offset(), "the index finds the batch holding {}", probe);
            }
        }
    }

    /// Recovery never returns a batch that fails its CRC, whatever happened to the unflushed
    /// bytes: it keeps a prefix of the batches written, each one intact.
    #[test]
    fn recovery_never_returns_a_corrupt_batch(batches in 1usize..30, flushed in 0usize..30, flip in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>()) {
        let mut log = PartitionLog::new(tp(), small_segments(), 0);
        let mut disk = TestDisk::default();
        let mut written = Vec::new();
        for i in 0..batches {
            written.push(log.append_as_leader(0, records(&[format!("record-{i}")], 0), 0));
            if i == flushed {
                log.flush(log.log_end_offset(), 0);
            }
        }
        disk.apply(log.take_disk_ops());
        // Damage the unflushed tail of the active segment: flip one byte, or cut it short.
        let active = disk.files.keys().filter(|p| p.ends_with(".log")).max().cloned().unwrap();
        let (bytes, durable) = disk.files.get_mut(&active).unwrap();
        if bytes.len() > *durable {
            let at = *durable + flip.index(bytes.len() - *durable);
            bytes[at] ^= 0x5a;
            let keep = *durable + cut.index(bytes.len() - *durable + 1);
            bytes.truncate(keep);
        }
        let recovered = PartitionLog::load(tp(), small_segments(), &disk.dir_files(), Checkpoints::default(), 0);
        let got: Vec<Arc<RecordBatch>> = recovered.batches().cloned().collect();
        prop_assert!(got.len() <= written.len());
        let mut other_epochs = 0;
        for (a, b) in got.iter().zip(&written) {
            // The CRC covers everything after it, as Kafka's does, so a recovered batch holds
            // exactly the records and fields that were written, but for the fields before the
            // CRC: the base offset, the length and the leader epoch, where a flipped bit
            // survives in Kafka too.
            prop_assert_eq!(a.records(), b.records());
            prop_assert_eq!(a.producer_id(), b.producer_id());
            prop_assert_eq!(a.max_timestamp_ms(), b.max_timestamp_ms());
            other_epochs += usize::from(a.partition_leader_epoch() != b.partition_leader_epoch());
            let mut bytes = Vec::new();
            a.encode(&mut bytes);
            prop_assert!(RecordBatch::decode(&bytes).is_ok());
        }
        prop_assert!(other_epochs <= 1, "one flipped byte changes at most one batch's leader epoch");
    }

    /// The cleaner against a `BTreeMap` of the latest record per key: after a full cleaning,
    /// the surviving records are exactly the latest per key (tombstones included until their
    /// horizon), at their original offsets, in increasing order.
    #[test]
    fn the_cleaner_keeps_the_latest_record_per_key(
        writes in proptest::collection::vec((0u8..6, proptest::option::weighted(0.8, "[a-z]{1,4}")), 1..60),
        roll_every in 2usize..12,
    ) {
        let config = LogConfig {
            cleanup_policy: crate::config::CleanupPolicy { delete: false, compact: true },
            delete_retention_ms: 1_000,
            ..small_segments()
        };
        let mut log = PartitionLog::new(tp(), config, 0);
        let mut latest: BTreeMap<String, (i64, Option<String>)> = BTreeMap::new();
        let mut original: BTreeMap<i64, (String, Option<String>)> = BTreeMap::new();
        for (i, (key, value)) in writes.iter().enumerate() {
            let key = format!("k{key}");
            let batch = log.append_as_leader(0, vec![rec(Some(&key), value.as_deref(), 0)], 0);
            latest.insert(key.clone(), (batch.base_offset(), value.clone()));
            original.insert(batch.base_offset(), (key, value.clone()));
            if i % roll_every == roll_every - 1 {
                log.roll(RollReason::SegmentMs, 0);
            }
        }
        log.roll(RollReason::SegmentMs, 0);
        log.set_high_watermark(log.log_end_offset());
        let survivors = |log: &PartitionLog| -> Vec<(i64, String, Option<String>)> {
            log.batches()
                .flat_map(|b| b.records().iter().map(|r| (b.offset_of(r), r.key.as_deref().unwrap().to_string(), r.value.as_deref().map(str::to_string))).collect::<Vec<_>>())
                .collect()
        };
        log.clean(10);
        let mut expected: Vec<(i64, String, Option<String>)> =
            latest.iter().map(|(k, (o, v))| (*o, k.clone(), v.clone())).collect();
        expected.sort();
        prop_assert_eq!(survivors(&log), expected.clone(), "latest per key, tombstones inside their horizon");
        for (offset, key, value) in survivors(&log) {
            prop_assert_eq!(&original[&offset], &(key, value), "offsets are never rewritten");
        }
        // Past the horizon the tombstones go, and nothing else does.
        log.clean(2_000);
        expected.retain(|(_, _, v)| v.is_some());
        prop_assert_eq!(survivors(&log), expected);
    }
}

// ---- compression.type: the broker's recompression (Kafka's `LogValidator`) ----

/// A producer's batch of `n` records whose values repeat every four, sent in `codec`, as the
/// producer builds it (offsets and epoch are the leader's to stamp).
fn sent_batch(n: usize, codec: crate::record::Compression) -> RecordBatch {
    let values: Vec<String> = (0..n).map(|i| format!("temperature reading {} of sensor-7", i % 4)).collect();
    let mut batch = RecordBatch::new(0, 0, 1_000, records(&values, 1_000));
    batch.header_mut().compression = codec;
    batch
}

fn log_with_compression(compression_type: crate::config::TopicCompression) -> PartitionLog {
    PartitionLog::new(tp(), LogConfig { compression_type, ..LogConfig::default() }, 0)
}

#[test]
fn under_compression_type_producer_the_producers_codec_is_kept() {
    use crate::config::TopicCompression;
    use crate::record::Compression;
    for codec in Compression::ALL {
        let mut log = log_with_compression(TopicCompression::Producer);
        let stored = log.append_batch_as_leader(4, sent_batch(50, codec), 2_000);
        assert_eq!(stored.compression(), codec);
        assert_eq!(stored.records(), sent_batch(50, codec).records());
        assert_eq!(log.take_events(), Vec::new(), "{codec:?}: nothing recompressed");
        assert_eq!(log.size_bytes(), stored.size_bytes() as u64);
    }
    // The stored size is the compressed one: these 50 keyless records take 2061 bytes
    // uncompressed and 277 with gzip.
    let mut plain = log_with_compression(TopicCompression::Producer);
    plain.append_batch_as_leader(4, sent_batch(50, Compression::None), 2_000);
    let mut gzip = log_with_compression(TopicCompression::Producer);
    gzip.append_batch_as_leader(4, sent_batch(50, Compression::Gzip), 2_000);
    assert_eq!((plain.size_bytes(), gzip.size_bytes()), (2_061, 277));
}

#[test]
fn a_batch_sent_in_another_codec_is_stored_in_the_topics() {
    use crate::config::TopicCompression;
    use crate::record::Compression;
    let mut log = log_with_compression(TopicCompression::Codec(Compression::Gzip));
    log.append_as_leader(0, vec![rec(None, Some("first"), 0)], 0);
    log.take_events();
    let stored = log.append_batch_as_leader(4, sent_batch(50, Compression::None), 2_000);
    assert_eq!(stored.compression(), Compression::Gzip);
    assert_eq!(stored.base_offset(), 1);
    assert_eq!(stored.records(), sent_batch(50, Compression::None).records(), "the records survive recompression");
    let event = Event::BatchRecompressed {
        tp: tp(),
        base_offset: 1,
        from: Compression::None,
        to: Compression::Gzip,
        records: 50,
        sent_bytes: 2_061,
        stored_bytes: 277,
    };
    assert_eq!(log.take_events(), vec![event.clone()]);
    assert_eq!(log.segments().last().unwrap().batches().last().unwrap().size_bytes, 277);
    assert!(event.is_routine(), "one per batch, like other per-batch traffic");
    assert_eq!(
        event.describe(),
        "t-0: batch at offset 1 compressed with gzip by the topic's compression.type: 50 record(s), 2061 bytes as \
         sent → 277 bytes stored"
    );
}

/// The course material's table, every pair: topic `producer` keeps the producer's codec; topic
/// `X` stores `X` whatever the producer sent, recompressing when the producer's codec differs.
#[test]
fn the_recompression_table() {
    use crate::config::TopicCompression;
    use crate::record::Compression;
    let topics = std::iter::once(TopicCompression::Producer).chain(Compression::ALL.map(TopicCompression::Codec));
    for topic in topics {
        for sent in Compression::ALL {
            let mut log = log_with_compression(topic);
            let stored = log.append_batch_as_leader(0, sent_batch(50, sent), 0);
            let expected = match topic {
                TopicCompression::Producer => sent,
                TopicCompression::Codec(codec) => codec,
            };
            assert_eq!(stored.compression(), expected, "topic {topic}, producer {}", sent.name());
            let expected_size = sent_batch(50, expected).size_bytes() as u64;
            assert_eq!(log.size_bytes(), expected_size, "topic {topic}, producer {}", sent.name());
            let events = log.take_events();
            if expected == sent {
                assert_eq!(events, Vec::new(), "topic {topic}, producer {}: stored as sent", sent.name());
            } else {
                assert_eq!(
                    events,
                    vec![Event::BatchRecompressed {
                        tp: tp(),
                        base_offset: 0,
                        from: sent,
                        to: expected,
                        records: 50,
                        sent_bytes: sent_batch(50, sent).size_bytes() as u64,
                        stored_bytes: expected_size,
                    }],
                    "topic {topic}, producer {}",
                    sent.name()
                );
                assert_ne!(expected_size, sent_batch(50, sent).size_bytes() as u64, "the size on disk changes");
            }
        }
    }
}

#[test]
fn followers_and_recovery_keep_the_batch_as_the_leader_stored_it() {
    use crate::config::TopicCompression;
    use crate::record::Compression;
    let mut leader = log_with_compression(TopicCompression::Codec(Compression::Zstd));
    let batch = leader.append_batch_as_leader(2, sent_batch(20, Compression::Snappy), 0);
    assert_eq!(batch.compression(), Compression::Zstd);
    // A follower whose config says otherwise still copies the leader's bytes.
    let mut follower = log_with_compression(TopicCompression::Codec(Compression::Lz4));
    follower.append_as_follower(batch.clone(), 0);
    assert_eq!(follower.take_events(), Vec::new());
    assert_eq!(follower.batches().next().unwrap(), &batch);
    assert_eq!(follower.size_bytes(), leader.size_bytes());

    // The bytes on disk decode back to the compressed batch after a restart.
    let mut disk = TestDisk::default();
    disk.apply(follower.take_disk_ops());
    let recovered = PartitionLog::load(tp(), LogConfig::default(), &disk.dir_files(), Checkpoints::default(), 0);
    let got: Vec<&Arc<RecordBatch>> = recovered.batches().collect();
    assert_eq!(got, vec![&batch]);
    // Read back, the batch holds the bytes it was read from and no decoded records, and is
    // known to equal the leader's without decoding.
    assert!(!got[0].holds_decoded_records());
    assert!(got[0].same_bytes(&batch) && !Arc::ptr_eq(got[0], &batch));
    assert_eq!(recovered.size_bytes(), leader.size_bytes());
}

/// The `.log` write of each append, in order.
fn log_appends(ops: &[DiskOp]) -> Vec<&SharedBytes> {
    ops.iter()
        .filter_map(|op| match op {
            DiskOp::Append { path, bytes } if path.ends_with(".log") && !bytes.is_empty() => Some(bytes),
            _ => None,
        })
        .collect()
}

#[test]
fn a_follower_writes_the_leaders_encoding_without_copying_it() {
    let mut leader = PartitionLog::new(tp(), LogConfig::default(), 0);
    let mut follower = PartitionLog::new(tp(), LogConfig::default(), 0);
    let batch = leader.append_as_leader(0, records(&["a".into(), "b".into()], 5), 5);
    follower.append_as_follower(batch.clone(), 5);
    let (leader_ops, follower_ops) = (leader.take_disk_ops(), follower.take_disk_ops());
    let (ours, theirs) = (log_appends(&leader_ops), log_appends(&follower_ops));
    assert_eq!((ours.len(), theirs.len()), (1, 1));
    assert_eq!(ours[0].as_ptr(), theirs[0].as_ptr(), "one buffer for both replicas");
    let mut fresh = Vec::new();
    batch.encode(&mut fresh);
    assert_eq!(&ours[0][..], &fresh[..], "and it is the batch's encoding");
    // The stored batch is those bytes alone: both logs read its records from them.
    assert!(!batch.holds_decoded_records(), "the leader keeps no decoded copy of what it appended");
    for log in [&leader, &follower] {
        let stored = log.batches().next().expect("one batch");
        assert!(Arc::ptr_eq(stored, &batch));
        let values: Vec<_> = stored.records().iter().map(|r| r.value.clone()).collect();
        assert_eq!(values, [Some(Arc::from("a")), Some(Arc::from("b"))]);
        assert_eq!(log.record_at(1).and_then(|r| r.value).as_deref(), Some("b"));
    }
}

#[test]
fn a_changed_copy_of_a_stored_batch_is_encoded_afresh() {
    let mut leader = PartitionLog::new(tp(), LogConfig::default(), 0);
    let batch = leader.append_as_leader(0, records(&["a".into(), "b".into()], 5), 5);
    let stored = batch.encoded();
    // The cleaner's way of rewriting a batch: clone it, change the clone.
    let mut rewritten = RecordBatch::clone(&batch);
    rewritten.records_mut().pop();
    rewritten.header_mut().delete_horizon_ms = Some(99);
    let mut fresh = Vec::new();
    rewritten.encode(&mut fresh);
    assert_eq!(&rewritten.encoded()[..], &fresh[..]);
    assert_ne!(rewritten.encoded(), stored);
    assert_eq!(batch.encoded(), stored, "the stored batch keeps its bytes");
    // A leader re-stamps a batch it is given, whatever encoding that batch held before.
    let mut other = PartitionLog::new(tp(), LogConfig::default(), 0);
    other.append_as_leader(0, records(&["x".into()], 1), 1);
    let given = RecordBatch::new(0, 0, 1, records(&["y".into()], 1));
    let before = given.encoded();
    let restamped = other.append_batch_as_leader(3, given, 7);
    let mut fresh = Vec::new();
    restamped.encode(&mut fresh);
    assert_eq!(&restamped.encoded()[..], &fresh[..]);
    assert_ne!(restamped.encoded(), before);
}

proptest! {
    /// A read finds the first batch that ends at or above its offset, whether that batch is
    /// among the last few (looked at first) or further back (found through the index).
    #[test]
    fn a_read_starts_at_the_batch_holding_its_offset(sizes in proptest::collection::vec(1usize..6, 1..300)) {
        // A small index interval puts an entry every few batches, so the index is used too.
        let config = LogConfig { index_interval_bytes: 200, ..LogConfig::default() };
        let mut log = PartitionLog::new(tp(), config, 0);
        for (i, &n) in sizes.iter().enumerate() {
            let values: Vec<String> = (0..n).map(|j| format!("{i}-{j}")).collect();
            log.append_as_leader(0, records(&values, i as i64), i as i64);
        }
        let batches: Vec<Arc<RecordBatch>> = log.batches().cloned().collect();
        for offset in 0..=log.log_end_offset() {
            let expected = batches.iter().find(|b| b.last_offset() >= offset).map(|b| b.base_offset());
            let got = log.read(offset, log.log_end_offset() + 1, 1).first().map(|b| b.base_offset());
            prop_assert_eq!(got, expected, "offset {}", offset);
        }
    }
}
