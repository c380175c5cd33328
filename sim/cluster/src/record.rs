//! Records and record batches, and their bytes on disk.
//!
//! A batch is what a producer sends, what a leader appends and what a follower copies: the
//! same unit as Kafka's `RecordBatch`, and its bytes are Kafka's record batch format v2 (magic
//! 2, KIP-98): the 61-byte header of `DefaultRecordBatch`, records laid out as `DefaultRecord`
//! with zig-zag varints, and a CRC-32C over everything from the attributes on, so a torn write
//! is caught on recovery exactly as Kafka catches it and a segment's sizes are the sizes Kafka
//! would give the same records.
//!
//! A compressed batch stores its records as one block compressed with the real codec, as Kafka
//! does, so its size on disk is the compressed size (see [`RecordBatch::encode`] for the layout
//! and [`Compression`] for each codec's format and level).

use crate::key::Key;
use crate::shared_bytes::SharedBytes;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::io::{Read, Write};
use std::sync::{Arc, OnceLock};

/// Kafka's "no producer id" value for batches from non-idempotent producers.
pub const NO_PRODUCER_ID: i64 = -1;
/// Kafka's "no sequence" value.
pub const NO_SEQUENCE: i32 = -1;

/// Bits 0-2 of a batch's attributes: the codec id ([`Compression::id`]), as in Kafka's
/// `DefaultRecordBatch.COMPRESSION_CODEC_MASK`.
pub const ATTRIBUTE_CODEC_MASK: u16 = 0x07;
/// Bit 5 of a batch's attributes: set on control batches, as in Kafka's
/// `DefaultRecordBatch.CONTROL_FLAG_MASK`.
pub const ATTRIBUTE_CONTROL_FLAG: u16 = 0x20;
/// Bit 6 of a batch's attributes: the batch's `base_timestamp` holds the delete horizon the
/// cleaner stamped, as in Kafka's `DefaultRecordBatch.DELETE_HORIZON_FLAG_MASK` (KIP-534).
pub const ATTRIBUTE_DELETE_HORIZON_FLAG: u16 = 0x40;

/// The gzip level the simulator compresses with: Kafka's default (`compression.gzip.level` -1,
/// which is zlib's 6; KIP-390).
pub const GZIP_LEVEL: u32 = 6;
/// The zstd level the simulator compresses with: Kafka's default (`compression.zstd.level` 3;
/// KIP-390).
pub const ZSTD_LEVEL: i32 = 3;

/// A batch's compression codec (the low bits of Kafka's batch `attributes`; the producer's and
/// the topic's `compression.type`). The records of a compressed batch are stored compressed as
/// one block, so the codec changes the batch's size on disk.
///
/// The block formats, all deterministic (the same records always give the same bytes):
///
/// * `gzip`: a gzip member (RFC 1952) from `flate2` at level [`GZIP_LEVEL`], with mtime 0 and
///   no file name, so no wall-clock time gets into the bytes.
/// * `snappy`: the raw snappy block format from `snap::raw`. Kafka's Java client wraps snappy in
///   xerial-snappy framing; the raw block holds the same compressed data without that framing.
/// * `lz4`: the LZ4 frame format (as Kafka's `KafkaLZ4BlockOutputStream`) from `lz4_flex`, with
///   independent 64 KiB blocks and no checksums (the batch CRC covers the block). `lz4_flex`
///   has one compression level, LZ4's fast one, where Kafka defaults to level 9 (KIP-390).
/// * `zstd`: a zstd frame from the `zstd` crate (the reference C library) at level
///   [`ZSTD_LEVEL`].
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

    /// `bytes` compressed as one block in this codec's format (see [`Compression`]); for
    /// [`Compression::None`], a copy of `bytes`. Deterministic.
    ///
    /// Panics only if a codec fails to compress into memory, which the codecs do only for
    /// inputs of gigabytes (snappy's limit is about 4 GiB), far beyond any batch.
    pub fn compress(self, bytes: &[u8]) -> Vec<u8> {
        const IN_MEMORY: &str = "compressing into memory cannot fail";
        match self {
            Compression::None => bytes.to_vec(),
            Compression::Gzip => {
                let level = flate2::Compression::new(GZIP_LEVEL);
                let mut encoder = flate2::GzBuilder::new().mtime(0).write(Vec::new(), level);
                encoder.write_all(bytes).expect(IN_MEMORY);
                encoder.finish().expect(IN_MEMORY)
            }
            Compression::Snappy => snap::raw::Encoder::new().compress_vec(bytes).expect(IN_MEMORY),
            Compression::Lz4 => {
                use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
                let info = FrameInfo::new().block_size(BlockSize::Max64KB).block_mode(BlockMode::Independent);
                let mut encoder = FrameEncoder::with_frame_info(info, Vec::new());
                encoder.write_all(bytes).expect(IN_MEMORY);
                encoder.finish().expect(IN_MEMORY)
            }
            Compression::Zstd => zstd::bulk::compress(bytes, ZSTD_LEVEL).expect(IN_MEMORY),
        }
    }

    /// The bytes of a block made by [`Compression::compress`] with this codec.
    ///
    /// Errors: [`DecodeError::Malformed`] naming the codec when `block` is not a valid block of
    /// this codec's format.
    pub fn decompress(self, block: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let read_all = |mut reader: Box<dyn Read + '_>| {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).map(|_| out).map_err(drop)
        };
        let result = match self {
            Compression::None => Ok(block.to_vec()),
            Compression::Gzip => read_all(Box::new(flate2::read::GzDecoder::new(block))),
            Compression::Snappy => snap::raw::Decoder::new().decompress_vec(block).map_err(drop),
            Compression::Lz4 => read_all(Box::new(lz4_flex::frame::FrameDecoder::new(block))),
            Compression::Zstd => zstd::stream::decode_all(block).map_err(drop),
        };
        result.map_err(|()| {
            DecodeError::Malformed(match self {
                Compression::None => "uncompressed records do not decode",
                Compression::Gzip => "the records' gzip block does not decompress",
                Compression::Snappy => "the records' snappy block does not decompress",
                Compression::Lz4 => "the records' lz4 frame does not decompress",
                Compression::Zstd => "the records' zstd frame does not decompress",
            })
        })
    }
}

/// A record's headers, `(name, value)` pairs in order, as a vector that holds one pair without
/// a heap allocation of its own.
///
/// Why: every record a simulated producer sends carries exactly one header (`kafkalab.id`), and
/// every record is built by its producer and decoded again by each reader. As a `Vec` that
/// header cost a 32-byte allocation per record and per decoding besides the vector itself
/// (1.2 million allocations for heavy.ron's producers alone). Held inline it makes a [`Record`]
/// 96 bytes instead of 80 plus the allocation. It derefs to a slice of pairs and serialises as
/// the list of pairs a `Vec` would.
pub type Headers = smallvec::SmallVec<[(Arc<str>, Arc<str>); 1]>;

/// One record inside a batch. Offsets are stored as a delta from the batch's base offset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Offset minus the batch's `base_offset`.
    pub offset_delta: i32,
    /// Producer-assigned (create time) timestamp in milliseconds of simulated time.
    pub timestamp_ms: i64,
    /// The key, or `None` for a keyless record: interned or shared ([`Key`]), printed and
    /// compared as its text either way.
    pub key: Option<Key>,
    /// The value, or `None` for a tombstone.
    pub value: Option<Arc<str>>,
    /// Headers, `(name, value)` pairs. The simulator's producers tag a record with a
    /// `kafkalab.id` header ([`crate::ID_HEADER`]) when its value is not its send id (a
    /// scripted send's value, a tombstone), so the history oracle can tell copies of one send
    /// apart from distinct sends with equal values. See [`Record::send_id`].
    pub headers: Headers,
}

impl Record {
    /// The id of the `send()` that wrote this record: its `kafkalab.id` header, or else its
    /// value. A rate-driven producer's record has its send id as its value and carries no
    /// header, so that a long run's logs do not hold every id twice; a record that has
    /// neither (a tombstone without the header) has none.
    pub fn send_id(&self) -> Option<&Arc<str>> {
        self.header_shared(crate::ID_HEADER).or(self.value.as_ref())
    }

    /// The value of the first header called `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_shared(name).map(|v| &**v)
    }

    /// The value of the first header called `name`, as the shared string the record holds: a
    /// reader that keeps it (a consumer's fetch buffer) takes a reference, not a copy.
    pub fn header_shared(&self, name: &str) -> Option<&Arc<str>> {
        self.headers.iter().find(|(k, _)| &**k == name).map(|(_, v)| v)
    }
}

/// The fields of a v2 batch header that are not its records: what [`RecordBatch::header`]
/// reads and [`RecordBatch::header_mut`] changes. The header's other fields follow from these
/// and the records (`batch_length`, `crc`, `attributes`, `max_timestamp`, `records_count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
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
}

/// A record batch: a run of consecutive offsets written together by one leader in one
/// leader epoch.
///
/// A batch holds its records either decoded (as a cleaner rewrites them or a recovery reads
/// them back) or only as its encoding: a producer's batch is encoded when it is sent
/// ([`RecordBatch::produced`]), and a batch a leader appended keeps its bytes and nothing else
/// ([`RecordBatch::into_encoded_only`]). Such a batch reads its header
/// fields from the bytes, at the positions Kafka's `DefaultRecordBatch` reads them, and decodes
/// its records when they are read ([`RecordBatch::records`]), as Kafka's `FileRecords` reads
/// batches from the page cache. The bytes are shared by every replica and every disk, so a
/// stored batch exists once in memory, as bytes, behind a 16-byte handle.
///
/// Why: heavy.ron stores 335,500 batches. Held as decoded header fields beside the bytes, each
/// cost 120 bytes more than its encoding; held as bytes alone, the handle is all it adds.
///
/// `Debug` and `PartialEq` look at the batch's fields and records only, never at how they are
/// held or at the cached encoding ([`RecordBatch::encoded`]). Fields are read through
/// accessors ([`RecordBatch::base_offset`], ...) or all at once ([`RecordBatch::header`]).
#[derive(Serialize, Deserialize)]
#[serde(from = "BatchFields", into = "BatchFields")]
pub struct RecordBatch {
    held: Held,
}

/// How a [`RecordBatch`] holds itself.
enum Held {
    /// Only its encoding. Only a batch whose offsets are dense (its record count is
    /// `last_offset_delta + 1`, so the record at index `i` has offset `base_offset + i`) and
    /// that has no delete horizon (so the header's `base_timestamp` is its first timestamp) is
    /// held this way, so every field and offset is known from the header without decoding.
    Encoded(SharedBytes),
    /// Its header fields and decoded records, with the encoding once computed. Boxed, so that
    /// a stored batch's handle stays 16 bytes.
    Decoded(Box<DecodedBatch>),
}

/// A [`RecordBatch`] held decoded.
struct DecodedBatch {
    header: BatchHeader,
    /// The records, in offset order. Never empty as written; the cleaner drops a batch whose
    /// records all go.
    records: Vec<Record>,
    /// The batch's bytes, once [`RecordBatch::encoded`] computed them.
    encoding: EncodingCache,
}

/// A [`RecordBatch`] with its records decoded, as it serialises: the fields a batch had when it
/// always held its records decoded, so a serialised batch reads the same either way.
#[derive(Clone, Serialize, Deserialize)]
struct BatchFields {
    base_offset: i64,
    partition_leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    first_timestamp_ms: i64,
    is_control: bool,
    compression: Compression,
    last_offset_delta: i32,
    delete_horizon_ms: Option<i64>,
    records: Vec<Record>,
}

impl From<BatchFields> for RecordBatch {
    fn from(f: BatchFields) -> Self {
        let header = BatchHeader {
            base_offset: f.base_offset,
            partition_leader_epoch: f.partition_leader_epoch,
            producer_id: f.producer_id,
            producer_epoch: f.producer_epoch,
            base_sequence: f.base_sequence,
            first_timestamp_ms: f.first_timestamp_ms,
            is_control: f.is_control,
            compression: f.compression,
            last_offset_delta: f.last_offset_delta,
            delete_horizon_ms: f.delete_horizon_ms,
        };
        RecordBatch::from_parts(header, f.records)
    }
}

impl From<RecordBatch> for BatchFields {
    fn from(b: RecordBatch) -> Self {
        let h = b.header();
        BatchFields {
            base_offset: h.base_offset,
            partition_leader_epoch: h.partition_leader_epoch,
            producer_id: h.producer_id,
            producer_epoch: h.producer_epoch,
            base_sequence: h.base_sequence,
            first_timestamp_ms: h.first_timestamp_ms,
            is_control: h.is_control,
            compression: h.compression,
            last_offset_delta: h.last_offset_delta,
            delete_horizon_ms: h.delete_horizon_ms,
            records: b.into_records(),
        }
    }
}

