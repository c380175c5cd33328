//! The simulated world: one madsim node per broker, controller and client, each hosting a
//! sans-IO state machine from the `cluster` crate; a per-node disk; the network; faults; and a
//! supervisor that advances simulated time in fixed quanta.
//!
//! A fixed quantum keeps runs identical whether the TUI, CI or a replay drives them: faults and
//! narration fire at quantum boundaries, and front ends only ever observe between quanta.

use crate::disk::SimDisk;
use crate::invariants::{InvariantSet, UncleanElectionPolicy};
use crate::net::{Cuts, Degradation, Delivery, Exchange, Net};
use crate::scenario::{
    ClientSpec, CommitSpec, Condition, ConsumerSpec, Fault, KeySpec, NarrationKind, ProcessRoles, Scenario, SeekSpec,
    Span, Target, Timed, Trigger,
};
use crate::trace::{Trace, TraceBody, TraceRecord};
use crate::view::ClusterView;
use cluster::broker::{Broker, BrokerSetup, OFFSETS_TOPIC};
use cluster::combined::Combined;
use cluster::config::{effective_min_insync_replicas, BrokerConfig, ConsumerConfig, ProducerConfig, TopicConfig};
use cluster::consumer::{CommitMode, Consumer, ConsumerSetup, Seek};
use cluster::controller::{Controller, ControllerSetup, TopicToCreate};
use cluster::era::{Era, KafkaVersion};
use cluster::event::Event;
use cluster::ids::{Name, NodeId, TopicPartition};
use cluster::node::{node_rng, Effect, Node};
use cluster::producer::{KeyChoice, Producer, ProducerSetup, ScriptedSend};
use cluster::protocol::Message;
use cluster::raft::{QuorumConfig, QuorumStatus, RaftClient};
use cluster::time::Instant;
use core::time::Duration;
use futures::StreamExt;
use madsim::runtime::Runtime;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard};

/// Simulated time between supervisor boundaries.
pub const QUANTUM: Duration = Duration::from_millis(10);

/// The messages one step of a node sends, in order: most steps send none to three (a fetch
/// answered, a request and its acknowledgement), so they are kept without allocating; a
/// busy heavy.ron takes about 10,000 steps a simulated second.
type Outgoing = smallvec::SmallVec<[(NodeId, Box<Message>); 4]>;

/// The shortest one-way network latency.
const LATENCY_MIN: Duration = Duration::from_millis(1);
/// One-way latencies are drawn below this.
const LATENCY_MAX: Duration = Duration::from_millis(10);
/// How long a connection attempt to a node whose process is down takes to be refused, and so
/// how often a client can retry one (Kafka's `reconnect.backoff.ms`, 50).
const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);

/// The node id admin requests (`kafka-reassign-partitions.sh`, `kafka-leader-election.sh`)
/// come from. Nothing listens there, so the answers are dropped.
pub const ADMIN_ID: NodeId = NodeId(4999);

/// The state machine a node hosts.
pub enum Hosted {
    /// A broker.
    Broker(Box<Broker>),
    /// A dedicated controller.
    Controller(Box<Controller>),
    /// A broker and a controller in one process.
    Combined(Box<Combined>),
    /// A producer client.
    Producer(Box<Producer>),
    /// A consumer client.
    Consumer(Box<Consumer>),
}

impl Hosted {
    /// The node's replica of the metadata log, if it has one (controllers, combined nodes and
    /// brokers, which observe it).
    pub fn raft(&self) -> Option<&RaftClient> {
        match self {
            Hosted::Broker(b) => b.raft(),
            Hosted::Controller(c) => Some(c.raft()),
            Hosted::Combined(c) => Some(c.controller().raft()),
            _ => None,
        }
    }

    /// The broker in this node, if any.
    pub fn broker(&self) -> Option<&Broker> {
        match self {
            Hosted::Broker(b) => Some(b),
            Hosted::Combined(c) => Some(c.broker()),
            _ => None,
        }
    }

    /// The controller in this node, if any.
    pub fn controller(&self) -> Option<&Controller> {
        match self {
            Hosted::Controller(c) => Some(c),
            Hosted::Combined(c) => Some(c.controller()),
            _ => None,
        }
    }

    fn node(&mut self) -> &mut dyn Node {
        match self {
            Hosted::Broker(n) => n.as_mut(),
            Hosted::Controller(n) => n.as_mut(),
            Hosted::Combined(n) => n.as_mut(),
            Hosted::Producer(n) => n.as_mut(),
            Hosted::Consumer(n) => n.as_mut(),
        }
    }
}

/// An input for a node's host loop, besides timeouts.
enum Input {
    /// A message from another node. Boxed: a message is about 200 bytes and an input is moved
    /// through two queues and a task before it is handled.
    Message(NodeId, Box<Message>),
    /// The connection to this node closed because its process died.
    Disconnected(NodeId),
    /// Stop gracefully: say goodbye, then stop.
    Shutdown,
}

/// What kind of node a slot holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// Broker `node.id`.
    Broker,
    /// A dedicated controller.
    Controller,
    /// A broker that is also a controller (`process.roles=broker,controller`).
    Combined,
    /// A producer (scenario client index).
    Producer(usize),
    /// A consumer (scenario client index).
    Consumer(usize),
}

/// One node of the world: its state machine (absent while crashed), its disk and its name.
pub struct Slot {
    /// Cluster id.
    pub id: NodeId,
    /// Kind.
    pub kind: NodeKind,
    /// Name in traces: `broker 1`, `controller`, or the client id.
    pub name: String,
    /// The same name, shared by every trace record the node makes rather than copied into each.
    trace_name: Name,
    /// The running state machine, `None` while crashed.
    pub hosted: Mutex<Option<Hosted>>,
    /// The node's disk; its flushed bytes survive crashes and power loss.
    pub disk: Mutex<SimDisk>,
    /// Starts counted (1 for the first start).
    pub incarnation: Mutex<u64>,
    madsim_id: Mutex<Option<madsim::task::NodeId>>,
    /// The running host loop's inbox, for inputs the supervisor injects.
    inbox: Mutex<Option<futures::channel::mpsc::UnboundedSender<Input>>>,
    /// Whether the process was crashed and not restarted: connections to it are refused.
    down: Mutex<bool>,
    /// Whether the node has been started: false for a broker an `AddBroker` fault adds later.
    started: Mutex<bool>,
    /// Whether a process that stopped gracefully is still delivering what it wrote before it
    /// exited; its madsim node is stopped only once it has.
    draining: Mutex<bool>,
    /// The quorum state the invariant checker last saw: (epoch, role, high watermark, LEO).
    quorum_seen: Mutex<Option<(i32, cluster::raft::QuorumRole, i64, i64)>>,
    /// Steps for a deadline (no input) after which the node still asked to be woken at or
    /// before the moment it was just stepped at: a deadline it was woken for and did not act
    /// on. madsim serves such a deadline a millisecond later, so a node that keeps one
    /// spins, stepping a thousand times a simulated second for nothing. Read by
    /// [`Slot::stale_deadlines`]; the tests hold it at zero.
    stale_deadlines: std::sync::atomic::AtomicU64,
}

impl Slot {
    /// The incarnation of the process running now, `None` while the node is down or still
    /// booting. A packet is stamped with it, so that it dies with that process.
    fn running_incarnation(&self) -> Option<u64> {
        lock(&self.hosted).is_some().then(|| *lock(&self.incarnation))
    }

    /// How many of this node's steps for a deadline so far ended with a deadline at or before
    /// the step's own moment (see the field of the same name): a node whose state
    /// machine asks for a wake-up it then does not act on. Zero in a healthy run.
    pub fn stale_deadlines(&self) -> u64 {
        self.stale_deadlines.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether this node runs a broker.
    pub fn is_broker(&self) -> bool {
        matches!(self.kind, NodeKind::Broker | NodeKind::Combined)
    }

    /// Whether this node is a voter of the metadata quorum.
    pub fn is_controller(&self) -> bool {
        matches!(self.kind, NodeKind::Controller | NodeKind::Combined)
    }
}

struct Shared {
    seed: u64,
    scenario: Scenario,
    start: madsim::time::Instant,
    /// The runtime's clock and timers, kept here because asking madsim for them (which every
    /// `Instant::now()`, `sleep` and `timeout` does) looks the runtime up in thread-local storage
    /// and copies two reference counts each time: about 2.5% of a swarm's run. The same handle
    /// gives the same times, so this changes nothing a run does.
    time: madsim::time::TimeHandle,
    slots: BTreeMap<NodeId, Arc<Slot>>,
    trace: Mutex<Trace>,
    quorum: QuorumConfig,
    /// Every invariant checker: the quorum's are fed after each step of a node, the rest at
    /// each quantum ([`World::check_invariants`]).
    checker: Mutex<InvariantSet>,
    /// The rules the scenario's `kafka_version` selects.
    era: Era,
    /// Packet loss, latency and broken connections (`Loss`, `Latency`, `Duplicate`), and the
    /// order of every link; `host` asks it about each message.
    net: Mutex<Net>,
    /// The partitions in force (`Partition`, `Isolate`, `OneWay`), which the links consult as
    /// each message is sent and as it arrives.
    cuts: Mutex<Cuts>,
    /// Connections to dead processes whose refusal the senders have not learnt yet.
    refusals: Refusals,
    /// The gate each paused node (`Pause`) waits at before its next step; `Resume` opens it.
    pause_gates: Mutex<BTreeMap<NodeId, futures::channel::oneshot::Receiver<()>>>,
    /// Messages the links have handed to a peer's inbox so far (for `kafkalab bench`).
    delivered: std::sync::atomic::AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a node panicked, which already aborts the run with its message.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The cluster's broker configs in `era`: where the scenario leaves a key out, the era's default
/// applies (`unclean.leader.election.enable` was `true` before Kafka 0.11, KIP-106).
fn broker_config(scenario: &Scenario, era: Era) -> BrokerConfig {
    let mut config = BrokerConfig::from_map(&scenario.cluster.configs).expect("validated scenario");
    if !scenario.cluster.configs.contains_key("unclean.leader.election.enable") {
        config.unclean_leader_election_enable = era.unclean_election_default;
    }
    config
}

/// The simulated network address of node `id`: `10.0.x.y` from its id.
pub fn ip_of(id: NodeId) -> IpAddr {
    let n = id.0 as u32;
    IpAddr::V4(Ipv4Addr::new(10, (n >> 16) as u8, (n >> 8) as u8, n as u8))
}

impl Shared {
    fn now(&self) -> Instant {
        let elapsed = self.time.now_instant().duration_since(self.start);
        Instant::from_nanos(elapsed.as_nanos() as u64)
    }

    fn record(&self, node: &str, body: TraceBody) {
        let now = self.now();
        lock(&self.trace).push(now.as_nanos(), Name::new(node), body);
    }

