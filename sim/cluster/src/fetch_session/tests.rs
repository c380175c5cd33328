use super::*;
use crate::record::{Record, RecordBatch};
use proptest::prelude::*;
use rand::SeedableRng;
use std::sync::Arc;

fn tp(partition: i32) -> TopicPartition {
    TopicPartition::new("orders", partition)
}

fn want(partition: i32, fetch_offset: i64) -> FetchPartition {
    FetchPartition { tp: tp(partition), current_leader_epoch: 3, fetch_offset, last_fetched_epoch: 3 }
}

fn answer(partition: i32, high_watermark: i64, records: bool) -> FetchPartitionResponse {
    let batches = if records {
        let record = Record {
            offset_delta: 0,
            timestamp_ms: 0,
            key: None,
            value: Some(Arc::from("v")),
            headers: Default::default(),
        };
        vec![Arc::new(RecordBatch::new(high_watermark, 3, 0, vec![record]))]
    } else {
        Vec::new()
    };
    FetchPartitionResponse {
        tp: tp(partition),
        error: None,
        high_watermark,
        log_start_offset: 0,
        log_end_offset: -1,
        diverging_epoch: None,
        batches,
    }
}

fn cache(slots: usize) -> FetchSessionCache {
    FetchSessionCache::new(slots, ChaCha8Rng::seed_from_u64(7))
}

fn partitions_of(answers: &[FetchPartitionResponse]) -> Vec<i32> {
    answers.iter().map(|a| a.tp.partition).collect()
}

/// Opens a follower session on `leader` over partitions 0..n, every answer at high watermark 10.
fn open_session(leader: &mut FetchSessionCache, n: i32) -> (i32, FetchContext) {
    let request: Vec<FetchPartition> = (0..n).map(|p| want(p, 10)).collect();
    let context = leader.new_context(0, FetchMetadata::INITIAL, &request, &[], true);
    assert_eq!(context, FetchContext::Full { privileged: true });
    let answers = (0..n).map(|p| answer(p, 10, false)).collect();
    let (error, session_id, sent) = leader.respond(0, context, &request, answers);
    assert_eq!((error, sent.len()), (None, n as usize));
    assert_ne!(session_id, INVALID_SESSION_ID);
    (session_id, context)
}

#[test]
fn after_a_full_request_the_fetcher_sends_only_what_changed_and_forgets_what_it_dropped() {
    let mut fetcher = FetchSessionHandler::new(true);
    let first = fetcher.build(vec![want(0, 0), want(1, 0)]);
    assert_eq!(first.metadata, FetchMetadata::INITIAL);
    assert_eq!(first.partitions, vec![want(0, 0), want(1, 0)]);
    assert!(fetcher.handle_response(None, 42, &[answer(0, 0, true), answer(1, 0, false)]));
    assert_eq!(fetcher.next_metadata(), FetchMetadata { session_id: 42, epoch: 1 });

    // Partition 0 got records, so its fetch offset moved; partition 1 did not.
    let second = fetcher.build(vec![want(0, 1), want(1, 0)]);
    assert_eq!(second.metadata, FetchMetadata { session_id: 42, epoch: 1 });
    assert_eq!(second.partitions, vec![want(0, 1)]);
    assert!(second.forgotten_topics_data.is_empty());
    assert!(fetcher.handle_response(None, 42, &[]));

    // Partition 1 leaves (its leader moved), partition 2 joins, partition 0 is unchanged.
    let third = fetcher.build(vec![want(0, 1), want(2, 0)]);
    assert_eq!(third.metadata, FetchMetadata { session_id: 42, epoch: 2 });
    assert_eq!(third.partitions, vec![want(2, 0)]);
    assert_eq!(third.forgotten_topics_data, vec![tp(1)]);
}