impl Clone for RecordBatch {
    /// A copy with its records decoded and no cached encoding: a clone exists to be changed
    /// (the cleaner rewrites a batch), and its bytes are computed afresh.
    fn clone(&self) -> Self {
        self.with_records(self.records().into_owned())
    }
}

impl PartialEq for RecordBatch {
    /// Equal fields and equal records. Two batches whose encodings are both known compare by
    /// their bytes, which hold every field and record (the encoding is deterministic).
    fn eq(&self, other: &Self) -> bool {
        if let (Some(a), Some(b)) = (self.known_bytes(), other.known_bytes()) {
            return a == b;
        }
        self.header() == other.header() && *self.records() == *other.records()
    }
}

impl Eq for RecordBatch {}

/// The cached encoding of a decoded [`RecordBatch`]: computed at most once per batch, at its
/// first append. The log then keeps the batch as these bytes alone
/// ([`RecordBatch::into_encoded_only`]), shared by every replica that stores the same
/// `Arc<RecordBatch>` (the leader's log, the followers' logs that copied it through a fetch,
/// and each one's simulated disk), so a batch's bytes exist once in memory and followers never
/// re-encode.
///
/// A cache must never outlive a change to its batch's fields. Cloning a batch (the way the
/// cleaner rewrites one and the leader stamps a producer's) therefore gives an empty cache,
/// [`RecordBatch::header_mut`] and [`RecordBatch::records_mut`] drop it, and equality ignores
/// it. Debug and test builds check every cached encoding against a fresh one.
#[derive(Default)]
struct EncodingCache(OnceLock<SharedBytes>);

impl fmt::Debug for RecordBatch {
    /// The fields as `#[derive(Debug)]` printed them when they were the struct's, without the
    /// cached encoding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.header();
        f.debug_struct("RecordBatch")
            .field("base_offset", &h.base_offset)
            .field("partition_leader_epoch", &h.partition_leader_epoch)
            .field("producer_id", &h.producer_id)
            .field("producer_epoch", &h.producer_epoch)
            .field("base_sequence", &h.base_sequence)
            .field("first_timestamp_ms", &h.first_timestamp_ms)
            .field("is_control", &h.is_control)
            .field("compression", &h.compression)
            .field("last_offset_delta", &h.last_offset_delta)
            .field("delete_horizon_ms", &h.delete_horizon_ms)
            .field("records", &self.records())
            .finish()
    }
}

/// Where the v2 header's fixed-width fields start (Kafka's `DefaultRecordBatch` offsets), for
/// reading a batch held as bytes alone. All are big-endian.
mod at {
    pub const BASE_OFFSET: usize = 0;
    pub const PARTITION_LEADER_EPOCH: usize = 12;
    pub const ATTRIBUTES: usize = 21;
    pub const LAST_OFFSET_DELTA: usize = 23;
    pub const BASE_TIMESTAMP: usize = 27;
    pub const MAX_TIMESTAMP: usize = 35;
    pub const PRODUCER_ID: usize = 43;
    pub const PRODUCER_EPOCH: usize = 51;
    pub const BASE_SEQUENCE: usize = 53;
    pub const RECORDS_COUNT: usize = 57;
}

/// The `N` bytes of `bytes` at `at`: a field of a header that [`RecordBatch::decode`] checked
/// is whole, so a short slice is an impossible state.
fn field<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    bytes[at..at + N].try_into().expect("a stored batch holds a whole header")
}

impl RecordBatch {
    /// A new batch of `records` at `base_offset`, whose offset deltas must count up from 0
    /// (as a producer writes them). The last offset delta follows from the last record.
    pub fn new(base_offset: i64, partition_leader_epoch: i32, first_timestamp_ms: i64, records: Vec<Record>) -> Self {
        let last_offset_delta = records.last().map_or(0, |r| r.offset_delta);
        let header = BatchHeader {
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
        };
        RecordBatch::from_parts(header, records)
    }

    /// A producer's batch of `records`, encoded at once and held as those bytes alone, as
    /// Kafka's `RecordAccumulator` writes records into the batch's buffer as they are sent.
    ///
    /// `producer` gives the producer's fields (`producer_id`, `producer_epoch`,
    /// `base_sequence`) and `compression` its `compression.type`; the other header fields follow
    /// from the records: `base_offset` 0 and `partition_leader_epoch` -1 (Kafka's
    /// `RecordBatch.NO_PARTITION_LEADER_EPOCH`), which the leader stamps in place when it
    /// appends ([`RecordBatch::stamp`]), the first record's timestamp, `last_offset_delta` from
    /// the count, no control flag and no delete horizon. The bytes are those
    /// [`RecordBatch::encode`] gives the same records decoded.
    ///
    /// Panics if `records` is empty or its offset deltas are not its indexes: a producer never
    /// sends an empty batch, and its offsets are dense.
    pub fn produced(producer: ProducerFields, compression: Compression, records: &[RecordParts<'_>]) -> RecordBatch {
        assert!(!records.is_empty(), "a produced batch holds at least one record");
        assert!(
            records.iter().enumerate().all(|(i, r)| usize::try_from(r.offset_delta).is_ok_and(|d| d == i)),
            "a produced batch's offset deltas are its records' indexes"
        );
        let first_timestamp_ms = records[0].timestamp_ms;
        let max_timestamp_ms = records.iter().map(|r| r.timestamp_ms).max().unwrap_or(first_timestamp_ms);
        let header = BatchHeader {
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: producer.producer_id,
            producer_epoch: producer.producer_epoch,
            base_sequence: producer.base_sequence,
            first_timestamp_ms,
            is_control: false,
            compression,
            last_offset_delta: records[records.len() - 1].offset_delta,
            delete_horizon_ms: None,
        };
        let attributes = u16::from(header.compression.id());
        let plan = EncodingPlan::of(&header, first_timestamp_ms, records);
        let bytes = SharedBytes::filled(plan.size, |buf| {
            plan.write(&header, attributes, first_timestamp_ms, max_timestamp_ms, records, buf);
        });
        RecordBatch { held: Held::Encoded(bytes) }
    }

    /// Sets the fields a leader gives a batch when it appends it: its `base_offset` and
    /// `partition_leader_epoch` (Kafka's `LogValidator` assigning offsets in place, and
    /// `setPartitionLeaderEpoch`). A batch held as bytes alone has them written into its bytes,
    /// which the CRC does not cover (it starts at `attributes`), without decoding; the bytes
    /// are copied first only if another handle shares them. A decoded batch drops its cached
    /// encoding.
    pub fn stamp(&mut self, base_offset: i64, partition_leader_epoch: i32) {
        match &mut self.held {
            Held::Encoded(bytes) => bytes.modify(|b| {
                b[at::BASE_OFFSET..at::BASE_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
                b[at::PARTITION_LEADER_EPOCH..at::PARTITION_LEADER_EPOCH + 4]
                    .copy_from_slice(&partition_leader_epoch.to_be_bytes());
            }),
            Held::Decoded(_) => {
                let header = self.header_mut();
                header.base_offset = base_offset;
                header.partition_leader_epoch = partition_leader_epoch;
            }
        }
    }

    /// A decoded batch of `header` and `records`, without a cached encoding.
    fn from_parts(header: BatchHeader, records: Vec<Record>) -> Self {
        RecordBatch {
            held: Held::Decoded(Box::new(DecodedBatch { header, records, encoding: EncodingCache::default() })),
        }
    }

    /// The header fields, read from the bytes when the batch holds only those.
    pub fn header(&self) -> BatchHeader {
        match &self.held {
            Held::Decoded(d) => d.header,
            Held::Encoded(_) => BatchHeader {
                base_offset: self.base_offset(),
                partition_leader_epoch: self.partition_leader_epoch(),
                producer_id: self.producer_id(),
                producer_epoch: self.producer_epoch(),
                base_sequence: self.base_sequence(),
                first_timestamp_ms: self.first_timestamp_ms(),
                is_control: self.is_control(),
                compression: self.compression(),
                last_offset_delta: self.last_offset_delta(),
                delete_horizon_ms: self.delete_horizon_ms(),
            },
        }
    }

    /// The header fields, for a change: a batch held as bytes alone is decoded first, and the
    /// cached encoding is dropped, since it will no longer match.
    pub fn header_mut(&mut self) -> &mut BatchHeader {
        &mut self.decoded_mut().header
    }

    /// The batch held decoded, with no cached encoding: what every change goes through.
    fn decoded_mut(&mut self) -> &mut DecodedBatch {
        if let Held::Encoded(_) = self.held {
            let header = self.header();
            *self = RecordBatch::from_parts(header, self.decode_own_bytes());
        }
        match &mut self.held {
            Held::Decoded(d) => {
                d.encoding = EncodingCache::default();
                d
            }
            Held::Encoded(_) => unreachable!("decoded just above"),
        }
    }

    /// A header field: from the decoded header, or read from the bytes of a batch held as
    /// bytes alone.
    #[inline]
    fn read<T>(&self, decoded: impl FnOnce(&BatchHeader) -> T, encoded: impl FnOnce(&[u8]) -> T) -> T {
        match &self.held {
            Held::Decoded(d) => decoded(&d.header),
            Held::Encoded(bytes) => encoded(bytes),
        }
    }

    /// Offset of the first record (`baseOffset`).
    pub fn base_offset(&self) -> i64 {
        self.read(|h| h.base_offset, |b| i64::from_be_bytes(field(b, at::BASE_OFFSET)))
    }

    /// The leader epoch in which the leader appended this batch (`partitionLeaderEpoch`;
    /// KIP-101).
    pub fn partition_leader_epoch(&self) -> i32 {
        self.read(|h| h.partition_leader_epoch, |b| i32::from_be_bytes(field(b, at::PARTITION_LEADER_EPOCH)))
    }

    /// Producer id, or [`NO_PRODUCER_ID`].
    pub fn producer_id(&self) -> i64 {
        self.read(|h| h.producer_id, |b| i64::from_be_bytes(field(b, at::PRODUCER_ID)))
    }

    /// Producer epoch, or -1.
    pub fn producer_epoch(&self) -> i16 {
        self.read(|h| h.producer_epoch, |b| i16::from_be_bytes(field(b, at::PRODUCER_EPOCH)))
    }

    /// Sequence of the first record, or [`NO_SEQUENCE`].
    pub fn base_sequence(&self) -> i32 {
        self.read(|h| h.base_sequence, |b| i32::from_be_bytes(field(b, at::BASE_SEQUENCE)))
    }

    /// Timestamp of the first record, in milliseconds. A batch held as bytes alone has no
    /// delete horizon, so its header's `baseTimestamp` is this.
    pub fn first_timestamp_ms(&self) -> i64 {
        self.read(|h| h.first_timestamp_ms, |b| i64::from_be_bytes(field(b, at::BASE_TIMESTAMP)))
    }

    /// Whether this is a control batch (transaction markers; never produced yet).
    pub fn is_control(&self) -> bool {
        self.attributes() & ATTRIBUTE_CONTROL_FLAG != 0
    }

    /// The codec the records are stored with.
    pub fn compression(&self) -> Compression {
        match &self.held {
            Held::Decoded(d) => d.header.compression,
            Held::Encoded(_) => Compression::from_id((self.attributes() & ATTRIBUTE_CODEC_MASK) as u8)
                .expect("a stored batch's codec id was checked when it was decoded or encoded"),
        }
    }

    /// Offset of the last record the batch was written with, minus `base_offset`
    /// (`lastOffsetDelta`). See [`BatchHeader::last_offset_delta`].
    pub fn last_offset_delta(&self) -> i32 {
        self.read(|h| h.last_offset_delta, |b| i32::from_be_bytes(field(b, at::LAST_OFFSET_DELTA)))
    }

    /// When the cleaner may drop this batch's tombstones, in milliseconds (KIP-534), or `None`
    /// until a cleaning stamped it. A batch held as bytes alone never has one.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        match &self.held {
            Held::Decoded(d) => d.header.delete_horizon_ms,
            Held::Encoded(_) => None,
        }
    }

