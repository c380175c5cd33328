//! A trace record's canonical JSON line, written by hand for the records a busy run is made of.
//!
//! The digest is SHA-256 over each record's line as `serde_json` writes it (compact, fields in
//! declaration order). In a busy run nearly every record is a producer's `SendInvoked` or
//! `SendAcked` (99% of heavy.ron's 2.6 million), and going through serde's generic machinery
//! for each, with a byte-by-byte escape scan of every string, cost about 8% of the run. This
//! module writes those records' lines directly, byte for byte as `serde_json` would, and hands
//! every other record to `serde_json`. The tests compare the two on generated records, including
//! strings that need escaping.

use super::{TraceBody, TraceRecord};
use cluster::event::Event;
use cluster::ids::TopicPartition;

/// Appends `record`'s canonical JSON line (without the newline) to `out`.
pub(super) fn write(record: &TraceRecord, out: &mut Vec<u8>) {
    let TraceBody::Event(event) = &record.body else {
        return serde(record, out);
    };
    match event {
        Event::SendInvoked { producer, tp, key, value, tombstone } => {
            head(record, out, b"SendInvoked");
            field_str(out, b"{\"producer\":", producer);
            topic_partition(out, tp);
            out.extend_from_slice(b",\"key\":");
            match key {
                Some(key) => string(out, key),
                None => out.extend_from_slice(b"null"),
            }
            field_str(out, b",\"value\":", value);
            out.extend_from_slice(if *tombstone { b",\"tombstone\":true}" } else { b",\"tombstone\":false}" });
        }
        Event::SendAcked { producer, tp, offset, value } => {
            head(record, out, b"SendAcked");
            field_str(out, b"{\"producer\":", producer);
            topic_partition(out, tp);
            out.extend_from_slice(b",\"offset\":");
            out.extend_from_slice(itoa::Buffer::new().format(*offset).as_bytes());
            field_str(out, b",\"value\":", value);
            out.push(b'}');
        }
        Event::HighWatermarkAdvanced { tp, high_watermark } => {
            head(record, out, b"HighWatermarkAdvanced");
            out.push(b'{');
            topic_partition_first(out, tp);
            out.extend_from_slice(b",\"high_watermark\":");
            out.extend_from_slice(itoa::Buffer::new().format(*high_watermark).as_bytes());
            out.push(b'}');
        }
        _ => return serde(record, out),
    }
    // Closes the variant's object, the body's `Event` object and the record.
    out.extend_from_slice(b"}}}");
}

/// The general case: `serde_json`'s compact form.
fn serde(record: &TraceRecord, out: &mut Vec<u8>) {
    serde_json::to_writer(out, record).expect("trace records serialise");
}

/// `{"seq":..,"time_ns":..,"node":"..","body":{"Event":{"<variant>":`
fn head(record: &TraceRecord, out: &mut Vec<u8>, variant: &[u8]) {
    let mut numbers = itoa::Buffer::new();
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(numbers.format(record.seq).as_bytes());
    out.extend_from_slice(b",\"time_ns\":");
    out.extend_from_slice(numbers.format(record.time_ns).as_bytes());
    field_str(out, b",\"node\":", &record.node);
    out.extend_from_slice(b",\"body\":{\"Event\":{\"");
    out.extend_from_slice(variant);
    out.extend_from_slice(b"\":");
}

/// `,"tp":{"topic":"..","partition":N}`
fn topic_partition(out: &mut Vec<u8>, tp: &TopicPartition) {
    out.push(b',');
    topic_partition_first(out, tp);
}

/// `"tp":{"topic":"..","partition":N}`
fn topic_partition_first(out: &mut Vec<u8>, tp: &TopicPartition) {
    field_str(out, b"\"tp\":{\"topic\":", tp.topic.as_ref());
    out.extend_from_slice(b",\"partition\":");
    out.extend_from_slice(itoa::Buffer::new().format(tp.partition).as_bytes());
    out.push(b'}');
}

fn field_str(out: &mut Vec<u8>, name: &[u8], value: &str) {
    out.extend_from_slice(name);
    string(out, value);
}

/// A JSON string. `serde_json` escapes `"`, `\` and the control characters below 0x20, and
/// nothing else; a string without them is copied as it is, and one with them is left to
/// `serde_json` so that the escapes are exactly its own.
fn string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(out, s).expect("strings serialise");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster::ids::Name;
    use proptest::prelude::*;

    /// Short strings that often need escaping, and sometimes are not ASCII.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof!["[a-z0-9 .-]{0,12}", "[a-z\"\\\\\u{0}\u{8}\u{9}\u{a}\u{c}\u{d}\u{1f}\u{7f}é€😀]{0,8}",]
    }

    fn tp() -> impl Strategy<Value = TopicPartition> {
        (text(), any::<i32>()).prop_map(|(topic, partition)| TopicPartition::new(topic.as_str(), partition))
    }

    fn body() -> impl Strategy<Value = TraceBody> {
        prop_oneof![
            (text(), tp(), proptest::option::of(text()), text(), any::<bool>()).prop_map(
                |(producer, tp, key, value, tombstone)| TraceBody::Event(Event::SendInvoked {
                    producer: Name::new(&producer),
                    tp,
                    key: key.map(cluster::key::Key::from),
                    value: cluster::SendId::from(value),
                    tombstone,
                })
            ),
            // Send ids held inline (up to 24 bytes) and on the heap (longer) write alike.
            (text(), tp(), any::<i64>(), prop_oneof![text(), "[a-z0-9#-]{20,40}"]).prop_map(
                |(producer, tp, offset, value)| TraceBody::Event(Event::SendAcked {
                    producer: Name::new(&producer),
                    tp,
                    offset,
                    value: cluster::SendId::from(value)
                })
            ),
            (tp(), any::<i64>())
                .prop_map(|(tp, high_watermark)| TraceBody::Event(Event::HighWatermarkAdvanced { tp, high_watermark })),
            text().prop_map(TraceBody::Fault),
        ]
    }

    proptest! {
        /// The hand-written line is byte for byte `serde_json`'s, so the digest is unchanged.
        #[test]
        fn lines_match_serde_json(seq in any::<u64>(), time_ns in any::<u64>(), node in text(), body in body()) {
            let record = TraceRecord { seq, time_ns, node: node.into(), body };
            let mut fast = Vec::new();
            write(&record, &mut fast);
            prop_assert_eq!(String::from_utf8(fast).unwrap(), serde_json::to_string(&record).unwrap());
        }
    }

    #[test]
    fn strings_that_need_escaping_are_escaped_as_serde_json_does() {
        let mut out = Vec::new();
        string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é""#);
    }
}
