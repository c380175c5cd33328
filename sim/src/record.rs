//! Recordings: a run written to a file so it can be replayed without simulating, scrubbed back
//! and forth, and verified against a fresh run.
//!
//! A recording is a zstd-compressed stream of JSON lines, one [`Entry`] per line:
//!
//! 1. a [`Header`]: format and version, the kafkalab version that made it, the scenario's text
//!    and SHA-256, and the seed;
//! 2. in time order, every trace record ([`Entry::Record`]), a [`Keyframe`] (the whole
//!    [`ClusterView`]) every [`KEYFRAME_INTERVAL_MS`] of simulated time, and the timeline's
//!    [`Marker`]s (faults, elections, ISR changes, rebalances, chapters, ...);
//! 3. an [`Outcome`]: the digest, the checker's findings and the expectations, when the run
//!    reached its end.
//!
//! Replaying reads only the views and records, so a recording made by an older build still
//! plays as long as its format version is known: fields added to the view later have defaults.
//! [`verify`] re-executes the scenario with the seed and compares the traces record by record.
//!
//! Writing streams to disk (nothing but the file's buffer is kept), and never overwrites a file:
//! [`Recorder::create`] refuses an existing path.

use crate::check::ExpectationResult;
use crate::scenario::Scenario;
use crate::trace::{TraceBody, TraceRecord};
use crate::view::ClusterView;
use cluster::event::Event;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The `format` every recording's header names.
pub const FORMAT: &str = "kafkalab-recording";
/// The version of the format this build writes. Readers accept every version up to it.
pub const FORMAT_VERSION: u32 = 1;
/// Simulated time between keyframes, in milliseconds: the resolution of scrubbing and the
/// length of one step in the lab.
pub const KEYFRAME_INTERVAL_MS: u64 = 100;
/// Whether `time_ms` falls on a keyframe boundary.
pub fn is_keyframe_time(time_ms: u64) -> bool {
    time_ms.checked_rem(KEYFRAME_INTERVAL_MS) == Some(0)
}

/// The file extension recordings get.
pub const EXTENSION: &str = "klrec";

/// The first line of a recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format version it was written in (see [`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The version of kafkalab that wrote it.
    pub kafkalab_version: String,
    /// The scenario's name.
    pub scenario_name: String,
    /// Where the scenario came from (a path, or a note such as `(bundled)`).
    pub scenario_origin: String,
    /// The scenario's RON text, exactly as run: a lab session's injected faults are in it.
    pub scenario_text: String,
    /// SHA-256 of `scenario_text`, in hex.
    pub scenario_sha256: String,
    /// The seed of the run.
    pub seed: u64,
    /// The scenario's duration, in milliseconds.
    pub duration_ms: u64,
    /// Simulated time between keyframes, in milliseconds.
    pub keyframe_interval_ms: u64,
}

impl Header {
    /// The header for a run of `scenario_text` (already parsed as `scenario`) with `seed`.
    pub fn new(scenario: &Scenario, scenario_text: &str, seed: u64) -> Header {
        Header {
            format: FORMAT.to_string(),
            format_version: FORMAT_VERSION,
            kafkalab_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario_name: scenario.name.clone(),
            scenario_origin: scenario.origin.0.clone(),
            scenario_text: scenario_text.to_string(),
            scenario_sha256: sha256_hex(scenario_text.as_bytes()),
            seed,
            duration_ms: scenario.duration.0,
            keyframe_interval_ms: KEYFRAME_INTERVAL_MS,
        }
    }
}

/// SHA-256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The whole cluster at one moment, and how long the trace was then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keyframe {
    /// Simulated time, in milliseconds.
    pub time_ms: u64,
    /// Trace records written before this moment: the records `0..records` happened at or
    /// before it.
    pub records: u64,
    /// The cluster.
    pub view: ClusterView,
}