#[test]
fn the_handler_remembers_how_many_partitions_the_last_request_was_built_from() {
    // Sessionless or not, the count is the room the fetcher makes for its next list.
    for sessions in [true, false] {
        let mut fetcher = FetchSessionHandler::new(sessions);
        assert_eq!(fetcher.last_wanted(), 0);
        fetcher.build(vec![want(0, 0), want(1, 0), want(2, 0)]);
        assert_eq!(fetcher.last_wanted(), 3);
        fetcher.build(vec![want(1, 0)]);
        assert_eq!(fetcher.last_wanted(), 1);
    }
}

#[test]
fn session_errors_lost_requests_and_strange_answers_make_the_next_request_full() {
    let established = || {
        let mut fetcher = FetchSessionHandler::new(true);
        fetcher.build(vec![want(0, 0)]);
        assert!(fetcher.handle_response(None, 42, &[answer(0, 0, false)]));
        fetcher
    };
    let close_42 = FetchMetadata { session_id: 42, epoch: INITIAL_EPOCH };

    let mut f = established();
    assert!(!f.handle_response(Some(ErrorCode::FetchSessionIdNotFound), INVALID_SESSION_ID, &[]));
    assert_eq!(f.next_metadata(), FetchMetadata::INITIAL, "the leader forgot the session: start a new one");

    let mut f = established();
    assert!(!f.handle_response(Some(ErrorCode::InvalidFetchSessionEpoch), INVALID_SESSION_ID, &[]));
    assert_eq!(f.next_metadata(), close_42);

    let mut f = established();
    f.handle_error();
    assert_eq!(f.next_metadata(), close_42);
    let full = f.build(vec![want(0, 0)]);
    assert_eq!((full.metadata, full.partitions.len()), (close_42, 1), "a full request names every partition");

    let mut f = established();
    f.build(vec![want(0, 0)]);
    assert!(!f.handle_response(None, 42, &[answer(5, 0, false)]), "partition 5 is not in the session");
    assert_eq!(f.next_metadata(), close_42);

    let mut f = FetchSessionHandler::new(true);
    f.build(vec![want(0, 0), want(1, 0)]);
    assert!(!f.handle_response(None, 42, &[answer(0, 0, false)]), "a full answer must cover every partition");

    let mut f = established();
    assert!(f.handle_response(None, INVALID_SESSION_ID, &[]), "the leader closed the session");
    assert_eq!(f.next_metadata(), FetchMetadata::INITIAL);
}

#[test]
fn a_fetcher_without_sessions_sends_everything_every_time() {
    let mut fetcher = FetchSessionHandler::new(false);
    for _ in 0..3 {
        let request = fetcher.build(vec![want(0, 0), want(1, 0)]);
        assert_eq!(request.metadata, FetchMetadata::SESSIONLESS);
        assert_eq!(request.partitions.len(), 2);
        assert!(fetcher.handle_response(None, INVALID_SESSION_ID, &[answer(0, 0, false), answer(1, 0, false)]));
    }
    fetcher.handle_error();
    assert_eq!(fetcher.next_metadata(), FetchMetadata::SESSIONLESS);
}

/// The leader leaves out the answers of partitions with nothing new (`last_sent` says which):
/// the response pairs each answer it is given with its own partition, whatever is left out
/// around it, and only those partitions remember what was sent.
#[test]
fn an_incremental_response_takes_answers_for_only_some_of_the_sessions_partitions() {
    let mut leader = cache(10);
    let (id, _) = open_session(&mut leader, 4);
    let sent_before: Vec<(i64, i64)> = leader.partitions(id).iter().map(CachedPartition::last_sent).collect();
    assert_eq!(sent_before, vec![(10, 0); 4], "the full response's offsets are remembered");

    let context = leader.new_context(1, FetchMetadata { session_id: id, epoch: 1 }, &[], &[], true);
    // Partitions 0 and 2 had nothing new; 1 has a new high watermark, 3 has records.
    let answers = vec![answer(1, 12, false), answer(3, 10, true)];
    let (error, session_id, sent) = leader.respond(1, context, &[], answers);
    assert_eq!((error, session_id), (None, id));
    assert_eq!(partitions_of(&sent), vec![1, 3]);
    let sent_after: Vec<(i64, i64)> = leader.partitions(id).iter().map(CachedPartition::last_sent).collect();
    assert_eq!(sent_after, vec![(10, 0), (12, 0), (10, 0), (10, 0)]);

    // An answer that says nothing new is still dropped when it is given.
    let context = leader.new_context(2, FetchMetadata { session_id: id, epoch: 2 }, &[], &[], true);
    let (_, _, sent) = leader.respond(2, context, &[], vec![answer(1, 12, false), answer(2, 11, false)]);
    assert_eq!(partitions_of(&sent), vec![2]);
}

