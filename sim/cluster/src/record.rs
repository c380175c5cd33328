//! Records and record batches, and their bytes on disk.
//!
//! A batch is what a producer sends, what a leader appends and what a follower copies: the
//! same unit as Kafka's `RecordBatch` (magic v2). The encoding here is our own compact layout,
//! not Kafka's wire format, but it keeps the fields a learner meets in Kafka's
//! `DefaultRecordBatch`, and a CRC-32C over everything after the CRC field, so a torn write is
//! caught on recovery exactly as Kafka catches it.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Kafka's "no producer id" value for batches from non-idempotent producers.
pub const NO_PRODUCER_ID: i64 = -1;
/// Kafka's "no sequence" value.
pub const NO_SEQUENCE: i32 = -1;

/// A batch's compression codec (the low bits of Kafka's batch `attributes`; the producer's and
/// the topic's `compression.type`). The records of a compressed batch are stored compressed as
/// one block, so the codec changes the batch's size on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Compression {
    /// `none` (attribute 0).
    #[default]
    None,
    /// `gzip` (attribute 1).
    Gzip,
    /// `snappy` (attribute 2).
    Snappy,
    /// `lz4` (attribute 3).
    Lz4,
    /// `zstd` (attribute 4, Kafka 2.1, KIP-110).
    Zstd,
}

impl Compression {
    /// Every codec, in attribute order.
    pub const ALL: [Compression; 5] =
        [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];

    /// The name Kafka uses in configs and in `kafka-dump-log.sh` (`compresscodec: gzip`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// The codec id stored in the batch attributes.
    pub fn id(self) -> u8 {
        self as u8
    }

    /// The codec with this attribute id, if any.
    pub fn from_id(id: u8) -> Option<Compression> {
        Compression::ALL.get(usize::from(id)).copied()
    }

    /// The codec named `name` (`none`, `gzip`, `snappy`, `lz4`, `zstd`), if any.
    pub fn parse(name: &str) -> Option<Compression> {
        Compression::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// One record inside a batch. Offsets are stored as a delta from the batch's base offset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Offset minus the batch's `base_offset`.
    pub offset_delta: i32,
    /// Producer-assigned (create time) timestamp in milliseconds of simulated time.
    pub timestamp_ms: i64,
    /// The key, or `None` for a keyless record.
    pub key: Option<Arc<str>>,
    /// The value, or `None` for a tombstone.
    pub value: Option<Arc<str>>,
    /// Headers, `(name, value)` pairs. The simulator's producers tag each record with a
    /// `kafkalab.id` header so the history oracle can tell copies of one send apart from
    /// distinct sends with equal values.
    pub headers: Vec<(Arc<str>, Arc<str>)>,
}

impl Record {
    /// The value of the first header called `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| &**k == name).map(|(_, v)| &**v)
    }
}

/// A record batch: a run of consecutive offsets written together by one leader in one
/// leader epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordBatch {
    /// Offset of the first record.
    pub base_offset: i64,
    /// The leader epoch in which the leader appended this batch (KIP-101).
    pub partition_leader_epoch: i32,
    /// Producer id, or [`NO_PRODUCER_ID`].
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence of the first record, or [`NO_SEQUENCE`].
    pub base_sequence: i32,
    /// Timestamp of the first record, in milliseconds.
    pub first_timestamp_ms: i64,
    /// Whether this is a control batch (transaction markers; never produced yet).
    pub is_control: bool,
    /// The codec the records are stored with.
    pub compression: Compression,
    /// Offset of the last record the batch was written with, minus `base_offset`. The cleaner
    /// keeps it when it removes records, so a compacted batch still covers its original offset
    /// range and the producer's last sequence stays known (Kafka's `overrideLastOffset`).
    pub last_offset_delta: i32,
    /// When the cleaner may drop this batch's tombstones, in milliseconds of simulated time:
    /// stamped by the first cleaning that keeps them, as `now + delete.retention.ms` (KIP-534).
    /// `None` until then.
    pub delete_horizon_ms: Option<i64>,
    /// The records, in offset order. Never empty as written; the cleaner drops a batch whose
    /// records all go.
    pub records: Vec<Record>,
}