/// What a timeline mark stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MarkerKind {
    /// A fault was applied (or a trigger fired).
    Fault,
    /// A partition leader or the active controller was elected.
    Election,
    /// An ISR shrank or grew.
    Isr,
    /// A consumer group started or completed a rebalance.
    Rebalance,
    /// A narration chapter started.
    Chapter,
    /// A narration line the lab waits on.
    Prompt,
    /// An invariant was violated (in a scenario that expects it).
    Violation,
    /// The history checker found an anomaly here (known only once the run has ended).
    Finding,
}

impl MarkerKind {
    /// The one-letter symbol the timeline draws, so a mark is readable without colour.
    pub fn symbol(self) -> char {
        match self {
            MarkerKind::Fault => 'F',
            MarkerKind::Election => 'E',
            MarkerKind::Isr => 'I',
            MarkerKind::Rebalance => 'R',
            MarkerKind::Chapter => 'C',
            MarkerKind::Prompt => 'P',
            MarkerKind::Violation => '!',
            MarkerKind::Finding => 'X',
        }
    }

    /// The kind in words, for the timeline's legend.
    pub fn name(self) -> &'static str {
        match self {
            MarkerKind::Fault => "fault",
            MarkerKind::Election => "election",
            MarkerKind::Isr => "ISR change",
            MarkerKind::Rebalance => "rebalance",
            MarkerKind::Chapter => "chapter",
            MarkerKind::Prompt => "prompt",
            MarkerKind::Violation => "invariant violated",
            MarkerKind::Finding => "checker finding",
        }
    }
}

/// A mark on the timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// Simulated time, in milliseconds.
    pub time_ms: u64,
    /// The trace record it comes from, if any.
    pub seq: Option<u64>,
    /// What it marks.
    pub kind: MarkerKind,
    /// What happened, in plain words.
    pub label: String,
}

/// The timeline mark a trace record makes, if any: faults, leader and controller elections,
/// ISR changes, rebalances, chapters, prompts and violations.
pub fn marker_of(record: &TraceRecord) -> Option<Marker> {
    let (kind, label) = match &record.body {
        TraceBody::Fault(text) => (MarkerKind::Fault, text.clone()),
        TraceBody::Chapter(title) => (MarkerKind::Chapter, title.clone()),
        TraceBody::Prompt(text) => (MarkerKind::Prompt, text.clone()),
        TraceBody::Violation { invariant, detail } => (MarkerKind::Violation, format!("{invariant}: {detail}")),
        TraceBody::Narration(_) => return None,
        TraceBody::Event(event) => {
            let kind = match event {
                Event::LeaderElected { .. }
                | Event::UncleanLeaderElected { .. }
                | Event::ControllerActivated { .. } => MarkerKind::Election,
                Event::IsrShrunk { .. } | Event::IsrExpanded { .. } => MarkerKind::Isr,
                Event::RebalanceStarted { .. } | Event::GroupRebalanced { .. } => MarkerKind::Rebalance,
                _ => return None,
            };
            (kind, event.describe())
        }
    };
    Some(Marker { time_ms: record.time_ms(), seq: Some(record.seq), kind, label })
}

/// A finding of the history checker, placed at the record that revealed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedFinding {
    /// The record that revealed it (`None` for a line counting findings left out).
    pub seq: Option<u64>,
    /// Simulated time of that record, in milliseconds (the end of the run without one).
    pub time_ms: u64,
    /// The finding in words.
    pub text: String,
}

/// How a run ended: written last, when the run reached its end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The trace digest (see [`crate::trace::Trace::digest`]).
    pub digest: String,
    /// Trace records in all.
    pub records: u64,
    /// The history checker's findings.
    pub findings: Vec<CheckedFinding>,
    /// Each expectation of the scenario and whether it held.
    pub expectations: Vec<ExpectationResult>,
}

/// One line of a recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Entry {
    /// The first line.
    Header(Header),
    /// A trace record.
    Record(TraceRecord),
    /// The cluster at a moment.
    Keyframe(Keyframe),
    /// A timeline mark.
    Marker(Marker),
    /// How the run ended.
    Outcome(Outcome),
}

