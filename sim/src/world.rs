//! The simulated world: one madsim node per broker, controller and client, each hosting a
//! sans-IO state machine from the `cluster` crate; a per-node disk; the network; faults; and a
//! supervisor that advances simulated time in fixed quanta.
//!
//! A fixed quantum keeps runs identical whether the TUI, CI or a replay drives them: faults and
//! narration fire at quantum boundaries, and front ends only ever observe between quanta.

use crate::disk::SimDisk;
use crate::scenario::{ClientSpec, Fault, KeySpec, Scenario, Target};
use crate::trace::{Trace, TraceBody, TraceRecord};
use crate::view::ClusterView;
use cluster::broker::{Broker, BrokerSetup, OFFSETS_TOPIC};
use cluster::config::{effective_min_insync_replicas, BrokerConfig, ConsumerConfig, ProducerConfig, TopicConfig};
use cluster::consumer::{Consumer, ConsumerSetup};
use cluster::controller::{Controller, TopicToCreate};
use cluster::event::Event;
use cluster::ids::{NodeId, TopicPartition};
use cluster::node::{node_rng, Effect, Node};
use cluster::producer::{KeyChoice, Producer, ProducerSetup, ScriptedSend};
use cluster::protocol::Message;
use cluster::time::Instant;
use core::time::Duration;
use futures::StreamExt;
use madsim::net::Endpoint;
use madsim::runtime::Runtime;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

/// Simulated time between supervisor boundaries.
pub const QUANTUM: Duration = Duration::from_millis(10);
/// The port every node listens on.
const PORT: u16 = 9092;
/// The madsim message tag for cluster messages.
const TAG: u64 = 0x6b61_666b;
/// How long a connection attempt to a node whose process is down takes to be refused, and so
/// how often a client can retry one (Kafka's `reconnect.backoff.ms`, 50).
const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);

/// The state machine a node hosts.
pub enum Hosted {
    /// A broker.
    Broker(Box<Broker>),
    /// The controller.
    Controller(Controller),
    /// A producer client.
    Producer(Producer),
    /// A consumer client.
    Consumer(Consumer),
}

impl Hosted {
    fn node(&mut self) -> &mut dyn Node {
        match self {
            Hosted::Broker(n) => n.as_mut(),
            Hosted::Controller(n) => n,
            Hosted::Producer(n) => n,
            Hosted::Consumer(n) => n,
        }
    }
}

/// An input for a node's host loop, besides timeouts.
enum Input {
    /// A message from another node.
    Message(NodeId, Message),
    /// The connection to this node closed because its process died.
    Disconnected(NodeId),
}

/// What kind of node a slot holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// Broker `node.id`.
    Broker,
    /// The controller.
    Controller,
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
}

struct Shared {
    seed: u64,
    scenario: Scenario,
    start: madsim::time::Instant,
    slots: BTreeMap<NodeId, Arc<Slot>>,
    addresses: BTreeMap<IpAddr, NodeId>,
    trace: Mutex<Trace>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a node panicked, which already aborts the run with its message.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The simulated network address of node `id`: `10.0.x.y` from its id.
pub fn ip_of(id: NodeId) -> IpAddr {
    let n = id.0 as u32;
    IpAddr::V4(Ipv4Addr::new(10, (n >> 16) as u8, (n >> 8) as u8, n as u8))
}

impl Shared {
    fn now(&self) -> Instant {
        let elapsed = madsim::time::Instant::now().duration_since(self.start);
        Instant::from_nanos(elapsed.as_nanos() as u64)
    }

