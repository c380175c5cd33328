//! *SingleOwnerPerGeneration*: no partition has two owners in one generation of a consumer
//! group. Checked at every supervisor quantum over what the running consumers believe they own.
//!
//! The classic group protocol guarantees it by construction. Every rebalance starts a new
//! generation; the leader member runs the assignor over the whole membership of that generation
//! and the coordinator hands each member its share in the SyncGroup response, so the assignment
//! of a generation gives each partition to exactly one member (apache/kafka:
//! clients/.../consumer/internals/ConsumerCoordinator.java, `performAssignment` and
//! `onJoinComplete`; the assignors' contract in `ConsumerPartitionAssignor`). A member that was
//! left behind keeps the generation it had, and the coordinator fences its commits with
//! `ILLEGAL_GENERATION`, so an older claim never clashes with a newer one. Under the cooperative
//! protocol (KIP-429: Incremental Cooperative Rebalancing in the Kafka Consumer) a partition that
//! moves is first revoked by its owner in one generation and only assigned to its new owner in
//! the next, so the guarantee holds there too, with the extra rebalance as its price.
//!
//! A claim is keyed by (group, generation id, partition). Only consumers that joined a
//! generation count: a generation id of 0 or more and a member id from the coordinator. A
//! static member (KIP-345) is identified by its `group.instance.id` rather than its client id,
//! because a second process with the same instance id legitimately takes over the first one's
//! assignment in the same generation, and the old one is fenced (`FENCED_INSTANCE_ID`) at its
//! next request.
//!
//! Stateless: each quantum's claims are checked on their own, one map over the claims of a group.

use cluster::ids::TopicPartition;
use std::collections::BTreeMap;

/// What one running consumer claims to own, read from [`cluster::consumer::Consumer::membership`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnershipClaim<'a> {
    /// The consumer's client id, e.g. `"billing-1"`.
    pub client: &'a str,
    /// The consumer's `group.instance.id` when it is a static member (KIP-345), which then
    /// identifies it instead of the client id.
    pub instance: Option<&'a str>,
    /// The consumer group (`group.id`); claims of consumers without a group are ignored.
    pub group: &'a str,
    /// The generation of the consumer's current assignment; below 0 when it has none.
    pub generation_id: i32,
    /// The member id the coordinator gave the consumer; empty before it joined.
    pub member_id: &'a str,
    /// The partitions the consumer owns in that generation.
    pub partitions: &'a [TopicPartition],
}

impl<'a> OwnershipClaim<'a> {
    /// The claim of consumer `client` (static instance `instance`, if any) of `group`, read from
    /// what the consumer believes it owns ([`cluster::consumer::Consumer::membership`]).
    pub fn from_membership(
        client: &'a str,
        instance: Option<&'a str>,
        group: &'a str,
        (generation_id, member_id, partitions): (i32, &'a str, &'a [TopicPartition]),
    ) -> OwnershipClaim<'a> {
        OwnershipClaim { client, instance, group, generation_id, member_id, partitions }
    }

    /// Who owns: the static instance id when there is one, else the client id.
    fn owner(&self) -> &'a str {
        self.instance.unwrap_or(self.client)
    }

    /// Whether the claim takes part in the check: the consumer has a group, has joined (a
    /// member id) and holds an assignment of some generation (0 or more).
    fn counts(&self) -> bool {
        !self.group.is_empty() && self.generation_id >= 0 && !self.member_id.is_empty()
    }
}

/// Checks the ownership claims of the running consumers at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleOwnerPerGeneration;

