//! The network's degradation faults, decided message by message: packet loss, extra latency and
//! broken connections (the `Loss`, `Latency` and `Duplicate` faults), and the in-order delivery
//! of every connection.
//!
//! Kafka runs on TCP, and TCP never loses, duplicates or reorders bytes on a live connection.
//! So the faults here are what a damaged network looks like *through* TCP:
//!
//! - a lost packet costs a retransmission: the message arrives one retransmission timeout
//!   later (200 ms at least, doubling each time the retransmission is lost too), and the
//!   messages behind it on the connection wait for it (head-of-line blocking). Its
//!   retransmissions are drawn when it is sent, so a back-off under way when the loss ends
//!   runs its course (real TCP would get through at its next retransmission);
//! - extra latency delays every message on the link, and order is kept;
//! - a "duplicate" is the ambiguous failure behind every duplicate Kafka write: a request is
//!   delivered, then the connection breaks before the answer gets back. The answer is lost with
//!   the connection, both ends see it close, and the client sends the request again.
//!
//! [`Net`] is a plain struct with no I/O: `world::host` asks it, for each message it sends, when
//! to hand the message to madsim (or whether to break the connection), passing madsim's
//! deterministic RNG. With no fault active it draws nothing, so runs without these faults are
//! the same as before they existed.

use cluster::ids::NodeId;
use cluster::protocol::Message;
use core::time::Duration;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};

/// The smallest TCP retransmission timeout: Linux's `TCP_RTO_MIN` (200 ms,
/// `include/net/tcp.h`). Round trips in the simulated network are 2–20 ms, so the timeout
/// computed from them (RFC 6298: SRTT + 4·RTTVAR) is always below it.
pub const RTO_MIN: Duration = Duration::from_millis(200);
/// The largest retransmission timeout: Linux's `TCP_RTO_MAX` (120 s). Each lost retransmission
/// doubles the timeout up to this (RFC 6298 §5.5).
pub const RTO_MAX: Duration = Duration::from_secs(120);
/// How many times a segment is retransmitted before the connection is given up: Linux's
/// `net.ipv4.tcp_retries2` default (15, about 15 minutes with [`RTO_MIN`]).
pub const TCP_RETRIES2: u32 = 15;
/// The spacing of two messages on one link whose latencies would reorder them: the later one is
/// delivered this long after the earlier. Order itself is kept by the link's queue in
/// `world::host`, which hands messages over one at a time; the gap only keeps delivery times
/// distinct.
pub const ORDER_GAP: Duration = Duration::from_nanos(1);

/// One way a link is degraded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Degradation {
    /// Each message's first transmission is lost with this probability (0 to 1).
    Loss {
        /// Probability that a transmission is lost.
        rate: f64,
    },
    /// Each message takes `extra` more, plus or minus up to `jitter` (uniform), never less than
    /// the base latency.
    Latency {
        /// Added one-way delay.
        extra: Duration,
        /// Largest deviation from `extra`, either way.
        jitter: Duration,
    },
    /// Each request's connection breaks just after the request is delivered, with this
    /// probability (0 to 1).
    Duplicate {
        /// Probability that a delivered request's connection breaks before the answer.
        rate: f64,
    },
}

impl Degradation {
    /// Whether it changes nothing (a zero rate or no added delay): setting it removes the rule.
    pub fn is_noop(&self) -> bool {
        match *self {
            Degradation::Loss { rate } | Degradation::Duplicate { rate } => rate <= 0.0 || rate.is_nan(),
            Degradation::Latency { extra, jitter } => extra.is_zero() && jitter.is_zero(),
        }
    }

    fn same_kind(&self, other: &Degradation) -> bool {
        core::mem::discriminant(self) == core::mem::discriminant(other)
    }
}

/// A degradation and the links it applies to.
#[derive(Clone, Debug, PartialEq)]
struct Rule {
    degradation: Degradation,
    /// Links touching any of these nodes; every link when empty.
    nodes: BTreeSet<NodeId>,
}