    /// The records, in offset order: borrowed when the batch holds them decoded, decoded from
    /// the batch's bytes when it holds only those ([`RecordBatch::into_encoded_only`]). A reader
    /// that needs only offsets or counts should use [`RecordBatch::record_offsets`] and
    /// [`RecordBatch::record_count`], which never decode.
    ///
    /// Panics if the bytes do not decode: they were encoded from this batch's own records, or
    /// decoded once already, so that would be an impossible state.
    pub fn records(&self) -> Cow<'_, [Record]> {
        match &self.held {
            Held::Decoded(d) => Cow::Borrowed(&d.records),
            Held::Encoded(_) => Cow::Owned(self.decode_own_bytes()),
        }
    }

    /// A copy of this batch's header fields around `records`, without a cached encoding: how
    /// the cleaner rewrites a batch whose records it already decoded.
    pub fn with_records(&self, records: Vec<Record>) -> RecordBatch {
        RecordBatch::from_parts(self.header(), records)
    }

    /// The records, decoded, for a change; the cached encoding is dropped, since it will no
    /// longer match.
    pub fn records_mut(&mut self) -> &mut Vec<Record> {
        &mut self.decoded_mut().records
    }

    /// The records, decoded, giving up the batch.
    pub fn into_records(self) -> Vec<Record> {
        match self.held {
            Held::Decoded(d) => d.records,
            Held::Encoded(_) => self.decode_own_bytes(),
        }
    }

    /// Whether the batch holds its records decoded (true) or only in its bytes.
    pub fn holds_decoded_records(&self) -> bool {
        matches!(self.held, Held::Decoded(_))
    }

    /// The batch as its bytes alone ([`RecordBatch::encoded`]), when its offsets are dense (the
    /// record at index `i` has offset `base_offset + i`, as in every batch a producer writes)
    /// and it has no delete horizon; any other batch (one the cleaner compacted or stamped) is
    /// returned as it is. The log stores a leader's appends this way, so that a stored batch is
    /// held once, as the bytes every replica and disk share, and not also as header fields and
    /// decoded [`Record`]s of 96 bytes each with their strings.
    pub fn into_encoded_only(self) -> RecordBatch {
        let Held::Decoded(d) = &self.held else { return self };
        let dense = d.records.iter().enumerate().all(|(i, r)| usize::try_from(r.offset_delta).is_ok_and(|d| d == i));
        let count = usize::try_from(d.header.last_offset_delta).map_or(0, |delta| delta + 1);
        if !dense || d.records.len() != count || d.header.delete_horizon_ms.is_some() {
            return self;
        }
        RecordBatch { held: Held::Encoded(self.encoded()) }
    }

    /// The batch, decoded from `bytes` by [`RecordBatch::decode`], with `bytes` as its cached
    /// encoding: a log read back from disk keeps the bytes it read, as the leader's log keeps
    /// the bytes it wrote, instead of encoding again.
    pub(crate) fn with_encoding(self, bytes: SharedBytes) -> RecordBatch {
        debug_assert!(self.encodes_to(&bytes), "batch {} was not decoded from these bytes", self.base_offset());
        match self.held {
            Held::Decoded(d) => {
                let cache = OnceLock::new();
                cache.set(bytes).expect("a new cache is empty");
                RecordBatch { held: Held::Decoded(Box::new(DecodedBatch { encoding: EncodingCache(cache), ..*d })) }
            }
            Held::Encoded(_) => RecordBatch { held: Held::Encoded(bytes) },
        }
    }

    /// The batch's bytes when they are known without encoding: held alone, or cached.
    fn known_bytes(&self) -> Option<&SharedBytes> {
        match &self.held {
            Held::Encoded(bytes) => Some(bytes),
            Held::Decoded(d) => d.encoding.0.get(),
        }
    }

    /// Whether this batch and `other` hold the same bytes, known without decoding: both have
    /// their encodings (a batch a log stores always has), and they are equal. The encoding
    /// holds every field and record, so equal bytes are equal batches; `false` says nothing.
    pub fn same_bytes(&self, other: &RecordBatch) -> bool {
        matches!((self.known_bytes(), other.known_bytes()), (Some(a), Some(b)) if a == b)
    }

    /// The records, when the batch holds them decoded; `None` when it holds only its bytes.
    pub fn decoded_records(&self) -> Option<&[Record]> {
        match &self.held {
            Held::Decoded(d) => Some(&d.records),
            Held::Encoded(_) => None,
        }
    }

    /// The records decoded from the bytes of a batch that holds only those.
    fn decode_own_bytes(&self) -> Vec<Record> {
        let bytes = self.known_bytes().expect("a batch that holds only its bytes has them");
        match RecordBatch::decode(bytes) {
            Ok((batch, _)) => batch.into_records(),
            Err(e) => panic!("batch {} does not decode from its own bytes: {e:?}", self.base_offset()),
        }
    }

    /// Calls `f` with the offset and the send id ([`Record::send_id`]) of every record from
    /// index `from` on, in order: all a simulated consumer hands its application. A batch held
    /// as its bytes alone is read without building its records (checking its CRC, as Kafka's
    /// consumer does under `check.crcs=true`), and nothing is allocated; decoding the
    /// records a consumer fetched, keys and headers included, only to drop them was most of
    /// a busy consumer's work.
    ///
    /// Panics when a batch held as its bytes alone does not read back, as
    /// [`RecordBatch::records`] does: those bytes were encoded or checked when the batch was
    /// made.
    pub fn for_each_send_id(&self, from: usize, mut f: impl FnMut(i64, Option<&str>)) {
        match &self.held {
            Held::Decoded(d) => {
                d.records.iter().skip(from).for_each(|r| f(self.offset_of(r), r.send_id().map(|id| &**id)))
            }
            Held::Encoded(bytes) => {
                let read = OpenedBatch::open(bytes).and_then(|b| {
                    let mut r = Reader { bytes: &b.records, at: 0 };
                    take_send_ids(&mut r, b.count, from, |delta, id| f(b.base_offset + i64::from(delta), id))
                });
                if let Err(e) = read {
                    panic!("batch {} does not read back from its own bytes: {e:?}", self.base_offset());
                }
            }
        }
    }

    /// The number of records the header of a batch held as bytes alone counts.
    fn encoded_count(bytes: &[u8]) -> u32 {
        u32::from_be_bytes(field(bytes, at::RECORDS_COUNT))
    }

    /// The records' offsets, in order, without decoding them.
    pub fn record_offsets(&self) -> impl Iterator<Item = i64> + Clone + '_ {
        // A batch holds its records one way or the other, so one side of the chain is empty.
        let (decoded, dense) = match &self.held {
            Held::Decoded(d) => (d.records.as_slice(), 0),
            Held::Encoded(b) => (&[][..], i64::from(Self::encoded_count(b))),
        };
        let base = self.base_offset();
        decoded.iter().map(move |r| base + i64::from(r.offset_delta)).chain((0..dense).map(move |i| base + i))
    }

    /// The index of the first record whose offset is at or above `offset` (the record count
    /// when there is none), without decoding: by arithmetic when the batch holds only its
    /// bytes, whose offsets are dense, and by binary search otherwise.
    pub fn index_at_or_after(&self, offset: i64) -> usize {
        match &self.held {
            Held::Decoded(d) => d.records.partition_point(|r| self.offset_of(r) < offset),
            Held::Encoded(b) => {
                offset.saturating_sub(self.base_offset()).clamp(0, i64::from(Self::encoded_count(b))) as usize
            }
        }
    }

    /// The offset of the record at `index` (counted from 0 in the batch), without decoding.
    /// Panics when the batch holds fewer records.
    pub fn offset_at(&self, index: usize) -> i64 {
        match &self.held {
            Held::Decoded(d) => d.header.base_offset + i64::from(d.records[index].offset_delta),
            Held::Encoded(b) => {
                let count = Self::encoded_count(b);
                assert!(
                    index < count as usize,
                    "batch {} holds {count} records, not {}",
                    self.base_offset(),
                    index + 1
                );
                self.base_offset() + index as i64
            }
        }
    }

    /// Offset of the last record the batch was written with (`lastOffset`).
    pub fn last_offset(&self) -> i64 {
        self.base_offset() + i64::from(self.last_offset_delta())
    }

    /// The largest record timestamp in the batch (`maxTimestamp`), in milliseconds.
    pub fn max_timestamp_ms(&self) -> i64 {
        match &self.held {
            Held::Decoded(d) => d.records.iter().map(|r| r.timestamp_ms).max().unwrap_or(d.header.first_timestamp_ms),
            Held::Encoded(b) => i64::from_be_bytes(field(b, at::MAX_TIMESTAMP)),
        }
    }

    /// The offset of a record, from its delta.
    pub fn offset_of(&self, record: &Record) -> i64 {
        self.base_offset() + i64::from(record.offset_delta)
    }

    /// The offset just after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    /// Number of records.
    pub fn record_count(&self) -> usize {
        match &self.held {
            Held::Decoded(d) => d.records.len(),
            Held::Encoded(b) => Self::encoded_count(b) as usize,
        }
    }

    /// Size of this batch's encoding, in bytes: for a compressed batch, with its records
    /// compressed (so computing it compresses them).
    ///
    /// An uncompressed batch's size is counted from its fields without encoding it (the broker
    /// checks every produced batch against `max.message.bytes`), and a batch whose encoding is
    /// known ([`RecordBatch::encoded`]) answers from it.
    pub fn size_bytes(&self) -> usize {
        let d = match &self.held {
            Held::Encoded(bytes) => return bytes.len(),
            Held::Decoded(d) => d,
        };
        if let Some(bytes) = d.encoding.0.get() {
            return bytes.len();
        }
        match d.header.compression {
            Compression::None => {
                let size = RECORD_BATCH_OVERHEAD_BYTES + records_size(&d.records, self.base_timestamp_ms());
                debug_assert_eq!(size, {
                    let mut out = Vec::new();
                    self.encode(&mut out);
                    out.len()
                });
                size
            }
            _ => {
                let mut out = Vec::new();
                self.encode(&mut out);
                out.len()
            }
        }
    }

    /// The batch's `attributes` (Kafka's `DefaultRecordBatch`, a 16-bit field): the codec id
    /// in bits 0-2, the control flag in bit 5 and, once the cleaner stamped a delete horizon,
    /// bit 6 (KIP-534). Bit 3 (the timestamp type) is 0, `CreateTime`, and bit 4 (transactional)
    /// is 0: the simulator has no transactions. An uncompressed data batch has attributes 0.
    pub fn attributes(&self) -> u16 {
        match &self.held {
            Held::Encoded(b) => u16::from_be_bytes(field(b, at::ATTRIBUTES)),
            Held::Decoded(d) => {
                let h = &d.header;
                let control = if h.is_control { ATTRIBUTE_CONTROL_FLAG } else { 0 };
                let horizon = if h.delete_horizon_ms.is_some() { ATTRIBUTE_DELETE_HORIZON_FLAG } else { 0 };
                u16::from(h.compression.id()) | control | horizon
            }
        }
    }

    /// The header's `baseTimestamp`, which every record's timestamp is a delta from: the
    /// batch's first timestamp, or its delete horizon once it has one (KIP-534 keeps the
    /// horizon in this field rather than adding one).
    fn base_timestamp_ms(&self) -> i64 {
        self.delete_horizon_ms().unwrap_or(self.first_timestamp_ms())
    }

    /// Appends this batch's bytes to `out`, in Kafka's record batch format v2 (magic 2, as
    /// `DefaultRecordBatch` and `DefaultRecord` write it; KIP-98). All fixed-width integers
    /// are big-endian. The 61-byte header ([`RECORD_BATCH_OVERHEAD_BYTES`]) is:
    ///
    /// ```text
    /// base_offset: i64, batch_length: i32, partition_leader_epoch: i32, magic: i8 (2),
    /// crc: u32, attributes: i16, last_offset_delta: i32, base_timestamp: i64,
    /// max_timestamp: i64, producer_id: i64, producer_epoch: i16, base_sequence: i32,
    /// records_count: i32
    /// ```
    ///
    /// `batch_length` counts the bytes after it. The CRC-32C covers everything from
    /// `attributes` to the end, so the leader epoch (written before the CRC) is not covered, as
    /// in Kafka. `attributes` is [`RecordBatch::attributes`]; `base_timestamp` is the first
    /// timestamp, or the delete horizon once the cleaner stamped one.
    ///
    /// Each record is a varint `length` (of the bytes after it), then `attributes: i8` (0),
    /// `timestamp_delta` (a varlong from `base_timestamp`), `offset_delta` (varint), the key
    /// and the value each as a varint length (-1 for null) and their bytes, a varint header
    /// count, and each header's name and value the same way. Varints are zig-zag encoded, as
    /// Kafka's `ByteUtils.writeVarint`.
    ///
    /// A compressed batch keeps its header uncompressed and replaces the records with one block
    /// compressed by its codec ([`Compression::compress`]), which runs to the end of the batch.
    /// The CRC covers the compressed block, as in Kafka.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let d = match &self.held {
            Held::Decoded(d) => d,
            Held::Encoded(bytes) => {
                out.extend_from_slice(bytes);
                return;
            }
        };
        let (size, write) = self.encoding_of(d);
        let start = out.len();
        // Into an empty `out` this allocates exactly the batch's size; a longer `out` (a whole
        // segment's bytes) grows as usual.
        if out.is_empty() {
            out.reserve_exact(size);
        }
        out.resize(start + size, 0);
        write(&mut out[start..]);
    }

    /// The size of this decoded batch's encoding, and what writes it into room of that size:
    /// the one plan behind [`RecordBatch::encode`] (into a vector) and
    /// [`RecordBatch::encoded`] (into the shared buffer).
    fn encoding_of<'a>(&'a self, d: &'a DecodedBatch) -> (usize, impl FnOnce(&mut [u8]) + 'a) {
        let base_timestamp = self.base_timestamp_ms();
        let plan = EncodingPlan::of(&d.header, base_timestamp, &d.records);
        let (attributes, max_timestamp_ms) = (self.attributes(), self.max_timestamp_ms());
        let size = plan.size;
        let write = move |buf: &mut [u8]| {
            plan.write(&d.header, attributes, base_timestamp, max_timestamp_ms, &d.records, buf);
        };
        (size, write)
    }

    /// This batch's bytes ([`RecordBatch::encode`]), computed at the first call and shared by
    /// every later one: cloning the result only counts a reference. The log calls it when it
    /// appends a batch, so a batch is encoded at most once (a producer's arrives encoded,
    /// [`RecordBatch::produced`]), followers that copied the same `Arc<RecordBatch>` reuse
    /// those bytes, and every replica's disk holds the one buffer.
    ///
    /// The fields must not change after the first call (they cannot while the batch is shared
    /// behind an `Arc`); a changed copy is made by cloning, which starts without the cache.
    pub fn encoded(&self) -> SharedBytes {
        let d = match &self.held {
            Held::Encoded(bytes) => return bytes.clone(),
            Held::Decoded(d) => d,
        };
        let bytes = d.encoding.0.get_or_init(|| {
            // Written straight into the shared buffer, not into a vector copied there.
            let (size, write) = self.encoding_of(d);
            SharedBytes::filled(size, write)
        });
        debug_assert!(
            self.encodes_to(bytes),
            "the cached encoding of batch {} no longer matches its fields",
            d.header.base_offset
        );
        bytes.clone()
    }

    /// Whether encoding the batch afresh gives `bytes`: the check, in debug and test builds,
    /// that a cached encoding still stands for the batch's fields and records.
    fn encodes_to(&self, bytes: &[u8]) -> bool {
        let mut fresh = Vec::new();
        self.encode(&mut fresh);
        fresh[..] == *bytes
    }

    /// Decodes one v2 batch ([`RecordBatch::encode`]) from the front of `bytes`, returning it
    /// and the number of bytes used. A batch with a delete horizon reads its first timestamp
    /// from its first record (the header's `base_timestamp` holds the horizon).
    ///
    /// Errors: [`DecodeError::Truncated`] when `bytes` ends inside the batch (a torn write),
    /// [`DecodeError::CrcMismatch`] when the bytes after the CRC do not match it, and
    /// [`DecodeError::Malformed`] for impossible field values: a length shorter than the
    /// header, a magic byte other than 2, an attributes field with an unknown codec id or
    /// unknown flag bits (transactions included), a negative count or offset delta, a record
    /// whose length does not match its fields, a varint longer than its type allows, a
    /// maximum timestamp that is not the records' largest, or a compressed block that does not
    /// decompress or does not hold exactly `records_count` records.
    pub fn decode(bytes: &[u8]) -> Result<(RecordBatch, usize), DecodeError> {
        let b = OpenedBatch::open(bytes)?;
        let mut r = Reader { bytes: &b.records, at: 0 };
        // The CRC matched, so the bytes are whole: running out inside a record is a bad
        // record, not a torn write.
        let records =
            take_records(&mut r, b.count, b.base_timestamp).map_err(truncated_is_malformed(b.inside_a_record()))?;
        if r.at != b.records.len() {
            return Err(DecodeError::Malformed(b.after_the_last_record()));
        }
        let first_timestamp_ms = match b.has_delete_horizon {
            true => records.first().map_or(b.base_timestamp, |r| r.timestamp_ms),
            false => b.base_timestamp,
        };
        let header = BatchHeader {
            base_offset: b.base_offset,
            partition_leader_epoch: b.partition_leader_epoch,
            producer_id: b.producer_id,
            producer_epoch: b.producer_epoch,
            base_sequence: b.base_sequence,
            first_timestamp_ms,
            is_control: b.is_control,
            compression: b.compression,
            last_offset_delta: b.last_offset_delta,
            delete_horizon_ms: b.has_delete_horizon.then_some(b.base_timestamp),
        };
        let batch = RecordBatch::from_parts(header, records);
        if batch.max_timestamp_ms() != b.max_timestamp {
            return Err(DecodeError::Malformed("max timestamp is not the records' largest"));
        }
        Ok((batch, b.total))
    }
}