#[test]
fn a_leader_answers_only_partitions_with_records_errors_or_new_offsets() {
    let mut leader = cache(10);
    let (id, _) = open_session(&mut leader, 3);
    let metadata = FetchMetadata { session_id: id, epoch: 1 };

    let context = leader.new_context(1, metadata, &[], &[], true);
    assert_eq!(context, FetchContext::Incremental { session_id: id, epoch: 2 });
    let offsets: Vec<i64> = leader.partitions(id).iter().map(|c| c.fetch.fetch_offset).collect();
    assert_eq!(offsets, vec![10, 10, 10], "the leader reads every partition at its cached offset");
    let answers = vec![answer(0, 10, false), answer(1, 12, false), answer(2, 10, true)];
    let (error, session_id, sent) = leader.respond(1, context, &[], answers);
    assert_eq!((error, session_id), (None, id));
    assert_eq!(partitions_of(&sent), vec![1, 2], "partition 0 has nothing new");

    // An error is sent, and sent again next time even though nothing else changed.
    let context = leader.new_context(2, FetchMetadata { session_id: id, epoch: 2 }, &[want(0, 11)], &[], true);
    assert_eq!(leader.partitions(id)[0].fetch.fetch_offset, 11, "a sent partition updates the session");
    let mut failed = answer(0, 10, false);
    failed.error = Some(ErrorCode::NotLeaderOrFollower);
    let answers = vec![failed.clone(), answer(1, 12, false), answer(2, 10, false)];
    assert_eq!(partitions_of(&leader.respond(2, context, &[], answers).2), vec![0]);
    let context = leader.new_context(3, FetchMetadata { session_id: id, epoch: 3 }, &[], &[], true);
    let answers = vec![answer(0, 10, false), answer(1, 12, false), answer(2, 10, false)];
    assert_eq!(partitions_of(&leader.respond(3, context, &[], answers).2), vec![0], "cleared, so sent again");
}

#[test]
fn a_leader_refuses_unknown_sessions_and_wrong_epochs_and_closes_what_a_full_request_names() {
    let mut leader = cache(10);
    let (id, _) = open_session(&mut leader, 2);
    let unknown = leader.new_context(0, FetchMetadata { session_id: id + 1, epoch: 1 }, &[], &[], true);
    assert_eq!(unknown, FetchContext::Error(ErrorCode::FetchSessionIdNotFound));
    assert_eq!(
        leader.respond(0, unknown, &[], Vec::new()),
        (Some(ErrorCode::FetchSessionIdNotFound), INVALID_SESSION_ID, Vec::new())
    );
    let stale = leader.new_context(0, FetchMetadata { session_id: id, epoch: 5 }, &[], &[], true);
    assert_eq!(stale, FetchContext::Error(ErrorCode::InvalidFetchSessionEpoch));

    // A waiting incremental fetch overtaken by a newer one of the same session is refused.
    let waiting = leader.new_context(0, FetchMetadata { session_id: id, epoch: 1 }, &[], &[], true);
    let newer = leader.new_context(0, FetchMetadata { session_id: id, epoch: 2 }, &[], &[], true);
    assert_eq!(newer, FetchContext::Incremental { session_id: id, epoch: 3 });
    let answers = vec![answer(0, 10, false), answer(1, 10, false)];
    assert_eq!(leader.respond(0, waiting, &[], answers).0, Some(ErrorCode::InvalidFetchSessionEpoch));

    let close = leader.new_context(0, FetchMetadata { session_id: id, epoch: INITIAL_EPOCH }, &[want(0, 0)], &[], true);
    assert_eq!(close, FetchContext::Full { privileged: true });
    assert!(leader.is_empty(), "a full request closes the session it names");
    let sessionless = leader.new_context(0, FetchMetadata::SESSIONLESS, &[want(0, 0)], &[], false);
    let (_, session_id, sent) = leader.respond(0, sessionless, &[want(0, 0)], vec![answer(0, 0, false)]);
    assert_eq!((session_id, sent.len(), leader.len()), (INVALID_SESSION_ID, 1, 0));
}

