//! Liveness after faults heal: the `ConvergesWithin("20s")` expectation.
//!
//! Safety says nothing bad happened; liveness says the cluster recovered. After the last fault
//! of a run (a fault plan ends by healing the network and restarting what it stopped), the
//! cluster has converged once, at the same moment:
//!
//! * every partition has a leader (none is offline);
//! * every partition's ISR holds all its replicas again (none is under-replicated, as
//!   `kafka-topics.sh --describe --under-replicated-partitions` would list them);
//! * every consumer group has committed, for every partition of the topics it reads, an offset
//!   at least as high as that partition's high watermark at the moment the faults ended: the
//!   consumers have caught up with everything that was committed before recovery began.
//!
//! The world samples the cluster every [`SAMPLE_EVERY_MS`] after the last fault until all three
//! hold; the expectation then compares the time it took with the span the scenario allows.

use crate::view::ClusterView;
use std::collections::{BTreeMap, BTreeSet};

/// How often, in simulated milliseconds, the world looks for convergence. Coarser than the
/// 10 ms quantum because building a view of the whole cluster costs more than a step.
pub const SAMPLE_EVERY_MS: u64 = 100;

/// What the world remembers between samples.
#[derive(Clone, Debug, Default)]
pub struct Convergence {
    /// When the last fault was applied, in simulated milliseconds since the start; `None`
    /// before the first fault.
    pub last_fault_ms: Option<u64>,
    /// Per `(group, topic, partition)`: the high watermark when the last fault was applied,
    /// which the group's committed offset must reach.
    targets: BTreeMap<(String, String, i32), i64>,
    /// When every condition first held after the last fault, in simulated milliseconds.
    pub converged_ms: Option<u64>,
    /// Why the cluster had not converged at the last sample (empty once it has).
    pub last_reasons: Vec<String>,
}

impl Convergence {
    /// A fault was applied at `now_ms`: the clock starts again, and the groups' targets are the
    /// high watermarks now. `group_topics` lists the topics each group reads.
    pub fn fault_applied(
        &mut self,
        now_ms: u64,
        view: &ClusterView,
        group_topics: &BTreeMap<String, BTreeSet<String>>,
    ) {
        self.last_fault_ms = Some(now_ms);
        self.converged_ms = None;
        self.targets.clear();
        for (group, topics) in group_topics {
            for topic in view.topics.iter().filter(|t| topics.contains(&t.name)) {
                for p in &topic.partitions {
                    // The view's high watermark is the leader's; with no leader now, the
                    // highest any replica knows is what was committed.
                    let hw = p.replica_offsets.iter().filter_map(|r| r.high_watermark).max().unwrap_or(0);
                    let hw = hw.max(p.high_watermark);
                    self.targets.insert((group.clone(), topic.name.clone(), p.partition), hw);
                }
            }
        }
    }

    /// Whether the world should sample now: after a fault, before convergence, on the
    /// sampling grid.
    pub fn wants_sample(&self, now_ms: u64) -> bool {
        self.last_fault_ms.is_some() && self.converged_ms.is_none() && now_ms.checked_rem(SAMPLE_EVERY_MS) == Some(0)
    }

    /// Looks at the cluster at `now_ms`; records the moment it first converged.
    pub fn sample(&mut self, now_ms: u64, view: &ClusterView) {
        self.last_reasons = unconverged(view, &self.targets);
        if self.last_reasons.is_empty() {
            self.converged_ms = Some(now_ms);
        }
    }

    /// The verdict for `ConvergesWithin(within_ms)` as `(passed, detail)`.
    pub fn verdict(&self, within_ms: u64) -> (bool, String) {
        let Some(last) = self.last_fault_ms else {
            return (false, "the run had no fault to recover from".to_string());
        };
        match self.converged_ms {
            Some(at) => {
                let took = at - last;
                (
                    took <= within_ms,
                    format!(
                        "converged at {} ({} after the last fault at {}): every partition led, every ISR full, every group caught up",
                        secs(at),
                        secs(took),
                        secs(last)
                    ),
                )
            }
            None => (
                false,
                format!(
                    "not converged by the end of the run (last fault at {}): {}",
                    secs(last),
                    summarise(&self.last_reasons)
                ),
            ),
        }
    }
}

/// The reasons the cluster has not converged, in plain words; empty when it has.
/// `targets` maps `(group, topic, partition)` to the offset the group must have committed.
pub fn unconverged(view: &ClusterView, targets: &BTreeMap<(String, String, i32), i64>) -> Vec<String> {
    let mut reasons = Vec::new();
    for topic in &view.topics {
        for p in &topic.partitions {
            if p.leader.is_none() {
                reasons.push(format!("{}-{} has no leader", topic.name, p.partition));
            } else if p.replicas.iter().any(|r| !p.isr.contains(r)) {
                reasons
                    .push(format!("{}-{} has ISR {:?} of replicas {:?}", topic.name, p.partition, p.isr, p.replicas));
            }
        }
    }
    for ((group, topic, partition), target) in targets {
        if *target <= 0 {
            continue;
        }
        let committed = view
            .groups
            .iter()
            .find(|g| &g.group == group)
            .and_then(|g| g.offsets.iter().find(|o| &o.topic == topic && o.partition == *partition))
            .and_then(|o| o.committed_offset);
        match committed {
            Some(c) if c >= *target => {}
            Some(c) => reasons.push(format!("group {group} committed {c} on {topic}-{partition}, short of {target}")),
            None => {
                reasons.push(format!("group {group} has committed nothing on {topic}-{partition} (needs {target})"))
            }
        }
    }
    reasons
}