/// Why a recording could not be written, read or verified.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The file exists: recordings never overwrite anything.
    #[error("{path}: the file exists, and a recording never overwrites a file; choose a new name or move it away")]
    Exists {
        /// The path.
        path: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A line is not an entry of a known format.
    #[error("{path}: line {line}: {message}")]
    Malformed {
        /// The path.
        path: String,
        /// The line, from 1 (of the decompressed stream).
        line: usize,
        /// What is wrong and what to do.
        message: String,
    },
}

/// Writes a recording as the run goes, one entry at a time.
pub struct Recorder {
    path: PathBuf,
    /// Entries are serialised in small pieces; the buffer in front of the encoder hands zstd
    /// large blocks (feeding it each piece cost more than the simulation).
    out: BufWriter<zstd::stream::AutoFinishEncoder<'static, std::fs::File>>,
    /// The line of the trace record being written, kept to reuse its allocation.
    line: Vec<u8>,
}

impl Recorder {
    /// Creates `path` (which must not exist) and writes the header.
    ///
    /// Errors: [`RecordingError::Exists`] when the file exists, [`RecordingError::Io`].
    pub fn create(path: &Path, header: &Header) -> Result<Recorder, RecordingError> {
        let file = match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(RecordingError::Exists { path: path.display().to_string() })
            }
            Err(source) => return Err(RecordingError::Io { path: path.display().to_string(), source }),
        };
        let encoder = zstd::stream::Encoder::new(file, 1)
            .map_err(|source| RecordingError::Io { path: path.display().to_string(), source })?;
        let out = BufWriter::with_capacity(1 << 20, encoder.auto_finish());
        let mut recorder = Recorder { path: path.to_path_buf(), out, line: Vec::new() };
        recorder.write(&Entry::Header(header.clone()))?;
        Ok(recorder)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry.
    ///
    /// Errors: [`RecordingError::Io`].
    pub fn write(&mut self, entry: &Entry) -> Result<(), RecordingError> {
        let io = |source| RecordingError::Io { path: self.path.display().to_string(), source };
        serde_json::to_writer(&mut self.out, entry).map_err(|e| io(std::io::Error::other(e)))?;
        self.out.write_all(b"\n").map_err(io)
    }

    /// Appends a trace record and the mark it makes, if any.
    ///
    /// Errors: [`RecordingError::Io`].
    pub fn record(&mut self, record: &TraceRecord) -> Result<(), RecordingError> {
        // `{"Record":<the record>}` as serde writes `Entry::Record`, without cloning the record.
        self.line.clear();
        self.line.extend_from_slice(b"{\"Record\":");
        record.write_json(&mut self.line);
        self.line.extend_from_slice(b"}\n");
        let io = |source| RecordingError::Io { path: self.path.display().to_string(), source };
        self.out.write_all(&self.line).map_err(io)?;
        if let Some(marker) = marker_of(record) {
            self.write(&Entry::Marker(marker))?;
        }
        Ok(())
    }

    /// Finishes the compressed stream and flushes the file.
    ///
    /// Errors: [`RecordingError::Io`].
    pub fn finish(self) -> Result<(), RecordingError> {
        let path = self.path.display().to_string();
        // Flushing the buffer hands the encoder the rest; dropping the auto-finishing encoder
        // then ends the stream.
        let encoder =
            self.out.into_inner().map_err(|e| RecordingError::Io { path: path.clone(), source: e.into_error() })?;
        drop(encoder);
        Ok(())
    }
}