impl RecordBatch {
    /// A new batch of `records` at `base_offset`, whose offset deltas must count up from 0
    /// (as a producer writes them). The last offset delta follows from the last record.
    pub fn new(base_offset: i64, partition_leader_epoch: i32, first_timestamp_ms: i64, records: Vec<Record>) -> Self {
        let last_offset_delta = records.last().map_or(0, |r| r.offset_delta);
        RecordBatch {
            base_offset,
            partition_leader_epoch,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: -1,
            base_sequence: NO_SEQUENCE,
            first_timestamp_ms,
            is_control: false,
            compression: Compression::None,
            last_offset_delta,
            delete_horizon_ms: None,
            records,
        }
    }

    /// Offset of the last record the batch was written with (`lastOffset`).
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// The largest record timestamp in the batch (`maxTimestamp`), in milliseconds.
    pub fn max_timestamp_ms(&self) -> i64 {
        self.records.iter().map(|r| r.timestamp_ms).max().unwrap_or(self.first_timestamp_ms)
    }

    /// The offset of a record, from its delta.
    pub fn offset_of(&self, record: &Record) -> i64 {
        self.base_offset + i64::from(record.offset_delta)
    }

    /// The offset just after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    /// Number of records.
    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// Size of this batch's encoding, in bytes.
    pub fn size_bytes(&self) -> usize {
        let mut out = Vec::new();
        self.encode(&mut out);
        out.len()
    }

    /// Appends this batch's bytes to `out`: `base_offset: i64, length: i32, crc: u32`, then the
    /// CRC-covered body (`partition_leader_epoch`, producer fields, timestamps, flags, the
    /// records). `length` counts the bytes after the length field, as in Kafka.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut body = Vec::with_capacity(64 + self.records.len() * 32);
        body.extend_from_slice(&self.partition_leader_epoch.to_be_bytes());
        body.extend_from_slice(&self.producer_id.to_be_bytes());
        body.extend_from_slice(&self.producer_epoch.to_be_bytes());
        body.extend_from_slice(&self.base_sequence.to_be_bytes());
        body.extend_from_slice(&self.first_timestamp_ms.to_be_bytes());
        body.push(u8::from(self.is_control));
        body.extend_from_slice(&self.last_offset_delta.to_be_bytes());
        body.extend_from_slice(&self.delete_horizon_ms.unwrap_or(-1).to_be_bytes());
        body.extend_from_slice(&(self.records.len() as u32).to_be_bytes());
        for record in &self.records {
            body.extend_from_slice(&record.offset_delta.to_be_bytes());
            body.extend_from_slice(&record.timestamp_ms.to_be_bytes());
            put_optional_str(&mut body, record.key.as_deref());
            put_optional_str(&mut body, record.value.as_deref());
            body.extend_from_slice(&(record.headers.len() as u32).to_be_bytes());
            for (name, value) in &record.headers {
                put_optional_str(&mut body, Some(name));
                put_optional_str(&mut body, Some(value));
            }
        }
        let crc = crc32c::crc32c(&body);
        out.extend_from_slice(&self.base_offset.to_be_bytes());
        out.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        out.extend_from_slice(&crc.to_be_bytes());
        out.extend_from_slice(&body);
    }

    /// Decodes one batch from the front of `bytes`, returning it and the number of bytes used.
    ///
    /// Errors: [`DecodeError::Truncated`] when `bytes` ends inside the batch (a torn write),
    /// [`DecodeError::CrcMismatch`] when the body does not match its CRC, and
    /// [`DecodeError::Malformed`] for impossible field values.
    pub fn decode(bytes: &[u8]) -> Result<(RecordBatch, usize), DecodeError> {
        let mut header = Reader { bytes, at: 0 };
        let base_offset = header.i64()?;
        let length = header.i32()?;
        if length < 4 {
            return Err(DecodeError::Malformed("batch length below 4 bytes"));
        }
        let total = 12 + length as usize;
        if bytes.len() < total {
            return Err(DecodeError::Truncated);
        }
        let crc = header.u32()?;
        let body = &bytes[16..total];
        if crc32c::crc32c(body) != crc {
            return Err(DecodeError::CrcMismatch);
        }
        let mut r = Reader { bytes: body, at: 0 };
        let partition_leader_epoch = r.i32()?;
        let producer_id = r.i64()?;
        let producer_epoch = r.i16()?;
        let base_sequence = r.i32()?;
        let first_timestamp_ms = r.i64()?;
        let is_control = r.u8()? != 0;
        let last_offset_delta = r.i32()?;
        let delete_horizon_ms = Some(r.i64()?).filter(|&h| h >= 0);
        let count = r.u32()? as usize;
        if last_offset_delta < 0 {
            return Err(DecodeError::Malformed("negative last offset delta"));
        }
        let mut records = Vec::with_capacity(count);
        for _ in 0..count {
            let offset_delta = r.i32()?;
            let timestamp_ms = r.i64()?;
            let key = r.optional_str()?;
            let value = r.optional_str()?;
            let header_count = r.u32()? as usize;
            let mut headers = Vec::with_capacity(header_count.min(16));
            for _ in 0..header_count {
                let name = r.optional_str()?.ok_or(DecodeError::Malformed("null header name"))?;
                let value = r.optional_str()?.ok_or(DecodeError::Malformed("null header value"))?;
                headers.push((name, value));
            }
            records.push(Record { offset_delta, timestamp_ms, key, value, headers });
        }
        let batch = RecordBatch {
            base_offset,
            partition_leader_epoch,
            producer_id,
            producer_epoch,
            base_sequence,
            first_timestamp_ms,
            is_control,
            compression: Compression::None,
            last_offset_delta,
            delete_horizon_ms,
            records,
        };
        Ok((batch, total))
    }
}