impl Rule {
    fn applies(&self, from: NodeId, to: NodeId) -> bool {
        self.nodes.is_empty() || self.nodes.contains(&from) || self.nodes.contains(&to)
    }
}

/// What the network needs to know about a message: which request it is or answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// The request's API name ([`Message::request_api_name`]).
    pub api: &'static str,
    /// The request's correlation id.
    pub correlation_id: u64,
    /// Whether the message is the response.
    pub response: bool,
    /// Whether a request gets a response at all (not a `Produce` with `acks=0`).
    pub answered: bool,
}

impl Exchange {
    /// The exchange `message` belongs to.
    pub fn of(message: &Message) -> Exchange {
        Exchange {
            api: message.request_api_name(),
            correlation_id: message.correlation_id(),
            response: message.is_response(),
            answered: !matches!(message, Message::Produce { acks: 0, .. }),
        }
    }
}

/// What to do with one message, from [`Net::decide`]. Times are since the start of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Hand the message to the network at `at`, if its connection is still `generation` then.
    Deliver {
        /// When.
        at: Duration,
        /// The connection it travels on ([`Net::generation`]).
        generation: u64,
    },
    /// Deliver the request at `at`, then break the connection ([`Net::break_connection`]):
    /// both ends see it close, and its answer will never be sent (`Duplicate`).
    DeliverThenBreak {
        /// When.
        at: Duration,
        /// The connection it travels on.
        generation: u64,
    },
    /// Never deliver it: every retransmission was lost and TCP gives up on the connection at
    /// `at`, which both ends then see close (`Loss` at [`TCP_RETRIES2`] consecutive losses).
    Break {
        /// When the connection times out.
        at: Duration,
        /// The connection it travels on.
        generation: u64,
    },
    /// Never send it: it answers a request whose connection has broken since, and a broken
    /// connection's answers go nowhere (Kafka drops them with the socket).
    Drop,
}

/// The degradation faults in force, the order of every link, and which connections broke.
#[derive(Clone, Debug, Default)]
pub struct Net {
    rules: Vec<Rule>,
    /// When the last message on each directed link (from, to) is delivered.
    links: BTreeMap<(NodeId, NodeId), Duration>,
    /// Connections broken so far per node pair (lower id first): a message sent on an earlier
    /// connection is not delivered.
    generations: BTreeMap<(NodeId, NodeId), u64>,
    /// Requests sent while a rule applied to their link, by (requester, responder, API,
    /// correlation id), with the connection they went out on. Their answers are dropped when
    /// that connection has broken since.
    requests: BTreeMap<(NodeId, NodeId, &'static str, u64), u64>,
}

impl Net {
    /// A healthy network.
    pub fn new() -> Net {
        Net::default()
    }

    /// Degrades the links touching `nodes` (every link when empty). It replaces an earlier
    /// degradation of the same kind on exactly the same nodes, so a zero rate or latency turns
    /// one off; degradations on different node sets add up on the links they share.
    pub fn degrade(&mut self, degradation: Degradation, nodes: impl IntoIterator<Item = NodeId>) {
        let nodes: BTreeSet<NodeId> = nodes.into_iter().collect();
        self.rules.retain(|r| !(r.degradation.same_kind(&degradation) && r.nodes == nodes));
        if !degradation.is_noop() {
            self.rules.push(Rule { degradation, nodes });
        }
    }

    /// The degradations in force, each with the nodes whose links it touches (every link when
    /// the set is empty), in the order they were applied.
    pub fn degradations(&self) -> impl Iterator<Item = (&Degradation, &BTreeSet<NodeId>)> + '_ {
        self.rules.iter().map(|r| (&r.degradation, &r.nodes))
    }