    fn record(&self, node: &str, body: TraceBody) {
        let now = self.now();
        lock(&self.trace).push(now.as_nanos(), node.to_string(), body);
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
        let broker_config = BrokerConfig::from_map(&scenario.cluster.configs).expect("validated scenario");
        let brokers: Vec<NodeId> = (1..=scenario.cluster.brokers).map(NodeId).collect();
        match &slot.kind {
            NodeKind::Broker => {
                let files = lock(&slot.disk).snapshot();
                Hosted::Broker(Box::new(Broker::new(
                    now,
                    BrokerSetup { id: slot.id, incarnation, config: broker_config, rng, files },
                )))
            }
            NodeKind::Controller => {
                let recovered = lock(&slot.disk).metadata.clone();
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
                                &broker_config,
                                &topic_config,
                                t.replication_factor,
                            ),
                            internal: false,
                            configs: topic_config.log_overrides.clone(),
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
                        min_insync_replicas: effective_min_insync_replicas(&broker_config, &TopicConfig::default(), rf),
                        internal: true,
                        configs: offsets_topic_configs(),
                    });
                }
                Hosted::Controller(Controller::new(now, broker_config, rng, brokers, topics, recovered))
            }
            NodeKind::Producer(index) => {
                let ClientSpec::Producer(spec) = &scenario.clients[*index] else { unreachable!() };
                let config = ProducerConfig::from_map(&spec.configs).expect("validated scenario");
                let first_sequence = lock(&slot.disk).client_sequence;
                Hosted::Producer(Producer::new(
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
                            })
                            .collect(),
                        start: Instant::from_millis(spec.start.0),
                        bootstrap: brokers,
                        first_sequence,
                    },
                ))
            }
            NodeKind::Consumer(index) => {
                let ClientSpec::Consumer(spec) = &scenario.clients[*index] else { unreachable!() };
                let config = ConsumerConfig::from_map(&spec.configs).expect("validated scenario");
                Hosted::Consumer(Consumer::new(
                    now,
                    ConsumerSetup {
                        id: slot.id,
                        client_id: spec.id.clone(),
                        group_id: spec.group.clone(),
                        topics: spec.topics.clone(),
                        config,
                        start: Instant::from_millis(spec.start.0),
                        bootstrap: brokers,
                    },
                ))
            }
        }
    }

    /// Runs one input through a node and executes what it asks for. Returns the messages to
    /// send (sent by the caller, outside the lock).
    fn step_node(&self, slot: &Slot, input: Option<Input>) -> Vec<(NodeId, Message)> {
        let now = self.now();
        let mut hosted = lock(&slot.hosted);
        let Some(hosted) = hosted.as_mut() else { return Vec::new() };
        let node = hosted.node();
        match input {
            Some(Input::Message(from, message)) => node.handle_message(now, from, message),
            Some(Input::Disconnected(peer)) => node.handle_disconnect(now, peer),
            None => node.handle_timeout(now),
        }
        let mut outgoing = Vec::new();
        while let Some(effect) = node.poll_effect() {
            match effect {
                Effect::Send { to, message } => outgoing.push((to, message)),
                Effect::Disk(op) => lock(&slot.disk).apply(op),
            }
        }
        while let Some(event) = node.poll_event() {
            if let Event::SendInvoked { .. } = &event {
                lock(&slot.disk).client_sequence += 1;
            }
            self.record(&slot.name, TraceBody::Event(event));
        }
        outgoing
    }
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
    let addr = SocketAddr::new(ip_of(slot.id), PORT);
    let endpoint = Arc::new(Endpoint::bind(addr).await.expect("each node binds its own address"));
    let hosted = shared.boot(&slot);
    *lock(&slot.hosted) = Some(hosted);
    // A separate receiving task feeds an inbox, so a timer firing never drops a message.
    let (tx, mut inbox) = futures::channel::mpsc::unbounded::<Input>();
    *lock(&slot.inbox) = Some(tx.clone());
    let receiver = endpoint.clone();
    let addresses = shared.addresses.clone();
    let inbox_tx = tx.clone();
    madsim::task::spawn(async move {
        let tx = inbox_tx;
        while let Ok((payload, from)) = receiver.recv_from_raw(TAG).await {
            let Ok(message) = payload.downcast::<Message>() else { continue };
            let Some(sender) = addresses.get(&from.ip()) else { continue };
            if tx.unbounded_send(Input::Message(*sender, *message)).is_err() {
                break;
            }
        }
    });
    let mut input = None;
    loop {
        let outgoing = shared.step_node(&slot, input.take());
        for (to, message) in outgoing {
            if shared.slots.get(&to).is_some_and(|s| *lock(&s.down)) {
                // Nothing listens on a dead process's port: the connection is refused, which
                // the sender learns after a reconnect backoff.
                let refused = tx.clone();
                madsim::task::spawn(async move {
                    madsim::time::sleep(RECONNECT_BACKOFF).await;
                    let _ = refused.unbounded_send(Input::Disconnected(to));
                });
                continue;
            }
            let dst = SocketAddr::new(ip_of(to), PORT);
            // Sends to a crashed or cut-off node vanish, as datagrams to a dead host do.
            let _ = endpoint.send_to_raw(dst, TAG, Box::new(message)).await;
        }
        let next = {
            let mut guard = lock(&slot.hosted);
            guard.as_mut().and_then(|h| h.node().poll_deadline())
        };
        let now = shared.now();
        input = match next {
            Some(deadline) => {
                // madsim timers fire at least 1 ms ahead; a deadline already due is served at
                // the next millisecond.
                let wait = Duration::from_nanos(deadline.as_nanos().saturating_sub(now.as_nanos()));
                match madsim::time::timeout(wait, inbox.next()).await {
                    Ok(Some(message)) => Some(message),
                    Ok(None) => return,
                    Err(_) => None,
                }
            }
            None => match inbox.next().await {
                Some(message) => Some(message),
                None => return,
            },
        };
    }
}

