//! A combined node (`process.roles=broker,controller`): one process that is both a KRaft
//! controller and a broker, as in a small or development cluster.
//!
//! As in Kafka, the two halves share one Raft replica of the metadata log: the controller's
//! voter replica. The broker half applies what that replica commits instead of fetching the log
//! a second time, and learns the active controller from it. Requests the broker sends to its own
//! node's controller are handed over inside the process; everything else goes over the network.
//! Both halves write to the same disk, and a crash takes both down.

use crate::broker::Broker;
use crate::controller::{is_controller_request, is_quorum_message, Controller};
use crate::event::Event;
use crate::ids::NodeId;
use crate::node::{Effect, Node};
use crate::protocol::Message;
use crate::time::Instant;

/// A broker and a controller in one process.
pub struct Combined {
    id: NodeId,
    broker: Broker,
    controller: Controller,
}

impl Combined {
    /// Joins a broker (started with `quorum: None`) and a controller of the same node id.
    pub fn new(now: Instant, broker: Broker, controller: Controller) -> Combined {
        let id = broker.status().id;
        let mut node = Combined { id, broker, controller };
        node.settle(now);
        node
    }

    /// The broker half.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// The controller half.
    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    /// After every input: feed the broker what the quorum committed, and pass requests between
    /// the halves until neither has any for the other.
    fn settle(&mut self, now: Instant) {
        loop {
            self.broker.sync_metadata(now, self.controller.raft());
            let to_controller = self.broker.take_sends_to(self.id);
            let to_broker = self.controller.take_sends_to(self.id);
            if to_controller.is_empty() && to_broker.is_empty() {
                break;
            }
            for message in to_controller {
                self.controller.handle_message(now, self.id, message);
            }
            for message in to_broker {
                self.broker.handle_message(now, self.id, message);
            }
        }
    }
}

impl Node for Combined {
    fn handle_message(&mut self, now: Instant, from: NodeId, message: Message) {
        if is_quorum_message(&message) || is_controller_request(&message) {
            self.controller.handle_message(now, from, message);
        } else {
            self.broker.handle_message(now, from, message);
        }
        self.settle(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.controller.handle_timeout(now);
        self.broker.handle_timeout(now);
        self.settle(now);
    }

    fn handle_disconnect(&mut self, now: Instant, peer: NodeId) {
        self.controller.handle_disconnect(now, peer);
        self.broker.handle_disconnect(now, peer);
        self.settle(now);
    }

    fn shutdown(&mut self, now: Instant) {
        self.controller.shutdown(now);
        self.broker.shutdown(now);
    }

    fn poll_effect(&mut self) -> Option<Effect> {
        self.controller.poll_effect().or_else(|| self.broker.poll_effect())
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.controller.poll_event().or_else(|| self.broker.poll_event())
    }

    fn poll_deadline(&self) -> Option<Instant> {
        [self.controller.poll_deadline(), self.broker.poll_deadline()].into_iter().flatten().min()
    }
}