    /// Ends every degradation (`Heal`); returns whether there was any. Connections that broke
    /// stay broken, so answers owed on them are still dropped.
    pub fn heal(&mut self) -> bool {
        let any = !self.rules.is_empty();
        self.rules.clear();
        any
    }

    /// Whether any degradation is in force.
    pub fn is_degraded(&self) -> bool {
        !self.rules.is_empty()
    }

    /// A node's process (re)started: its new connections owe nothing to the old process's
    /// messages, so its links start afresh.
    pub fn node_started(&mut self, node: NodeId) {
        self.links.retain(|(from, _), _| *from != node);
        // Its requests, and the ones it was asked, belonged to the old process; the new one
        // numbers its correlation ids from the start again, and an old entry would drop the
        // answer to a new request that happens to reuse one.
        self.requests.retain(|(requester, responder, ..), _| *requester != node && *responder != node);
    }

    /// The current connection between `a` and `b` (either order): 0 until it first breaks.
    pub fn generation(&self, a: NodeId, b: NodeId) -> u64 {
        self.generations.get(&pair(a, b)).copied().unwrap_or(0)
    }

    /// Breaks the connection between `a` and `b`: messages still on their way on it are lost
    /// and answers owed on it are never sent. The next message opens a new one.
    pub fn break_connection(&mut self, a: NodeId, b: NodeId) {
        *self.generations.entry(pair(a, b)).or_insert(0) += 1;
        self.links.remove(&(a, b));
        self.links.remove(&(b, a));
    }

    /// Decides the fate of a message `from` → `to` sent at `now` (since the start of the run),
    /// whose healthy one-way latency was drawn as `base_latency`. Draws from `rng` only for the
    /// degradations that apply to the link, in a fixed order (loss, latency, duplicate), and
    /// none when a rate is 0.
    pub fn decide(
        &mut self,
        from: NodeId,
        to: NodeId,
        now: Duration,
        base_latency: Duration,
        exchange: Exchange,
        rng: &mut impl Rng,
    ) -> Delivery {
        let generation = self.generation(from, to);
        if exchange.response && !self.requests.is_empty() {
            let key = (to, from, exchange.api, exchange.correlation_id);
            if self.requests.remove(&key).is_some_and(|sent_on| sent_on != generation) {
                return Delivery::Drop;
            }
        }
        let (mut loss, mut extra, mut jitter, mut duplicate) = (0.0_f64, Duration::ZERO, Duration::ZERO, 0.0_f64);
        let mut degraded = false;
        for rule in self.rules.iter().filter(|r| r.applies(from, to)) {
            degraded = true;
            // Independent degradations of one link combine: a message gets through only if
            // every one of them lets it.
            match rule.degradation {
                Degradation::Loss { rate } => loss = 1.0 - (1.0 - loss) * (1.0 - rate.clamp(0.0, 1.0)),
                Degradation::Latency { extra: e, jitter: j } => {
                    extra += e;
                    jitter += j;
                }
                Degradation::Duplicate { rate } => duplicate = 1.0 - (1.0 - duplicate) * (1.0 - rate.clamp(0.0, 1.0)),
            }
        }
        let mut at = now + base_latency;
        let mut gives_up = false;
        if loss > 0.0 {
            // Each lost transmission waits one retransmission timeout, which doubles each time
            // (Karn's algorithm and RFC 6298's back-off); after `tcp_retries2` losses in a row
            // TCP gives up and the connection breaks.
            let mut rto = RTO_MIN;
            let mut retransmissions = 0;
            while rng.gen_bool(loss) {
                at += rto;
                if retransmissions == TCP_RETRIES2 {
                    gives_up = true;
                    break;
                }
                retransmissions += 1;
                rto = (rto * 2).min(RTO_MAX);
            }
        }
        if !extra.is_zero() || !jitter.is_zero() {
            let deviation = if jitter.is_zero() { Duration::ZERO } else { rng.gen_range(Duration::ZERO..=jitter * 2) };
            // extra ± jitter, never making the message faster than the healthy network.
            at += (extra + deviation).saturating_sub(jitter);
        }
        if let Some(previous) = self.links.get(&(from, to)) {
            // One connection delivers in order: a message waits for the one before it.
            at = at.max(*previous + ORDER_GAP);
        }
        self.links.insert((from, to), at);
        // Only requests that will be answered: an `acks=0` produce request would wait for its
        // answer here forever.
        if degraded && !exchange.response && exchange.answered {
            self.requests.insert((from, to, exchange.api, exchange.correlation_id), generation);
        }
        if gives_up {
            return Delivery::Break { at, generation };
        }
        if duplicate > 0.0 && !exchange.response && rng.gen_bool(duplicate) {
            return Delivery::DeliverThenBreak { at, generation };
        }
        Delivery::Deliver { at, generation }
    }
}