/// A run in memory: what the lab scrubs through, and what a recording holds.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    /// The header (for a live session: what a recording of it would carry).
    pub header: Header,
    /// Every trace record so far, in order (`records[i].seq == i`).
    pub records: Vec<TraceRecord>,
    /// A keyframe every [`KEYFRAME_INTERVAL_MS`], from time 0, and one at the end.
    pub keyframes: Vec<Keyframe>,
    /// The timeline's marks, in time order.
    pub markers: Vec<Marker>,
    /// How the run ended, once it has.
    pub outcome: Option<Outcome>,
    /// Indexes (sequence numbers) of the chapter records, and of the narration and prompt
    /// records, in order: the narration pane shows the latest of each up to the cursor, and
    /// scanning back through millions of records for it on every frame made seeking slow.
    chapters: Vec<u64>,
    narrations: Vec<u64>,
    /// Indexes of the quorum's election records ([`is_quorum_event`]), for the same reason:
    /// the Quorum view lists the latest few, which may lie millions of records back.
    quorum_events: Vec<u64>,
}

/// Whether `record` is an election event of the controller quorum: an election event
/// ([`Event::is_election`]) on a node that is not a broker alone (a controller or a combined
/// node). The lab's Quorum view lists the latest of these.
pub fn is_quorum_event(record: &TraceRecord) -> bool {
    matches!(&record.body, TraceBody::Event(event) if event.is_election()) && !record.node.starts_with("broker")
}

impl History {
    /// An empty history with this header.
    pub fn new(header: Header) -> History {
        History {
            header,
            records: Vec::new(),
            keyframes: Vec::new(),
            markers: Vec::new(),
            outcome: None,
            chapters: Vec::new(),
            narrations: Vec::new(),
            quorum_events: Vec::new(),
        }
    }

    /// Appends one record whose sequence number is already checked, keeping the narration
    /// indexes.
    fn push_checked(&mut self, record: TraceRecord) {
        match record.body {
            TraceBody::Chapter(_) => self.chapters.push(record.seq),
            TraceBody::Narration(_) | TraceBody::Prompt(_) => self.narrations.push(record.seq),
            _ if is_quorum_event(&record) => self.quorum_events.push(record.seq),
            _ => {}
        }
        self.records.push(record);
    }

    /// The latest chapter record among the first `end` records, if any.
    pub fn last_chapter_before(&self, end: usize) -> Option<&TraceRecord> {
        Self::last_before(&self.chapters, end).map(|seq| &self.records[seq])
    }

    /// The latest narration or prompt record among the first `end` records, if any.
    pub fn last_narration_before(&self, end: usize) -> Option<&TraceRecord> {
        Self::last_before(&self.narrations, end).map(|seq| &self.records[seq])
    }

    /// The latest `n` quorum election records ([`is_quorum_event`]) among the first `end`
    /// records, oldest first.
    pub fn last_quorum_events_before(&self, end: usize, n: usize) -> impl Iterator<Item = &TraceRecord> {
        let upto = self.quorum_events.partition_point(|seq| (*seq as usize) < end);
        self.quorum_events[upto.saturating_sub(n)..upto].iter().map(|seq| &self.records[*seq as usize])
    }

    fn last_before(seqs: &[u64], end: usize) -> Option<usize> {
        let n = seqs.partition_point(|seq| (*seq as usize) < end);
        n.checked_sub(1).map(|i| seqs[i] as usize)
    }

    /// Appends records (continuing the sequence) and their marks.
    ///
    /// # Panics
    /// When a record's sequence number does not continue the history: the trace would have a
    /// gap or a repeat, which means the run that produced it diverged.
    pub fn push_records(&mut self, records: impl IntoIterator<Item = TraceRecord>) {
        for record in records {
            assert_eq!(
                record.seq,
                self.records.len() as u64,
                "trace record {} arrived where record {} was due (seed {}): the run diverged",
                record.seq,
                self.records.len(),
                self.header.seed
            );
            if let Some(marker) = marker_of(&record) {
                self.markers.push(marker);
            }
            self.push_checked(record);
        }
    }

    /// Appends a keyframe.
    pub fn push_keyframe(&mut self, keyframe: Keyframe) {
        self.keyframes.push(keyframe);
    }