#[test]
fn forgetting_every_partition_closes_the_session() {
    let mut leader = cache(10);
    let (id, _) = open_session(&mut leader, 2);
    let context = leader.new_context(0, FetchMetadata { session_id: id, epoch: 1 }, &[], &[tp(0), tp(1)], true);
    assert_eq!(context, FetchContext::Sessionless);
    assert!(leader.is_empty());
}

#[test]
fn the_cache_holds_at_most_its_slots_and_evicts_as_kafka_does() {
    // No slots: no sessions, every fetch is answered in full.
    let mut leader = cache(0);
    let request = [want(0, 0)];
    let context = leader.new_context(0, FetchMetadata::INITIAL, &request, &[], true);
    assert_eq!(leader.respond(0, context, &request, vec![answer(0, 0, false)]).1, INVALID_SESSION_ID);

    // One slot, held by a consumer: a follower evicts it at once.
    let mut leader = cache(1);
    let context = leader.new_context(0, FetchMetadata::INITIAL, &request, &[], false);
    let consumer = leader.respond(0, context, &request, vec![answer(0, 0, false)]).1;
    assert_ne!(consumer, INVALID_SESSION_ID);
    let context = leader.new_context(1, FetchMetadata::INITIAL, &request, &[], true);
    let follower = leader.respond(1, context, &request, vec![answer(0, 0, false)]).1;
    assert_ne!(follower, INVALID_SESSION_ID);
    assert_eq!(leader.partitions(consumer), &[], "the consumer's session is gone");

    // A young follower session stays against a consumer, and against a follower of the same size.
    for privileged in [false, true] {
        let context = leader.new_context(2, FetchMetadata::INITIAL, &request, &[], privileged);
        assert_eq!(leader.respond(2, context, &request, vec![answer(0, 0, false)]).1, INVALID_SESSION_ID);
    }
    // A larger follower session may evict it once it is older than the eviction time.
    let two = [want(0, 0), want(1, 0)];
    let later = MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS + 2;
    let _ = leader.new_context(later - 1, FetchMetadata { session_id: follower, epoch: 1 }, &[], &[], true);
    let context = leader.new_context(later, FetchMetadata::INITIAL, &two, &[], true);
    let bigger = leader.respond(later, context, &two, vec![answer(0, 0, false), answer(1, 0, false)]).1;
    assert_ne!(bigger, INVALID_SESSION_ID);
    assert_eq!(leader.len(), 1);

    // A session unused for longer than the eviction time goes to anyone.
    let stale = later + MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS + 1;
    let context = leader.new_context(stale, FetchMetadata::INITIAL, &request, &[], false);
    assert_ne!(leader.respond(stale, context, &request, vec![answer(0, 0, false)]).1, INVALID_SESSION_ID);
    assert_eq!(leader.partitions(bigger), &[]);
}

#[test]
fn epochs_wrap_past_zero_and_final_stays_final() {
    assert_eq!(next_epoch(INITIAL_EPOCH), 1);
    assert_eq!(next_epoch(i32::MAX), 1);
    assert_eq!(next_epoch(FINAL_EPOCH), FINAL_EPOCH);
}

/// What the leader holds for one partition in the model below.
#[derive(Clone, Copy, Debug)]
struct LeaderPartition {
    high_watermark: i64,
    log_start_offset: i64,
    log_end_offset: i64,
    failing: bool,
}

