//! The producer's key partitioner: which partition a keyed record goes to.
//!
//! Kafka's Java producer sends a record that has a key, and no explicit partition, to
//! `toPositive(murmur2(serializedKey)) % numPartitions`. The rule lives in
//! `org.apache.kafka.clients.producer.internals.BuiltInPartitioner.partitionForKey` (it was in
//! `DefaultPartitioner` before KIP-794 moved it), and the two helpers it uses are
//! `org.apache.kafka.common.utils.Utils.murmur2` and `Utils.toPositive`.
//!
//! This module reproduces those three functions bit for bit, so that a key typed into a kafkalab
//! scenario lands on the same partition number that a real Java producer would choose for the
//! same key bytes and the same partition count. The non-Java clients that aim for compatibility
//! (librdkafka's `murmur2_random` partitioner, franz-go, kafkajs) use the same hash, and the
//! tests below check it against both Kafka's and librdkafka's published vectors.
//!
//! Records without a key are not hashed: since KIP-480 (sticky partitioner, Kafka 2.4) and
//! KIP-794 (strictly uniform sticky partitioner, Kafka 3.3) the Java producer fills one
//! partition's batch at a time. Both policies live here too, as [`StickyPartitionCache`] and
//! [`UniformStickyPartitioner`]; *when* they are asked to switch depends on the record
//! accumulator, so the producer model (`crate::producer`) calls them at the points where
//! `KafkaProducer.doSend` and `RecordAccumulator.append` call their Java counterparts.
//!
//! The key functions are pure. The sticky partitioners hold one partition number as state and
//! draw their random choices from the producer's seeded generator, passed in by the caller, so
//! a run replays exactly.

use rand::Rng;

/// The seed Kafka's `Utils.murmur2` starts from (`0x9747b28c`, written as a Java `int`, which
/// is negative as a signed value). The hash is always seeded with this constant.
const SEED: u32 = 0x9747_b28c;

/// The multiplicative mixing constant `m` of MurmurHash2 (`0x5bd1e995`).
const M: u32 = 0x5bd1_e995;

/// The shift `r` of MurmurHash2's per-word mix (24 bits).
const R: u32 = 24;

/// Kafka's 32-bit MurmurHash2 of `data`, as the Java `int` that
/// `org.apache.kafka.common.utils.Utils.murmur2(byte[])` returns.
///
/// The input is any byte string (for the partitioner it is the serialized key) and the result is
/// a signed 32-bit value that may be negative; callers that need an index pass it through
/// [`to_positive`] first.
///
/// Java has no unsigned `int`, but its `*`, `^` and `>>>` on `int` are exactly wrapping
/// multiplication, exclusive or and logical right shift on the 32-bit two's-complement pattern.
/// We therefore compute on `u32` with wrapping multiplication and reinterpret the final bits as
/// `i32`, which gives the same value Java prints. The algorithm is:
///
/// 1. Start from `h = SEED ^ len`, where `len` is the byte length (Java arrays are indexed by
///    `int`, so the length always fits in 32 bits there; we truncate the same way).
/// 2. For every whole 4-byte word, read it little-endian as `k`, then
///    `k *= m; k ^= k >>> r; k *= m; h *= m; h ^= k`.
/// 3. Fold the 1 to 3 trailing bytes into `h` (byte 2 shifted left by 16, byte 1 by 8, byte 0
///    unshifted) and multiply by `m` once; with no trailing bytes this step is skipped.
/// 4. Finish with `h ^= h >>> 13; h *= m; h ^= h >>> 15`.
pub fn murmur2(data: &[u8]) -> i32 {
    // Java takes `data.length` as an `int`; a Java array can never exceed `i32::MAX`, so the cast
    // below only differs from Java for inputs Java could not hold at all.
    let length = data.len() as u32;
    let mut h = SEED ^ length;

    let mut words = data.chunks_exact(4);
    for word in &mut words {
        let mut k = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }

    // The Java code handles the tail with a `switch` whose cases fall through from 3 down to 1;
    // the three `if`s below take the same path for each tail length.
    let tail = words.remainder();
    if !tail.is_empty() {
        if tail.len() >= 3 {
            h ^= u32::from(tail[2]) << 16;
        }
        if tail.len() >= 2 {
            h ^= u32::from(tail[1]) << 8;
        }
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;

    // Reinterpret the 32 bits as a signed Java `int`.
    h as i32
}

/// Clears the sign bit of `n`, as Kafka's `org.apache.kafka.common.utils.Utils.toPositive` does.
///
/// The result is in `0..=i32::MAX`. This is not the absolute value: a negative input keeps its
/// low 31 bits, so `-1` becomes `i32::MAX` and `i32::MIN` becomes `0`. Kafka uses a mask rather
/// than `abs` because `abs(i32::MIN)` overflows and would yield a negative index.
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition, in `0..num_partitions`, that Kafka's default partitioner picks for a record
/// whose serialized key is `key`.
///
/// This is `BuiltInPartitioner.partitionForKey` from the Java producer:
/// `to_positive(murmur2(key)) % num_partitions`. `num_partitions` is the topic's partition count
/// as the producer last saw it in metadata; the mapping changes when partitions are added, which
/// is why adding partitions breaks per-key ordering in real Kafka too.
///
/// # Panics
///
/// Panics if `num_partitions` is zero or negative, because a topic always has at least one
/// partition and the remainder would otherwise be undefined (Java would throw
/// `ArithmeticException` for zero).
pub fn partition_for_key(key: &[u8], num_partitions: i32) -> i32 {
    assert!(num_partitions > 0, "partition_for_key: num_partitions must be at least 1, got {num_partitions}");
    to_positive(murmur2(key)) % num_partitions
}

/// A uniformly random partition, drawn the way Kafka draws it:
/// `Utils.toPositive(random.nextInt()) % size` over the partitions that have a leader
/// (`cluster.availablePartitionsForTopic`), or over all `num_partitions` when none has one.
fn random_partition<R: Rng>(available: &[i32], num_partitions: i32, rng: &mut R) -> i32 {
    let random = to_positive(rng.gen::<i32>());
    if available.is_empty() {
        random % num_partitions.max(1)
    } else {
        available[random as usize % available.len()]
    }
}

/// The sticky partitioner of KIP-480 (Kafka 2.4 to 3.2), Kafka's `StickyPartitionCache`: keyless
/// records all go to one partition, and a new partition is chosen whenever a new batch has to be
/// created for the current one.
///
/// The accumulator tells it so through [`StickyPartitionCache::on_new_batch`], which is
/// `DefaultPartitioner.onNewBatch`: `KafkaProducer.doSend` appends with `abortOnNewBatch=true`,
/// and when the record does not fit the open batch it asks the partitioner to move on before
/// appending again. With `linger.ms=0` every batch leaves at once, so in practice each record
/// starts a new batch and the partition changes on nearly every send; with a longer linger a
/// partition fills one batch before the producer moves on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StickyPartitionCache {
    current: Option<i32>,
}

