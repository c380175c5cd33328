//! Cluster metadata: the records the controller writes and the image every broker folds them
//! into (KIP-631; apache/kafka: metadata/src/main/resources/common/metadata/).

use crate::ids::{NodeId, TopicPartition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The committed state of one partition, as a `PartitionRecord` / `PartitionChangeRecord`
/// leaves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    /// The partition.
    pub tp: TopicPartition,
    /// Assigned replicas in preference order; the first is the preferred leader.
    pub replicas: Vec<NodeId>,
    /// In-sync replicas, leader included.
    pub isr: Vec<NodeId>,
    /// The leader, or `None` when the partition is offline.
    pub leader: Option<NodeId>,
    /// Bumped on every leader change.
    pub leader_epoch: i32,
    /// Bumped on every change to this record (KIP-497).
    pub partition_epoch: i32,
    /// Replicas a reassignment is adding (KIP-455): they are in `replicas` and catching up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adding_replicas: Vec<NodeId>,
    /// Replicas a reassignment will remove once every adding replica is in the ISR (KIP-455).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removing_replicas: Vec<NodeId>,
}

/// A record in the metadata log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataRecord {
    /// `RegisterBrokerRecord`; the record's offset is the broker epoch.
    RegisterBroker {
        /// The broker (`node.id`).
        broker_id: NodeId,
        /// Counts the broker process's starts.
        incarnation: u64,
        /// The registration record's offset, used as the broker epoch.
        broker_epoch: i64,
    },
    /// `FenceBrokerRecord`: the broker missed its session; it leads nothing and is in no ISR
    /// it could be removed from.
    FenceBroker {
        /// The broker (`node.id`).
        broker_id: NodeId,
    },
    /// `UnfenceBrokerRecord`: the broker caught up with the metadata log and may lead.
    UnfenceBroker {
        /// The broker (`node.id`).
        broker_id: NodeId,
    },
    /// `TopicRecord` plus the topic's configs (`ConfigRecord`s in Kafka).
    Topic {
        /// The topic name.
        name: String,
        /// Number of partitions.
        partitions: i32,
        /// Replicas per partition.
        replication_factor: i32,
        /// Effective `min.insync.replicas`.
        min_insync_replicas: i32,
        /// Whether the topic is internal (`__consumer_offsets`).
        internal: bool,
        /// The topic's config overrides, by Kafka key (`cleanup.policy`, `retention.ms`, ...).
        configs: BTreeMap<String, String>,
    },
    /// `PartitionRecord` or `PartitionChangeRecord`, carried as the full new state.
    Partition(PartitionState),
    /// The `LeaderChangeMessage` control record a new Raft leader appends at once, so its
    /// epoch has an entry to commit (KIP-595). The metadata image ignores it.
    LeaderChange {
        /// The new leader.
        leader_id: NodeId,
        /// The voters at the time.
        voters: Vec<NodeId>,
    },
    /// `ProducerIdsRecord` (KIP-730): the active controller gave broker `broker_id` the block
    /// of producer ids that ends just before `next_producer_id`. Committing it before the
    /// broker hears of the block is what keeps blocks from overlapping across controller
    /// failovers.
    ProducerIds {
        /// The broker the block went to (`node.id`).
        broker_id: NodeId,
        /// That broker's epoch when it asked.
        broker_epoch: i64,
        /// The first producer id of the next block; always higher than the previous record's.
        next_producer_id: i64,
    },
}