/// The bytes of a v2 batch header (Kafka's `DefaultRecordBatch.RECORD_BATCH_OVERHEAD`): what a
/// batch costs besides its records.
pub const RECORD_BATCH_OVERHEAD_BYTES: usize = 61;
/// The bytes before a batch's length field ends (`base_offset` and `batch_length`; Kafka's
/// `Records.LOG_OVERHEAD`): a batch's length counts the bytes after them.
const LOG_OVERHEAD_BYTES: usize = 12;
/// Where a v2 batch's CRC sits (Kafka's `DefaultRecordBatch.CRC_OFFSET`).
pub const CRC_OFFSET: usize = 17;
/// Where a v2 batch's attributes sit, the first byte the CRC covers (Kafka's
/// `DefaultRecordBatch.ATTRIBUTES_OFFSET`).
const ATTRIBUTES_OFFSET: usize = 21;
/// The magic byte of record batch format v2, the only format the simulator writes (KIP-98).
pub const MAGIC_V2: u8 = 2;

/// A v2 batch's header fields, checked, and the bytes of its records (decompressed when the
/// batch is compressed): the part of [`RecordBatch::decode`] that [`RecordBatch::for_each_send_id`]
/// shares.
struct OpenedBatch<'a> {
    base_offset: i64,
    partition_leader_epoch: i32,
    compression: Compression,
    is_control: bool,
    has_delete_horizon: bool,
    last_offset_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    /// The records the header counts.
    count: usize,
    /// The records' bytes.
    records: Cow<'a, [u8]>,
    /// The bytes the whole batch takes.
    total: usize,
}

impl<'a> OpenedBatch<'a> {
    /// Reads and checks the header at the front of `bytes`, checks the CRC (Kafka's consumer
    /// does so too, under `check.crcs=true`) and decompresses the records' block.
    ///
    /// Errors: as [`RecordBatch::decode`], for the header, the CRC and the block.
    fn open(bytes: &'a [u8]) -> Result<OpenedBatch<'a>, DecodeError> {
        let mut header = Reader { bytes, at: 0 };
        let base_offset = header.i64()?;
        let length = header.i32()?;
        if length < (RECORD_BATCH_OVERHEAD_BYTES - LOG_OVERHEAD_BYTES) as i32 {
            return Err(DecodeError::Malformed("batch length shorter than a v2 batch header"));
        }
        let total = LOG_OVERHEAD_BYTES + length as usize;
        if bytes.len() < total {
            return Err(DecodeError::Truncated);
        }
        let partition_leader_epoch = header.i32()?;
        if header.u8()? != MAGIC_V2 {
            return Err(DecodeError::Malformed("magic byte is not 2 (record batch format v2)"));
        }
        let crc = header.u32()?;
        let covered = &bytes[ATTRIBUTES_OFFSET..total];
        if crc32c::crc32c(covered) != crc {
            return Err(DecodeError::CrcMismatch);
        }
        let mut r = Reader { bytes: covered, at: 0 };
        let attributes = r.u16()?;
        let known = ATTRIBUTE_CODEC_MASK | ATTRIBUTE_CONTROL_FLAG | ATTRIBUTE_DELETE_HORIZON_FLAG;
        if attributes & !known != 0 {
            return Err(DecodeError::Malformed("unknown attribute bits"));
        }
        let compression = Compression::from_id((attributes & ATTRIBUTE_CODEC_MASK) as u8)
            .ok_or(DecodeError::Malformed("unknown compression codec id"))?;
        let last_offset_delta = r.i32()?;
        let base_timestamp = r.i64()?;
        let max_timestamp = r.i64()?;
        let producer_id = r.i64()?;
        let producer_epoch = r.i16()?;
        let base_sequence = r.i32()?;
        let count = r.i32()?;
        if last_offset_delta < 0 {
            return Err(DecodeError::Malformed("negative last offset delta"));
        }
        let count = usize::try_from(count).map_err(|_| DecodeError::Malformed("negative record count"))?;
        let records = match compression {
            Compression::None => Cow::Borrowed(&covered[r.at..]),
            codec => Cow::Owned(codec.decompress(&covered[r.at..])?),
        };
        Ok(OpenedBatch {
            base_offset,
            partition_leader_epoch,
            compression,
            is_control: attributes & ATTRIBUTE_CONTROL_FLAG != 0,
            has_delete_horizon: attributes & ATTRIBUTE_DELETE_HORIZON_FLAG != 0,
            last_offset_delta,
            base_timestamp,
            max_timestamp,
            producer_id,
            producer_epoch,
            base_sequence,
            count,
            records,
            total,
        })
    }

    /// What a record that runs past the records' bytes is called.
    fn inside_a_record(&self) -> &'static str {
        match self.compression {
            Compression::None => "records end inside a record",
            _ => "compressed records end inside a record",
        }
    }

    /// What bytes left after the counted records are called.
    fn after_the_last_record(&self) -> &'static str {
        match self.compression {
            Compression::None => "bytes after the last record",
            _ => "bytes after the last compressed record",
        }
    }
}

/// A running out of bytes inside bytes the CRC vouched for, reported as what it is: a bad
/// batch (in the words `message`) rather than a torn write.
fn truncated_is_malformed(message: &'static str) -> impl Fn(DecodeError) -> DecodeError {
    move |e| match e {
        DecodeError::Truncated => DecodeError::Malformed(message),
        other => other,
    }
}

/// The size of `value` as a zig-zag varint (Kafka's `ByteUtils.sizeOfVarlong`, which gives the
/// same as `sizeOfVarint` for every 32-bit value), in bytes: 1 to 10.
#[inline]
pub fn varint_size(value: i64) -> usize {
    let zigzag = ((value << 1) ^ (value >> 63)) as u64;
    // Most of a record's varints (its deltas, lengths and header count) take one byte.
    if zigzag < 0x80 {
        return 1;
    }
    // Seven bits per byte.
    (64 - zigzag.leading_zeros() as usize).div_ceil(7)
}

/// Appends `value` as a zig-zag varint (Kafka's `ByteUtils.writeVarlong`; for a 32-bit value
/// the bytes are those of `writeVarint`): 1 to 10 bytes, [`varint_size`] of them. Read it back
/// with [`read_varint`].
#[inline]
pub fn put_varint(out: &mut Vec<u8>, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

/// Reads a zig-zag varint written by [`put_varint`] from the start of `*bytes`, and moves
/// `*bytes` past it (Kafka's `ByteUtils.readVarlong`).
///
/// # Errors
/// [`DecodeError::Truncated`] when the bytes end inside the varint, and
/// [`DecodeError::Malformed`] when it is longer than 10 bytes.
#[inline]
pub fn read_varint(bytes: &mut &[u8]) -> Result<i64, DecodeError> {
    // Most values the oracle packs (differences of consecutive offsets, ids and positions) fit
    // in one byte: read those without the general loop.
    if let Some((&byte, rest)) = bytes.split_first() {
        if byte < 0x80 {
            *bytes = rest;
            return Ok(i64::from(byte >> 1) ^ -i64::from(byte & 1));
        }
    }
    let mut reader = Reader { bytes, at: 0 };
    let value = reader.varlong()?;
    *bytes = &bytes[reader.at..];
    Ok(value)
}

/// The bytes of a nullable field written by [`put_bytes_field`].
fn bytes_field_size(s: Option<&str>) -> usize {
    s.map_or(varint_size(-1), |s| varint_size(s.len() as i64) + s.len())
}

/// The bytes of one record after its length varint (Kafka's `DefaultRecord.sizeOfBodyInBytes`):
/// attributes, the timestamp and offset deltas, the key and the value each prefixed by their
/// length (-1 for null), the header count and the headers.
fn record_body_bytes<'a>(
    offset_delta: i32,
    timestamp_delta_ms: i64,
    key: Option<&str>,
    value: Option<&str>,
    headers: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) -> usize {
    let count = headers.len();
    let header_bytes: usize =
        headers.map(|(name, value)| bytes_field_size(Some(name)) + bytes_field_size(Some(value))).sum();
    1 + varint_size(timestamp_delta_ms)
        + varint_size(i64::from(offset_delta))
        + bytes_field_size(key)
        + bytes_field_size(value)
        + varint_size(count as i64)
        + header_bytes
}