impl StickyPartitionCache {
    /// A cache with no sticky partition yet.
    pub fn new() -> StickyPartitionCache {
        StickyPartitionCache::default()
    }

    /// The sticky partition, if one was chosen.
    pub fn current(&self) -> Option<i32> {
        self.current
    }

    /// The partition for a keyless record (`StickyPartitionCache.partition`): the sticky one,
    /// chosen at random among `available` (the partitions with a leader; all
    /// `num_partitions` when none has one) the first time.
    pub fn partition<R: Rng>(&mut self, available: &[i32], num_partitions: i32, rng: &mut R) -> i32 {
        match self.current {
            Some(p) => p,
            None => self.on_new_batch(-1, available, num_partitions, rng),
        }
    }

    /// A record for `prev_partition` needs a new batch (`StickyPartitionCache.nextPartition`):
    /// when `prev_partition` is the sticky partition, pick another one, different from it
    /// whenever more than one partition is available. Returns the sticky partition afterwards.
    ///
    /// A keyed record that happens to start a new batch on the sticky partition moves the sticky
    /// partition too, exactly as in Kafka, because `onNewBatch` is called for every record.
    pub fn on_new_batch<R: Rng>(
        &mut self,
        prev_partition: i32,
        available: &[i32],
        num_partitions: i32,
        rng: &mut R,
    ) -> i32 {
        let old = self.current;
        if let Some(current) = old.filter(|&p| p != prev_partition) {
            // Another record already moved the sticky partition on.
            return current;
        }
        let new = match available.len() {
            0 => random_partition(available, num_partitions, rng),
            1 => available[0],
            _ => loop {
                let candidate = random_partition(available, num_partitions, rng);
                if Some(candidate) != old {
                    break candidate;
                }
            },
        };
        self.current = Some(new);
        new
    }
}

