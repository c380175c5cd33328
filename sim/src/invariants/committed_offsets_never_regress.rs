//! *CommittedOffsetsNeverRegress*: a group's committed offset for a partition never goes back,
//! except by an explicit seek or an offset reset.
//!
//! A consumer commits the position it will resume from, and its position only moves forward as
//! it polls (apache/kafka: clients/.../consumer/internals/ConsumerCoordinator.java,
//! `commitOffsetsSync`/`maybeAutoCommitOffsetsAsync` commit `subscriptions.allConsumed()`). The
//! coordinator applies a commit once it is replicated with `acks=all`
//! (`offsets.commit.required.acks`) and fences members of older generations with
//! `ILLEGAL_GENERATION` (`GroupMetadataManager.storeOffsets`; kafka-semantics §13), and a new
//! coordinator reloads the offsets from the committed log of `__consumer_offsets`
//! (`GroupMetadataManager.loadGroupsAndOffsets`), so the committed offset a group reads back only
//! grows. It may go back only when a member moved its position back on purpose: `seek`,
//! `seekToBeginning`, `offsetsForTimes` (the consumer's `Seeked`), an `auto.offset.reset` after
//! its position fell out of range (`OffsetReset`), or KIP-320's reset to the divergence point
//! after an unclean election cut the log under it (`LogTruncationDetected` with a reset). Each
//! such move licenses one later step back to at or above the offset it moved to.
//!
//! The committed offsets are read from the group's coordinator, the broker that leads the
//! group's `__consumer_offsets` partition in the newest leader epoch. A step back is caught even
//! across a coordinator failover: the checker remembers the last offset per (group, partition).
//!
//! Cheap: one map lookup per committed offset per quantum, and a coordinator holds a few per
//! group.

use cluster::ids::TopicPartition;
use std::collections::BTreeMap;

/// Per (group, partition), the last committed offset seen and the seek or reset that may
/// license a step back.
#[derive(Clone, Debug, Default)]
pub struct CommittedOffsetsNeverRegress {
    /// Group → partition → the last committed offset seen. Nested, so the lookup at every
    /// quantum needs no owned key.
    last: BTreeMap<String, BTreeMap<TopicPartition, i64>>,
    /// The lowest offset a member of the group moved its position to since the last step back.
    licenses: BTreeMap<(String, TopicPartition), i64>,
}

impl CommittedOffsetsNeverRegress {
    /// A member of `group` moved its position on `tp` to `offset` on purpose (a seek, an offset
    /// reset, a reset after log truncation): the committed offset may go back once, to `offset`
    /// or above.
    pub fn license(&mut self, group: &str, tp: &TopicPartition, offset: i64) {
        let license = self.licenses.entry((group.to_string(), tp.clone())).or_insert(offset);
        *license = (*license).min(offset);
    }

    /// Looks at `group`'s committed offset for `tp`. Negative offsets (unknown, as with
    /// `acks=0`) are skipped.
    ///
    /// # Errors
    /// The group, the partition and the offsets it went back from and to.
    pub fn observe(&mut self, group: &str, tp: &TopicPartition, committed: i64) -> Result<(), String> {
        if committed < 0 {
            return Ok(());
        }
        let before = match self.last.get_mut(group).and_then(|offsets| offsets.get_mut(tp)) {
            Some(last) => std::mem::replace(last, committed),
            None => {
                self.last.entry(group.to_string()).or_default().insert(tp.clone(), committed);
                return Ok(());
            }
        };
        if committed >= before {
            return Ok(());
        }
        let key = (group.to_string(), tp.clone());
        match self.licenses.get(&key) {
            Some(&target) if committed >= target => {
                self.licenses.remove(&key);
                Ok(())
            }
            _ => Err(format!(
                "group {group}'s committed offset for {tp} went back from {before} to {committed} without a seek \
                 or an offset reset"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp() -> TopicPartition {
        TopicPartition::new("orders", 0)
    }

    #[test]
    fn a_committed_offset_going_back_without_a_seek_is_caught() {
        let mut c = CommittedOffsetsNeverRegress::default();
        c.observe("billing", &tp(), 40).unwrap();
        c.observe("billing", &tp(), 55).unwrap();
        let verdict = c.observe("billing", &tp(), 30).unwrap_err();
        assert_eq!(
            verdict,
            "group billing's committed offset for orders-0 went back from 55 to 30 without a seek or an offset reset"
        );
    }

    #[test]
    fn a_seek_or_reset_licenses_one_step_back_and_other_groups_are_separate() {
        let mut c = CommittedOffsetsNeverRegress::default();
        c.observe("billing", &tp(), 55).unwrap();
        // Another group reads the same partition from further back.
        c.observe("audit", &tp(), 10).unwrap();
        // A member seeks back to 20 and commits 25 after reading on.
        c.license("billing", &tp(), 20);
        c.observe("billing", &tp(), 25).unwrap();
        c.observe("billing", &tp(), 60).unwrap();
        // The license was used up: the next step back is a violation.
        assert!(c.observe("billing", &tp(), 50).is_err());
        // An offset reset after an unclean election licenses a step back to the divergence
        // point, not below it.
        c.license("billing", &tp(), 45);
        assert!(c.observe("billing", &tp(), 44).is_err());
        // Unknown offsets are skipped.
        c.observe("billing", &tp(), -1).unwrap();
    }
}