    /// Builds the state machine for `slot` from its disk (first start or restart).
    fn boot(&self, slot: &Slot) -> Hosted {
        let now = self.now();
        let incarnation = {
            let mut inc = lock(&slot.incarnation);
            *inc += 1;
            *inc
        };
        let rng = node_rng(self.seed, slot.id, incarnation);
        let scenario = &self.scenario;
        let broker_config = broker_config(scenario, self.era);
        let brokers: Vec<NodeId> = (1..=scenario.cluster.brokers).map(NodeId).collect();
        let files = || lock(&slot.disk).snapshot();
        let controller = |rng: rand_chacha::ChaCha8Rng| {
            Controller::new(
                now,
                ControllerSetup {
                    id: slot.id,
                    config: broker_config.clone(),
                    quorum: self.quorum.clone(),
                    rng,
                    files: files(),
                    expected_brokers: brokers.clone(),
                    topics: self.topics_to_create(&broker_config),
                    era: self.era,
                },
            )
        };
        match &slot.kind {
            NodeKind::Broker => {
                let setup = BrokerSetup {
                    id: slot.id,
                    incarnation,
                    config: broker_config.clone(),
                    rng,
                    files: files(),
                    quorum: Some(self.quorum.clone()),
                    era: self.era,
                };
                Hosted::Broker(Box::new(Broker::new(now, setup)))
            }
            NodeKind::Controller => Hosted::Controller(Box::new(controller(rng))),
            NodeKind::Combined => {
                use rand::SeedableRng;
                let mut rng = rng;
                let controller_rng = rand_chacha::ChaCha8Rng::seed_from_u64(rng.gen());
                let setup = BrokerSetup {
                    id: slot.id,
                    incarnation,
                    config: broker_config.clone(),
                    rng,
                    files: files(),
                    quorum: None,
                    era: self.era,
                };
                let broker = Broker::new(now, setup);
                Hosted::Combined(Box::new(Combined::new(now, broker, controller(controller_rng))))
            }
            NodeKind::Producer(index) => {
                let ClientSpec::Producer(spec) = &scenario.clients[*index] else { unreachable!() };
                let config = ProducerConfig::from_map_in(&spec.configs, &self.era).expect("validated scenario");
                let first_sequence = lock(&slot.disk).client_sequence;
                Hosted::Producer(Box::new(Producer::new(
                    now,
                    ProducerSetup {
                        id: slot.id,
                        client_id: spec.id.clone(),
                        topic: spec.topic.clone(),
                        config,
                        rng,
                        rate_per_sec: spec.rate_per_sec,
                        keys: match spec.keys {
                            KeySpec::Null => KeyChoice::Null,
                            KeySpec::Uniform(n) => KeyChoice::Uniform(n),
                        },
                        script: spec
                            .records
                            .iter()
                            .map(|r| ScriptedSend {
                                at: Instant::from_millis(r.at.0),
                                key: r.key.clone(),
                                value: r.value.clone(),
                                partition: r.partition,
                            })
                            .collect(),
                        flushes: spec.flushes.iter().map(|at| Instant::from_millis(at.0)).collect(),
                        era: self.era,
                        start: Instant::from_millis(spec.start.0),
                        bootstrap: brokers,
                        first_sequence,
                    },
                )))
            }
            NodeKind::Consumer(index) => {
                let ClientSpec::Consumer(spec) = &scenario.clients[*index] else { unreachable!() };
                let mut config = ConsumerConfig::from_map(&spec.configs).expect("validated scenario");
                if spec.group.is_empty() && !spec.configs.contains_key("enable.auto.commit") {
                    // Kafka's `ConsumerConfig.maybeOverrideEnableAutoCommit` (KIP-289): a
                    // consumer without a group does not auto-commit unless told to, and
                    // validation refuses telling it to.
                    config.enable_auto_commit = false;
                }
                Hosted::Consumer(Box::new(Consumer::new(
                    now,
                    ConsumerSetup {
                        id: slot.id,
                        client_id: spec.id.clone(),
                        group_id: spec.group.clone(),
                        topics: spec.topics.clone(),
                        assign: spec.assign.iter().map(|(topic, p)| TopicPartition::new(topic.clone(), *p)).collect(),
                        processing_ms_per_record: spec.processing.as_millis(),
                        commit: match spec.commit {
                            CommitSpec::Auto => CommitMode::Auto,
                            CommitSpec::BeforeProcessing => CommitMode::BeforeProcessing,
                            CommitSpec::AfterProcessing => CommitMode::AfterProcessing,
                        },
                        seeks: consumer_seeks(spec),
                        config,
                        start: Instant::from_millis(spec.start.0),
                        bootstrap: brokers,
                        era: self.era,
                    },
                )))
            }
        }
    }

    /// The topics the active controller creates: the scenario's, and `__consumer_offsets`
    /// when there are consumers.
    fn topics_to_create(&self, broker_config: &BrokerConfig) -> Vec<TopicToCreate> {
        let scenario = &self.scenario;
        let mut topics: Vec<TopicToCreate> = scenario
            .topics
            .iter()
            .map(|t| {
                let topic_config = TopicConfig::from_map(&t.configs).expect("validated scenario");
                TopicToCreate {
                    name: t.name.clone(),
                    partitions: t.partitions,
                    replication_factor: t.replication_factor,
                    min_insync_replicas: effective_min_insync_replicas(
                        broker_config,
                        &topic_config,
                        t.replication_factor,
                    ),
                    internal: false,
                    configs: {
                        // The controller reads the topic's unclean-election override from the
                        // topic's configs, as Kafka's does from its ConfigRecords.
                        let mut configs = topic_config.log_overrides.clone();
                        if let Some(unclean) = topic_config.unclean_leader_election_enable {
                            configs.insert("unclean.leader.election.enable".into(), unclean.to_string());
                        }
                        configs
                    },
                }
            })
            .collect();
        if scenario.clients.iter().any(|c| matches!(c, ClientSpec::Consumer(_))) {
            // Kafka creates `__consumer_offsets` on the first FindCoordinator; creating it
            // up front gives the same layout without a client-visible delay.
            let rf = broker_config.offsets_topic_replication_factor.min(scenario.cluster.brokers);
            topics.push(TopicToCreate {
                name: OFFSETS_TOPIC.to_string(),
                partitions: broker_config.offsets_topic_num_partitions,
                replication_factor: rf,
                min_insync_replicas: effective_min_insync_replicas(broker_config, &TopicConfig::default(), rf),
                internal: true,
                configs: offsets_topic_configs(),
            });
        }
        topics
    }

    /// Runs one input through a node and executes what it asks for. Returns the simulated time
    /// of the step and the messages to send (sent by the caller, outside the lock); time does
    /// not move until the caller awaits, so the caller reuses the time rather than reading the
    /// clock again.
    fn step_node(&self, slot: &Slot, input: Option<Input>) -> (Instant, Outgoing) {
        let now = self.now();
        let mut hosted = lock(&slot.hosted);
        let Some(hosted) = hosted.as_mut() else { return (now, Outgoing::new()) };
        let node = hosted.node();
        match input {
            Some(Input::Message(from, message)) => node.handle_message(now, from, *message),
            Some(Input::Disconnected(peer)) => node.handle_disconnect(now, peer),
            Some(Input::Shutdown) => node.shutdown(now),
            None => node.handle_timeout(now),
        }
        let mut outgoing = Outgoing::new();
        while let Some(effect) = node.poll_effect() {
            match effect {
                Effect::Send { to, message } => outgoing.push((to, message)),
                Effect::Disk(op) => lock(&slot.disk).apply(op),
            }
        }
        // Simulated time stands still within a step, so every event of this step is recorded at
        // `now`, under one lock of the trace (a busy producer reports thousands per second).
        let mut sends = 0;
        {
            let mut trace = lock(&self.trace);
            while let Some(event) = node.poll_event() {
                if let Event::SendInvoked { .. } = &event {
                    sends += 1;
                }
                trace.push(now.as_nanos(), slot.trace_name.clone(), TraceBody::Event(event));
            }
        }
        if sends > 0 {
            lock(&slot.disk).client_sequence += sends;
        }
        // The checker looks again only when something it checks has moved: most steps of most
        // nodes leave the quorum state alone, and checking is not free.
        let moved = hosted.raft().map(|r| (r.epoch(), r.role(), r.high_watermark(), r.log_end_offset()));
        let changed = {
            let mut last = lock(&slot.quorum_seen);
            let changed = moved.is_some() && *last != moved;
            *last = moved;
            changed
        };
        if let Some(raft) = hosted.raft().filter(|_| changed) {
            let status = raft.status();
            let settled = {
                let mut checker = lock(&self.checker);
                checker.observe_quorum(slot.id, &status, raft.entries());
                checker.settle()
            };
            for violation in settled.record {
                let body = TraceBody::Violation { invariant: violation.invariant, detail: violation.detail };
                self.record("world", body);
            }
            if let Some(violation) = settled.stop {
                panic!(
                    "invariant violated at {now} on {}: {violation}\nseed {}; reproduce with `kafkalab run {} --seed {}`",
                    slot.name, self.seed, self.scenario.origin_hint(), self.seed
                );
            }
        }
        (now, outgoing)
    }

    /// Takes a node's state machine away (it went down) and tells the invariant checker,
    /// which keeps the metadata log the node had: Raft flushed all of it.
    fn node_down(&self, slot: &Slot) {
        let hosted = lock(&slot.hosted).take();
        let log = hosted.as_ref().and_then(|h| h.raft()).map(|r| r.entries().to_vec());
        lock(&self.checker).node_down(slot.id, log);
        *lock(&slot.quorum_seen) = None;
    }
}

/// A probability as a percentage for trace lines: `20%`, `0.5%`.
fn percent(rate: f64) -> String {
    let p = rate * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}%", p.round())
    } else {
        format!("{}%", (p * 100.0).round() / 100.0)
    }
}

/// A consumer's scripted seeks in time order (a stable sort, so seeks written for the same
/// moment keep their order), as the consumer takes them.
fn consumer_seeks(spec: &ConsumerSpec) -> Vec<(Instant, Seek)> {
    let mut seeks: Vec<(Instant, Seek)> = spec
        .seeks
        .iter()
        .map(|timed| {
            let seek = match timed.value() {
                SeekSpec::ToBeginning => Seek::Beginning(None),
                SeekSpec::ToEnd => Seek::End(None),
                SeekSpec::ToOffset(topic, partition, offset) => {
                    Seek::Offset(TopicPartition::new(topic.clone(), *partition), *offset)
                }
                SeekSpec::ToTimestamp(at) => Seek::Timestamp(at.as_millis() as i64),
            };
            (timed.at().as_instant(), seek)
        })
        .collect();
    seeks.sort_by_key(|(at, _)| *at);
    seeks
}