impl MetadataRecord {
    /// Kafka's name for the record type, used as the record key in the metadata log
    /// (`RegisterBrokerRecord`, `PartitionChangeRecord`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            MetadataRecord::RegisterBroker { .. } => "RegisterBrokerRecord",
            MetadataRecord::FenceBroker { .. } => "FenceBrokerRecord",
            MetadataRecord::UnfenceBroker { .. } => "UnfenceBrokerRecord",
            MetadataRecord::Topic { .. } => "TopicRecord",
            MetadataRecord::Partition(p) if p.partition_epoch == 0 => "PartitionRecord",
            MetadataRecord::Partition(_) => "PartitionChangeRecord",
            MetadataRecord::LeaderChange { .. } => "LeaderChangeMessage",
            MetadataRecord::ProducerIds { .. } => "ProducerIdsRecord",
        }
    }

    /// The record's bytes in the metadata log: its fields in RON, readable in `dump-log`
    /// as Kafka's `kafka-dump-log.sh --cluster-metadata-decoder` prints JSON.
    pub fn encode(&self) -> String {
        ron::to_string(self).expect("metadata records always serialise")
    }

    /// Reads a record back from [`MetadataRecord::encode`]'s text.
    ///
    /// # Errors
    /// The RON parser's message when the text is not a metadata record.
    pub fn decode(text: &str) -> Result<MetadataRecord, String> {
        ron::from_str(text).map_err(|e| e.to_string())
    }
}

/// Everything a broker knows about the cluster, folded from committed metadata records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataImage {
    /// Registered brokers and whether each is fenced, by id.
    pub brokers: BTreeMap<NodeId, BrokerRegistration>,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicImage>,
    /// Partitions.
    pub partitions: BTreeMap<TopicPartition, PartitionState>,
    /// The first producer id no block has been given out from yet, from the latest
    /// `ProducerIdsRecord` (0 before any; Kafka's `ProducerIdControlManager.nextProducerBlock`).
    pub next_producer_id: i64,
}

/// A broker's registration as the image holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerRegistration {
    /// Offset of the registration record.
    pub broker_epoch: i64,
    /// Whether the controller has fenced it.
    pub fenced: bool,
}

/// A topic as the image holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicImage {
    /// Number of partitions.
    pub partitions: i32,
    /// Replicas per partition.
    pub replication_factor: i32,
    /// `min.insync.replicas`, already capped by the replication factor.
    pub min_insync_replicas: i32,
    /// Internal topics (`__consumer_offsets`) are hidden from `--describe` by default.
    pub internal: bool,
    /// Config overrides by Kafka key.
    pub configs: BTreeMap<String, String>,
}

impl MetadataImage {
    /// Folds one record into the image.
    pub fn apply(&mut self, record: &MetadataRecord) {
        match record {
            MetadataRecord::RegisterBroker { broker_id, broker_epoch, .. } => {
                self.brokers.insert(*broker_id, BrokerRegistration { broker_epoch: *broker_epoch, fenced: true });
            }
            MetadataRecord::FenceBroker { broker_id } => {
                if let Some(b) = self.brokers.get_mut(broker_id) {
                    b.fenced = true;
                }
            }
            MetadataRecord::UnfenceBroker { broker_id } => {
                if let Some(b) = self.brokers.get_mut(broker_id) {
                    b.fenced = false;
                }
            }
            MetadataRecord::Topic { name, partitions, replication_factor, min_insync_replicas, internal, configs } => {
                self.topics.insert(
                    name.clone(),
                    TopicImage {
                        partitions: *partitions,
                        replication_factor: *replication_factor,
                        min_insync_replicas: *min_insync_replicas,
                        internal: *internal,
                        configs: configs.clone(),
                    },
                );
            }
            MetadataRecord::Partition(state) => {
                self.partitions.insert(state.tp.clone(), state.clone());
            }
            MetadataRecord::LeaderChange { .. } => {}
            MetadataRecord::ProducerIds { broker_id, next_producer_id, .. } => {
                // Kafka's `ProducerIdControlManager.replay` refuses a record that does not move
                // forward: handing out the same ids twice breaks idempotence for good.
                assert!(
                    *next_producer_id > self.next_producer_id,
                    "ProducerIdsRecord for broker {broker_id} moves the next producer id back from {} to {}",
                    self.next_producer_id,
                    next_producer_id
                );
                self.next_producer_id = *next_producer_id;
            }
        }
    }

    /// Brokers that are registered and not fenced.
    pub fn live_brokers(&self) -> Vec<NodeId> {
        self.brokers.iter().filter(|(_, b)| !b.fenced).map(|(id, _)| *id).collect()
    }
}