    /// The index of the last keyframe at or before `time_ms` (0 when none is).
    pub fn keyframe_at(&self, time_ms: u64) -> usize {
        self.keyframes.partition_point(|k| k.time_ms <= time_ms).saturating_sub(1)
    }

    /// Forgets everything after keyframe `index`: later keyframes, records and marks, and the
    /// outcome. Acting in the past forks the run from there.
    pub fn truncate_after(&mut self, index: usize) {
        self.keyframes.truncate(index + 1);
        let (records, time_ms) = self.keyframes.last().map_or((0, 0), |k| (k.records, k.time_ms));
        self.records.truncate(records as usize);
        self.chapters.retain(|seq| *seq < records);
        self.narrations.retain(|seq| *seq < records);
        self.quorum_events.retain(|seq| *seq < records);
        self.markers.retain(|m| match m.seq {
            Some(seq) => seq < records,
            None => m.time_ms <= time_ms,
        });
        self.outcome = None;
    }

    /// Records the outcome, and marks each located finding on the timeline.
    pub fn set_outcome(&mut self, outcome: Outcome) {
        for finding in &outcome.findings {
            if finding.seq.is_some() {
                self.markers.push(Marker {
                    time_ms: finding.time_ms,
                    seq: finding.seq,
                    kind: MarkerKind::Finding,
                    label: finding.text.clone(),
                });
            }
        }
        self.markers.sort_by_key(|m| (m.time_ms, m.seq));
        self.outcome = Some(outcome);
    }

    /// Writes the whole history as a recording to `path`, which must not exist.
    ///
    /// Errors: as [`Recorder::create`] and [`Recorder::write`].
    pub fn write(&self, path: &Path) -> Result<(), RecordingError> {
        let mut recorder = Recorder::create(path, &self.header)?;
        let mut next_record = 0usize;
        let mut next_marker = 0usize;
        for keyframe in &self.keyframes {
            while next_record < keyframe.records as usize && next_record < self.records.len() {
                recorder.write(&Entry::Record(self.records[next_record].clone()))?;
                next_record += 1;
            }
            while next_marker < self.markers.len() && self.markers[next_marker].time_ms <= keyframe.time_ms {
                recorder.write(&Entry::Marker(self.markers[next_marker].clone()))?;
                next_marker += 1;
            }
            recorder.write(&Entry::Keyframe(keyframe.clone()))?;
        }
        for record in &self.records[next_record..] {
            recorder.write(&Entry::Record(record.clone()))?;
        }
        for marker in &self.markers[next_marker..] {
            recorder.write(&Entry::Marker(marker.clone()))?;
        }
        if let Some(outcome) = &self.outcome {
            recorder.write(&Entry::Outcome(outcome.clone()))?;
        }
        recorder.finish()
    }
}

