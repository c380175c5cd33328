//! Throughput of a partition's log, in records per second: appends, reads and a cleaning pass.
//!
//! Three benchmarks in the criterion group `log`, each reported as elements/s (one element is
//! one record):
//!
//! - `log/append`: 10 000 records appended as leader in batches of 10 (keys `k0`..`k99`, 20-byte
//!   values) to a fresh log with small segments, so the log rolls a few times, draining the disk
//!   writes and events after every batch as a broker does after every request. Building the
//!   records and the empty log is not timed.
//! - `log/read`: a log of 100 000 records (batches of 10, about 80 segments of 64 KiB) read
//!   from offset 0 to its end in fetches of at most 64 KiB, each fetch starting after the last
//!   batch the previous one returned.
//! - `log/clean`: one compaction pass over 20 000 records with 1 000 keys in closed 64 KiB
//!   segments, keeping the newest record of each key; throughput counts the records scanned.
//!   Copying the dirty log for each pass is not timed.
//!
//! Run with `cargo bench -p cluster --bench log`; add a filter to run one benchmark, e.g.
//! `cargo bench -p cluster --bench log -- log/read`. Warm-up and measurement times are short so
//! the whole run takes well under a minute.

use cluster::config::{CleanupPolicy, LogConfig};
use cluster::ids::TopicPartition;
use cluster::key::Key;
use cluster::log::segment::RollReason;
use cluster::log::PartitionLog;
use cluster::record::Record;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

/// Records per batch in every benchmark.
const BATCH: usize = 10;
/// Records appended by `log/append`.
const APPEND_RECORDS: usize = 10_000;
/// Segment size for `log/append`. A batch of 10 records encodes to about 530 bytes, so 10 000
/// records take about 530 KB: 128 KiB segments make the benchmark roll four times.
const APPEND_SEGMENT_BYTES: u64 = 128 * 1024;
/// Records read by `log/read`.
const READ_RECORDS: usize = 100_000;
/// Segment size of the log `log/read` reads.
const READ_SEGMENT_BYTES: u64 = 64 * 1024;
/// Largest fetch in `log/read`, as a consumer's `max.partition.fetch.bytes` would cap it.
const FETCH_BYTES: usize = 64 * 1024;
/// Records in the log `log/clean` compacts.
const CLEAN_RECORDS: usize = 20_000;
/// Distinct keys in the log `log/clean` compacts.
const CLEAN_KEYS: usize = 1_000;
/// Segment size of the log `log/clean` compacts.
const CLEAN_SEGMENT_BYTES: u64 = 64 * 1024;
/// The clock, fixed: no segment ages past `segment.ms` and no compaction lag applies.
const NOW_MS: i64 = 1_700_000_000_000;
const LEADER_EPOCH: i32 = 0;

/// `records` records in batches of [`BATCH`], keyed `k{i % keys}` with 20-byte values.
fn batches(records: usize, keys: usize) -> Vec<Vec<Record>> {
    let keys: Vec<Key> = (0..keys).map(|k| Key::from(format!("k{k}"))).collect();
    (0..records)
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .map(|(delta, &i)| Record {
                    offset_delta: delta as i32,
                    timestamp_ms: NOW_MS,
                    key: Some(keys[i % keys.len()].clone()),
                    value: Some(Arc::from(format!("value-{i:014}"))),
                    headers: Default::default(),
                })
                .collect()
        })
        .collect()
}

fn config(segment_bytes: u64, cleanup_policy: CleanupPolicy) -> LogConfig {
    LogConfig { segment_bytes, cleanup_policy, ..LogConfig::default() }
}

fn new_log(config: LogConfig) -> PartitionLog {
    PartitionLog::new(TopicPartition::new("bench", 0), config, NOW_MS)
}

/// Appends every batch as leader, draining disk writes and events after each, as a broker does
/// after each produce request.
fn append_all(log: &mut PartitionLog, batches: Vec<Vec<Record>>) {
    for records in batches {
        black_box(log.append_as_leader(LEADER_EPOCH, records, NOW_MS));
        black_box(log.take_disk_ops());
        black_box(log.take_events());
    }
}

/// A log holding `batches`, committed (high watermark at the end), its disk writes drained.
fn built_log(config: LogConfig, batches: Vec<Vec<Record>>) -> PartitionLog {
    let mut log = new_log(config);
    append_all(&mut log, batches);
    log.set_high_watermark(log.log_end_offset());
    log.take_disk_ops();
    log.take_events();
    log
}

/// Reads the whole log from offset 0 in fetches of at most [`FETCH_BYTES`]; returns the number
/// of records read.
fn read_all(log: &PartitionLog) -> usize {
    let end = log.log_end_offset();
    let mut next = 0;
    let mut records = 0;
    while next < end {
        let fetched = log.read(next, end, FETCH_BYTES);
        let Some(last) = fetched.last() else { break };
        next = last.next_offset();
        records += fetched.iter().map(|b| b.record_count()).sum::<usize>();
    }
    records
}

fn log_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("log");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));

    // append
    let delete = CleanupPolicy { delete: true, compact: false };
    let append_input = batches(APPEND_RECORDS, 100);
    let check = built_log(config(APPEND_SEGMENT_BYTES, delete), append_input.clone());
    assert_eq!(check.log_end_offset(), APPEND_RECORDS as i64);
    assert!(check.segments().len() > 1, "log/append should roll segments");
    group.throughput(Throughput::Elements(APPEND_RECORDS as u64));
    group.bench_function("append", |b| {
        b.iter_batched(
            || (new_log(config(APPEND_SEGMENT_BYTES, delete)), append_input.clone()),
            |(mut log, input)| {
                append_all(&mut log, input);
                log
            },
            BatchSize::LargeInput,
        )
    });

    // read
    let log = built_log(config(READ_SEGMENT_BYTES, delete), batches(READ_RECORDS, 100));
    assert_eq!(read_all(&log), READ_RECORDS);
    group.throughput(Throughput::Elements(READ_RECORDS as u64));
    group.bench_function("read", |b| b.iter(|| read_all(black_box(&log))));
    drop(log);

    // clean
    let compact = CleanupPolicy { delete: false, compact: true };
    let mut dirty = new_log(config(CLEAN_SEGMENT_BYTES, compact));
    append_all(&mut dirty, batches(CLEAN_RECORDS, CLEAN_KEYS));
    dirty.roll(RollReason::SegmentMs, NOW_MS);
    dirty.set_high_watermark(dirty.log_end_offset());
    dirty.take_disk_ops();
    dirty.take_events();
    let stats = dirty.clone().clean(NOW_MS);
    assert_eq!(stats.records, (CLEAN_RECORDS, CLEAN_KEYS), "log/clean should keep one record per key");
    group.throughput(Throughput::Elements(CLEAN_RECORDS as u64));
    group.bench_function("clean", |b| {
        b.iter_batched(
            || dirty.clone(),
            |mut log| {
                let stats = log.clean(NOW_MS);
                (log, stats)
            },
            BatchSize::LargeInput,
        )
    });

    group.finish();
}

criterion_group!(benches, log_benches);
criterion_main!(benches);