proptest! {
    /// A follower and a leader exchange fetches over random changes of the wanted partitions,
    /// the leader's logs and lost messages. After every answer the follower uses, it knows the
    /// current high watermark and log start offset of every partition it wants that did not
    /// fail: leaving out the unchanged ones never hides a change. And after every request the
    /// leader takes in, its session holds exactly the follower's fetch state.
    #[test]
    fn a_follower_in_a_session_misses_no_change(
        slots in 0usize..2,
        rounds in prop::collection::vec(
            (
                prop::collection::vec(any::<bool>(), 4),
                prop::collection::vec((0i64..3, 0i64..2, any::<bool>(), 0u8..10), 4),
                0u8..10,
            ),
            1..40,
        ),
    ) {
        let mut fetcher = FetchSessionHandler::new(true);
        let mut leader = cache(slots);
        let mut logs = [LeaderPartition { high_watermark: 0, log_start_offset: 0, log_end_offset: 0, failing: false }; 4];
        // The follower's log end per partition, and what it learnt of each.
        let mut follower_end = [0i64; 4];
        let mut known: [Option<(i64, i64)>; 4] = [None; 4];
        for (now, (wanted_now, changes, loss)) in rounds.into_iter().enumerate() {
            for (log, (grow, trim, fail, _)) in logs.iter_mut().zip(&changes) {
                log.log_end_offset += grow;
                log.high_watermark = (log.high_watermark + grow).min(log.log_end_offset);
                log.log_start_offset = (log.log_start_offset + trim).min(log.high_watermark);
                log.failing = *fail && changes[0].3 < 3;
            }
            let wanted: Vec<FetchPartition> = (0..4)
                .filter(|&p| wanted_now[p as usize])
                .map(|p| want(p, follower_end[p as usize]))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let request = fetcher.build(wanted.clone());
            if loss == 0 {
                fetcher.handle_error();
                continue;
            }
            let now = now as u64;
            let context = leader.new_context(now, request.metadata, &request.partitions, &request.forgotten_topics_data, true);
            let read: Vec<FetchPartition> = match context {
                FetchContext::Incremental { session_id, .. } => {
                    leader.partitions(session_id).iter().map(|c| c.fetch.clone()).collect()
                }
                FetchContext::Error(_) => Vec::new(),
                _ => request.partitions.clone(),
            };
            if let FetchContext::Incremental { .. } = context {
                prop_assert_eq!(&read, &wanted, "the session holds the follower's fetch state");
            }
            let answers: Vec<FetchPartitionResponse> = read
                .iter()
                .map(|fp| {
                    let log = logs[fp.tp.partition as usize];
                    let mut a = answer(fp.tp.partition, log.high_watermark, log.log_end_offset > fp.fetch_offset);
                    a.log_start_offset = log.log_start_offset;
                    a.error = log.failing.then_some(ErrorCode::NotLeaderOrFollower);
                    if a.error.is_some() {
                        a.batches.clear();
                    }
                    a
                })
                .collect();
            let (error, session_id, sent) = leader.respond(now, context, &request.partitions, answers);
            if loss == 1 {
                fetcher.handle_error();
                continue;
            }
            if !fetcher.handle_response(error, session_id, &sent) {
                continue;
            }
            for a in &sent {
                let p = a.tp.partition as usize;
                if a.error.is_some() {
                    known[p] = None;
                    continue;
                }
                if !a.batches.is_empty() {
                    follower_end[p] = logs[p].log_end_offset;
                }
                known[p] = Some((a.high_watermark, a.log_start_offset));
            }
            for fp in &wanted {
                let p = fp.tp.partition as usize;
                if !logs[p].failing {
                    prop_assert_eq!(known[p], Some((logs[p].high_watermark, logs[p].log_start_offset)), "partition {}", p);
                    prop_assert_eq!(follower_end[p], logs[p].log_end_offset);
                }
            }
        }
    }
}