/// A run in progress. Create it on a fresh thread (see [`crate::run`]): std's hash seeds are
/// per thread, and madsim makes them deterministic only for a thread that starts inside it.
pub struct World {
    runtime: Runtime,
    shared: Arc<Shared>,
    duration: Duration,
    faults: Vec<(u64, Fault)>,
    narration: Vec<(u64, String)>,
    next_fault: usize,
    next_narration: usize,
    /// The nodes the most recent `Crash`, `Kill` or `PowerLoss` took down (`LastCrashed`).
    last_crash: Vec<NodeId>,
    /// Decides torn writes; seeded from the run seed, used only at fault boundaries.
    disk_rng: rand_chacha::ChaCha8Rng,
    clogged: BTreeSet<(NodeId, NodeId)>,
    isolated: BTreeSet<NodeId>,
    elapsed: Duration,
}

impl World {
    /// Builds the world for `scenario` with `seed` and starts every node at time zero.
    pub fn new(scenario: Scenario, seed: u64) -> World {
        let mut config = madsim::Config::default();
        // The default 1–10 ms one-way latency of madsim's network is kept.
        config.net.packet_loss_rate = 0.0;
        let runtime = Runtime::with_seed_and_config(seed, config);
        let start = runtime.block_on(async { madsim::time::Instant::now() });
        let mut slots = BTreeMap::new();
        let mut add = |id: NodeId, kind: NodeKind, name: String| {
            slots.insert(
                id,
                Arc::new(Slot {
                    id,
                    kind,
                    name,
                    hosted: Mutex::new(None),
                    disk: Mutex::new(SimDisk::default()),
                    incarnation: Mutex::new(0),
                    madsim_id: Mutex::new(None),
                    inbox: Mutex::new(None),
                    down: Mutex::new(false),
                }),
            );
        };
        add(NodeId::CONTROLLER, NodeKind::Controller, "controller".into());
        for b in 1..=scenario.cluster.brokers {
            add(NodeId(b), NodeKind::Broker, format!("broker {b}"));
        }
        for (i, client) in scenario.clients.iter().enumerate() {
            let id = NodeId(NodeId::FIRST_CLIENT.0 + i as i32);
            match client {
                ClientSpec::Producer(p) => add(id, NodeKind::Producer(i), p.id.clone()),
                ClientSpec::Consumer(c) => add(id, NodeKind::Consumer(i), c.id.clone()),
            }
        }
        let addresses = slots.keys().map(|id| (ip_of(*id), *id)).collect();
        let mut faults: Vec<(u64, Fault)> = scenario.faults.iter().map(|f| (f.at().0, f.value().clone())).collect();
        faults.sort_by_key(|f| f.0);
        let mut narration: Vec<(u64, String)> =
            scenario.narration.iter().map(|n| (n.at().0, n.value().clone())).collect();
        narration.sort_by_key(|n| n.0);
        let duration = Duration::from_millis(scenario.duration.0);
        let shared = Arc::new(Shared { seed, scenario, start, slots, addresses, trace: Mutex::new(Trace::default()) });
        for slot in shared.slots.values() {
            let (s, sl) = (shared.clone(), slot.clone());
            let node = runtime
                .create_node()
                .name(slot.name.clone())
                .ip(ip_of(slot.id))
                .init(move || host(s.clone(), sl.clone()))
                .build();
            *lock(&slot.madsim_id) = Some(node.id());
        }
        World {
            runtime,
            shared,
            duration,
            faults,
            narration,
            next_fault: 0,
            next_narration: 0,
            last_crash: Vec::new(),
            disk_rng: {
                use rand::SeedableRng;
                rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x6469_736b)
            },
            clogged: BTreeSet::new(),
            isolated: BTreeSet::new(),
            elapsed: Duration::ZERO,
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
    /// nodes run for [`QUANTUM`] of simulated time.
    pub fn step(&mut self) {
        let now_ms = self.elapsed.as_millis() as u64;
        while self.next_narration < self.narration.len() && self.narration[self.next_narration].0 <= now_ms {
            let text = self.narration[self.next_narration].1.clone();
            self.runtime.block_on(async { self.shared.record("world", TraceBody::Narration(text)) });
            self.next_narration += 1;
        }
        while self.next_fault < self.faults.len() && self.faults[self.next_fault].0 <= now_ms {
            let fault = self.faults[self.next_fault].1.clone();
            self.next_fault += 1;
            self.apply_fault(&fault);
        }
        self.runtime.block_on(async { madsim::time::sleep(QUANTUM).await });
        self.elapsed += QUANTUM;
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
            Target::Broker(b) => vec![NodeId(*b)],
            Target::Controller => vec![NodeId::CONTROLLER],
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
            Target::LastCrashed => self.last_crash.clone(),
        }
    }