/// The size of one record in a v2 batch, its length varint included (Kafka's
/// `DefaultRecord.sizeInBytes`), in bytes: what a producer counts against `batch.size`.
pub fn record_size_bytes(
    offset_delta: i32,
    timestamp_delta_ms: i64,
    key: Option<&str>,
    value: Option<&str>,
    headers: &[(Arc<str>, Arc<str>)],
) -> usize {
    let headers = headers.iter().map(|(name, value)| (&**name, &**value));
    let body = record_body_bytes(offset_delta, timestamp_delta_ms, key, value, headers);
    varint_size(body as i64) + body
}

/// What encoding a record reads of it: a decoded [`Record`], or the borrowed
/// [`RecordParts`] a producer encodes its batch from. Both encode to the same bytes.
trait RecordFields {
    fn offset_delta(&self) -> i32;
    fn timestamp_ms(&self) -> i64;
    fn key(&self) -> Option<&str>;
    fn value(&self) -> Option<&str>;
    /// The headers, `(name, value)`, in order.
    fn headers(&self) -> impl ExactSizeIterator<Item = (&str, &str)>;
}

impl RecordFields for Record {
    fn offset_delta(&self) -> i32 {
        self.offset_delta
    }
    fn timestamp_ms(&self) -> i64 {
        self.timestamp_ms
    }
    fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
    fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
    fn headers(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.headers.iter().map(|(name, value)| (&**name, &**value))
    }
}

/// One record of a batch a producer is about to send, as borrowed text: what
/// [`RecordBatch::produced`] encodes, so that a producer's batch goes to the leader as bytes,
/// as Kafka's `RecordAccumulator` builds it, without a decoded [`Record`] (and its shared
/// strings) per record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordParts<'a> {
    /// The record's index in its batch: a producer's offsets are dense.
    pub offset_delta: i32,
    /// The create-time timestamp, in milliseconds of simulated time.
    pub timestamp_ms: i64,
    /// The key, or `None` for a keyless record.
    pub key: Option<&'a str>,
    /// The value, or `None` for a tombstone.
    pub value: Option<&'a str>,
    /// The record's one header, `(name, value)`, if it has one: the simulator's producers write
    /// at most the `kafkalab.id` header ([`crate::ID_HEADER`]).
    pub header: Option<(&'a str, &'a str)>,
}

impl RecordFields for RecordParts<'_> {
    fn offset_delta(&self) -> i32 {
        self.offset_delta
    }
    fn timestamp_ms(&self) -> i64 {
        self.timestamp_ms
    }
    fn key(&self) -> Option<&str> {
        self.key
    }
    fn value(&self) -> Option<&str> {
        self.value
    }
    fn headers(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.header.into_iter()
    }
}

/// The fields a producer writes into its batch's header (KIP-98): its `producer_id`,
/// `producer_epoch` and the batch's `base_sequence`, or [`NO_PRODUCER_ID`], -1 and
/// [`NO_SEQUENCE`] for a producer without idempotence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerFields {
    /// The producer id, or [`NO_PRODUCER_ID`].
    pub producer_id: i64,
    /// The producer epoch, or -1.
    pub producer_epoch: i16,
    /// The sequence of the batch's first record, or [`NO_SEQUENCE`].
    pub base_sequence: i32,
}

/// [`record_body_bytes`] of `record` in a batch whose `base_timestamp` is `base_timestamp_ms`.
fn record_body_size<R: RecordFields>(record: &R, base_timestamp_ms: i64) -> usize {
    let delta = record.timestamp_ms().wrapping_sub(base_timestamp_ms);
    record_body_bytes(record.offset_delta(), delta, record.key(), record.value(), record.headers())
}

/// The number of bytes [`put_records`] writes for `records`.
fn records_size(records: &[Record], base_timestamp_ms: i64) -> usize {
    records
        .iter()
        .map(|r| {
            let body = record_body_size(r, base_timestamp_ms);
            varint_size(body as i64) + body
        })
        .sum()
}

/// A batch's encoding, counted before it is written: each record's body size, the records'
/// bytes with their length prefixes, a compressed batch's block, and the batch's whole size.
struct EncodingPlan {
    bodies: smallvec::SmallVec<[usize; 32]>,
    raw_size: usize,
    block: Option<Vec<u8>>,
    size: usize,
}

impl EncodingPlan {
    /// Counts the encoding of `records` under header fields `h`, compressing them for a
    /// compressed batch (the block's length is its size).
    fn of<R: RecordFields>(h: &BatchHeader, base_timestamp_ms: i64, records: &[R]) -> EncodingPlan {
        let bodies: smallvec::SmallVec<[usize; 32]> =
            records.iter().map(|r| record_body_size(r, base_timestamp_ms)).collect();
        let raw_size = bodies.iter().map(|&body| varint_size(body as i64) + body).sum::<usize>();
        let (block, size) = match h.compression {
            Compression::None => (None, RECORD_BATCH_OVERHEAD_BYTES + raw_size),
            codec => {
                let mut raw = vec![0; raw_size];
                put_records(&mut raw, records, base_timestamp_ms, &bodies);
                let block = codec.compress(&raw);
                let size = RECORD_BATCH_OVERHEAD_BYTES + block.len();
                (Some(block), size)
            }
        };
        EncodingPlan { bodies, raw_size, block, size }
    }

    /// Writes the v2 bytes of a batch with header fields `h` (and the derived `attributes`,
    /// `base_timestamp_ms` and `max_timestamp_ms`) and `records` into `buf`, which holds
    /// exactly [`EncodingPlan::size`] bytes: the layout given at [`RecordBatch::encode`], for
    /// decoded records and a producer's borrowed parts alike.
    fn write<R: RecordFields>(
        &self,
        h: &BatchHeader,
        attributes: u16,
        base_timestamp_ms: i64,
        max_timestamp_ms: i64,
        records: &[R],
        buf: &mut [u8],
    ) {
        assert_eq!(buf.len(), self.size, "batch {} is written into room for its size", h.base_offset);
        let count = i32::try_from(records.len()).expect("a batch holds fewer than 2^31 records");
        let (header, rest) = buf.split_at_mut(RECORD_BATCH_OVERHEAD_BYTES);
        let mut w = SliceWriter { buf: header, at: 0 };
        w.slice(&h.base_offset.to_be_bytes());
        w.slice(&((self.size - LOG_OVERHEAD_BYTES) as i32).to_be_bytes());
        w.slice(&h.partition_leader_epoch.to_be_bytes());
        w.u8(MAGIC_V2);
        // The CRC, written below once the bytes it covers are in place.
        w.slice(&[0; 4]);
        w.slice(&attributes.to_be_bytes());
        w.slice(&h.last_offset_delta.to_be_bytes());
        w.slice(&base_timestamp_ms.to_be_bytes());
        w.slice(&max_timestamp_ms.to_be_bytes());
        w.slice(&h.producer_id.to_be_bytes());
        w.slice(&h.producer_epoch.to_be_bytes());
        w.slice(&h.base_sequence.to_be_bytes());
        w.slice(&count.to_be_bytes());
        debug_assert_eq!(w.at, RECORD_BATCH_OVERHEAD_BYTES, "the v2 header is 61 bytes");
        match &self.block {
            None => {
                debug_assert_eq!(rest.len(), self.raw_size);
                put_records(rest, records, base_timestamp_ms, &self.bodies);
            }
            Some(block) => rest.copy_from_slice(block),
        }
        let crc = crc32c::crc32c(&buf[ATTRIBUTES_OFFSET..]);
        buf[CRC_OFFSET..ATTRIBUTES_OFFSET].copy_from_slice(&crc.to_be_bytes());
    }
}

/// Writes `records` in the v2 layout given at [`RecordBatch::encode`] into `buf`, which holds
/// exactly their [`records_size`] bytes.
///
/// The bytes are written into room made first, through a [`SliceWriter`], rather than pushed
/// one by one: a push must reload and store the vector's length around every byte it writes
/// (a byte store may alias it), and every batch sent is encoded.
///
/// `bodies` holds each record's [`record_body_size`], counted once by the caller for both the
/// batch's size and the records' length prefixes.
fn put_records<R: RecordFields>(buf: &mut [u8], records: &[R], base_timestamp_ms: i64, bodies: &[usize]) {
    let mut w = SliceWriter { buf, at: 0 };
    for (record, &body) in records.iter().zip(bodies) {
        w.varint(body as i64);
        w.u8(0); // The record's attributes: unused in v2.
        w.varint(record.timestamp_ms().wrapping_sub(base_timestamp_ms));
        w.varint(i64::from(record.offset_delta()));
        w.bytes_field(record.key());
        w.bytes_field(record.value());
        let headers = record.headers();
        w.varint(headers.len() as i64);
        for (name, value) in headers {
            w.bytes_field(Some(name));
            w.bytes_field(Some(value));
        }
    }
    assert_eq!(w.at, w.buf.len(), "records encode to the size counted");
}

/// Writes into bytes already there, from the start, at a position kept in a local rather than
/// in a vector.
struct SliceWriter<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl SliceWriter<'_> {
    fn u8(&mut self, byte: u8) {
        self.buf[self.at] = byte;
        self.at += 1;
    }

    /// [`put_varint`]'s bytes.
    fn varint(&mut self, value: i64) {
        let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
        while zigzag >= 0x80 {
            self.u8((zigzag as u8) | 0x80);
            zigzag >>= 7;
        }
        self.u8(zigzag as u8);
    }

    fn slice(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }

    /// A nullable text as Kafka writes a record's key, value or header: its length as a
    /// varint (-1 for null), then its bytes.
    fn bytes_field(&mut self, s: Option<&str>) {
        match s {
            None => self.varint(-1),
            Some(s) => {
                self.varint(s.len() as i64);
                self.slice(s.as_bytes());
            }
        }
    }
}

/// Reads `count` records written by [`put_records`].
fn take_records(r: &mut Reader<'_>, count: usize, base_timestamp_ms: i64) -> Result<Vec<Record>, DecodeError> {
    // Each record takes at least 7 bytes, so a corrupt count cannot reserve much.
    let mut records = Vec::with_capacity(count.min(r.bytes.len() / 7));
    // The last header name read: every record of a simulated producer carries the same one,
    // so its records share one string for it instead of one each.
    let mut last_name: Option<Arc<str>> = None;
    for _ in 0..count {
        let length = usize::try_from(r.varint()?).map_err(|_| DecodeError::Malformed("negative record length"))?;
        let start = r.at;
        if r.u8()? != 0 {
            return Err(DecodeError::Malformed("unknown record attribute bits"));
        }
        let timestamp_ms = base_timestamp_ms.wrapping_add(r.varlong()?);
        let offset_delta = r.varint()?;
        let key = r.optional_str()?.map(Key::Shared);
        let value = r.optional_str()?;
        let header_count = usize::try_from(r.varint()?).map_err(|_| DecodeError::Malformed("negative header count"))?;
        let mut headers = Headers::with_capacity(header_count.min(16));
        for _ in 0..header_count {
            let name = r.str_like(last_name.as_ref())?.ok_or(DecodeError::Malformed("null header name"))?;
            // A producer's id header holds the record's value, so the two share one string.
            let header_value = r.str_like(value.as_ref())?.ok_or(DecodeError::Malformed("null header value"))?;
            last_name = Some(Arc::clone(&name));
            headers.push((name, header_value));
        }
        if r.at - start != length {
            return Err(DecodeError::Malformed("record length does not match its fields"));
        }
        records.push(Record { offset_delta, timestamp_ms, key, value, headers });
    }
    Ok(records)
}

/// Reads `count` records written by [`put_records`], calling `f` with the offset delta and the
/// send id ([`Record::send_id`]) of each from index `from` on, as text borrowed from `r`. The
/// records before `from` are stepped over by their lengths, and nothing is allocated.
///
/// It reads the record format field by field as [`take_records`] does, and the two must change
/// together. One shared reader of a record's raw fields, with both built on it, was measured
/// (callgrind, heavy.ron's first 6 s): decoding cost 9% more instructions and the simulation
/// 0.6% more, so the two walkers stay separate.
fn take_send_ids(
    r: &mut Reader<'_>,
    count: usize,
    from: usize,
    mut f: impl FnMut(i32, Option<&str>),
) -> Result<(), DecodeError> {
    let id_header = crate::ID_HEADER.as_bytes();
    for index in 0..count {
        let length = usize::try_from(r.varint()?).map_err(|_| DecodeError::Malformed("negative record length"))?;
        let start = r.at;
        if index < from {
            r.take(length)?;
            continue;
        }
        if r.u8()? != 0 {
            return Err(DecodeError::Malformed("unknown record attribute bits"));
        }
        r.varlong()?;
        let offset_delta = r.varint()?;
        r.optional_bytes()?;
        let value = r.optional_bytes()?;
        let header_count = usize::try_from(r.varint()?).map_err(|_| DecodeError::Malformed("negative header count"))?;
        let mut from_header = None;
        for _ in 0..header_count {
            let name = r.optional_bytes()?.ok_or(DecodeError::Malformed("null header name"))?;
            let header_value = r.optional_bytes()?.ok_or(DecodeError::Malformed("null header value"))?;
            // The first header of the name counts, as `Record::header` finds it.
            if name == id_header && from_header.is_none() {
                from_header = Some(header_value);
            }
        }
        if r.at - start != length {
            return Err(DecodeError::Malformed("record length does not match its fields"));
        }
        let id = from_header.or(value).map(text).transpose();
        f(offset_delta, id?);
    }
    Ok(())
}