impl SingleOwnerPerGeneration {
    /// *SingleOwnerPerGeneration* over the claims of the running consumers at one moment.
    ///
    /// # Errors
    /// A sentence naming the group, the generation, the partition and the two consumers (with
    /// their member ids) that both claim it.
    pub fn observe(&mut self, claims: &[OwnershipClaim<'_>]) -> Result<(), String> {
        let mut owners: BTreeMap<(&str, i32, &TopicPartition), &OwnershipClaim<'_>> = BTreeMap::new();
        for claim in claims.iter().filter(|claim| claim.counts()) {
            for tp in claim.partitions {
                match owners.get(&(claim.group, claim.generation_id, tp)) {
                    Some(first) if first.owner() != claim.owner() => {
                        return Err(format!(
                            "in group {} generation {}, {tp} is owned by both {} (member {}) \
                             and {} (member {})",
                            claim.group,
                            claim.generation_id,
                            first.client,
                            first.member_id,
                            claim.client,
                            claim.member_id
                        ));
                    }
                    Some(_) => {}
                    None => {
                        owners.insert((claim.group, claim.generation_id, tp), claim);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tps(partitions: &[i32]) -> Vec<TopicPartition> {
        partitions.iter().map(|p| TopicPartition::new("orders", *p)).collect()
    }

    fn claim<'a>(
        client: &'a str,
        generation_id: i32,
        member_id: &'a str,
        partitions: &'a [TopicPartition],
    ) -> OwnershipClaim<'a> {
        OwnershipClaim { client, instance: None, group: "billing", generation_id, member_id, partitions }
    }

    // The claims below are what `OwnershipClaim::from_membership` reads from the consumer
    // (generation_id, member_id, assignment); they are built directly so these tests do not
    // depend on the status's other fields.

    #[test]
    fn two_consumers_owning_one_partition_in_one_generation_is_a_violation() {
        let (a, b) = (tps(&[0, 1]), tps(&[1, 2]));
        let verdict =
            SingleOwnerPerGeneration.observe(&[claim("billing-1", 3, "m-1", &a), claim("billing-2", 3, "m-2", &b)]);
        let violation = verdict.unwrap_err();
        assert_eq!(
            violation,
            "in group billing generation 3, orders-1 is owned by both billing-1 \
             (member m-1) and billing-2 (member m-2)"
        );
    }

    #[test]
    fn different_generations_groups_and_non_members_do_not_clash() {
        let all = tps(&[0, 1, 2]);
        // A member left behind in generation 3 while generation 4 moved its partitions on.
        assert_eq!(
            SingleOwnerPerGeneration.observe(&[claim("billing-1", 3, "m-1", &all), claim("billing-2", 4, "m-2", &all)]),
            Ok(())
        );
        // Other groups may read the same partitions.
        let mut other = claim("audit-1", 3, "m-9", &all);
        other.group = "audit";
        assert_eq!(SingleOwnerPerGeneration.observe(&[claim("billing-1", 3, "m-1", &all), other]), Ok(()));
        // A consumer that has not joined, or has no generation, claims nothing.
        assert_eq!(
            SingleOwnerPerGeneration.observe(&[claim("billing-1", 3, "m-1", &all), claim("billing-2", 3, "", &all)]),
            Ok(())
        );
        assert_eq!(
            SingleOwnerPerGeneration
                .observe(&[claim("billing-1", -1, "m-1", &all), claim("billing-2", -1, "m-2", &all)]),
            Ok(())
        );
        // A consumer without a group (assign) claims nothing.
        let mut assigned = claim("reader", 3, "m-3", &all);
        assigned.group = "";
        assert_eq!(SingleOwnerPerGeneration.observe(&[assigned, assigned]), Ok(()));
    }

    #[test]
    fn a_static_member_taking_over_its_instance_id_is_one_owner() {
        let all = tps(&[0, 1]);
        let mut old = claim("billing-1", 7, "m-1", &all);
        let mut new = claim("billing-1b", 7, "m-2", &all);
        old.instance = Some("billing-a");
        new.instance = Some("billing-a");
        assert_eq!(SingleOwnerPerGeneration.observe(&[old, new]), Ok(()));
        new.instance = Some("billing-b");
        assert!(SingleOwnerPerGeneration.observe(&[old, new]).is_err());
    }
}