    fn describe_nodes(&self, nodes: &[NodeId]) -> String {
        nodes.iter().map(|n| self.shared.slots[n].name.clone()).collect::<Vec<_>>().join(", ")
    }

    /// Stops `nodes` at once. With `lose_page_cache` each loses its unflushed bytes (the last
    /// write perhaps torn); without, the machine stays up and a restarted process finds every
    /// byte its predecessor wrote. With `reset_connections` (a crash: the machine's kernel resets the dead
    /// process's sockets), live peers see their connections close now; after a power loss
    /// nothing tells them, and only timeouts do. Returns a description of the lost bytes.
    fn take_down(&mut self, nodes: &[NodeId], reset_connections: bool, lose_page_cache: bool) -> String {
        let handle = self.runtime.handle().clone();
        let mut parts = Vec::new();
        for id in nodes {
            let slot = &self.shared.slots[id];
            if lock(&slot.hosted).is_none() {
                continue;
            }
            handle.kill(self.madsim_id(*id));
            *lock(&slot.hosted) = None;
            *lock(&slot.inbox) = None;
            *lock(&slot.down) = true;
            if lose_page_cache {
                let loss = lock(&slot.disk).lose_unflushed(&mut self.disk_rng, true);
                if loss.bytes_lost > 0 {
                    parts.push(format!("{}: {}", slot.name, loss.describe()));
                }
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
                        handle.restart(self.madsim_id(*id));
                    }
                }
                format!("restart {}", self.describe_nodes(&nodes))
            }
            Fault::Partition(a, b) => {
                let a: Vec<NodeId> = a.iter().flat_map(|t| self.resolve(t)).collect();
                // A node named on both sides stays on the first: it cannot be cut from itself.
                let b: Vec<NodeId> = b.iter().flat_map(|t| self.resolve(t)).filter(|n| !a.contains(n)).collect();
                self.runtime.block_on(async {
                    let net = madsim::net::NetSim::current();
                    for x in &a {
                        for y in &b {
                            if x != y {
                                net.clog_link(self.madsim_id(*x), self.madsim_id(*y));
                                net.clog_link(self.madsim_id(*y), self.madsim_id(*x));
                            }
                        }
                    }
                });
                for x in &a {
                    for y in &b {
                        if x != y {
                            self.clogged.insert((*x, *y));
                        }
                    }
                }
                format!("network partition [{}] | [{}]", self.describe_nodes(&a), self.describe_nodes(&b))
            }
            Fault::Isolate(target) => {
                let nodes = self.resolve(target);
                self.runtime.block_on(async {
                    let net = madsim::net::NetSim::current();
                    for id in &nodes {
                        net.clog_node(self.madsim_id(*id));
                    }
                });
                self.isolated.extend(nodes.iter().copied());
                format!("isolate {}", self.describe_nodes(&nodes))
            }
            Fault::Heal => {
                let clogged = std::mem::take(&mut self.clogged);
                let isolated = std::mem::take(&mut self.isolated);
                self.runtime.block_on(async {
                    let net = madsim::net::NetSim::current();
                    for (x, y) in &clogged {
                        net.unclog_link(self.madsim_id(*x), self.madsim_id(*y));
                        net.unclog_link(self.madsim_id(*y), self.madsim_id(*x));
                    }
                    for id in &isolated {
                        net.unclog_node(self.madsim_id(*id));
                    }
                });
                "heal the network".to_string()
            }
        };
        let shared = self.shared.clone();
        self.runtime.block_on(async move { shared.record("world", TraceBody::Fault(text)) });
    }

    /// Records so far.
    pub fn records_since(&self, from: usize) -> Vec<TraceRecord> {
        lock(&self.shared.trace).records()[from..].to_vec()
    }

    /// Number of records so far.
    pub fn record_count(&self) -> usize {
        lock(&self.shared.trace).records().len()
    }

    /// The trace digest so far.
    pub fn digest(&self) -> String {
        lock(&self.shared.trace).digest()
    }

    /// Calls `f` with every record so far.
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
        match hosted.as_ref()? {
            Hosted::Broker(b) => b.partition_log(tp).map(f),
            _ => None,
        }
    }

    /// The cluster as Kafka's tools would describe it now.
    pub fn view(&self) -> ClusterView {
        crate::report::build_view(self)
    }

    /// Every slot, by node id.
    pub fn slots(&self) -> &BTreeMap<NodeId, Arc<Slot>> {
        &self.shared.slots
    }

    /// Consumer-group topics by group, from the scenario.
    pub fn group_topics(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for client in &self.shared.scenario.clients {
            if let ClientSpec::Consumer(c) = client {
                out.entry(c.group.clone()).or_default().extend(c.topics.iter().cloned());
            }
        }
        out
    }
}