/// The uniform sticky partitioner of KIP-794 (Kafka 3.3+), the uniform part of Kafka's
/// `BuiltInPartitioner`: keyless records stick to one partition until about `batch.size` bytes
/// were produced to it, then a new partition is drawn uniformly at random (it may be the same
/// one again).
///
/// KIP-480 switched on every new batch, so a partition whose broker answers slowly kept its
/// batch open longer, collected more records per switch, and ended up with more of the data
/// than the partitions of fast brokers; counting bytes makes the distribution uniform whatever
/// the batching. Kafka's *adaptive* part (`partitioner.adaptive.partitioning.enable`,
/// weighting partitions by their brokers' queue lengths, and
/// `partitioner.availability.timeout.ms`) is left out: every available partition is equally
/// likely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UniformStickyPartitioner {
    sticky_batch_size: usize,
    /// The sticky partition and the bytes produced to it so far (`StickyPartitionInfo`).
    current: Option<(i32, usize)>,
}

impl UniformStickyPartitioner {
    /// A partitioner that switches after `sticky_batch_size` bytes (Kafka passes `batch.size`).
    pub fn new(sticky_batch_size: usize) -> UniformStickyPartitioner {
        UniformStickyPartitioner { sticky_batch_size, current: None }
    }

    /// The sticky partition and the bytes produced to it, if one was chosen.
    pub fn current(&self) -> Option<(i32, usize)> {
        self.current
    }

    /// The partition for the next keyless record (`peekCurrentPartitionInfo`), choosing one at
    /// random among `available` the first time.
    pub fn peek<R: Rng>(&mut self, available: &[i32], num_partitions: i32, rng: &mut R) -> i32 {
        match self.current {
            Some((p, _)) => p,
            None => {
                let p = random_partition(available, num_partitions, rng);
                self.current = Some((p, 0));
                p
            }
        }
    }