/// Why bytes could not be read back as a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes end inside a batch.
    Truncated,
    /// The CRC does not match the body.
    CrcMismatch,
    /// A field holds an impossible value.
    Malformed(&'static str),
}

fn put_optional_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(s) => {
            out.extend_from_slice(&(s.len() as i32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.at.checked_add(n).ok_or(DecodeError::Truncated)?;
        let slice = self.bytes.get(self.at..end).ok_or(DecodeError::Truncated)?;
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn optional_str(&mut self) -> Result<Option<Arc<str>>, DecodeError> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        let raw = self.take(len as usize)?;
        let s = std::str::from_utf8(raw).map_err(|_| DecodeError::Malformed("non-UTF-8 text"))?;
        Ok(Some(Arc::from(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn batch(base: i64, values: &[Option<&str>]) -> RecordBatch {
        RecordBatch::new(
            base,
            3,
            1000,
            values
                .iter()
                .enumerate()
                .map(|(i, v)| Record {
                    offset_delta: i as i32,
                    timestamp_ms: 1000 + i as i64,
                    key: Some(Arc::from(format!("k{i}"))),
                    value: v.map(Arc::from),
                    headers: vec![(Arc::from("kafkalab.id"), Arc::from(format!("p-{i}")))],
                })
                .collect(),
        )
    }

    #[test]
    fn offsets_of_a_batch() {
        let b = batch(10, &[Some("a"), None, Some("c")]);
        assert_eq!(b.last_offset(), 12);
        assert_eq!(b.next_offset(), 13);
        assert_eq!(b.record_count(), 3);
    }

    #[test]
    fn a_torn_write_is_detected() {
        let mut bytes = Vec::new();
        batch(0, &[Some("hello")]).encode(&mut bytes);
        assert_eq!(RecordBatch::decode(&bytes[..bytes.len() - 1]), Err(DecodeError::Truncated));
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        assert_eq!(RecordBatch::decode(&bytes), Err(DecodeError::CrcMismatch));
    }

    proptest! {
        #[test]
        fn encoding_round_trips(base in 0i64..1_000_000, values in proptest::collection::vec(proptest::option::of("[a-z]{0,12}"), 1..8)) {
            let values: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
            let original = batch(base, &values);
            let mut bytes = Vec::new();
            original.encode(&mut bytes);
            let (decoded, used) = RecordBatch::decode(&bytes).unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(decoded, original);
        }
    }
}