/// Reads a recording.
///
/// Errors: [`RecordingError::Io`]; [`RecordingError::Malformed`] naming the line for a file that
/// is not a recording, a newer format version, or an entry that does not parse.
pub fn read(path: &Path) -> Result<History, RecordingError> {
    let name = path.display().to_string();
    let io = |source| RecordingError::Io { path: name.clone(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let decoder = zstd::stream::Decoder::new(file).map_err(io)?;
    let malformed = |line: usize, message: String| RecordingError::Malformed { path: name.clone(), line, message };
    let mut history: Option<History> = None;
    for (index, line) in BufReader::new(decoder).lines().enumerate() {
        let number = index + 1;
        let line = line.map_err(|e| {
            malformed(number, format!("cannot decompress ({e}); is this a kafkalab recording (.{EXTENSION})?"))
        })?;
        let entry: Entry = serde_json::from_str(&line).map_err(|e| {
            malformed(number, format!("not a recording entry ({e}); the file may be damaged or not a recording"))
        })?;
        match (entry, history.as_mut()) {
            (Entry::Header(header), None) => {
                if header.format != FORMAT {
                    return Err(malformed(number, format!("the format is {:?}, not {FORMAT:?}", header.format)));
                }
                if header.format_version > FORMAT_VERSION {
                    return Err(malformed(
                        number,
                        format!(
                            "format version {} is newer than this kafkalab reads ({FORMAT_VERSION}); \
                             it was written by kafkalab {}: replay it with that version or newer",
                            header.format_version, header.kafkalab_version
                        ),
                    ));
                }
                history = Some(History::new(header));
            }
            (_, None) => return Err(malformed(number, "the first line is not a recording header".to_string())),
            (Entry::Header(_), Some(_)) => return Err(malformed(number, "a second header".to_string())),
            (Entry::Record(record), Some(h)) => {
                if record.seq != h.records.len() as u64 {
                    return Err(malformed(
                        number,
                        format!("trace record {} where record {} was due", record.seq, h.records.len()),
                    ));
                }
                h.push_checked(record);
            }
            (Entry::Keyframe(keyframe), Some(h)) => h.keyframes.push(keyframe),
            (Entry::Marker(marker), Some(h)) => h.markers.push(marker),
            (Entry::Outcome(outcome), Some(h)) => h.outcome = Some(outcome),
        }
    }
    let history = history.ok_or_else(|| malformed(1, "the file is empty".to_string()))?;
    if history.keyframes.is_empty() {
        return Err(malformed(1, "the recording holds no keyframe, so there is nothing to show".to_string()));
    }
    Ok(history)
}

/// The verdict of [`verify`].
#[derive(Clone, Debug, PartialEq)]
pub enum Verification {
    /// The re-executed run gave the recorded trace.
    Same {
        /// Trace records compared.
        records: u64,
        /// The digest of the re-executed run.
        digest: String,
    },
    /// The traces part at record `seq`: the recorded and the re-executed record there (`None`
    /// where that trace ended first).
    Differs {
        /// The first differing position.
        seq: u64,
        /// The recorded record.
        recorded: Option<Box<TraceRecord>>,
        /// The re-executed record.
        replayed: Option<Box<TraceRecord>>,
    },
}

impl Verification {
    /// The verdict in words.
    pub fn render(&self) -> String {
        match self {
            Verification::Same { records, digest } => {
                format!("verified: the re-executed run matches all {records} recorded records, digest {digest}\n")
            }
            Verification::Differs { seq, recorded, replayed } => {
                let describe = |r: &Option<Box<TraceRecord>>| match r {
                    Some(r) => r.describe(),
                    None => "(the trace ended)".to_string(),
                };
                format!(
                    "diverged at record {seq}:\n  recorded:    {}\n  re-executed: {}\n\
                     A run repeats exactly only in the build that recorded it: if another build of kafkalab made \
                     this recording, the simulation may have changed since. `kafkalab replay` without --verify \
                     still shows the run as recorded.\n",
                    describe(recorded),
                    describe(replayed)
                )
            }
        }
    }
}

/// Re-executes a recording's scenario with its seed and compares the traces record by record,
/// up to the recorded length (a recording of a lab session may stop before the scenario's end).
///
/// Errors: [`RecordingError`] when the file cannot be read or its scenario does not parse
/// (named as line 1, the header); a crash of the re-executed run is reported as the verdict's
/// missing record with the crash message.
pub fn verify(path: &Path) -> Result<Verification, RecordingError> {
    let history = read(path)?;
    let header = &history.header;
    let origin = format!("{} (the scenario inside the recording)", path.display());
    let scenario =
        crate::scenario::parse_str(&header.scenario_text, &origin).map_err(|e| RecordingError::Malformed {
            path: path.display().to_string(),
            line: 1,
            message: format!("its scenario does not load in this build: {e}"),
        })?;
    let seed = header.seed;
    let recorded_end = history.keyframes.last().map_or(0, |k| k.time_ms);
    let wanted = history.records.len();
    let replayed: Vec<TraceRecord> = std::thread::Builder::new()
        .name(format!("kafkalab-seed-{seed}"))
        .spawn(move || {
            let mut world = crate::world::World::new(scenario, seed);
            while world.elapsed().as_millis() < u128::from(recorded_end) && !world.finished() {
                world.step();
            }
            // The last keyframe was taken after its boundary's work (see `World::settle`).
            world.settle();
            world.records_since(0)
        })
        .expect("spawning the simulation thread")
        .join()
        .unwrap_or_default();
    for seq in 0..wanted.max(replayed.len().min(wanted + 1)) {
        let (a, b) = (history.records.get(seq), replayed.get(seq));
        if a != b {
            return Ok(Verification::Differs {
                seq: seq as u64,
                recorded: a.cloned().map(Box::new),
                replayed: b.cloned().map(Box::new),
            });
        }
    }
    let mut trace = crate::trace::Trace::default();
    for r in &replayed {
        trace.push(r.time_ns, r.node.clone(), r.body.clone());
    }
    Ok(Verification::Same { records: wanted as u64, digest: trace.digest() })
}

/// The first free path `<dir>/<stem>-<n>.<extension>` (n from 1): recordings and saved
/// sessions never overwrite a file.
pub fn free_path(dir: &Path, stem: &str, extension: &str) -> PathBuf {
    (1u32..).map(|n| dir.join(format!("{stem}-{n}.{extension}"))).find(|p| !p.exists()).expect("some suffix is free")
}

/// Why [`record_run`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordRunError {
    /// The recording could not be written.
    #[error(transparent)]
    Recording(#[from] RecordingError),
    /// The simulation crashed; the recording up to the crash is on disk.
    #[error(transparent)]
    Crash(crate::SimulationCrash),
}

/// Runs `scenario` (whose text is `scenario_text`) with `seed` to its end on a fresh thread,
/// streaming a recording to `path` (which must not exist) as it goes, and reports the run.
/// Only the file's buffer is held in memory, not the keyframes, and the world holds only the
/// trace records its checks read ([`crate::world::World::hold_needed_records`]).
///
/// Errors: [`RecordRunError::Recording`] when the file exists or cannot be written;
/// [`RecordRunError::Crash`] when the simulation crashed (the recording then ends at the last
/// keyframe before the crash).
pub fn record_run(
    scenario: Scenario,
    scenario_text: &str,
    seed: u64,
    path: &Path,
) -> Result<crate::report::RunReport, RecordRunError> {
    let header = Header::new(&scenario, scenario_text, seed);
    let mut recorder = Recorder::create(path, &header)?;
    let name = scenario.name.clone();
    let joined = std::thread::Builder::new()
        .name(format!("kafkalab-seed-{seed}"))
        .spawn(move || -> Result<crate::report::RunReport, RecordingError> {
            let started = std::time::Instant::now();
            let mut world = crate::world::World::new(scenario, seed);
            // The recording has the records; the world keeps only what its checks read.
            world.hold_needed_records(true);
            let mut published = 0usize;
            let mut keyframe = |world: &mut crate::world::World, recorder: &mut Recorder| {
                world.settle();
                world.with_records_since(published, |records| {
                    published += records.len();
                    records.iter().try_for_each(|record| recorder.record(record))
                })?;
                world.release_records(published);
                recorder.write(&Entry::Keyframe(Keyframe {
                    time_ms: world.elapsed().as_millis() as u64,
                    records: published as u64,
                    view: world.view(),
                }))
            };
            keyframe(&mut world, &mut recorder)?;
            while !world.finished() {
                world.step();
                if world.finished() || is_keyframe_time(world.elapsed().as_millis() as u64) {
                    keyframe(&mut world, &mut recorder)?;
                }
            }
            let (outcome, report) = crate::live::outcome_and_report(&world, started.elapsed().as_millis() as u64);
            for finding in outcome.findings.iter().filter(|f| f.seq.is_some()) {
                recorder.write(&Entry::Marker(Marker {
                    time_ms: finding.time_ms,
                    seq: finding.seq,
                    kind: MarkerKind::Finding,
                    label: finding.text.clone(),
                }))?;
            }
            recorder.write(&Entry::Outcome(outcome))?;
            recorder.finish()?;
            Ok(report)
        })
        .expect("spawning the simulation thread")
        .join();
    match joined {
        Ok(result) => Ok(result?),
        Err(panic) => Err(RecordRunError::Crash(crate::SimulationCrash {
            scenario: name,
            seed,
            message: crate::panic_message(panic.as_ref()),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The indexes answer what a scan back through the records would, at every moment of a run
    /// with chapters, narration, prompts and elections, after a fork cuts the history, and
    /// after the history is written and read back.
    #[test]
    fn narration_and_quorum_indexes_agree_with_a_scan() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/44-lesson-leader-crash-in-chapters.ron");
        let text = std::fs::read_to_string(&path).unwrap();
        let scenario = crate::scenario::parse_str(&text, "lesson").unwrap();
        let mut history = History::new(Header::new(&scenario, &text, 7));
        let records = crate::run_traced(scenario, 7).unwrap().1;
        history.push_records(records);
        let scan = |history: &History, end: usize| {
            let records = &history.records[..end];
            let chapter = records.iter().rev().find(|r| matches!(r.body, TraceBody::Chapter(_))).map(|r| r.seq);
            let narration = records
                .iter()
                .rev()
                .find(|r| matches!(r.body, TraceBody::Narration(_) | TraceBody::Prompt(_)))
                .map(|r| r.seq);
            let mut quorum: Vec<u64> =
                records.iter().rev().filter(|r| is_quorum_event(r)).take(8).map(|r| r.seq).collect();
            quorum.reverse();
            (chapter, narration, quorum)
        };
        let indexed = |history: &History, end: usize| {
            (
                history.last_chapter_before(end).map(|r| r.seq),
                history.last_narration_before(end).map(|r| r.seq),
                history.last_quorum_events_before(end, 8).map(|r| r.seq).collect::<Vec<u64>>(),
            )
        };
        let check = |history: &History| {
            for end in 0..=history.records.len() {
                assert_eq!(indexed(history, end), scan(history, end), "at record {end}");
            }
        };
        let (chapter, narration, quorum) = scan(&history, history.records.len());
        assert!(chapter.is_some() && narration.is_some() && quorum.len() == 8, "the lesson has all three kinds");
        check(&history);

        // A keyframe every 5 s, as the lab keeps one every 100 ms.
        let mut end = 0;
        for time_ms in (0..=40_000).step_by(5_000) {
            while end < history.records.len() && history.records[end].time_ms() <= time_ms {
                end += 1;
            }
            history.push_keyframe(Keyframe { time_ms, records: end as u64, view: ClusterView::default() });
        }
        let dir = std::env::temp_dir().join(format!("kafkalab-record-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = free_path(&dir, "lesson", "klrec");
        history.write(&file).unwrap();
        let read_back = read(&file).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        check(&read_back);
        assert_eq!(read_back.records.len(), history.records.len());

        // Cut where chapters, narration and quorum events all lie on both sides, so that a
        // cut index would be seen again when the fork runs on.
        let last = |kind: fn(&TraceRecord) -> bool| history.records.iter().rposition(kind).unwrap() as u64;
        let newest_of_all = last(|r| matches!(r.body, TraceBody::Chapter(_)))
            .min(last(|r| matches!(r.body, TraceBody::Narration(_) | TraceBody::Prompt(_))))
            .min(last(is_quorum_event));
        let cut = history.keyframes.iter().rposition(|k| k.records <= newest_of_all).unwrap();
        history.truncate_after(cut);
        assert!(history.records.len() < read_back.records.len());
        check(&history);
        // The fork runs on from the cut: the same records again (the run is deterministic).
        history.push_records(read_back.records[history.records.len()..].iter().cloned());
        check(&history);
    }
}