    /// Counts `appended_bytes` (the growth of the batch's estimated size, so a record that
    /// opened a batch also counts the batch header) toward the sticky partition and switches
    /// when the count reaches `batch.size` and `enable_switch` holds, or reaches twice
    /// `batch.size` regardless (`updatePartitionInfo`). Returns whether it switched.
    ///
    /// The caller passes `enable_switch` = "every batch queued for the partition is full"
    /// (`RecordAccumulator.allBatchesFull`), so that a switch does not strand a half-full batch
    /// behind a long `linger.ms`.
    pub fn update<R: Rng>(
        &mut self,
        appended_bytes: usize,
        enable_switch: bool,
        available: &[i32],
        num_partitions: i32,
        rng: &mut R,
    ) -> bool {
        let Some((partition, produced)) = self.current else { return false };
        let produced = produced + appended_bytes;
        let limit = self.sticky_batch_size;
        if (produced >= limit && enable_switch) || produced >= limit.saturating_mul(2) {
            self.current = Some((random_partition(available, num_partitions, rng), 0));
            true
        } else {
            self.current = Some((partition, produced));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vectors of Apache Kafka's own unit test for `Utils.murmur2`:
    /// `UtilsTest.testMurmur2` in
    /// `clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java`.
    /// Each pair is an ASCII key and the signed `int` Kafka asserts for it.
    const KAFKA_UTILS_TEST_VECTORS: &[(&str, i32)] = &[
        ("21", -973_932_308),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
        ("abc", 479_470_107),
    ];

    /// The vectors of librdkafka's `unittest_murmur2` (`src/rdmurmur2.c` in
    /// confluentinc/librdkafka), which its authors label as the Java client's results. They add
    /// what Kafka's table lacks: a one-byte tail (`"4"`, `"kafka"`) and the empty key. The
    /// expected values are given there as 32-bit patterns, so they are kept as `u32` here and
    /// compared after reinterpreting our `i32` result.
    const LIBRDKAFKA_VECTORS: &[(&str, u32)] = &[
        ("kafka", 0xd067_cf64),
        ("giberish123456789", 0x8f55_2b0c),
        ("1234", 0x9fc9_7b14),
        ("234", 0xe7c0_09ca),
        ("34", 0x8739_30da),
        ("4", 0x5a4b_5ca1),
        ("PreAmbleWillBeRemoved,ThePrePartThatIs", 0x7842_4f1c),
        ("reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62_b377),
        ("eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4_e09e),
        ("AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8_b43f),
        ("", 0x106e_08d9),
    ];

    #[test]
    fn murmur2_matches_every_kafka_utils_test_vector() {
        for &(key, expected) in KAFKA_UTILS_TEST_VECTORS {
            assert_eq!(murmur2(key.as_bytes()), expected, "murmur2({key:?})");
        }
    }

    #[test]
    fn murmur2_matches_every_librdkafka_vector() {
        for &(key, expected) in LIBRDKAFKA_VECTORS {
            assert_eq!(murmur2(key.as_bytes()) as u32, expected, "murmur2({key:?}) as a 32-bit pattern");
        }
    }

    #[test]
    fn the_vector_tables_cover_every_tail_length() {
        // The tail handling is the part most easily got wrong, so make sure the tables above
        // really exercise lengths with 0, 1, 2 and 3 trailing bytes.
        let mut seen = [false; 4];
        for (key, _) in KAFKA_UTILS_TEST_VECTORS {
            seen[key.len() % 4] = true;
        }
        for (key, _) in LIBRDKAFKA_VECTORS {
            seen[key.len() % 4] = true;
        }
        assert_eq!(seen, [true; 4]);
    }

    /// A second, deliberately literal transcription of the Java method: signed `i32` values,
    /// Java `byte`s (signed `i8`) masked with `0xff`, `+` to assemble each word, and `>>>`
    /// written as a logical shift on the bit pattern. The property test below checks that the
    /// unsigned formulation in [`murmur2`] agrees with it on arbitrary bytes, including bytes
    /// above 0x7f, which a Java `byte` holds as negative numbers.
    fn murmur2_java_style(data: &[u8]) -> i32 {
        fn unsigned_shift_right(x: i32, bits: u32) -> i32 {
            ((x as u32) >> bits) as i32
        }
        let bytes: Vec<i8> = data.iter().map(|&b| b as i8).collect();
        let length = bytes.len() as i32;
        let seed = 0x9747_b28c_u32 as i32;
        let m = 0x5bd1_e995_i32;
        let mut h = seed ^ length;
        for i in 0..(length / 4) as usize {
            let i4 = i * 4;
            let b = |j: usize| i32::from(bytes[i4 + j]) & 0xff;
            let mut k = b(0).wrapping_add(b(1) << 8).wrapping_add(b(2) << 16).wrapping_add(b(3) << 24);
            k = k.wrapping_mul(m);
            k ^= unsigned_shift_right(k, 24);
            k = k.wrapping_mul(m);
            h = h.wrapping_mul(m);
            h ^= k;
        }
        let base = (length & !3) as usize;
        let rest = length % 4;
        if rest == 3 {
            h ^= (i32::from(bytes[base + 2]) & 0xff) << 16;
        }
        if rest >= 2 {
            h ^= (i32::from(bytes[base + 1]) & 0xff) << 8;
        }
        if rest >= 1 {
            h ^= i32::from(bytes[base]) & 0xff;
            h = h.wrapping_mul(m);
        }
        h ^= unsigned_shift_right(h, 13);
        h = h.wrapping_mul(m);
        h ^= unsigned_shift_right(h, 15);
        h
    }

    #[test]
    fn the_java_style_transcription_agrees_on_the_published_vectors() {
        // This guards the guard: the literal transcription must itself reproduce Kafka's table
        // before it is trusted as an oracle for bytes the tables do not cover.
        for &(key, expected) in KAFKA_UTILS_TEST_VECTORS {
            assert_eq!(murmur2_java_style(key.as_bytes()), expected, "{key:?}");
        }
    }

    #[test]
    fn murmur2_treats_high_bytes_as_unsigned() {
        // Bytes above 0x7f in the word path and in every tail position.
        let high = [0xffu8, 0x80, 0xfe, 0x81, 0xc3, 0xa9, 0x90];
        for len in 0..=high.len() {
            assert_eq!(murmur2(&high[..len]), murmur2_java_style(&high[..len]), "length {len}");
        }
        assert_ne!(murmur2(&[0x80]), murmur2(&[0x00]));
    }

    #[test]
    fn to_positive_clears_only_the_sign_bit() {
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(0), 0);
        assert_eq!(to_positive(1), 1);
        assert_eq!(to_positive(i32::MAX), i32::MAX);
        // Not the absolute value: -2 is 0xfffffffe, which masks to 0x7ffffffe.
        assert_eq!(to_positive(-2), i32::MAX - 1);
    }

    #[test]
    fn partition_for_key_follows_the_formula_on_known_hashes() {
        // "kafka" hashes to 0xd067cf64; with the sign bit cleared that is 0x5067cf64, which is
        // 1_348_980_580 (the masked value older librdkafka releases printed for this key).
        assert_eq!(to_positive(murmur2(b"kafka")), 1_348_980_580);
        assert_eq!(partition_for_key(b"kafka", 1), 0);
        assert_eq!(partition_for_key(b"kafka", 3), 1_348_980_580 % 3);
        assert_eq!(partition_for_key(b"kafka", 7), 1_348_980_580 % 7);
        for &(key, hash) in KAFKA_UTILS_TEST_VECTORS {
            for n in 1..=12 {
                assert_eq!(
                    partition_for_key(key.as_bytes(), n),
                    (hash & 0x7fff_ffff) % n,
                    "key {key:?} over {n} partitions"
                );
            }
        }
    }

    #[test]
    fn partitions_of_kafkas_test_keys_written_out() {
        // The partitions a Java producer picks for Kafka's own `UtilsTest` keys, worked out by
        // hand from the hashes Kafka asserts: "21" hashes to -973932308, whose low 31 bits are
        // 1173551340, and 1173551340 % 7 = 3; and so on for the others.
        let expected: &[(&str, i32, i32)] = &[
            ("21", 7, 3),
            ("21", 10, 0),
            ("foobar", 7, 0),
            ("foobar", 10, 6),
            ("abc", 6, 3),
            ("abc", 7, 4),
            ("abc", 10, 7),
            ("a-little-bit-long-string", 3, 2),
            ("a-little-bit-long-string", 7, 1),
        ];
        for &(key, partitions, partition) in expected {
            assert_eq!(partition_for_key(key.as_bytes(), partitions), partition, "{key:?} over {partitions}");
        }
    }

    #[test]
    fn a_single_partition_topic_takes_every_key() {
        for &(key, _) in KAFKA_UTILS_TEST_VECTORS {
            assert_eq!(partition_for_key(key.as_bytes(), 1), 0);
        }
    }

    #[test]
    #[should_panic(expected = "num_partitions must be at least 1, got 0")]
    fn partition_for_key_rejects_zero_partitions() {
        partition_for_key(b"k", 0);
    }

    #[test]
    #[should_panic(expected = "num_partitions must be at least 1, got -3")]
    fn partition_for_key_rejects_negative_partitions() {
        partition_for_key(b"k", -3);
    }

    fn rng() -> rand_chacha::ChaCha8Rng {
        use rand::SeedableRng;
        rand_chacha::ChaCha8Rng::seed_from_u64(7)
    }

    #[test]
    fn kip480_moves_to_a_different_partition_on_every_new_batch() {
        let mut rng = rng();
        let mut cache = StickyPartitionCache::new();
        let available = [0, 1, 2, 3];
        let mut previous = cache.partition(&available, 4, &mut rng);
        assert_eq!(cache.partition(&available, 4, &mut rng), previous, "sticky until a new batch");
        for _ in 0..50 {
            let next = cache.on_new_batch(previous, &available, 4, &mut rng);
            assert_ne!(next, previous, "with several partitions available the new one differs");
            assert!(available.contains(&next));
            previous = next;
        }
        // A new batch on some other partition (a keyed record's) leaves the sticky one alone.
        let other = (previous + 1) % 4;
        assert_eq!(cache.on_new_batch(other, &available, 4, &mut rng), previous);
        // Only one partition with a leader: it is the only choice.
        assert_eq!(cache.on_new_batch(previous, &[2], 4, &mut rng), 2);
    }

    #[test]
    fn kip794_switches_only_after_batch_size_bytes() {
        let mut rng = rng();
        let mut partitioner = UniformStickyPartitioner::new(100);
        let available = [0, 1, 2];
        let first = partitioner.peek(&available, 3, &mut rng);
        assert!(!partitioner.update(60, true, &available, 3, &mut rng));
        assert_eq!(partitioner.current(), Some((first, 60)));
        // 120 bytes, but the queued batch is not full yet: keep filling it.
        assert!(!partitioner.update(60, false, &available, 3, &mut rng));
        assert_eq!(partitioner.current(), Some((first, 120)));
        // The queue's batches are full now: switch (a zero-byte update, as `partitionChanged`).
        assert!(partitioner.update(0, true, &available, 3, &mut rng));
        assert_eq!(partitioner.current().map(|(_, bytes)| bytes), Some(0));
        // Twice batch.size switches even while a batch is still open.
        assert!(partitioner.update(200, false, &available, 3, &mut rng));
    }

    proptest::proptest! {
        #[test]
        fn every_key_maps_into_range(
            key in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            num_partitions in 1..=i32::MAX,
        ) {
            let p = partition_for_key(&key, num_partitions);
            proptest::prop_assert!((0..num_partitions).contains(&p));
        }

        #[test]
        fn murmur2_agrees_with_a_literal_java_transcription(
            key in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
        ) {
            proptest::prop_assert_eq!(murmur2(&key), murmur2_java_style(&key));
        }

        #[test]
        fn to_positive_is_never_negative_and_keeps_the_low_bits(n in proptest::prelude::any::<i32>()) {
            let p = to_positive(n);
            proptest::prop_assert!(p >= 0);
            proptest::prop_assert_eq!(p as u32, (n as u32) & 0x7fff_ffff);
        }
    }
}