/// The configs Kafka gives `__consumer_offsets`: compacted, with 100 MiB segments
/// (`offsets.topic.segment.bytes`), so only the latest commit per group and partition stays.
fn offsets_topic_configs() -> BTreeMap<String, String> {
    [("cleanup.policy", "compact"), ("segment.bytes", "104857600")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The body of every node: receive, time out, step the state machine, send.
async fn host(shared: Arc<Shared>, slot: Arc<Slot>) {
    if !*lock(&slot.started) {
        // A broker that joins later (`AddBroker`): nothing runs until then.
        return;
    }
    let hosted = shared.boot(&slot);
    *lock(&slot.hosted) = Some(hosted);
    let (tx, mut inbox) = futures::channel::mpsc::unbounded::<Input>();
    *lock(&slot.inbox) = Some(tx.clone());
    // Kafka's connections are TCP, so messages from one node to another arrive in the order
    // they were sent. Each send draws a latency here and `Net` holds it back until just after
    // the previous send to the same peer (and applies `Loss`, `Latency` and `Duplicate`); then
    // the link's queue below carries it to the peer's inbox, one message after another.
    // (madsim's own `Endpoint` does not keep order: its mailbox hands out queued datagrams
    // with `swap_remove`, and timers less than 50 ns apart wake their tasks in random order.)
    let mut links: BTreeMap<NodeId, Link> = BTreeMap::new();
    let mut armed = ArmedTimers::default();
    lock(&shared.net).node_started(slot.id);
    let mut input = None;
    loop {
        let stopping = matches!(input, Some(Input::Shutdown));
        // A paused process (`Pause`) runs nothing until `Resume`: the input that woke it, its
        // timers and everything arriving meanwhile wait. (madsim's own `Handle::pause` would
        // also hold back the tasks below that carry messages already sent, which the kernel
        // of a stopped process still delivers.)
        let gate = lock(&shared.pause_gates).remove(&slot.id);
        if let Some(gate) = gate {
            let _ = gate.await;
        }
        let woken_by_deadline = input.is_none();
        let (now, outgoing) = shared.step_node(&slot, input.take());
        let sent = Duration::from_nanos(now.as_nanos());
        for (to, message) in outgoing {
            if shared.slots.get(&to).is_some_and(|s| *lock(&s.down)) {
                // Nothing listens on a dead process's port: the connection is refused, which
                // the sender learns after a reconnect backoff. Every request queued for that
                // connection fails with it at once, so one refusal per backoff covers them all
                // (as Kafka's `NetworkClient` fails all of a connection's requests together).
                if let Some(id) = shared.refusals.schedule(slot.id, to, tx.clone()) {
                    let world = shared.clone();
                    madsim::task::spawn(async move {
                        world.time.sleep(RECONNECT_BACKOFF).await;
                        world.refusals.deliver(id);
                    });
                }
                continue;
            }
            let latency = madsim::rand::thread_rng().gen_range(LATENCY_MIN..LATENCY_MAX);
            let exchange = Exchange::of(&message);
            let delivery =
                lock(&shared.net).decide(slot.id, to, sent, latency, exchange, &mut madsim::rand::thread_rng());
            let (at, generation, delivers, breaks) = match delivery {
                Delivery::Deliver { at, generation } => (at, generation, true, false),
                Delivery::DeliverThenBreak { at, generation } => (at, generation, true, true),
                Delivery::Break { at, generation } => (at, generation, false, true),
                Delivery::Drop => continue,
            };
            // A peer still booting takes the message when it is up, as a listening socket
            // queues a connection its process has not accepted yet.
            let incarnation = shared.slots.get(&to).and_then(|s| s.running_incarnation());
            let packet =
                Packet { at: shared.start + at, generation, incarnation, message: delivers.then_some(message), breaks };
            let link = links.entry(to).or_insert_with(|| open_link(shared.clone(), slot.id, to, tx.clone()));
            link.send(&shared.time, packet);
        }
        if stopping {
            // A graceful stop: the goodbyes are on the wire; the process exits and the kernel
            // closes its connections. The page cache survives (the machine stays up).
            shared.node_down(&slot);
            *lock(&slot.inbox) = None;
            *lock(&slot.down) = true;
            *lock(&slot.draining) = true;
            // The kernel still delivers what the process wrote before it exited, and only then
            // the connection's close (TCP's FIN follows the data). So each open link carries a
            // last packet that closes the connection behind the goodbyes, and the host waits for
            // its links to drain before it returns: madsim ends a node's tasks, links included,
            // the moment its main task returns. A peer this node never wrote to learns of the
            // close at once.
            let now = shared.start + sent;
            for other in shared.slots.values().filter(|s| s.id != slot.id) {
                if let Some(link) = links.get(&other.id) {
                    let generation = lock(&shared.net).generation(slot.id, other.id);
                    let incarnation = other.running_incarnation();
                    let close = Packet { at: now, generation, incarnation, message: None, breaks: true };
                    link.send(&shared.time, close);
                } else if let Some(inbox) = lock(&other.inbox).as_ref() {
                    let _ = inbox.unbounded_send(Input::Disconnected(slot.id));
                }
            }
            for (_, link) in std::mem::take(&mut links) {
                link.close();
                // An error would mean the task was cancelled, which only killing this whole node
                // does, and then this host is gone too.
                let _ = link.task.await;
            }
            *lock(&slot.draining) = false;
            return;
        }
        let next = {
            let mut guard = lock(&slot.hosted);
            guard.as_mut().and_then(|h| h.node().poll_deadline())
        };
        // A step for a message may leave a deadline already due (the node serves its timers
        // when it wakes for them, a millisecond later); a step for the deadline itself that
        // leaves one due is a node woken for nothing, the start of a spin.
        if woken_by_deadline && next.is_some_and(|deadline| deadline <= now) {
            slot.stale_deadlines.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        input = match next {
            Some(deadline) => {
                // madsim timers fire at least 1 ms ahead; a deadline already due is served at
                // the next millisecond.
                let wait = Duration::from_nanos(deadline.as_nanos().saturating_sub(now.as_nanos()));
                match armed.wait(&shared.time, wait, &mut inbox).await {
                    Some(Some(message)) => Some(message),
                    Some(None) => return,
                    None => None,
                }
            }
            None => match inbox.next().await {
                Some(message) => Some(message),
                None => return,
            },
        };
    }
}

/// The timers a host's task has set and that have not fired yet, so that waiting again for
/// the same moment sets no second one.
///
/// Why: madsim cannot cancel a timer (`naive_timer` has no cancellation), and its `Sleep`
/// sets a new one each time it is polled while pending. A host waits for its next deadline
/// after every input, and a node's deadline often stays where it was (a heartbeat due, a
/// session to expire), so most of those waits set a timer beside one already set for the
/// same task and the same moment. Both fire in the same `expire` and wake the same task, the
/// second for nothing (waking a task already scheduled does nothing), so leaving it out spares
/// the timer heap's pushes and pops and changes no run but where timers of different tasks
/// fall on the same nanosecond: madsim's heap pops those in an order that depends on what
/// else it holds. (Scenario 26's two consumers start together, and since this change join in
/// the other order.)
#[derive(Default)]
struct ArmedTimers {
    /// The moments of this task's timers still to fire, few (a node's deadlines only move
    /// forward or back a little), in no order.
    at: Vec<madsim::time::Instant>,
}

impl ArmedTimers {
    /// Waits for the next input in `inbox`, or until `wait` has passed: `Some(input)` (with
    /// `None` when the inbox closed), or `None` at the deadline. This is what
    /// `TimeHandle::timeout(wait, inbox.next())` does (the inbox first, then the clock; madsim's
    /// shortest sleep of 1 ms), with the timer set only when this task has none at that moment.
    async fn wait(
        &mut self,
        time: &madsim::time::TimeHandle,
        wait: Duration,
        inbox: &mut futures::channel::mpsc::UnboundedReceiver<Input>,
    ) -> Option<Option<Input>> {
        let mut sleep = std::pin::pin!(time.sleep(wait));
        let deadline = sleep.deadline();
        std::future::poll_fn(|cx| {
            if let std::task::Poll::Ready(input) = inbox.poll_next_unpin(cx) {
                return std::task::Poll::Ready(Some(input));
            }
            let now = time.now_instant();
            if now >= deadline {
                return std::task::Poll::Ready(None);
            }
            // A timer at or before `now` has fired: whenever madsim moves its clock, it fires
            // every timer up to the new time before any task runs.
            self.at.retain(|&at| at > now);
            if !self.at.contains(&deadline) {
                // Pending, as `deadline` is still ahead: this sets the timer that wakes this
                // task then.
                let _ = std::future::Future::poll(sleep.as_mut(), cx);
                self.at.push(deadline);
            }
            std::task::Poll::Pending
        })
        .await
    }
}

/// Connection attempts to dead processes, each refused after [`RECONNECT_BACKOFF`]: the sender
/// then learns (`Input::Disconnected`) that every request it sent meanwhile is lost. There is
/// one refusal per sender and dead peer at a time, as Kafka's `NetworkClient` fails all of a
/// connection's requests together; without that, a client answering each failure with new
/// requests would multiply them. A refusal still pending when its peer restarts is delivered at
/// once, so that it cannot arrive after, and be mistaken for the end of, the connection to the
/// new process.
#[derive(Default)]
struct Refusals {
    pending: Mutex<Vec<Refusal>>,
    next_id: Mutex<u64>,
}

/// One pending refusal: `from` tried to reach the dead `to`; `inbox` is `from`'s.
struct Refusal {
    id: u64,
    from: NodeId,
    to: NodeId,
    inbox: futures::channel::mpsc::UnboundedSender<Input>,
}

impl Refusals {
    /// Registers `from`'s attempt to reach the dead `to`: the id to [`Refusals::deliver`] after
    /// the backoff, or `None` when a refusal of the same connection is pending already.
    fn schedule(&self, from: NodeId, to: NodeId, inbox: futures::channel::mpsc::UnboundedSender<Input>) -> Option<u64> {
        let mut pending = lock(&self.pending);
        if pending.iter().any(|r| r.from == from && r.to == to) {
            return None;
        }
        let mut next = lock(&self.next_id);
        *next += 1;
        pending.push(Refusal { id: *next, from, to, inbox });
        Some(*next)
    }

    /// Tells the sender of refusal `id` that its connection was refused, unless that has been
    /// done already.
    fn deliver(&self, id: u64) {
        let mut pending = lock(&self.pending);
        if let Some(i) = pending.iter().position(|r| r.id == id) {
            let r = pending.remove(i);
            let _ = r.inbox.unbounded_send(Input::Disconnected(r.to));
        }
    }

    /// `to` is starting again: every refusal of a connection to it is delivered now.
    fn peer_restarting(&self, to: NodeId) {
        let mut pending = lock(&self.pending);
        for r in pending.iter().filter(|r| r.to == to) {
            let _ = r.inbox.unbounded_send(Input::Disconnected(r.to));
        }
        pending.retain(|r| r.to != to);
    }
}

/// One message on its way over a link, with what `Net` decided for it.
struct Packet {
    /// When it reaches the peer.
    at: madsim::time::Instant,
    /// The connection it travels on ([`Net::generation`]); a message of a broken connection
    /// vanishes.
    generation: u64,
    /// The peer's incarnation when it was sent, when it was up: a peer that restarted since
    /// never sees it, as a new process never reads the old one's connections.
    incarnation: Option<u64>,
    /// The message (absent when TCP gave up on it, [`Delivery::Break`]), boxed as in
    /// [`Input::Message`].
    message: Option<Box<Message>>,
    /// Whether the connection breaks once the message is delivered (`Duplicate`, `Loss`).
    breaks: bool,
}

/// Opens the directed link `from` → `to` of `from`'s current process: a task that hands each
/// packet to `to`'s inbox at its time, strictly in the order sent. It runs on `from`'s madsim
/// node, so the messages still on their way die with the sending process, and it ends once
/// that process has closed the link ([`Link::close`]) and every packet is delivered. `closed`
/// is `from`'s own inbox, for the connection breaks it sees.
fn open_link(
    shared: Arc<Shared>,
    from: NodeId,
    to: NodeId,
    closed: futures::channel::mpsc::UnboundedSender<Input>,
) -> Link {
    let wire = Arc::new(Mutex::new(Wire::default()));
    let queue = NextPacket { wire: wire.clone(), time: shared.time.clone() };
    let task = madsim::task::spawn(async move {
        'packets: while let Some(packet) = queue.next().await {
            // A cut link (`Partition`, `Isolate`, `OneWay`) holds the packet, and every packet
            // behind it, as TCP does: it retransmits after one retransmission timeout, then
            // after twice that, and so on, and gives up on the connection after
            // `tcp_retries2` retransmissions. So a short partition delays messages (until the
            // next retransmission after it heals) but loses none.
            let mut attempt = packet.at;
            let mut rto = crate::net::RTO_MIN;
            let mut retransmissions = 0;
            loop {
                // madsim sleeps at least 1 ms; a packet already due (queued behind a late one)
                // goes at once.
                if attempt > shared.time.now_instant() {
                    shared.time.sleep_until(attempt).await;
                }
                if lock(&shared.net).generation(from, to) != packet.generation {
                    continue 'packets;
                }
                if !lock(&shared.cuts).blocks(from, to) {
                    break;
                }
                if retransmissions == crate::net::TCP_RETRIES2 {
                    lock(&shared.net).break_connection(from, to);
                    let _ = closed.unbounded_send(Input::Disconnected(to));
                    if let Some(inbox) = shared.slots.get(&to).and_then(|peer| lock(&peer.inbox).clone()) {
                        let _ = inbox.unbounded_send(Input::Disconnected(from));
                    }
                    continue 'packets;
                }
                retransmissions += 1;
                attempt = attempt.max(shared.time.now_instant()) + rto;
                rto = (rto * 2).min(crate::net::RTO_MAX);
            }
            let Some(peer) = shared.slots.get(&to) else { continue };
            if packet.incarnation.is_some_and(|i| i != *lock(&peer.incarnation)) {
                continue;
            }
            if packet.breaks {
                // Both ends see the connection close: this one now, the peer behind the
                // message it still receives (the bytes before a reset are read before it).
                lock(&shared.net).break_connection(from, to);
                let _ = closed.unbounded_send(Input::Disconnected(to));
            }
            if let Some(inbox) = lock(&peer.inbox).as_ref() {
                if let Some(message) = packet.message {
                    if inbox.unbounded_send(Input::Message(from, message)).is_ok() {
                        shared.delivered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                if packet.breaks {
                    let _ = inbox.unbounded_send(Input::Disconnected(from));
                }
            }
        }
    });
    Link { wire, task }
}

/// One open link of a node's process ([`open_link`]): the packets still to go, shared with the
/// task that delivers them, which ends once the link is closed and empty.
struct Link {
    wire: Arc<Mutex<Wire>>,
    task: madsim::task::JoinHandle<()>,
}

/// The packets of one link still on their way, shared by the sending host and the link's task.
///
/// Why not a channel: a task woken by a channel runs once to take the packet and set a timer
/// for its arrival, and again when the timer fires, to deliver it. Here the sender sets that
/// timer itself, with the waker of the task waiting for packets, so the task runs once per
/// delivery; that was about a tenth of a run's task runs.
#[derive(Default)]
struct Wire {
    /// In the order sent, so by arrival time ([`Net::decide`] keeps each link's order).
    packets: std::collections::VecDeque<Packet>,
    /// The link task's waker while it waits with nothing queued: the next sender sets the timer
    /// for its packet with it (or wakes the task, for a packet already due).
    idle: Option<std::task::Waker>,
    /// The moment of the last timer set for the first packet, so that a task woken early sets
    /// none twice.
    armed: Option<madsim::time::Instant>,
    /// The sending process has exited: the task ends once every packet is delivered.
    closed: bool,
}

impl Link {
    /// Puts `packet` on the wire: sets the timer for its arrival when the link's task waits
    /// with nothing queued, or wakes the task when the packet is due already (a close).
    fn send(&self, time: &madsim::time::TimeHandle, packet: Packet) {
        let mut wire = lock(&self.wire);
        let at = packet.at;
        wire.packets.push_back(packet);
        if let Some(waker) = wire.idle.take() {
            if at <= time.now_instant() {
                waker.wake();
            } else {
                wire.armed = Some(arm(time, at, &waker));
            }
        }
    }

    /// The sending process exits: the task delivers what is queued, then ends.
    fn close(&self) {
        let mut wire = lock(&self.wire);
        wire.closed = true;
        if let Some(waker) = wire.idle.take() {
            waker.wake();
        }
    }
}

/// Sets a madsim timer at `at` (at least 1 ms ahead, as every madsim sleep) that wakes
/// `waker`, and returns its moment. madsim timers cannot be cancelled: the timer fires even if
/// nobody waits for it any more, and waking a task that has nothing to do costs one empty run.
fn arm(time: &madsim::time::TimeHandle, at: madsim::time::Instant, waker: &std::task::Waker) -> madsim::time::Instant {
    let mut sleep = std::pin::pin!(time.sleep_until(at));
    let deadline = sleep.deadline();
    // Pending, as the deadline is at least a millisecond ahead: that sets the timer.
    let _ = std::future::Future::poll(sleep.as_mut(), &mut std::task::Context::from_waker(waker));
    deadline
}

/// The link task's side of a [`Wire`]: the next packet once it is due, or `None` once the link
/// is closed and empty.
struct NextPacket {
    wire: Arc<Mutex<Wire>>,
    time: madsim::time::TimeHandle,
}

impl NextPacket {
    fn next(&self) -> impl std::future::Future<Output = Option<Packet>> + '_ {
        std::future::poll_fn(move |cx| {
            let mut wire = lock(&self.wire);
            let now = self.time.now_instant();
            let Some(head) = wire.packets.front() else {
                if wire.closed {
                    return std::task::Poll::Ready(None);
                }
                wire.idle = Some(cx.waker().clone());
                return std::task::Poll::Pending;
            };
            if head.at <= now {
                return std::task::Poll::Ready(wire.packets.pop_front());
            }
            // A timer still ahead and no later than this packet's wakes the task in time.
            let at = head.at;
            if !wire.armed.is_some_and(|armed| armed > now && armed <= at.max(now + Duration::from_millis(1))) {
                wire.armed = Some(arm(&self.time, at, cx.waker()));
            }
            std::task::Poll::Pending
        })
    }
}

/// A run in progress. Create it on a fresh thread (see [`crate::run`]): std's hash seeds are
/// per thread, and madsim makes them deterministic only for a thread that starts inside it.
pub struct World {
    runtime: Runtime,
    shared: Arc<Shared>,
    duration: Duration,
    faults: Vec<(u64, Fault)>,
    /// Timed narration, by time: when, what kind, the text.
    narration: Vec<(u64, NarrationKind, String)>,
    /// Narration said when a condition first holds, and whether each has been said.
    narration_on: Vec<(Condition, NarrationKind, String, bool)>,
    /// Faults injected while the run was under way ([`World::inject`]), in order, with the
    /// time they were applied at.
    injected: Vec<Timed<Fault>>,
    next_fault: usize,
    /// The scenario's triggers, and whether each has fired.
    triggers: Vec<Trigger>,
    fired: Vec<bool>,
    next_narration: usize,
    /// The nodes the most recent `Crash`, `Kill` or `PowerLoss` took down (`LastCrashed`).
    last_crash: Vec<NodeId>,
    /// Decides torn writes; seeded from the run seed, used only at fault boundaries.
    disk_rng: rand_chacha::ChaCha8Rng,
    /// Paused nodes (`Pause`): the key that opens each one's gate, when the pause began and the
    /// incarnation it paused (a restart since means there is nothing to resume).
    paused: BTreeMap<NodeId, (futures::channel::oneshot::Sender<()>, Duration, u64)>,
    /// Nodes told to shut down gracefully; their madsim nodes are stopped once they have.
    stopping: Vec<NodeId>,
    elapsed: Duration,
    /// Whether this boundary's work is done already ([`World::settle`]).
    settled: bool,
    /// Liveness tracking, only when the scenario has a `ConvergesWithin` expectation.
    convergence: Option<crate::converge::Convergence>,
}

impl Drop for World {
    /// Frees everything a finished (or abandoned) run holds.
    ///
    /// Why: madsim's runtime does not drop the tasks it still holds when it is dropped, and
    /// every node's host loop and links hold the shared state (`Arc<Shared>`): every log, disk,
    /// trace record and the oracle's history. So each world outlived its run, and a swarm of
    /// 160 seeds of faults.ron ended at 850 MB where one run needs 31. Killing every node
    /// wakes all its tasks, and running the executor once more drops them, as madsim drops a
    /// killed node's tasks when they come up to run; the nodes' init closures (which the
    /// runtime keeps for restarts) hold the shared state only weakly. Nothing is done while a
    /// run's thread unwinds from a crash: the panic is reported, and the thread ends.
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let handle = self.runtime.handle().clone();
        for slot in self.shared.slots.values() {
            if let Some(id) = *lock(&slot.madsim_id) {
                handle.kill(id);
            }
        }
        self.runtime.block_on(async {});
        debug_assert_eq!(Arc::strong_count(&self.shared), 1, "no task holds the shared state any more");
    }
}

impl World {
    /// Builds the world for `scenario` with `seed` and starts every node at time zero.
    pub fn new(scenario: Scenario, seed: u64) -> World {
        let mut config = madsim::Config::default();
        // The one-way latency (1–10 ms, madsim's default range) is drawn per message by `host`,
        // which keeps each connection in order; madsim itself adds none.
        config.net.packet_loss_rate = 0.0;
        config.net.send_latency = Duration::ZERO..Duration::from_nanos(1);
        let runtime = Runtime::with_seed_and_config(seed, config);
        let (time, start) = runtime.block_on(async {
            let time = madsim::time::TimeHandle::current();
            let start = time.now_instant();
            (time, start)
        });
        let mut slots = BTreeMap::new();
        let mut add = |id: NodeId, kind: NodeKind, name: String, started: bool| {
            slots.insert(
                id,
                Arc::new(Slot {
                    id,
                    kind,
                    trace_name: Name::new(&name),
                    name,
                    hosted: Mutex::new(None),
                    disk: Mutex::new(SimDisk::default()),
                    incarnation: Mutex::new(0),
                    madsim_id: Mutex::new(None),
                    inbox: Mutex::new(None),
                    down: Mutex::new(false),
                    started: Mutex::new(started),
                    draining: Mutex::new(false),
                    quorum_seen: Mutex::new(None),
                    stale_deadlines: std::sync::atomic::AtomicU64::new(0),
                }),
            );
        };
        let voters: Vec<NodeId> = scenario.cluster.controller_ids().into_iter().map(NodeId).collect();
        let combined = scenario.cluster.process_roles == ProcessRoles::Combined;
        if !combined {
            for id in &voters {
                add(*id, NodeKind::Controller, format!("controller {id}"), true);
            }
        }
        for b in 1..=scenario.cluster.brokers {
            if combined && voters.contains(&NodeId(b)) {
                add(NodeId(b), NodeKind::Combined, format!("node {b}"), true);
            } else {
                add(NodeId(b), NodeKind::Broker, format!("broker {b}"), true);
            }
        }
        for fault in &scenario.faults {
            if let Fault::AddBroker(b) = fault.value() {
                add(NodeId(*b), NodeKind::Broker, format!("broker {b}"), false);
            }
        }
        for (i, client) in scenario.clients.iter().enumerate() {
            let id = NodeId(NodeId::FIRST_CLIENT.0 + i as i32);
            match client {
                ClientSpec::Producer(p) => add(id, NodeKind::Producer(i), p.id.clone(), true),
                ClientSpec::Consumer(c) => add(id, NodeKind::Consumer(i), c.id.clone(), true),
            }
        }
        let mut faults: Vec<(u64, Fault)> = scenario.faults.iter().map(|f| (f.at().0, f.value().clone())).collect();
        faults.sort_by_key(|f| f.0);
        let mut narration: Vec<(u64, NarrationKind, String)> =
            scenario.narration.iter().filter_map(|n| n.at().map(|at| (at.0, n.kind(), n.text().to_string()))).collect();
        narration.sort_by_key(|n| n.0);
        let narration_on = scenario
            .narration
            .iter()
            .filter_map(|n| n.condition().map(|c| (c.clone(), n.kind(), n.text().to_string(), false)))
            .collect();
        let duration = Duration::from_millis(scenario.duration.0);
        let triggers = scenario.triggers.clone();
        let has_convergence =
            scenario.expect.iter().any(|e| matches!(e, crate::scenario::Expectation::ConvergesWithin(_)));
        let era = KafkaVersion::parse(&scenario.kafka_version).expect("validated scenario").era();
        let broker_config = broker_config(&scenario, era);
        let quorum = QuorumConfig::new(&broker_config, voters, scenario.cluster.aligned_election_timeouts);
        let unclean = UncleanElectionPolicy {
            default: broker_config.unclean_leader_election_enable,
            topics: scenario
                .topics
                .iter()
                .filter_map(|t| {
                    let config = TopicConfig::from_map(&t.configs).expect("validated scenario");
                    config.unclean_leader_election_enable.map(|allowed| (t.name.clone(), allowed))
                })
                .collect(),
        };
        let checker = Mutex::new(InvariantSet::new(&scenario, quorum.voters.clone(), unclean));
        let shared = Arc::new(Shared {
            seed,
            scenario,
            start,
            time,
            slots,
            trace: Mutex::new(Trace::with_digest_thread()),
            quorum,
            checker,
            era,
            net: Mutex::new(Net::new()),
            cuts: Mutex::new(Cuts::default()),
            refusals: Refusals::default(),
            pause_gates: Mutex::new(BTreeMap::new()),
            delivered: std::sync::atomic::AtomicU64::new(0),
        });
        for slot in shared.slots.values() {
            // The runtime keeps each node's init closure for restarts, and never drops it (see
            // `Drop for World`), so the closure holds the shared state weakly.
            let (s, sl) = (Arc::downgrade(&shared), slot.clone());
            let node = runtime
                .create_node()
                .name(slot.name.clone())
                .ip(ip_of(slot.id))
                .init(move || host(s.upgrade().expect("a node starts only while its world exists"), sl.clone()))
                .build();
            *lock(&slot.madsim_id) = Some(node.id());
        }
        World {
            runtime,
            shared,
            duration,
            faults,
            narration,
            narration_on,
            injected: Vec::new(),
            next_fault: 0,
            next_narration: 0,
            fired: vec![false; triggers.len()],
            triggers,
            last_crash: Vec::new(),
            disk_rng: {
                use rand::SeedableRng;
                rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x6469_736b)
            },
            paused: BTreeMap::new(),
            stopping: Vec::new(),
            elapsed: Duration::ZERO,
            settled: false,
            convergence: has_convergence.then(crate::converge::Convergence::default),
        }
    }

    /// Simulated time so far.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The scenario's duration.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Whether the scenario's duration has been reached.
    pub fn finished(&self) -> bool {
        self.elapsed >= self.duration
    }

    /// The scenario being run.
    pub fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }

    /// The seed of this run.
    pub fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// Advances one quantum: applies faults and narration due at this boundary, then lets the
    /// nodes run for [`QUANTUM`] of simulated time. The step that reaches the end of the run
    /// lets the invariant checkers drop their histories ([`InvariantSet::finish`]), so a world
    /// must not be stepped past its end ([`World::finished`]): that panics.
    pub fn step(&mut self) {
        if !self.settled {
            self.apply_boundary();
        }
        self.settled = false;
        self.runtime.block_on(async { madsim::time::sleep(QUANTUM).await });
        self.elapsed += QUANTUM;
        self.sample_convergence();
        // A node that finished its graceful shutdown has exited; stop its madsim node so a
        // later restart starts it afresh (and frees its address).
        let handle = self.runtime.handle().clone();
        for id in std::mem::take(&mut self.stopping) {
            let slot = &self.shared.slots[&id];
            if lock(&slot.hosted).is_none() && !*lock(&slot.draining) {
                handle.kill(self.madsim_id(id));
            } else {
                self.stopping.push(id);
            }
        }
        self.check_invariants();
        if self.finished() {
            // The last quantum is checked: the checkers' histories are no longer needed, and
            // the report that follows needs the room.
            lock(&self.shared.checker).finish();
        }
    }

    /// Does now what the next [`World::step`] would do first at this quantum boundary: says
    /// the narration due, applies the faults due and fires the triggers that hold. Front ends
    /// call it before taking a keyframe, so a keyframe at time T shows what happens at T (a
    /// chapter at 1 s is on screen at 1.0 s, not 1.1 s). The trace is the same either way: the
    /// same work happens at the same boundary, in the same order. Does nothing at the end of
    /// the run (a headless run never steps past it) or when already done at this boundary.
    pub fn settle(&mut self) {
        if !self.settled && !self.finished() {
            self.apply_boundary();
            self.settled = true;
        }
    }

    /// The work of a quantum boundary: narration, then faults, then triggers.
    fn apply_boundary(&mut self) {
        let now_ms = self.elapsed.as_millis() as u64;
        while self.next_narration < self.narration.len() && self.narration[self.next_narration].0 <= now_ms {
            let (_, kind, text) = self.narration[self.next_narration].clone();
            self.say(kind, text);
            self.next_narration += 1;
        }
        self.say_conditional_narration();
        while self.next_fault < self.faults.len() && self.faults[self.next_fault].0 <= now_ms {
            let fault = self.faults[self.next_fault].1.clone();
            self.next_fault += 1;
            self.apply_fault(&fault);
        }
        self.fire_triggers();
    }

    /// Records a narration line of `kind` in the trace.
    fn say(&self, kind: NarrationKind, text: String) {
        let body = match kind {
            NarrationKind::Line => TraceBody::Narration(text),
            NarrationKind::Chapter => TraceBody::Chapter(text),
            NarrationKind::Prompt => TraceBody::Prompt(text),
        };
        self.runtime.block_on(async { self.shared.record("world", body) });
    }

    /// Says every `On`/`WaitOn` narration line whose condition holds now for the first time.
    fn say_conditional_narration(&mut self) {
        for i in 0..self.narration_on.len() {
            if self.narration_on[i].3 {
                continue;
            }
            let mut why = Vec::new();
            if self.holds(&self.narration_on[i].0, &mut why) {
                self.narration_on[i].3 = true;
                let (kind, text) = (self.narration_on[i].1, self.narration_on[i].2.clone());
                self.say(kind, text);
            }
        }
    }

    /// Injects `fault` as a learner acting in the lab does, at the next quantum boundary whose
    /// work is still to do: this one, or after [`World::settle`] the next ([`QUANTUM`] later).
    /// It is queued behind any fault the scenario schedules at that same moment, exactly where
    /// a scenario's `At(t, fault)` would be, so the scenario with [`World::injected`] appended
    /// to its faults replays this run record for record. Returns the time it applies at.
    ///
    /// `AddBroker` cannot be injected (its node must exist from the start): `None`.
    pub fn inject(&mut self, fault: Fault) -> Option<Span> {
        if matches!(fault, Fault::AddBroker(_)) {
            return None;
        }
        let mut at_ms = self.elapsed.as_millis() as u64;
        if self.settled {
            at_ms += QUANTUM.as_millis() as u64;
        }
        let pending = &self.faults[self.next_fault..];
        let position = self.next_fault + pending.partition_point(|f| f.0 <= at_ms);
        self.faults.insert(position, (at_ms, fault.clone()));
        self.injected.push(Timed::At(Span::from_millis(at_ms), fault));
        Some(Span::from_millis(at_ms))
    }

    /// Faults injected with [`World::inject`] so far, with the times they apply at.
    pub fn injected(&self) -> &[Timed<Fault>] {
        &self.injected
    }

    /// Applies every trigger whose condition holds now and has not fired yet, recording the
    /// condition with the values that made it hold.
    fn fire_triggers(&mut self) {
        if self.fired.iter().all(|f| *f) {
            return;
        }
        // Taken out for the loop, so conditions are read in place while faults need `&mut self`.
        let triggers = std::mem::take(&mut self.triggers);
        for (i, trigger) in triggers.iter().enumerate() {
            if self.fired[i] {
                continue;
            }
            let mut why = Vec::new();
            if !self.holds(trigger.condition(), &mut why) {
                continue;
            }
            self.fired[i] = true;
            let text = format!("trigger {i} holds: {}", why.join(", "));
            let shared = self.shared.clone();
            self.runtime.block_on(async move { shared.record("world", TraceBody::Fault(text)) });
            self.apply_fault(trigger.fault());
        }
        self.triggers = triggers;
    }

    /// Whether `condition` holds now; pushes a plain-words account of the values it read onto
    /// `why`.
    fn holds(&self, condition: &Condition, why: &mut Vec<String>) -> bool {
        let replica = |broker: i32, topic: &str, partition: i32| {
            (NodeId(broker), TopicPartition::new(topic.to_string(), partition))
        };
        match condition {
            Condition::LogEndOffset { broker, topic, partition, at_least }
            | Condition::HighWatermark { broker, topic, partition, at_least } => {
                let (b, tp) = replica(*broker, topic, *partition);
                let leo = matches!(condition, Condition::LogEndOffset { .. });
                let offset = self.with_log(b, &tp, |log| if leo { log.log_end_offset() } else { log.high_watermark() });
                why.push(match offset {
                    Some(o) if leo => format!("broker {broker} has {tp} up to log end offset {o}"),
                    Some(o) => format!("broker {broker} knows high watermark {o} of {tp}"),
                    None => format!("broker {broker} holds no replica of {tp} now"),
                });
                offset.is_some_and(|o| o >= *at_least)
            }
            Condition::Leads { broker, topic, partition } => {
                let (b, tp) = replica(*broker, topic, *partition);
                let leads = self.shared.slots.get(&b).is_some_and(|slot| {
                    lock(&slot.hosted).as_ref().and_then(|h| h.broker()).is_some_and(|br| br.is_leader_of(&tp))
                });
                why.push(format!("broker {broker} {} {tp}", if leads { "leads" } else { "does not lead" }));
                leads
            }
            Condition::Acked { client, at_least } => {
                let acked = self
                    .shared
                    .slots
                    .values()
                    .filter(|s| &s.name == client)
                    .filter_map(|s| match lock(&s.hosted).as_ref() {
                        Some(Hosted::Producer(p)) => Some(p.status().acked),
                        _ => None,
                    })
                    .next()
                    .unwrap_or(0);
                why.push(format!("{client} has {acked} records acknowledged"));
                acked >= *at_least
            }
            Condition::After(span) => {
                why.push(format!("the time is past {span}"));
                self.elapsed.as_millis() as u64 >= span.0
            }
            Condition::All(conditions) => conditions.iter().all(|c| self.holds(c, why)),
            Condition::Any(conditions) => {
                let mut scratch = Vec::new();
                for c in conditions {
                    scratch.clear();
                    if self.holds(c, &mut scratch) {
                        why.append(&mut scratch);
                        return true;
                    }
                }
                false
            }
            Condition::Not(inner) => {
                let mut inner_why = Vec::new();
                let holds = self.holds(inner, &mut inner_why);
                why.extend(inner_why.into_iter().map(|w| format!("not: {w}")));
                !holds
            }
        }
    }

    /// Checks every invariant checked at a quantum boundary (see [`crate::invariants`]).
    /// Expected violations are recorded in the trace, once per invariant and scope; any other
    /// stops the run with the seed and a reproduce command.
    fn check_invariants(&mut self) {
        let world: &World = self;
        // The checker reads every record pushed so far; a world that holds only the needed
        // records lets go of them once read.
        let read = world.record_count() as u64;
        let settled = lock(&world.shared.checker).check_quantum(world);
        lock(&world.shared.trace).checker_read(read);
        for violation in settled.record {
            let shared = self.shared.clone();
            let body = TraceBody::Violation { invariant: violation.invariant, detail: violation.detail };
            self.runtime.block_on(async move { shared.record("world", body) });
        }
        if let Some(violation) = settled.stop {
            self.invariant_violated(&violation.to_string());
        }
    }

    /// Stops the run on a violated invariant checked between steps, with the seed and the
    /// command that reproduces it.
    fn invariant_violated(&self, violation: &str) -> ! {
        let s = &self.shared;
        panic!(
            "invariant violated at {}: {violation}\nseed {}; reproduce with `kafkalab run {} --seed {}`",
            cluster::time::Instant::from_nanos(self.elapsed.as_nanos() as u64),
            s.seed,
            s.scenario.origin_hint(),
            s.seed
        );
    }

    /// Runs to the end of the scenario.
    pub fn run_to_end(&mut self) {
        while !self.finished() {
            self.step();
        }
    }

    fn madsim_id(&self, id: NodeId) -> madsim::task::NodeId {
        lock(&self.shared.slots[&id].madsim_id).expect("every node is built at start")
    }

    /// Resolves a fault target to nodes, by role where the target names one.
    fn resolve(&self, target: &Target) -> Vec<NodeId> {
        match target {
            Target::Broker(b) | Target::Node(b) => vec![NodeId(*b)],
            Target::Controller => self.shared.slots.values().filter(|s| s.is_controller()).map(|s| s.id).collect(),
            Target::ActiveController => self.active_controller().into_iter().collect(),
            Target::Client(name) => self.shared.slots.values().filter(|s| &s.name == name).map(|s| s.id).collect(),
            Target::Leader(topic, partition) => {
                let view = self.view();
                view.topics
                    .iter()
                    .filter(|t| &t.name == topic)
                    .flat_map(|t| t.partitions.iter())
                    .filter(|p| p.partition == *partition)
                    .filter_map(|p| p.leader.map(NodeId))
                    .collect()
            }
            Target::Coordinator(group) => self
                .view()
                .groups
                .iter()
                .filter(|g| &g.group == group)
                .filter_map(|g| g.coordinator.map(NodeId))
                .collect(),
            Target::LastCrashed => self.last_crash.clone(),
        }
    }

    /// The active controller now, if any: the running controller that leads the quorum in
    /// the highest epoch and is active.
    pub fn active_controller(&self) -> Option<NodeId> {
        self.shared
            .slots
            .values()
            .filter_map(|slot| {
                let hosted = lock(&slot.hosted);
                let controller = hosted.as_ref()?.controller()?;
                controller.is_active().then(|| (controller.raft().epoch(), slot.id))
            })
            .max()
            .map(|(_, id)| id)
    }

    /// Every running node's quorum state, voters first, then observers (brokers), by node id.
    pub fn quorum_statuses(&self) -> Vec<QuorumStatus> {
        let mut out: Vec<QuorumStatus> = self
            .shared
            .slots
            .values()
            .filter_map(|slot| lock(&slot.hosted).as_ref().and_then(|h| h.raft().map(|r| r.status())))
            .collect();
        let voters = &self.shared.quorum.voters;
        out.sort_by_key(|s| (!voters.contains(&s.node_id), s.node_id));
        out
    }

    /// The quorum's voters.
    pub fn voters(&self) -> &[NodeId] {
        &self.shared.quorum.voters
    }

    /// Sends an admin request to the active controller, as the admin tools do. Returns the
    /// controller, or `None` when no controller is active (the request is then dropped).
    fn send_admin(&self, message: Message) -> Option<NodeId> {
        let controller = self.active_controller()?;
        let inbox = lock(&self.shared.slots[&controller].inbox);
        inbox.as_ref()?.unbounded_send(Input::Message(ADMIN_ID, Box::new(message))).ok()?;
        Some(controller)
    }

    fn describe_nodes(&self, nodes: &[NodeId]) -> String {
        nodes.iter().map(|n| self.shared.slots[n].name.clone()).collect::<Vec<_>>().join(", ")
    }

    /// `nodes` named with the role `target` gave them: `broker 2, the leader of orders-0`.
    fn describe_target(&self, target: &Target, nodes: &[NodeId]) -> String {
        let names = if nodes.is_empty() { "nobody".to_string() } else { self.describe_nodes(nodes) };
        match target {
            Target::Leader(topic, partition) => format!("{names}, the leader of {topic}-{partition}"),
            Target::Coordinator(group) => format!("{names}, the coordinator of group {group}"),
            Target::ActiveController => format!("{names}, the active controller"),
            Target::LastCrashed => format!("{names}, the last node crashed"),
            _ => names,
        }
    }

    /// The links a degradation fault names, resolved now: `every link` or `links of broker 1`.
    fn describe_links(&self, targets: &[Target]) -> String {
        if targets.is_empty() {
            return "every link".to_string();
        }
        format!("links of {}", self.describe_nodes(&self.resolve_all(targets)))
    }

    /// Every node `targets` name now, each once, in order.
    fn resolve_all(&self, targets: &[Target]) -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = Vec::new();
        for n in targets.iter().flat_map(|t| self.resolve(t)) {
            if !nodes.contains(&n) {
                nodes.push(n);
            }
        }
        nodes
    }

    /// Applies a degradation to the links of `targets` (every link when there are none).
    /// Targets that name no node now (a partition without a leader) change nothing rather
    /// than degrade every link; the error is the trace line saying so.
    fn degrade(&mut self, degradation: Degradation, targets: &[Target]) -> Result<(), String> {
        let nodes = self.resolve_all(targets);
        if !targets.is_empty() && nodes.is_empty() {
            let what = match degradation {
                Degradation::Loss { .. } => "packet loss",
                Degradation::Latency { .. } => "added latency",
                Degradation::Duplicate { .. } => "connection breaks",
            };
            return Err(format!("{what}: the targets name no node now; nothing changes"));
        }
        lock(&self.shared.net).degrade(degradation, nodes);
        Ok(())
    }

    /// Whether `id` is paused now: paused, not resumed, and not restarted since.
    fn is_paused(&self, id: NodeId) -> bool {
        self.paused.get(&id).is_some_and(|(_, _, incarnation)| {
            let slot = &self.shared.slots[&id];
            *incarnation == *lock(&slot.incarnation) && lock(&slot.hosted).is_some()
        })
    }

    /// Stops `nodes` at once. With `lose_page_cache` each loses its unflushed bytes (the last
    /// write perhaps torn), even a node whose process was already down (killed or stopped): its
    /// machine kept the page cache until now. Without, the machine stays up and a restarted
    /// process finds every byte its predecessor wrote. With `reset_connections` (a crash: the
    /// machine's kernel resets the dead process's sockets), live peers see their connections
    /// close now; after a power loss nothing tells them, and only timeouts do. Returns a
    /// description of the lost bytes.
    fn take_down(&mut self, nodes: &[NodeId], reset_connections: bool, lose_page_cache: bool) -> String {
        let handle = self.runtime.handle().clone();
        let mut parts = Vec::new();
        for id in nodes {
            let slot = &self.shared.slots[id];
            let was_running = lock(&slot.hosted).is_some();
            if was_running {
                handle.kill(self.madsim_id(*id));
                self.shared.node_down(slot);
                *lock(&slot.inbox) = None;
                *lock(&slot.down) = true;
            } else if std::mem::take(&mut *lock(&slot.draining)) {
                // A process that stopped gracefully, whose kernel is still sending what it
                // wrote: the machine going down ends that too.
                handle.kill(self.madsim_id(*id));
            }
            if lose_page_cache {
                let loss = lock(&slot.disk).lose_unflushed(&mut self.disk_rng, true);
                if loss.bytes_lost > 0 {
                    parts.push(format!("{}: {}", slot.name, loss.describe()));
                }
            }
            if !was_running {
                continue;
            }
            if reset_connections {
                for other in self.shared.slots.values().filter(|s| s.id != *id) {
                    if let Some(inbox) = lock(&other.inbox).as_ref() {
                        let _ = inbox.unbounded_send(Input::Disconnected(*id));
                    }
                }
            }
        }
        self.last_crash = nodes.to_vec();
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join("; "))
        }
    }

    fn apply_fault(&mut self, fault: &Fault) {
        let handle = self.runtime.handle().clone();
        let text = match fault {
            Fault::Crash(target) => {
                let nodes = self.resolve(target);
                let losses = self.take_down(&nodes, true, true);
                let what = match target {
                    Target::Leader(topic, partition) => {
                        format!("crash {} (the leader of {topic}-{partition})", self.describe_nodes(&nodes))
                    }
                    Target::LastCrashed => format!("crash {} (the last node crashed)", self.describe_nodes(&nodes)),
                    Target::Coordinator(group) => {
                        format!("crash {} (the coordinator of group {group})", self.describe_nodes(&nodes))
                    }
                    _ => format!("crash {}", self.describe_nodes(&nodes)),
                };
                format!("{what}{losses}")
            }
            Fault::Kill(target) => {
                let nodes = self.resolve(target);
                self.take_down(&nodes, true, false);
                match target {
                    Target::Leader(topic, partition) => format!(
                        "kill -9 {} (the leader of {topic}-{partition}); its page cache survives",
                        self.describe_nodes(&nodes)
                    ),
                    _ => format!("kill -9 {}; its page cache survives", self.describe_nodes(&nodes)),
                }
            }
            Fault::PowerLoss(targets) => {
                let mut nodes: Vec<NodeId> = Vec::new();
                for t in targets {
                    for n in self.resolve(t) {
                        if !nodes.contains(&n) {
                            nodes.push(n);
                        }
                    }
                }
                let losses = self.take_down(&nodes, false, true);
                format!("power loss: {}{losses}", self.describe_nodes(&nodes))
            }
            Fault::Restart(target) => {
                let nodes = self.resolve(target);
                for id in &nodes {
                    if lock(&self.shared.slots[id].hosted).is_none() {
                        *lock(&self.shared.slots[id].down) = false;
                        // A node that stopped gracefully may not have been stopped by madsim yet;
                        // killing first frees its address for the restart.
                        self.stopping.retain(|s| s != id);
                        *lock(&self.shared.slots[id].draining) = false;
                        // A pause ended with the process it paused.
                        lock(&self.shared.pause_gates).remove(id);
                        self.shared.refusals.peer_restarting(*id);
                        handle.kill(self.madsim_id(*id));
                        handle.restart(self.madsim_id(*id));
                    }
                }
                format!("restart {}", self.describe_nodes(&nodes))
            }
            Fault::Partition(a, b) => {
                let a: Vec<NodeId> = a.iter().flat_map(|t| self.resolve(t)).collect();
                // A node named on both sides stays on the first: it cannot be cut from itself.
                let b: Vec<NodeId> = b.iter().flat_map(|t| self.resolve(t)).filter(|n| !a.contains(n)).collect();
                let mut cuts = lock(&self.shared.cuts);
                for x in &a {
                    for y in &b {
                        if x != y {
                            cuts.both_ways.insert((*x, *y));
                        }
                    }
                }
                drop(cuts);
                format!("network partition [{}] | [{}]", self.describe_nodes(&a), self.describe_nodes(&b))
            }
            Fault::Isolate(target) => {
                let nodes = self.resolve(target);
                lock(&self.shared.cuts).isolated.extend(nodes.iter().copied());
                format!("isolate {}", self.describe_nodes(&nodes))
            }
            Fault::Shutdown(target) => {
                let nodes = self.resolve(target);
                for id in &nodes {
                    if let Some(inbox) = lock(&self.shared.slots[id].inbox).as_ref() {
                        let _ = inbox.unbounded_send(Input::Shutdown);
                        self.stopping.push(*id);
                    }
                }
                match target {
                    Target::ActiveController => {
                        format!("shut down {} (the active controller) gracefully", self.describe_nodes(&nodes))
                    }
                    _ => format!("shut down {} gracefully", self.describe_nodes(&nodes)),
                }
            }
            Fault::AddBroker(b) => {
                let id = NodeId(*b);
                *lock(&self.shared.slots[&id].started) = true;
                handle.restart(self.madsim_id(id));
                format!("start new broker {b}")
            }
            Fault::Reassign(topic, partition, replicas) => {
                let tp = TopicPartition::new(topic.clone(), *partition);
                let target: Vec<NodeId> = replicas.iter().map(|r| NodeId(*r)).collect();
                let message = Message::AlterPartitionReassignments { correlation_id: 1, tp, replicas: target };
                let list = replicas.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(",");
                match self.send_admin(message) {
                    Some(c) => format!(
                        "kafka-reassign-partitions.sh --execute: {topic}-{partition} → [{list}] (to controller {c})"
                    ),
                    None => format!(
                        "kafka-reassign-partitions.sh: {topic}-{partition} → [{list}] failed: no active controller"
                    ),
                }
            }
            Fault::PreferredElection(topic, partition) => {
                let tp = TopicPartition::new(topic.clone(), *partition);
                let message = Message::ElectLeaders { correlation_id: 1, tp, unclean: false };
                match self.send_admin(message) {
                    Some(c) => format!(
                        "kafka-leader-election.sh --election-type preferred: {topic}-{partition} (to controller {c})"
                    ),
                    None => format!("kafka-leader-election.sh: {topic}-{partition} failed: no active controller"),
                }
            }
            Fault::Pause(target) => {
                let nodes = self.resolve(target);
                let mut paused = Vec::new();
                for id in &nodes {
                    let slot = &self.shared.slots[id];
                    if lock(&slot.hosted).is_none() || self.is_paused(*id) {
                        continue;
                    }
                    let (key, gate) = futures::channel::oneshot::channel();
                    lock(&self.shared.pause_gates).insert(*id, gate);
                    self.paused.insert(*id, (key, self.elapsed, *lock(&slot.incarnation)));
                    paused.push(*id);
                }
                if paused.is_empty() {
                    let why = if nodes.iter().any(|n| self.is_paused(*n)) {
                        "it is paused already"
                    } else {
                        "it is not running, so there is nothing to pause"
                    };
                    format!("pause {}: {why}", self.describe_target(target, &nodes))
                } else {
                    format!(
                        "pause {} (a stop-the-world pause: nothing runs, its timers stop, messages to it wait)",
                        self.describe_target(target, &paused)
                    )
                }
            }
            Fault::Resume(target) => {
                let nodes = self.resolve(target);
                let mut parts = Vec::new();
                for id in &nodes {
                    let name = &self.shared.slots[id].name;
                    let was_paused = self.is_paused(*id);
                    lock(&self.shared.pause_gates).remove(id);
                    match self.paused.remove(id) {
                        Some((key, since, _)) if was_paused => {
                            let _ = key.send(());
                            let span = Span::from_millis((self.elapsed - since).as_millis() as u64);
                            parts.push(format!(
                                "{name} after {span} paused (it carries on where it stopped: overdue timers fire now, \
                                 and it acts on what it knew {span} ago until it hears otherwise)"
                            ));
                        }
                        Some(_) if lock(&self.shared.slots[id].hosted).is_none() => {
                            parts.push(format!("{name}: it went down while paused, nothing to resume"))
                        }
                        Some(_) => parts.push(format!("{name}: restarted since its pause, nothing to resume")),
                        None => parts.push(format!("{name}: it was not paused")),
                    }
                }
                if parts.is_empty() {
                    "resume: the target names no node now".to_string()
                } else {
                    format!("resume {}", parts.join("; "))
                }
            }
            Fault::OneWay(a, b) => {
                // A node named on both sides receives: it cannot be cut from itself, and
                // `OneWay([every broker], [Leader(..)])` means "nobody reaches the leader".
                let b = self.resolve_all(b);
                let a: Vec<NodeId> = self.resolve_all(a).into_iter().filter(|n| !b.contains(n)).collect();
                if a.is_empty() || b.is_empty() {
                    "one-way partition: a side names no node now; nothing is cut".to_string()
                } else {
                    lock(&self.shared.cuts).one_way.extend(a.iter().flat_map(|x| b.iter().map(move |y| (*x, *y))));
                    format!(
                        "one-way partition: {} → {} cut; messages the other way still flow",
                        self.describe_nodes(&a),
                        self.describe_nodes(&b)
                    )
                }
            }
            Fault::Reconnect(target) => {
                let nodes = self.resolve(target);
                let touches = |(x, y): &(NodeId, NodeId)| nodes.contains(x) || nodes.contains(y);
                let mut cuts = lock(&self.shared.cuts);
                let cut: Vec<(NodeId, NodeId)> = cuts.both_ways.iter().filter(|l| touches(l)).copied().collect();
                let one_way: Vec<(NodeId, NodeId)> = cuts.one_way.iter().filter(|l| touches(l)).copied().collect();
                let isolated: Vec<NodeId> = nodes.iter().filter(|n| cuts.isolated.contains(n)).copied().collect();
                cuts.both_ways.retain(|l| !touches(l));
                cuts.one_way.retain(|l| !touches(l));
                cuts.isolated.retain(|n| !nodes.contains(n));
                drop(cuts);
                let mut peers: Vec<NodeId> = cut
                    .iter()
                    .chain(&one_way)
                    .flat_map(|(x, y)| [*x, *y])
                    .filter(|n| !nodes.contains(n))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                peers.sort();
                let mut ended = Vec::new();
                if !isolated.is_empty() {
                    ended.push("its isolation ends".to_string());
                }
                if !peers.is_empty() {
                    ended.push(format!("its cuts to {} end", self.describe_nodes(&peers)));
                }
                if ended.is_empty() {
                    format!("reconnect {}: it was not cut off", self.describe_target(target, &nodes))
                } else {
                    format!(
                        "reconnect {} ({}; other cuts stay)",
                        self.describe_target(target, &nodes),
                        ended.join(", ")
                    )
                }
            }
            Fault::Loss { rate, nodes } => match self.degrade(Degradation::Loss { rate: *rate }, nodes) {
                Err(text) => text,
                Ok(_) if *rate <= 0.0 => format!("stop losing packets on {}", self.describe_links(nodes)),
                Ok(_) => format!(
                    "lose {} of packets on {} (each loss costs a TCP retransmission, >= 200 ms, and the \
                     messages behind it on the connection wait)",
                    percent(*rate),
                    self.describe_links(nodes)
                ),
            },
            Fault::Latency { extra, jitter, nodes } => {
                let degradation = Degradation::Latency { extra: extra.as_duration(), jitter: jitter.as_duration() };
                match self.degrade(degradation, nodes) {
                    Err(text) => text,
                    Ok(_) if extra.is_zero() && jitter.is_zero() => {
                        format!("end the added latency on {}", self.describe_links(nodes))
                    }
                    Ok(_) => {
                        let amount = if jitter.is_zero() { format!("{extra}") } else { format!("{extra} ± {jitter}") };
                        format!(
                            "add {amount} of latency on {} (order kept, as on a TCP connection)",
                            self.describe_links(nodes)
                        )
                    }
                }
            }
            Fault::Duplicate { rate, nodes } => match self.degrade(Degradation::Duplicate { rate: *rate }, nodes) {
                Err(text) => text,
                Ok(_) if *rate <= 0.0 => format!("stop breaking connections on {}", self.describe_links(nodes)),
                Ok(_) => format!(
                    "break the connection after {} of requests on {} are delivered (the answer is lost \
                     and the client sends the request again, so the server may see it twice)",
                    percent(*rate),
                    self.describe_links(nodes)
                ),
            },
            Fault::Heal => {
                *lock(&self.shared.cuts) = Cuts::default();
                if lock(&self.shared.net).heal() {
                    "heal the network (packet loss, added latency and connection breaks end too)".to_string()
                } else {
                    "heal the network".to_string()
                }
            }
        };
        let shared = self.shared.clone();
        self.runtime.block_on(async move { shared.record("world", TraceBody::Fault(text)) });
        self.fault_applied();
    }

    /// Restarts the `ConvergesWithin` clock, when the scenario has one, after a fault.
    fn fault_applied(&mut self) {
        if self.convergence.is_some() {
            let (view, topics) = (self.view(), self.group_topics());
            let now_ms = self.elapsed.as_millis() as u64;
            if let Some(c) = self.convergence.as_mut() {
                c.fault_applied(now_ms, &view, &topics);
            }
        }
    }

    /// Samples convergence after the last fault (see [`crate::converge`]).
    fn sample_convergence(&mut self) {
        let now_ms = self.elapsed.as_millis() as u64;
        if self.convergence.as_ref().is_some_and(|c| c.wants_sample(now_ms)) {
            let view = self.view();
            if let Some(c) = self.convergence.as_mut() {
                c.sample(now_ms, &view);
            }
        }
    }

    /// Liveness after the faults, when the scenario expects `ConvergesWithin`.
    pub fn convergence(&self) -> Option<&crate::converge::Convergence> {
        self.convergence.as_ref()
    }

    /// The records from sequence number `from` on, copied.
    ///
    /// # Panics
    /// When the world holds only the needed records ([`World::hold_needed_records`]) and
    /// records before `from` were let go.
    pub fn records_since(&self, from: usize) -> Vec<TraceRecord> {
        lock(&self.shared.trace).records_since(from as u64).to_vec()
    }

    /// Calls `f` with the records from sequence number `from` on, for a reader that reads them
    /// as they come.
    ///
    /// # Panics
    /// As [`World::records_since`].
    pub fn with_records_since<R>(&self, from: usize, f: impl FnOnce(&[TraceRecord]) -> R) -> R {
        f(lock(&self.shared.trace).records_since(from as u64))
    }

    /// From now on, holds only the trace records the end-of-run checks read (see
    /// [`crate::check::RecordNeeds`]) and those not read yet, instead of every record: a long
    /// busy run would otherwise hold gigabytes. With `reader`, the caller reads the records as
    /// they come ([`World::records_since`]) and says how far it has read
    /// ([`World::release_records`]); without, records go once the invariant checker has read
    /// them. The digest, the record count, the clients' history and every check stay the same.
    pub fn hold_needed_records(&mut self, reader: bool) {
        let needs = crate::check::RecordNeeds::of(&self.shared.scenario);
        lock(&self.shared.trace).set_retention(crate::trace::Retention::Needed { reader }, needs);
    }

    /// The reader of [`World::hold_needed_records`] has read every record before sequence number
    /// `upto`; the world may let them go.
    pub fn release_records(&self, upto: usize) {
        lock(&self.shared.trace).reader_read(upto as u64);
    }

    /// Takes every record of the trace out of the world, without copying them; the trace is
    /// empty afterwards (its digest and count start again), so take them only once the run is
    /// over and reported.
    ///
    /// # Panics
    /// When the world holds only the needed records ([`World::hold_needed_records`]).
    pub fn take_records(&self) -> Vec<TraceRecord> {
        std::mem::take(&mut *lock(&self.shared.trace)).into_records()
    }

    /// The simulated time of the record with sequence number `seq`, in milliseconds, even when
    /// the record itself is no longer held; `None` when there is no such record.
    pub fn record_time_ms(&self, seq: u64) -> Option<u64> {
        lock(&self.shared.trace).time_ms_of(seq)
    }

    /// Calls `f` with the clients' history of the whole run so far (see
    /// [`crate::oracle::HistoryBuilder`]).
    pub fn with_history<R>(&self, f: impl FnOnce(&crate::oracle::History) -> R) -> R {
        f(lock(&self.shared.trace).history())
    }

    /// Messages delivered so far: every message a link handed to a running peer's inbox
    /// (counted, not traced; `kafkalab bench` divides it by wall-clock time).
    pub fn messages_delivered(&self) -> u64 {
        self.shared.delivered.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Number of records so far.
    pub fn record_count(&self) -> usize {
        lock(&self.shared.trace).len() as usize
    }

    /// The trace digest so far.
    pub fn digest(&self) -> String {
        lock(&self.shared.trace).digest()
    }

    /// When each consumer group last completed a rebalance, in milliseconds of simulated time.
    pub fn last_rebalance_ms(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.trace).last_rebalance_ms().clone()
    }

    /// Calls `f` with every trace record so far; when the world holds only the needed records
    /// ([`World::hold_needed_records`]), with those the end-of-run checks read.
    pub fn with_records<R>(&self, f: impl FnOnce(&[TraceRecord]) -> R) -> R {
        f(lock(&self.shared.trace).records())
    }

    /// Calls `f` with the log of `tp` on broker `broker`, if that broker is up and hosts it.
    pub fn with_log<R>(
        &self,
        broker: NodeId,
        tp: &TopicPartition,
        f: impl FnOnce(&cluster::log::PartitionLog) -> R,
    ) -> Option<R> {
        let slot = self.shared.slots.get(&broker)?;
        let hosted = lock(&slot.hosted);
        hosted.as_ref()?.broker()?.partition_log(tp).map(f)
    }

    /// Every node as the lab's overview shows it, by node id: kind, whether it is up, down or
    /// paused, and its own metadata-quorum state when it takes part in the quorum.
    pub fn node_views(&self) -> Vec<crate::view::NodeView> {
        let statuses = self.quorum_statuses();
        let voters = self.voters();
        self.shared
            .slots
            .values()
            .filter(|slot| *lock(&slot.started) || lock(&slot.hosted).is_some())
            .map(|slot| {
                let kind = match slot.kind {
                    NodeKind::Broker => "broker",
                    NodeKind::Controller => "controller",
                    NodeKind::Combined => "broker+controller",
                    NodeKind::Producer(_) => "producer",
                    NodeKind::Consumer(_) => "consumer",
                };
                let up = lock(&slot.hosted).is_some();
                let state = if !up {
                    "down"
                } else if self.is_paused(slot.id) {
                    "paused"
                } else {
                    "up"
                };
                let quorum = statuses.iter().find(|s| s.node_id == slot.id).filter(|_| up).map(|s| {
                    crate::view::NodeQuorumState {
                        voter: voters.contains(&slot.id),
                        role: s.role.name().to_string(),
                        epoch: s.epoch,
                        leader_id: s.leader_id.map(|l| l.0),
                        voted_for: s.voted_id.map(|v| v.0),
                        log_end_offset: s.log_end_offset,
                        high_watermark: s.high_watermark,
                    }
                });
                crate::view::NodeView {
                    id: slot.id.0,
                    name: slot.name.clone(),
                    kind: kind.to_string(),
                    state: state.to_string(),
                    quorum,
                }
            })
            .collect()
    }

    /// The faults in force now, in words, one per line: cuts (grouped by the nodes that share
    /// them), one-way cuts, pauses and link degradations. Down nodes are not listed: the node
    /// table shows them.
    pub fn active_faults(&self) -> Vec<String> {
        let mut out = Vec::new();
        let name = |id: &NodeId| self.shared.slots.get(id).map_or_else(|| id.to_string(), |s| s.name.clone());
        let names = |ids: &BTreeSet<NodeId>| ids.iter().map(name).collect::<Vec<_>>().join(", ");
        let cuts = lock(&self.shared.cuts).clone();
        for id in &cuts.isolated {
            out.push(format!("{} isolated from every node", name(id)));
        }
        // Both-way cuts: each node's set of unreachable peers; nodes with the same set share a
        // line, so `Partition([1], [2, 3])` reads as two lines, one per side.
        let mut cut_from: BTreeMap<NodeId, BTreeSet<NodeId>> = BTreeMap::new();
        for (a, b) in &cuts.both_ways {
            cut_from.entry(*a).or_default().insert(*b);
            cut_from.entry(*b).or_default().insert(*a);
        }
        let mut sides: BTreeMap<BTreeSet<NodeId>, BTreeSet<NodeId>> = BTreeMap::new();
        for (node, peers) in cut_from {
            sides.entry(peers).or_default().insert(node);
        }
        let mut shown: BTreeSet<(BTreeSet<NodeId>, BTreeSet<NodeId>)> = BTreeSet::new();
        for (peers, nodes) in &sides {
            // Each split once: `A cut from B`, not also `B cut from A`.
            if shown.contains(&(peers.clone(), nodes.clone())) {
                continue;
            }
            shown.insert((nodes.clone(), peers.clone()));
            out.push(format!("partition: {} | {}", names(nodes), names(peers)));
        }
        let mut one_way: BTreeMap<NodeId, BTreeSet<NodeId>> = BTreeMap::new();
        for (from, to) in &cuts.one_way {
            one_way.entry(*from).or_default().insert(*to);
        }
        for (from, to) in one_way {
            out.push(format!("one-way: {} cannot reach {}", name(&from), names(&to)));
        }
        for (id, (_, since, _)) in &self.paused {
            if self.is_paused(*id) {
                let since = Span::from_millis(since.as_millis() as u64);
                out.push(format!("{} paused since {since}", name(id)));
            }
        }
        let net = lock(&self.shared.net);
        for (degradation, nodes) in net.degradations() {
            let links = if nodes.is_empty() { "every link".to_string() } else { format!("links of {}", names(nodes)) };
            out.push(match degradation {
                crate::net::Degradation::Loss { rate } => format!("packet loss {} on {links}", percent(*rate)),
                crate::net::Degradation::Latency { extra, jitter } => format!(
                    "latency +{} ±{} on {links}",
                    Span::from_millis(extra.as_millis() as u64),
                    Span::from_millis(jitter.as_millis() as u64)
                ),
                crate::net::Degradation::Duplicate { rate } => {
                    format!("connections break after {} of requests on {links}", percent(*rate))
                }
            });
        }
        out
    }

    /// The cluster as Kafka's tools would describe it now.
    pub fn view(&self) -> ClusterView {
        crate::report::build_view(self)
    }

    /// Every slot, by node id.
    pub fn slots(&self) -> &BTreeMap<NodeId, Arc<Slot>> {
        &self.shared.slots
    }

    /// Consumer-group topics by group, from the scenario: the topics the group's consumers
    /// subscribe to and those of the partitions they assign themselves. Consumers without a
    /// group are left out.
    pub fn group_topics(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for client in &self.shared.scenario.clients {
            if let ClientSpec::Consumer(c) = client {
                if !c.group.is_empty() {
                    out.entry(c.group.clone()).or_default().extend(c.read_topics());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host's waits end at each input and at each deadline, on time, whether the deadline
    /// stays where a timer is already set (no second timer), moves earlier, or moves later
    /// (the earlier timer then wakes the task for nothing). A wait that relied on a timer
    /// that is not there would never end, and madsim would stop the run as deadlocked.
    #[test]
    fn armed_timers_end_each_wait_on_time() {
        let runtime = Runtime::with_seed_and_config(3, madsim::Config::default());
        let waits = runtime.block_on(async {
            let time = madsim::time::TimeHandle::current();
            let start = time.now_instant();
            let (tx, mut inbox) = futures::channel::mpsc::unbounded::<Input>();
            let sender = time.clone();
            madsim::task::spawn(async move {
                for at_ms in [2, 4, 6, 15, 30] {
                    sender.sleep_until(start + Duration::from_millis(at_ms)).await;
                    let _ = tx.unbounded_send(Input::Disconnected(NodeId(at_ms as i32)));
                }
                // Dropping `tx` closes the inbox.
            });
            let mut armed = ArmedTimers::default();
            let mut waits = Vec::new();
            // Each wait's deadline in ms from the start: 10 four times over (a timer set once),
            // 20, then 17 (earlier than the timer at 20), then 25 (the timer at 20 fires first,
            // for nothing), then 40 (the inbox closes first).
            for deadline_ms in [10, 10, 10, 10, 20, 17, 25, 40, 40] {
                let deadline = start + Duration::from_millis(deadline_ms);
                let wait = deadline.saturating_duration_since(time.now_instant());
                let what = match armed.wait(&time, wait, &mut inbox).await {
                    Some(Some(Input::Disconnected(from))) => format!("input {}", from.0),
                    Some(Some(_)) => unreachable!("only disconnections are sent"),
                    Some(None) => "closed".to_string(),
                    None => "deadline".to_string(),
                };
                let elapsed = time.now_instant() - start;
                waits.push(format!("{what} at {} ms", elapsed.as_millis()));
                if what == "closed" {
                    break;
                }
            }
            waits
        });
        assert_eq!(
            waits,
            [
                "input 2 at 2 ms",
                "input 4 at 4 ms",
                "input 6 at 6 ms",
                "deadline at 10 ms",
                "input 15 at 15 ms",
                "deadline at 17 ms",
                "deadline at 25 ms",
                "input 30 at 30 ms",
                "closed at 30 ms",
            ]
        );
    }

    /// A link's task gets each packet at its arrival time, in the order sent, whether it was
    /// waiting idle when the packet was sent (the sender sets the timer), busy with an earlier
    /// packet (it sets the timer itself), or the packet is due at once (a close); once the link
    /// is closed it delivers what is queued, then ends. A packet whose timer was never set
    /// would never arrive, and madsim would stop the run as deadlocked.
    #[test]
    fn a_wire_delivers_each_packet_at_its_time_in_order_then_ends() {
        let runtime = Runtime::with_seed_and_config(5, madsim::Config::default());
        let got = runtime.block_on(async {
            let time = madsim::time::TimeHandle::current();
            let start = time.now_instant();
            let ms = |n: u64| start + Duration::from_millis(n);
            let wire = Arc::new(Mutex::new(Wire::default()));
            let queue = NextPacket { wire: wire.clone(), time: time.clone() };
            let reader_time = time.clone();
            let got = Arc::new(Mutex::new(Vec::new()));
            let log = got.clone();
            let task = madsim::task::spawn(async move {
                while let Some(packet) = queue.next().await {
                    let elapsed = reader_time.now_instant() - start;
                    lock(&log).push(format!("packet {} at {} ms", packet.generation, elapsed.as_millis()));
                }
                let elapsed = reader_time.now_instant() - start;
                lock(&log).push(format!("ended at {} ms", elapsed.as_millis()));
            });
            let link = Link { wire, task };
            let packet = |tag: u64, at| Packet { at, generation: tag, incarnation: None, message: None, breaks: false };
            // The task is idle: the sender sets the timer for packet 1; packets 2 and 3 queue
            // behind it, 3 due at the same moment as 2.
            time.sleep_until(ms(1)).await;
            link.send(&time, packet(1, ms(5)));
            link.send(&time, packet(2, ms(8)));
            time.sleep_until(ms(3)).await;
            link.send(&time, packet(3, ms(8)));
            // Idle again: a packet due now is taken at once, then one 10 ms ahead.
            time.sleep_until(ms(20)).await;
            link.send(&time, packet(4, ms(20)));
            link.send(&time, packet(5, ms(30)));
            // Closed with packet 5 still on its way: it arrives, then the task ends.
            time.sleep_until(ms(22)).await;
            link.close();
            link.task.await.expect("the link's task is not cancelled");
            let got = lock(&got).clone();
            got
        });
        assert_eq!(
            got,
            [
                "packet 1 at 5 ms",
                "packet 2 at 8 ms",
                "packet 3 at 8 ms",
                "packet 4 at 20 ms",
                "packet 5 at 30 ms",
                "ended at 30 ms",
            ]
        );
    }

    /// A finished run frees its logs, disks, trace and history when its world is dropped,
    /// though madsim keeps the tasks of nodes that were crashed, restarted and paused (so
    /// that a swarm's memory stays flat however many seeds it runs).
    #[test]
    fn a_dropped_world_frees_its_shared_state() {
        let text = include_str!("../../scenarios/bench/faults.ron");
        let scenario = crate::scenario::parse_str(text, "scenarios/bench/faults.ron").expect("the benchmark loads");
        std::thread::spawn(move || {
            let mut world = World::new(scenario, 7);
            world.run_to_end();
            let shared = Arc::downgrade(&world.shared);
            assert!(shared.strong_count() > 1, "the nodes' tasks hold the shared state while the world lives");
            drop(world);
            assert_eq!(shared.strong_count(), 0, "nothing holds the shared state once the world is gone");
        })
        .join()
        .expect("the run and the checks pass");
    }

    /// The step that reaches the end lets the invariant checkers drop their histories, so a
    /// step past the end would check against nothing: it panics instead.
    #[test]
    fn the_last_step_finishes_the_checkers_and_a_finished_world_does_not_step() {
        let text = include_str!("../../scenarios/01-first-cluster.ron");
        let scenario = crate::scenario::parse_str(text, "scenarios/01-first-cluster.ron").expect("the scenario loads");
        std::thread::spawn(move || {
            let mut world = World::new(scenario, 1);
            while world.elapsed() + QUANTUM < world.duration() {
                world.step();
            }
            assert!(!lock(&world.shared.checker).is_finished(), "one quantum to go");
            world.step();
            assert!(world.finished() && lock(&world.shared.checker).is_finished());
            let past = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| world.step()));
            let message = past.expect_err("a step past the end panics");
            let text = message
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| message.downcast_ref::<&str>().map(|s| s.to_string()));
            assert!(text.is_some_and(|t| t.contains("after the run ended")));
        })
        .join()
        .expect("the run and the checks pass");
    }
}