fn pair(a: NodeId, b: NodeId) -> (NodeId, NodeId) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// The network partitions in force (`Partition`, `Isolate`, `OneWay`): which directed links
/// carry nothing for now. A message due on a cut link waits for TCP's next retransmission
/// (`world::host`'s link queue), and TCP gives up on the connection after [`TCP_RETRIES2`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cuts {
    /// Node pairs cut both ways (`Partition`), each stored as given.
    pub both_ways: BTreeSet<(NodeId, NodeId)>,
    /// Directed cuts (`OneWay`): (from, to) messages are held, the other way flows.
    pub one_way: BTreeSet<(NodeId, NodeId)>,
    /// Nodes cut from everyone (`Isolate`).
    pub isolated: BTreeSet<NodeId>,
}

impl Cuts {
    /// Whether the link `from` → `to` is cut now.
    pub fn blocks(&self, from: NodeId, to: NodeId) -> bool {
        self.isolated.contains(&from)
            || self.isolated.contains(&to)
            || self.both_ways.contains(&(from, to))
            || self.both_ways.contains(&(to, from))
            || self.one_way.contains(&(from, to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const A: NodeId = NodeId(1);
    const B: NodeId = NodeId(2);
    const C: NodeId = NodeId(3);
    const CLIENT: NodeId = NodeId(5000);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn rng() -> rand_chacha::ChaCha8Rng {
        rand_chacha::ChaCha8Rng::seed_from_u64(7)
    }

    fn request(correlation_id: u64) -> Exchange {
        Exchange { api: "Produce", correlation_id, response: false, answered: true }
    }

    fn response(correlation_id: u64) -> Exchange {
        Exchange { api: "Produce", correlation_id, response: true, answered: true }
    }

    fn at(delivery: Delivery) -> Duration {
        match delivery {
            Delivery::Deliver { at, .. } | Delivery::DeliverThenBreak { at, .. } | Delivery::Break { at, .. } => at,
            Delivery::Drop => panic!("dropped"),
        }
    }

    #[test]
    fn a_healthy_link_draws_nothing_and_keeps_order() {
        let mut net = Net::new();
        let mut r = rng();
        let before = r.clone();
        // The second message drew a shorter latency: it waits for the first.
        assert_eq!(net.decide(A, B, ms(0), ms(9), request(1), &mut r), Delivery::Deliver { at: ms(9), generation: 0 });
        assert_eq!(
            net.decide(A, B, ms(1), ms(2), request(2), &mut r),
            Delivery::Deliver { at: ms(9) + ORDER_GAP, generation: 0 }
        );
        // Other links are independent.
        assert_eq!(at(net.decide(B, A, ms(1), ms(2), response(1), &mut r)), ms(3));
        assert_eq!(r, before, "no degradation, no draws: runs without these faults are unchanged");
    }

    #[test]
    fn a_zero_rate_changes_nothing() {
        let mut healthy = Net::new();
        let mut degraded = Net::new();
        degraded.degrade(Degradation::Loss { rate: 0.0 }, []);
        degraded.degrade(Degradation::Duplicate { rate: 0.0 }, [A]);
        degraded.degrade(Degradation::Latency { extra: Duration::ZERO, jitter: Duration::ZERO }, []);
        assert!(!degraded.is_degraded());
        let (mut r1, mut r2) = (rng(), rng());
        for i in 0..100 {
            let now = ms(i);
            let base = ms(1 + i % 9);
            assert_eq!(
                healthy.decide(A, B, now, base, request(i), &mut r1),
                degraded.decide(A, B, now, base, request(i), &mut r2)
            );
        }
        assert_eq!(r1, r2);
    }

    #[test]
    fn a_lost_message_costs_a_retransmission_and_the_ones_behind_it_wait() {
        let mut net = Net::new();
        net.degrade(Degradation::Loss { rate: 1.0 }, [A]);
        let mut r = rng();
        // Rate 1: every retransmission is lost too; the timeouts double up to RTO_MAX and TCP
        // gives up after tcp_retries2 retransmissions.
        let expected: Duration = (0..=TCP_RETRIES2).map(|k| (RTO_MIN * 2u32.pow(k.min(20))).min(RTO_MAX)).sum();
        assert_eq!(
            net.decide(A, B, ms(0), ms(5), request(1), &mut r),
            Delivery::Break { at: ms(5) + expected, generation: 0 }
        );
        assert!(expected > Duration::from_secs(900), "about 15 minutes: {expected:?}");

        // At 50%, about half the messages are lost once or more: each costs at least 200 ms,
        // and order is kept.
        let mut net = Net::new();
        net.degrade(Degradation::Loss { rate: 0.5 }, [A]);
        let mut last = Duration::ZERO;
        let mut late = 0;
        for i in 0..200 {
            let now = Duration::from_secs(i * 10);
            let when = at(net.decide(A, B, now, ms(5), request(i), &mut r));
            assert!(when > last, "message {i} overtook the one before it");
            assert!(when == now + ms(5) || when >= now + ms(5) + RTO_MIN, "on time or a retransmission late");
            late += u32::from(when > now + ms(5));
            last = when;
        }
        assert!((70..=130).contains(&late), "{late} of 200 late at a 50% loss rate");
    }

    #[test]
    fn messages_behind_a_lost_one_are_head_of_line_blocked() {
        let mut net = Net::new();
        net.degrade(Degradation::Loss { rate: 0.5 }, []);
        let mut r = rng();
        let (sent, lost_until) = (0..)
            .map(|i| {
                let now = Duration::from_secs(i * 1000);
                (now, at(net.decide(A, B, now, ms(5), request(i), &mut r)))
            })
            .find(|(now, when)| *when >= *now + ms(5) + RTO_MIN)
            .expect("half the messages are lost");
        let behind = at(net.decide(A, B, sent + ms(1), ms(1), request(999), &mut r));
        assert!(behind > lost_until, "the next message is delivered after the lost one is retransmitted");
        assert!(
            behind == lost_until + ORDER_GAP || behind >= sent + ms(2) + RTO_MIN,
            "right behind it, unless it was lost too"
        );
    }

    #[test]
    fn latency_adds_extra_plus_or_minus_jitter_in_order() {
        let mut net = Net::new();
        net.degrade(Degradation::Latency { extra: ms(100), jitter: ms(30) }, [B]);
        let mut r = rng();
        let mut last = Duration::ZERO;
        let mut spread = (Duration::MAX, Duration::ZERO);
        for i in 0..300 {
            let now = ms(i);
            let when = at(net.decide(A, B, now, ms(5), request(i), &mut r));
            assert!(when > last);
            last = when;
            let delay = when - now;
            spread = (spread.0.min(delay), spread.1.max(delay));
        }
        assert!(spread.0 >= ms(75), "{spread:?}");
        assert!(spread.1 >= ms(130), "messages behind a slow one wait for it: {spread:?}");
        // Links not touching B are untouched.
        assert_eq!(at(net.decide(A, C, ms(0), ms(5), request(1), &mut r)), ms(5));
        // A jitter larger than the extra never makes a message faster than the base latency.
        let mut net = Net::new();
        net.degrade(Degradation::Latency { extra: Duration::ZERO, jitter: ms(50) }, []);
        for i in 0..100 {
            let now = ms(i * 1000);
            assert!(at(net.decide(A, C, now, ms(5), request(i), &mut r)) >= now + ms(5));
        }
    }

    #[test]
    fn a_duplicate_breaks_the_connection_and_its_answer_is_dropped() {
        let mut net = Net::new();
        net.degrade(Degradation::Duplicate { rate: 1.0 }, [CLIENT]);
        let mut r = rng();
        let d = net.decide(CLIENT, A, ms(0), ms(5), request(7), &mut r);
        assert_eq!(d, Delivery::DeliverThenBreak { at: ms(5), generation: 0 });
        // Responses never break connections.
        assert_eq!(
            net.decide(A, CLIENT, ms(1), ms(5), response(3), &mut r),
            Delivery::Deliver { at: ms(6), generation: 0 }
        );
        net.break_connection(CLIENT, A);
        assert_eq!(net.generation(A, CLIENT), 1);
        // The answer to request 7 would travel on a connection that is gone.
        assert_eq!(net.decide(A, CLIENT, ms(6), ms(5), response(7), &mut r), Delivery::Drop);
        // The retry goes out on the new connection (and, at rate 1, breaks it again); an answer
        // sent before the next break gets through.
        net.degrade(Degradation::Duplicate { rate: 0.0 }, [CLIENT]);
        net.degrade(Degradation::Latency { extra: ms(1), jitter: Duration::ZERO }, [CLIENT]);
        assert_eq!(
            net.decide(CLIENT, A, ms(7), ms(5), request(8), &mut r),
            Delivery::Deliver { at: ms(13), generation: 1 }
        );
        assert_eq!(
            net.decide(A, CLIENT, ms(14), ms(5), response(8), &mut r),
            Delivery::Deliver { at: ms(20), generation: 1 }
        );
        // Another API with the same correlation id is another request (a combined node's
        // broker and controller count separately).
        let other = Exchange { api: "Fetch(__cluster_metadata)", correlation_id: 7, response: true, answered: true };
        assert!(matches!(net.decide(A, CLIENT, ms(15), ms(5), other, &mut r), Delivery::Deliver { .. }));
    }

    #[test]
    fn heal_clears_every_degradation_but_not_broken_connections() {
        let mut net = Net::new();
        net.degrade(Degradation::Loss { rate: 1.0 }, []);
        net.degrade(Degradation::Latency { extra: ms(100), jitter: ms(10) }, [A]);
        net.degrade(Degradation::Duplicate { rate: 1.0 }, []);
        let mut r = rng();
        assert!(matches!(net.decide(A, B, ms(0), ms(5), request(1), &mut r), Delivery::Break { .. }));
        net.break_connection(A, B);
        assert!(net.heal());
        assert!(!net.heal(), "nothing left to heal");
        let before = r.clone();
        assert_eq!(
            net.decide(A, B, ms(10), ms(5), request(2), &mut r),
            Delivery::Deliver { at: ms(15), generation: 1 }
        );
        assert_eq!(
            net.decide(B, A, ms(10), ms(5), response(1), &mut r),
            Delivery::Drop,
            "still owed on the old connection"
        );
        assert_eq!(r, before);
    }

    #[test]
    fn a_degradation_on_the_same_nodes_replaces_the_last_one() {
        let mut net = Net::new();
        net.degrade(Degradation::Latency { extra: ms(100), jitter: Duration::ZERO }, [A]);
        net.degrade(Degradation::Latency { extra: ms(10), jitter: Duration::ZERO }, [A]);
        let mut r = rng();
        assert_eq!(at(net.decide(A, B, ms(0), ms(5), request(1), &mut r)), ms(15));
        // On other nodes they add up where they overlap.
        net.degrade(Degradation::Latency { extra: ms(20), jitter: Duration::ZERO }, [B]);
        assert_eq!(at(net.decide(A, B, ms(100), ms(5), request(2), &mut r)), ms(135));
        assert_eq!(at(net.decide(C, B, ms(100), ms(5), request(3), &mut r)), ms(125));
    }

    #[test]
    fn a_restarted_node_starts_its_links_afresh() {
        let mut net = Net::new();
        let mut r = rng();
        assert_eq!(at(net.decide(A, B, ms(0), ms(9), request(1), &mut r)), ms(9));
        net.node_started(A);
        assert_eq!(at(net.decide(A, B, ms(1), ms(1), request(1), &mut r)), ms(2));
    }

    #[test]
    fn a_restarted_node_reusing_a_correlation_id_gets_its_answer() {
        let mut net = Net::new();
        let mut r = rng();
        net.degrade(Degradation::Duplicate { rate: 1.0 }, [A]);
        // A's request 7 is delivered and its connection breaks; the answer would be dropped.
        assert!(matches!(net.decide(A, B, ms(0), ms(1), request(7), &mut r), Delivery::DeliverThenBreak { .. }));
        net.break_connection(A, B);
        net.heal();
        // A restarts and numbers its requests from the start: its new request 7 is answered.
        net.node_started(A);
        assert!(matches!(net.decide(A, B, ms(10), ms(1), request(7), &mut r), Delivery::Deliver { .. }));
        assert!(matches!(net.decide(B, A, ms(12), ms(1), response(7), &mut r), Delivery::Deliver { .. }));
    }

    #[test]
    fn exchanges_pair_requests_with_their_responses() {
        use cluster::ids::TopicPartition;
        use cluster::protocol::{ProducePartition, ProducePartitionResponse};
        let request = Exchange::of(&Message::Metadata { correlation_id: 4, topics: vec![] });
        let answer =
            Exchange::of(&Message::MetadataResponse { correlation_id: 4, brokers: vec![], partitions: vec![] });
        assert_eq!((request.api, request.correlation_id, request.response), ("Metadata", 4, false));
        assert_eq!((answer.api, answer.correlation_id, answer.response), ("Metadata", 4, true));
        let produce = Exchange::of(&Message::ProduceResponse {
            correlation_id: 9,
            partitions: vec![ProducePartitionResponse { tp: TopicPartition::new("t", 0), error: None, base_offset: 0 }],
        });
        assert_eq!((produce.api, produce.response), ("Produce", true));
        let produce = |acks| Message::Produce {
            correlation_id: 1,
            acks,
            timeout_ms: 30_000,
            partitions: vec![ProducePartition {
                tp: TopicPartition::new("t", 0),
                batch: cluster::record::RecordBatch::new(0, 0, 0, Vec::new()),
            }],
        };
        assert!(Exchange::of(&produce(-1)).answered);
        assert!(!Exchange::of(&produce(0)).answered, "acks=0 gets no answer to wait for");
    }

    #[test]
    fn cuts_block_the_links_they_name_and_no_others() {
        let c = NodeId(3);
        let mut cuts = Cuts::default();
        assert!(!cuts.blocks(A, B));
        cuts.one_way.insert((A, B));
        assert!(cuts.blocks(A, B) && !cuts.blocks(B, A), "a one-way cut lets the answer through");
        cuts.both_ways.insert((B, c));
        assert!(cuts.blocks(B, c) && cuts.blocks(c, B) && !cuts.blocks(A, c));
        cuts.isolated.insert(A);
        assert!(cuts.blocks(A, c) && cuts.blocks(c, A) && cuts.blocks(B, A));
    }
}