/// `bytes` read as text, the way a record's key, value and header fields are.
///
/// Why not `std::str::from_utf8` alone: a consumer reads the send id of every record it
/// fetches, and for texts of ten to twenty bytes the general UTF-8 check cost about 90
/// instructions each, 1.3% of heavy.ron's (callgrind, session 31). The simulator's texts are
/// ASCII, which `is_ascii` confirms several times faster; any other text takes the full check.
///
/// Errors: `Malformed` when the bytes are not UTF-8.
fn text(bytes: &[u8]) -> Result<&str, DecodeError> {
    if bytes.is_ascii() {
        // SAFETY: every ASCII byte sequence is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).map_err(|_| DecodeError::Malformed("non-UTF-8 text"))
}

/// Why bytes could not be read back as a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes end inside a batch.
    Truncated,
    /// The CRC does not match the bytes it covers.
    CrcMismatch,
    /// A field holds an impossible value, or a compressed block does not decompress to the
    /// batch's records; the text says which.
    Malformed(&'static str),
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
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
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")))
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

    /// An unsigned varint of at most `max_bytes` bytes, before zig-zag decoding.
    fn unsigned_varint(&mut self, max_bytes: u32) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for i in 0..max_bytes {
            let byte = self.u8()?;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::Malformed("varint longer than its type allows"))
    }

    /// A zig-zag varlong (Kafka's `ByteUtils.readVarlong`): at most 10 bytes.
    fn varlong(&mut self) -> Result<i64, DecodeError> {
        let zigzag = self.unsigned_varint(10)?;
        Ok((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64))
    }

    /// A zig-zag varint (Kafka's `ByteUtils.readVarint`): at most 5 bytes, and a 32-bit value.
    fn varint(&mut self) -> Result<i32, DecodeError> {
        let zigzag = u32::try_from(self.unsigned_varint(5)?)
            .map_err(|_| DecodeError::Malformed("varint longer than its type allows"))?;
        Ok((zigzag >> 1) as i32 ^ -((zigzag & 1) as i32))
    }

    /// A varint length and that many bytes, or `None` for the length -1 (Kafka's null).
    fn optional_bytes(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        let len = self.varint()?;
        if len < 0 {
            return Ok(None);
        }
        self.take(len as usize).map(Some)
    }

    fn optional_str(&mut self) -> Result<Option<Arc<str>>, DecodeError> {
        self.str_like(None)
    }

    /// Like [`Reader::optional_str`], returning a reference to `like` instead of a new string
    /// when the text read equals it.
    fn str_like(&mut self, like: Option<&Arc<str>>) -> Result<Option<Arc<str>>, DecodeError> {
        let len = self.varint()?;
        if len < 0 {
            return Ok(None);
        }
        let raw = self.take(len as usize)?;
        if let Some(like) = like.filter(|like| like.as_bytes() == raw) {
            return Ok(Some(Arc::clone(like)));
        }
        Ok(Some(Arc::from(text(raw)?)))
    }
}