fn summarise(reasons: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut out = reasons.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ");
    if reasons.len() > SHOWN {
        out.push_str(&format!("; and {} more", reasons.len() - SHOWN));
    }
    out
}

fn secs(ms: u64) -> String {
    format!("{}.{:01}s", ms / 1000, (ms % 1000) / 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::{GroupDescription, OffsetDescription, PartitionDescription, TopicDescription};

    fn partition(partition: i32, leader: Option<i32>, isr: Vec<i32>, hw: i64) -> PartitionDescription {
        PartitionDescription {
            partition,
            leader,
            leader_epoch: 1,
            replicas: vec![1, 2, 3],
            isr,
            adding_replicas: vec![],
            removing_replicas: vec![],
            log_start_offset: 0,
            high_watermark: hw,
            log_end_offset: hw,
            segments: 1,
            size_bytes: 0,
            replica_offsets: vec![],
        }
    }

    fn view(partitions: Vec<PartitionDescription>, committed: Vec<Option<i64>>) -> ClusterView {
        let offsets = committed
            .into_iter()
            .enumerate()
            .map(|(i, c)| OffsetDescription {
                topic: "orders".into(),
                partition: i as i32,
                committed_offset: c,
                log_end_offset: 0,
                lag: None,
                consumer_id: None,
                client_id: None,
                host: None,
            })
            .collect();
        ClusterView {
            topics: vec![TopicDescription {
                name: "orders".into(),
                replication_factor: 3,
                min_insync_replicas: 2,
                configs: BTreeMap::new(),
                partitions,
            }],
            groups: vec![GroupDescription { group: "billing".into(), offsets, ..GroupDescription::default() }],
            ..ClusterView::default()
        }
    }

    fn groups() -> BTreeMap<String, BTreeSet<String>> {
        BTreeMap::from([("billing".to_string(), BTreeSet::from(["orders".to_string()]))])
    }

    #[test]
    fn converges_once_leaders_isr_and_commits_all_catch_up() {
        let mut c = Convergence::default();
        // The faults end with partition 0 at high watermark 40 and partition 1 leaderless.
        let at_fault =
            view(vec![partition(0, Some(1), vec![1], 40), partition(1, None, vec![], 0)], vec![Some(10), None]);
        c.fault_applied(22_000, &at_fault, &groups());
        assert!(c.wants_sample(22_000));
        c.sample(22_000, &at_fault);
        assert_eq!(c.converged_ms, None);
        assert_eq!(c.last_reasons.len(), 3, "{:?}", c.last_reasons);
        assert!(c.last_reasons[0].contains("ISR [1] of replicas [1, 2, 3]"));
        assert!(c.last_reasons[1].contains("orders-1 has no leader"));
        assert!(c.last_reasons[2].contains("committed 10 on orders-0, short of 40"));
        // Leaders and ISR recover, but the group still lags: not converged.
        let healthy = |committed| {
            view(vec![partition(0, Some(1), vec![1, 2, 3], 90), partition(1, Some(2), vec![1, 2, 3], 7)], committed)
        };
        c.sample(30_000, &healthy(vec![Some(39), Some(0)]));
        assert_eq!(c.converged_ms, None);
        // The group passes the old high watermark: converged, 8.5 s after the fault.
        c.sample(30_500, &healthy(vec![Some(40), Some(0)]));
        assert_eq!(c.converged_ms, Some(30_500));
        assert!(!c.wants_sample(30_600));
        assert!(c.verdict(10_000).0);
        let (passed, detail) = c.verdict(5_000);
        assert!(!passed);
        assert!(detail.contains("8.5s after the last fault at 22.0s"), "{detail}");
    }

    #[test]
    fn a_later_fault_restarts_the_clock() {
        let mut c = Convergence::default();
        let healthy = view(vec![partition(0, Some(1), vec![1, 2, 3], 5)], vec![Some(5)]);
        c.fault_applied(1_000, &healthy, &groups());
        c.sample(1_100, &healthy);
        assert_eq!(c.converged_ms, Some(1_100));
        c.fault_applied(2_000, &healthy, &groups());
        assert_eq!(c.converged_ms, None);
        assert!(c.wants_sample(2_100));
        let (passed, detail) = c.verdict(60_000);
        assert!(!passed);
        assert!(detail.contains("not converged"), "{detail}");
    }

    #[test]
    fn a_run_without_faults_cannot_claim_recovery() {
        let c = Convergence::default();
        assert!(!c.wants_sample(0));
        assert!(!c.verdict(20_000).0);
    }
}