/// A keyless record holding `value`, without headers: the record the cluster's unit tests
/// append when only its offset matters.
#[cfg(test)]
pub(crate) fn unkeyed(value: &str) -> Record {
    Record { offset_delta: 0, timestamp_ms: 0, key: None, value: Some(Arc::from(value)), headers: Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_record_holds_one_header_inline_in_96_bytes() {
        // Producers build every record of a run and readers decode them again: heavy.ron's
        // producers alone build 1.2 million. The key takes 24 bytes of the 96 (`Key`).
        assert_eq!(std::mem::size_of::<Record>(), 96);
        let record = &batch(0, &[Some("v")]).records()[0].clone();
        assert!(!record.headers.spilled(), "one header needs no allocation of its own");
        assert_eq!(record.header("kafkalab.id"), Some("p-0"));
        // Serialised as the list of pairs a `Vec` would give.
        let as_vec = ron::to_string(&record.headers.to_vec()).expect("a vector of pairs serialises");
        assert_eq!(ron::to_string(&record.headers).expect("headers serialise"), as_vec);
    }

    /// `batch` with its header changed by `change`.
    fn with_header(mut batch: RecordBatch, change: impl FnOnce(&mut BatchHeader)) -> RecordBatch {
        change(batch.header_mut());
        batch
    }

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
                    key: Some(Key::from(format!("k{i}"))),
                    value: v.map(Arc::from),
                    headers: smallvec::smallvec![(Arc::from("kafkalab.id"), Arc::from(format!("p-{i}")))],
                })
                .collect(),
        )
    }

    #[test]
    fn the_encoding_is_computed_once_and_never_copied_into_a_clone() {
        let original = batch(7, &[Some("hello"), None]);
        let mut alone = Vec::new();
        original.encode(&mut alone);
        assert_eq!(alone.capacity(), alone.len(), "a batch's own buffer has no spare capacity");
        let first = original.encoded();
        assert_eq!(first.as_ptr(), original.encoded().as_ptr(), "later calls share the first buffer");
        let mut changed = original.clone();
        assert_eq!(changed, original, "equality ignores the cache");
        assert_eq!(format!("{changed:?}"), format!("{original:?}"));
        assert!(!format!("{original:?}").contains("encoding"), "Debug shows the fields only");
        changed.header_mut().base_offset = 9;
        let mut fresh = Vec::new();
        changed.encode(&mut fresh);
        assert_eq!(&changed.encoded()[..], &fresh[..], "the clone encodes its own fields");
        assert_ne!(changed.encoded(), first);
    }

    #[test]
    fn a_stored_batch_is_a_16_byte_handle_on_its_bytes() {
        // The point of holding a stored batch as bytes alone: heavy.ron keeps 335,500 of them.
        assert_eq!(std::mem::size_of::<RecordBatch>(), 16);
        let slim = batch(3, &[Some("a")]).into_encoded_only();
        let bytes = slim.encoded();
        assert!(matches!(&slim.held, Held::Encoded(held) if SharedBytes::ptr_eq(held, &bytes)), "no copy of the bytes");
    }

    #[test]
    fn a_batch_held_as_bytes_alone_reads_as_the_batch_it_was() {
        let decoded = batch(40, &[Some("a"), None, Some("c")]);
        let slim = decoded.clone().into_encoded_only();
        assert!(decoded.holds_decoded_records());
        assert!(!slim.holds_decoded_records(), "a dense batch drops its decoded records");
        assert!(matches!(slim.records(), Cow::Owned(_)), "its records are decoded when read");
        assert_eq!(slim.records(), decoded.records());
        assert_eq!(slim, decoded, "equality looks at the records, not at how they are held");
        assert_eq!(format!("{slim:?}"), format!("{decoded:?}"));
        assert_eq!(slim.encoded(), decoded.encoded(), "the same bytes");
        assert_eq!(slim.record_count(), 3);
        assert_eq!(slim.max_timestamp_ms(), 1002);
        assert_eq!(slim.record_offsets().collect::<Vec<_>>(), [40, 41, 42]);
        assert_eq!(slim.offset_at(2), 42);
        for (offset, index) in [(0, 0), (40, 0), (41, 1), (42, 2), (43, 3), (99, 3)] {
            assert_eq!(slim.index_at_or_after(offset), index, "offset {offset}");
            assert_eq!(decoded.index_at_or_after(offset), index, "offset {offset}");
        }
        assert_eq!(slim.size_bytes(), decoded.size_bytes());
        let mut out = Vec::new();
        slim.encode(&mut out);
        assert_eq!(&out[..], &decoded.encoded()[..], "encoding a slim batch writes its bytes");
        // A clone exists to be changed: it holds its records decoded, and no bytes.
        let mut changed = slim.clone();
        assert!(changed.holds_decoded_records());
        changed.records_mut().pop();
        changed.header_mut().last_offset_delta = 1;
        assert_ne!(changed, slim);
        assert_eq!(RecordBatch::decode(&changed.encoded()).expect("decodes").0.record_count(), 2);
        // The serialised form does not depend on how the records are held.
        assert_eq!(ron::to_string(&slim).expect("serialises"), ron::to_string(&decoded).expect("serialises"));
        assert_eq!(slim.into_records(), decoded.into_records());
    }

    #[test]
    fn a_batch_read_from_bytes_keeps_them_and_compares_by_them() {
        let written = batch(5, &[Some("a"), Some("b")]).into_encoded_only();
        let bytes = written.encoded();
        let (decoded, used) = RecordBatch::decode(&bytes).expect("decodes");
        assert_eq!(used, bytes.len());
        assert!(!decoded.same_bytes(&written), "without its bytes cached, a batch cannot say");
        let read = decoded.with_encoding(SharedBytes::from(&bytes[..])).into_encoded_only();
        assert!(!read.holds_decoded_records());
        assert!(read.same_bytes(&written) && written.same_bytes(&read));
        assert_eq!(read, written);
        let other = batch(5, &[Some("a"), Some("c")]).into_encoded_only();
        assert!(!read.same_bytes(&other));
        assert_eq!(read.decoded_records(), None);
        assert_eq!(batch(0, &[Some("a")]).decoded_records().map(<[Record]>::len), Some(1));
    }

    #[test]
    fn a_compacted_batch_keeps_its_records_decoded() {
        // A gap at offset 1: the offsets are not the base plus an index, so the batch cannot
        // give them without its records.
        let mut compacted = batch(0, &[Some("a"), Some("b"), Some("c")]);
        compacted.records_mut().remove(1);
        let kept = compacted.into_encoded_only();
        assert!(kept.holds_decoded_records());
        assert_eq!(kept.record_offsets().collect::<Vec<_>>(), [0, 2]);
        assert_eq!(kept.offset_at(1), 2);
        assert_eq!([0, 1, 2, 3].map(|o| kept.index_at_or_after(o)), [0, 1, 1, 2], "a gap finds the next record");
        // As many records as the offset range holds, but not one per offset: not dense either.
        let mut odd = batch(0, &[Some("a"), Some("b")]);
        odd.records_mut()[0].offset_delta = 1;
        odd.records_mut()[1].offset_delta = 0;
        assert!(odd.into_encoded_only().holds_decoded_records());
    }

    #[test]
    fn decoded_records_share_the_strings_that_repeat() {
        let encoded = batch(0, &[Some("p-0"), Some("x")]).encoded();
        let records = RecordBatch::decode(&encoded).expect("decodes").0.into_records();
        let (first_name, first_id) = &records[0].headers[0];
        let (second_name, second_id) = &records[1].headers[0];
        assert!(Arc::ptr_eq(first_name, second_name), "one string for a header name every record has");
        assert!(Arc::ptr_eq(first_id, records[0].value.as_ref().expect("a value")), "a header equal to the value");
        assert_eq!(&**second_id, "p-1");
        assert_eq!(records[1].value.as_deref(), Some("x"), "a header that differs from the value is its own");
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

    /// `n` records whose values repeat every four, which every codec shrinks, in `codec`.
    fn repetitive(n: usize, codec: Compression) -> RecordBatch {
        let values: Vec<String> = (0..n).map(|i| format!("temperature reading {} of sensor-7", i % 4)).collect();
        let values: Vec<Option<&str>> = values.iter().map(|v| Some(v.as_str())).collect();
        with_header(batch(0, &values), |h| {
            h.compression = codec;
        })
    }

    fn encoded(batch: &RecordBatch) -> Vec<u8> {
        let mut out = Vec::new();
        batch.encode(&mut out);
        out
    }

    /// `bytes` with the CRC field recomputed over the bytes it covers, as if written that way.
    fn with_fresh_crc(mut bytes: Vec<u8>) -> Vec<u8> {
        let crc = crc32c::crc32c(&bytes[ATTRIBUTES_OFFSET..]);
        bytes[CRC_OFFSET..ATTRIBUTES_OFFSET].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    /// Where the low byte of the 16-bit attributes sits: the codec and the flags.
    const ATTRIBUTES_LOW_BYTE_AT: usize = ATTRIBUTES_OFFSET + 1;
    /// Where the record count sits (Kafka's `RECORDS_COUNT_OFFSET`).
    const COUNT_AT: usize = 57;
    /// Where the records (or their compressed block) start.
    const RECORDS_AT: usize = RECORD_BATCH_OVERHEAD_BYTES;

    #[test]
    fn an_uncompressed_batch_is_laid_out_as_kafkas_v2() {
        let b = with_header(batch(7, &[Some("hello")]), |h| {
            h.producer_id = 5;
            h.producer_epoch = 1;
            h.base_sequence = 9;
        });
        let mut covered = Vec::new();
        covered.extend_from_slice(&0i16.to_be_bytes()); // attributes: no codec, not control
        covered.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
        covered.extend_from_slice(&1000i64.to_be_bytes()); // base timestamp
        covered.extend_from_slice(&1000i64.to_be_bytes()); // max timestamp
        covered.extend_from_slice(&5i64.to_be_bytes()); // producer id
        covered.extend_from_slice(&1i16.to_be_bytes()); // producer epoch
        covered.extend_from_slice(&9i32.to_be_bytes()); // base sequence
        covered.extend_from_slice(&1i32.to_be_bytes()); // record count
        let record: &[u8] = &[
            0, // attributes
            0, // timestamp delta 0
            0, // offset delta 0
            4, // key length 2, zig-zag
            b'k', b'0', 10, // value length 5
            b'h', b'e', b'l', b'l', b'o', 2,  // one header
            22, // name length 11
            b'k', b'a', b'f', b'k', b'a', b'l', b'a', b'b', b'.', b'i', b'd', 6, // value length 3
            b'p', b'-', b'0',
        ];
        covered.push((record.len() * 2) as u8); // record length 30, zig-zag
        covered.extend_from_slice(record);
        let mut expected = Vec::new();
        expected.extend_from_slice(&7i64.to_be_bytes()); // base offset
        expected.extend_from_slice(&((covered.len() + 9) as i32).to_be_bytes()); // batch length
        expected.extend_from_slice(&3i32.to_be_bytes()); // partition leader epoch
        expected.push(2); // magic
        expected.extend_from_slice(&crc32c::crc32c(&covered).to_be_bytes());
        expected.extend_from_slice(&covered);
        assert_eq!(encoded(&b), expected);
        assert_eq!(b.size_bytes(), 61 + 1 + record.len());
    }

    /// A batch of records whose first timestamp is also their smallest, as the third-party
    /// encoder in `kafka-protocol` (which takes the smallest as the base) would write it.
    fn kafka_protocol_records(batch: &RecordBatch) -> Vec<kafka_protocol::records::Record> {
        use kafka_protocol::protocol::StrBytes;
        let text = |s: &str| bytes::Bytes::copy_from_slice(s.as_bytes());
        batch
            .records()
            .iter()
            .map(|r| kafka_protocol::records::Record {
                transactional: false,
                control: batch.is_control(),
                delete_horizon: batch.delete_horizon_ms().is_some(),
                partition_leader_epoch: batch.partition_leader_epoch(),
                producer_id: batch.producer_id(),
                producer_epoch: batch.producer_epoch(),
                timestamp_type: kafka_protocol::records::TimestampType::Creation,
                offset: batch.offset_of(r),
                sequence: batch.base_sequence().wrapping_add(r.offset_delta),
                timestamp: r.timestamp_ms,
                key: r.key.as_deref().map(text),
                value: r.value.as_deref().map(text),
                headers: r
                    .headers
                    .iter()
                    .map(|(name, value)| (StrBytes::from_string(name.to_string()), Some(text(value))))
                    .collect(),
            })
            .collect()
    }

    /// `(producer_id, producer_epoch, base_sequence)`: a plain producer's, or an idempotent
    /// one's.
    fn producer_fields() -> impl Strategy<Value = (i64, i16, i32)> {
        prop_oneof![Just((NO_PRODUCER_ID, -1i16, NO_SEQUENCE)), (0i64..1 << 40, 0i16..5, 0i32..1 << 30)]
    }

    proptest! {
        /// A producer's batch, encoded from its records' parts and stamped by the leader in
        /// place, is byte for byte the batch the leader would have encoded from decoded
        /// records, in every codec; and it reads back as those records.
        #[test]
        fn a_produced_batch_stamped_in_place_is_the_batch_encoded_whole(
            base in 0i64..1 << 40,
            epoch in 0i32..100,
            producer in producer_fields(),
            codec in proptest::sample::select(Compression::ALL.to_vec()),
            records in proptest::collection::vec(
                (-50i64..100_000, proptest::option::of("[a-zé]{0,40}"), proptest::option::of("[a-z0-9]{0,20}"),
                 proptest::option::of("[a-z0-9-]{1,30}")),
                1..20,
            ),
        ) {
            let first_ms = 1_700_000_000_000;
            let timestamp = |i: usize, ts: i64| first_ms + if i == 0 { 0 } else { ts };
            let (producer_id, producer_epoch, base_sequence) = producer;
            let parts: Vec<RecordParts<'_>> = records
                .iter()
                .enumerate()
                .map(|(i, (ts, value, key, id))| RecordParts {
                    offset_delta: i as i32,
                    timestamp_ms: timestamp(i, *ts),
                    key: key.as_deref(),
                    value: value.as_deref(),
                    header: id.as_deref().map(|id| (crate::ID_HEADER, id)),
                })
                .collect();
            let fields = ProducerFields { producer_id, producer_epoch, base_sequence };
            let mut produced = RecordBatch::produced(fields, codec, &parts);
            prop_assert!(!produced.holds_decoded_records(), "a produced batch is its bytes alone");
            prop_assert_eq!((produced.base_offset(), produced.partition_leader_epoch()), (0, -1));
            produced.stamp(base, epoch);

            let decoded: Vec<Record> = records
                .iter()
                .enumerate()
                .map(|(i, (ts, value, key, id))| Record {
                    offset_delta: i as i32,
                    timestamp_ms: timestamp(i, *ts),
                    key: key.as_deref().map(Key::from),
                    value: value.as_deref().map(Arc::from),
                    headers: id.iter().map(|id| (Arc::from(crate::ID_HEADER), Arc::from(id.as_str()))).collect(),
                })
                .collect();
            let whole = with_header(RecordBatch::new(base, epoch, first_ms, decoded.clone()), |h| {
                h.producer_id = producer_id;
                h.producer_epoch = producer_epoch;
                h.base_sequence = base_sequence;
                h.compression = codec;
            });
            prop_assert_eq!(&produced.encoded()[..], &encoded(&whole)[..]);
            prop_assert_eq!(produced.header(), whole.header());
            prop_assert_eq!(produced.records().into_owned(), decoded);
        }
    }

    #[test]
    #[should_panic(expected = "offset deltas are its records' indexes")]
    fn a_produced_batch_must_have_dense_offsets() {
        let part =
            |offset_delta| RecordParts { offset_delta, timestamp_ms: 0, key: None, value: Some("v"), header: None };
        let fields = ProducerFields { producer_id: NO_PRODUCER_ID, producer_epoch: -1, base_sequence: NO_SEQUENCE };
        RecordBatch::produced(fields, Compression::None, &[part(0), part(2)]);
    }

    #[test]
    fn stamping_a_batch_whose_bytes_are_shared_leaves_the_other_handle_alone() {
        let parts = [RecordParts { offset_delta: 0, timestamp_ms: 5, key: Some("k"), value: Some("v"), header: None }];
        let fields = ProducerFields { producer_id: 3, producer_epoch: 0, base_sequence: 0 };
        let mut stamped = RecordBatch::produced(fields, Compression::None, &parts);
        let kept = RecordBatch { held: Held::Encoded(stamped.encoded()) };
        stamped.stamp(42, 7);
        assert_eq!((stamped.base_offset(), stamped.partition_leader_epoch()), (42, 7));
        assert_eq!((kept.base_offset(), kept.partition_leader_epoch()), (0, -1));
        // The CRC does not cover the stamped fields: both still decode.
        assert_eq!(RecordBatch::decode(&stamped.encoded()).unwrap().0.base_offset(), 42);
        assert_eq!(RecordBatch::decode(&kept.encoded()).unwrap().0.records(), stamped.records());
    }

    proptest! {
        /// Our bytes are Kafka's: an independent implementation of format v2 (the
        /// `kafka-protocol` crate) writes the same bytes for the same batch, and reads ours.
        #[test]
        fn batches_match_an_independent_v2_implementation(
            base in 0i64..1 << 40,
            epoch in 0i32..100,
            producer in producer_fields(),
            control in any::<bool>(),
            records in proptest::collection::vec(
                (0i64..100_000, proptest::option::of("[a-z]{0,300}"), proptest::option::of("[a-z0-9]{0,20}"),
                 // Distinct names: the other encoder keeps headers in a map.
                 proptest::collection::btree_map("[a-z.]{1,12}", "[a-z]{0,30}", 0..3)),
                1..12,
            ),
        ) {
            let first_ms = 1_700_000_000_000;
            let records: Vec<Record> = records
                .into_iter()
                .enumerate()
                .map(|(i, (ts, value, key, headers))| Record {
                    offset_delta: i as i32,
                    // The first record holds the smallest timestamp, as the other encoder assumes.
                    timestamp_ms: first_ms + if i == 0 { 0 } else { ts },
                    key: key.map(|k| Key::from(k.as_str())),
                    value: value.map(|v| Arc::from(v.as_str())),
                    headers: headers.into_iter().map(|(n, v)| (Arc::from(n.as_str()), Arc::from(v.as_str()))).collect(),
                })
                .collect();
            let (producer_id, producer_epoch, base_sequence) = producer;
            let ours = with_header(RecordBatch::new(base, epoch, first_ms, records), |h| {
                h.producer_id = producer_id;
                h.producer_epoch = producer_epoch;
                h.base_sequence = base_sequence;
                h.is_control = control;
            });
            let mut theirs = bytes::BytesMut::new();
            let options = kafka_protocol::records::RecordEncodeOptions {
                version: 2,
                compression: kafka_protocol::records::Compression::None,
            };
            let expected = kafka_protocol_records(&ours);
            kafka_protocol::records::RecordBatchEncoder::encode(&mut theirs, &expected, &options).unwrap();
            prop_assert_eq!(&encoded(&ours)[..], &theirs[..]);

            // And a batch with a delete horizon, whose records' timestamps count from it.
            let stamped = with_header(ours.clone(), |h| { h.delete_horizon_ms = Some(first_ms + 86_400_000); });
            let mut bytes = bytes::Bytes::from(encoded(&stamped));
            let read = kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes).unwrap();
            prop_assert_eq!(read.records, kafka_protocol_records(&stamped));
            prop_assert_eq!(RecordBatch::decode(&encoded(&stamped)).unwrap().0, stamped);
        }
    }

    #[test]
    fn varints_are_kafkas_zig_zag_varints() {
        // Kafka's `ByteUtils` writes these bytes for these values.
        for (value, bytes) in [
            (0i64, &[0x00][..]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (-65, &[0x81, 0x01]),
            (8191, &[0xfe, 0x7f]),
            (8192, &[0x80, 0x80, 0x01]),
            (i64::from(i32::MAX), &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i64::from(i32::MIN), &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(out, bytes, "{value}");
            assert_eq!(varint_size(value), bytes.len(), "{value}");
            assert_eq!(Reader { bytes, at: 0 }.varlong(), Ok(value), "{value}");
            let mut rest = [bytes, &[0xaa]].concat();
            let mut cursor = &rest[..];
            assert_eq!(read_varint(&mut cursor), Ok(value), "{value}");
            assert_eq!(cursor, [0xaa], "read_varint stops after {value}'s bytes");
            rest.truncate(bytes.len() - 1);
            assert_eq!(read_varint(&mut &rest[..]), Err(DecodeError::Truncated), "{value} cut short");
            if let Ok(small) = i32::try_from(value) {
                assert_eq!(Reader { bytes, at: 0 }.varint(), Ok(small), "{value}");
            }
        }
        assert_eq!(varint_size(i64::MIN), 10);
        let too_long = [0x80u8, 0x80, 0x80, 0x80, 0x80, 0x01];
        assert_eq!(
            Reader { bytes: &too_long, at: 0 }.varint(),
            Err(DecodeError::Malformed("varint longer than its type allows"))
        );
        assert_eq!(Reader { bytes: &[0x80], at: 0 }.varint(), Err(DecodeError::Truncated));
    }

    #[test]
    fn a_batch_with_a_delete_horizon_keeps_it_in_the_base_timestamp() {
        let plain = batch(0, &[None, Some("v")]);
        let stamped = with_header(plain.clone(), |h| {
            h.delete_horizon_ms = Some(90_000);
        });
        assert_eq!(stamped.attributes(), 0x40);
        let bytes = encoded(&stamped);
        assert_eq!(bytes[27..35], 90_000i64.to_be_bytes(), "the base timestamp holds the horizon");
        assert_eq!(bytes[35..43], 1001i64.to_be_bytes(), "the max timestamp is the records'");
        let (read, _) = RecordBatch::decode(&bytes).unwrap();
        assert_eq!(read, stamped, "its first timestamp is its first record's");
        assert_eq!(read.delete_horizon_ms(), Some(90_000));
        // A batch whose first timestamp is not its first record's cannot keep it once stamped.
        let odd = with_header(stamped, |h| {
            h.first_timestamp_ms = 5;
        });
        assert_eq!(RecordBatch::decode(&encoded(&odd)).unwrap().0.first_timestamp_ms(), 1000);
    }

    #[test]
    fn bytes_that_break_the_format_under_a_good_crc_are_malformed() {
        let bytes = encoded(&batch(0, &[Some("a"), Some("b")]));
        let mut magic = bytes.clone();
        magic[16] = 1;
        assert_eq!(
            RecordBatch::decode(&magic),
            Err(DecodeError::Malformed("magic byte is not 2 (record batch format v2)"))
        );
        let mut count = bytes.clone();
        count[COUNT_AT..RECORDS_AT].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(RecordBatch::decode(&with_fresh_crc(count)), Err(DecodeError::Malformed("negative record count")));
        let mut fewer = bytes.clone();
        fewer[COUNT_AT..RECORDS_AT].copy_from_slice(&1i32.to_be_bytes());
        assert_eq!(
            RecordBatch::decode(&with_fresh_crc(fewer)),
            Err(DecodeError::Malformed("bytes after the last record"))
        );
        let mut more = bytes.clone();
        more[COUNT_AT..RECORDS_AT].copy_from_slice(&3i32.to_be_bytes());
        assert_eq!(
            RecordBatch::decode(&with_fresh_crc(more)),
            Err(DecodeError::Malformed("records end inside a record"))
        );
        let mut length = bytes.clone();
        length[RECORDS_AT] += 2; // The first record claims a byte more than its fields hold.
        assert_eq!(
            RecordBatch::decode(&with_fresh_crc(length)),
            Err(DecodeError::Malformed("record length does not match its fields"))
        );
        let mut attributes = bytes.clone();
        attributes[RECORDS_AT + 1] = 1;
        assert_eq!(
            RecordBatch::decode(&with_fresh_crc(attributes)),
            Err(DecodeError::Malformed("unknown record attribute bits"))
        );
        let mut max = bytes.clone();
        max[35..43].copy_from_slice(&5i64.to_be_bytes());
        assert_eq!(
            RecordBatch::decode(&with_fresh_crc(max)),
            Err(DecodeError::Malformed("max timestamp is not the records' largest"))
        );
        let mut short = bytes.clone();
        short[8..12].copy_from_slice(&48i32.to_be_bytes());
        assert_eq!(
            RecordBatch::decode(&short),
            Err(DecodeError::Malformed("batch length shorter than a v2 batch header"))
        );
        // The leader epoch comes before the CRC, so the CRC does not cover it, as in Kafka.
        let mut epoch = bytes.clone();
        epoch[12..16].copy_from_slice(&9i32.to_be_bytes());
        assert_eq!(RecordBatch::decode(&epoch).unwrap().0.partition_leader_epoch(), 9);
        let mut flipped = bytes;
        flipped[RECORDS_AT + 3] ^= 1;
        assert_eq!(RecordBatch::decode(&flipped), Err(DecodeError::CrcMismatch));
    }

    #[test]
    fn every_codec_round_trips() {
        for codec in Compression::ALL {
            let original = repetitive(20, codec);
            let bytes = encoded(&original);
            let (decoded, used) = RecordBatch::decode(&bytes).unwrap();
            assert_eq!(used, bytes.len(), "{codec:?}");
            assert_eq!(decoded, original, "{codec:?}");
            assert_eq!(decoded.compression(), codec);
            assert_eq!(original.size_bytes(), bytes.len(), "{codec:?}");
        }
    }

    #[test]
    fn the_attributes_byte_holds_the_codec_and_the_control_flag() {
        for codec in Compression::ALL {
            let data = repetitive(2, codec);
            assert_eq!(data.attributes(), u16::from(codec.id()));
            assert_eq!(encoded(&data)[ATTRIBUTES_LOW_BYTE_AT], codec.id(), "{codec:?}");
            let control = with_header(data, |h| {
                h.is_control = true;
            });
            let bytes = encoded(&control);
            assert_eq!(bytes[ATTRIBUTES_OFFSET], 0, "{codec:?}: the high byte is unused");
            assert_eq!(bytes[ATTRIBUTES_LOW_BYTE_AT], codec.id() | 0x20, "{codec:?}");
            assert_eq!(RecordBatch::decode(&bytes).unwrap().0, control);
        }
    }

    #[test]
    fn a_flipped_byte_in_a_compressed_block_fails_the_crc() {
        for codec in Compression::ALL {
            let bytes = encoded(&repetitive(20, codec));
            for at in [RECORDS_AT, (RECORDS_AT + bytes.len()) / 2, bytes.len() - 1] {
                let mut bad = bytes.clone();
                bad[at] ^= 0x01;
                assert_eq!(RecordBatch::decode(&bad), Err(DecodeError::CrcMismatch), "{codec:?}, byte {at}");
            }
        }
    }

    #[test]
    fn a_bad_block_under_a_good_crc_is_malformed() {
        for (codec, message) in [
            (Compression::Gzip, "the records' gzip block does not decompress"),
            (Compression::Snappy, "the records' snappy block does not decompress"),
            (Compression::Lz4, "the records' lz4 frame does not decompress"),
            (Compression::Zstd, "the records' zstd frame does not decompress"),
        ] {
            let mut bytes = encoded(&repetitive(20, codec));
            bytes[RECORDS_AT..].fill(0xab);
            assert_eq!(RecordBatch::decode(&with_fresh_crc(bytes)), Err(DecodeError::Malformed(message)));

            // A block that decompresses but holds fewer or more records than the count says.
            let bytes = encoded(&repetitive(3, codec));
            for (count, message) in
                [(4i32, "compressed records end inside a record"), (2, "bytes after the last compressed record")]
            {
                let mut bad = bytes.clone();
                bad[COUNT_AT..RECORDS_AT].copy_from_slice(&count.to_be_bytes());
                assert_eq!(RecordBatch::decode(&with_fresh_crc(bad)), Err(DecodeError::Malformed(message)));
            }
        }
    }

    #[test]
    fn unknown_attributes_are_malformed() {
        let bytes = encoded(&repetitive(2, Compression::None));
        for (attributes, message) in [
            (5, "unknown compression codec id"),
            (7, "unknown compression codec id"),
            (0x08, "unknown attribute bits"),
            (0x10, "unknown attribute bits"),
            (0x80, "unknown attribute bits"),
        ] {
            let mut bad = bytes.clone();
            bad[ATTRIBUTES_LOW_BYTE_AT] = attributes;
            assert_eq!(RecordBatch::decode(&with_fresh_crc(bad)), Err(DecodeError::Malformed(message)));
        }
    }

    #[test]
    fn a_repetitive_batch_compresses_smaller_with_every_codec() {
        let plain = repetitive(50, Compression::None).size_bytes();
        assert_eq!(plain, 3_041);
        // The exact sizes depend on the codec crates' versions (pinned by Cargo.lock); a change
        // here changes the on-disk sizes, and so the segment rolls, of every compressed run.
        for (codec, size) in
            [(Compression::Gzip, 563), (Compression::Snappy, 887), (Compression::Lz4, 957), (Compression::Zstd, 534)]
        {
            let compressed = repetitive(50, codec).size_bytes();
            assert!(compressed < plain / 3, "{codec:?}: {compressed} of {plain} bytes");
            assert_eq!(compressed, size, "{codec:?}");
        }
    }

    #[test]
    fn compression_is_deterministic() {
        for codec in Compression::ALL {
            let batch = repetitive(30, codec);
            let first = encoded(&batch);
            assert_eq!(encoded(&batch), first, "{codec:?}");
            let (decoded, _) = RecordBatch::decode(&first).unwrap();
            assert_eq!(encoded(&decoded), first, "{codec:?}: re-encoding a decoded batch");
        }
        // The gzip header holds no time: mtime (bytes 4-7) is 0, the OS byte 255 ("unknown").
        let gzip = Compression::Gzip.compress(b"abc");
        assert_eq!(&gzip[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
        for codec in Compression::ALL {
            assert_eq!(codec.decompress(&codec.compress(b"abc")), Ok(b"abc".to_vec()), "{codec:?}");
        }
    }

    proptest! {
        /// A consumer's lean read of the send ids gives what decoding the records and asking
        /// each for `Record::send_id` gives, for a batch held decoded and for one held as its
        /// bytes alone, compressed or not, from any index; the first `kafkalab.id` header wins.
        #[test]
        fn send_ids_read_from_bytes_are_the_decoded_records_send_ids(
            codec in 0u8..5,
            records in proptest::collection::vec(
                // Some texts are not ASCII, so both of `text`'s paths are taken.
                (proptest::option::of("[a-zé]{0,8}"), proptest::option::of("[a-z0-9é€-]{0,12}"),
                 proptest::collection::vec((prop_oneof![Just(crate::ID_HEADER.to_string()), "[a-z.]{1,6}"], "[a-z0-9#ü]{0,10}"), 0..3)),
                1..10,
            ),
            from in 0usize..12,
        ) {
            let records: Vec<Record> = records
                .into_iter()
                .enumerate()
                .map(|(i, (key, value, headers))| Record {
                    offset_delta: i as i32,
                    timestamp_ms: 1_000 + i as i64,
                    key: key.map(|k| Key::from(k.as_str())),
                    value: value.map(|v| Arc::from(v.as_str())),
                    headers: headers.into_iter().map(|(n, v)| (Arc::from(n.as_str()), Arc::from(v.as_str()))).collect(),
                })
                .collect();
            let decoded = with_header(RecordBatch::new(40, 3, 1_000, records), |h| {
                h.compression = Compression::from_id(codec).unwrap();
            });
            let expected: Vec<(i64, Option<Arc<str>>)> = decoded
                .records()
                .iter()
                .skip(from)
                .map(|r| (decoded.offset_of(r), r.send_id().cloned()))
                .collect();
            let bytes_alone = decoded.clone().into_encoded_only();
            prop_assert!(bytes_alone.decoded_records().is_none(), "held as its bytes alone");
            for batch in [&decoded, &bytes_alone] {
                let mut read = Vec::new();
                batch.for_each_send_id(from, |offset, id| read.push((offset, id.map(Arc::from))));
                prop_assert_eq!(&read, &expected);
            }
        }
    }

    #[test]
    fn texts_are_read_as_utf8_with_a_shortcut_for_ascii() {
        assert_eq!(text(b"web-1-4711"), Ok("web-1-4711"));
        assert_eq!(text("wéb-€".as_bytes()), Ok("wéb-€"));
        assert_eq!(text(b""), Ok(""));
        assert_eq!(text(&[b'a', 0xff]), Err(DecodeError::Malformed("non-UTF-8 text")));
        assert_eq!(text(&[0xc3]), Err(DecodeError::Malformed("non-UTF-8 text")), "a cut two-byte sequence");
    }

    proptest! {
        #[test]
        fn every_codec_round_trips_any_records(
            codec in 0u8..5,
            values in proptest::collection::vec(proptest::option::of("[a-z]{0,40}"), 1..20),
        ) {
            let values: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
            let original = with_header(batch(3, &values), |h| { h.compression = Compression::from_id(codec).unwrap(); });
            let bytes = encoded(&original);
            prop_assert_eq!(original.size_bytes(), bytes.len(), "counted without encoding");
            let (decoded, used) = RecordBatch::decode(&bytes).unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(&decoded, &original);
            prop_assert_eq!(&original.encoded()[..], &bytes[..], "the cached encoding is the encoding");
            prop_assert_eq!(original.size_bytes(), bytes.len(), "and answers the size");
        }

        #[test]
        fn encoding_round_trips(base in 0i64..1_000_000, values in proptest::collection::vec(proptest::option::of("[a-z]{0,12}"), 1..8)) {
            let values: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
            let original = batch(base, &values);
            let mut bytes = Vec::new();
            original.encode(&mut bytes);
            prop_assert_eq!(original.size_bytes(), bytes.len(), "counted without encoding");
            let (decoded, used) = RecordBatch::decode(&bytes).unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(&decoded, &original);
            prop_assert_eq!(&original.encoded()[..], &bytes[..], "the cached encoding is the encoding");
            prop_assert_eq!(original.size_bytes(), bytes.len(), "and answers the size");
        }
    }
}
