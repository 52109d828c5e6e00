//! Idempotent producers: InitProducerId hands out producer ids, and each partition remembers
//! the sequence numbers of a producer's last batches, so that a retried batch is answered
//! with its first offset instead of being appended twice (Kafka's default producer since
//! 3.0, and kafka-python's since 3.0, are idempotent).
//!
//! The state is in memory only: strata's batches do not store producer ids, so after a
//! restart a producer is treated as new (its next batch is accepted whatever its sequence)
//! and a batch retried across the restart may be appended twice. Transactions are not
//! supported: an InitProducerId with a transactional id is refused.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use kafka_protocol::ResponseError;
use kafka_protocol::messages::ProducerId;
use kafka_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use kafka_protocol::messages::init_producer_id_response::InitProducerIdResponse;
use strata_log::sync::unmodelled::Mutex;

use crate::records::Sequenced;

/// Batches remembered per producer and partition: Kafka's limit on in-flight requests of an
/// idempotent producer, so any retry is among them.
const REMEMBERED: usize = 5;

/// A producer idle this long on a partition is forgotten there (Kafka keeps producer state
/// for `producer.id.expiration.ms`, a day; strata's is memory, so it keeps less).
const IDLE_EXPIRY: Duration = Duration::from_secs(60 * 60);

/// What to do with an idempotent batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The next batch in sequence: append it.
    Append,
    /// A retry of a batch already appended at this base offset: answer with it.
    Duplicate(u64),
    /// Out of sequence, or from a fenced (older) epoch.
    Reject(ResponseError),
}

/// One producer's recent batches on one partition.
#[derive(Debug)]
pub(crate) struct ProducerState {
    epoch: i16,
    /// `(first sequence, last sequence, base offset)`, oldest first.
    recent: VecDeque<(i32, i32, u64)>,
    last_used: Instant,
}

impl ProducerState {
    /// Judges a batch against what this producer sent before.
    pub fn check(&self, s: &Sequenced) -> Verdict {
        if s.epoch < self.epoch {
            return Verdict::Reject(ResponseError::InvalidProducerEpoch);
        }
        if s.epoch > self.epoch {
            return Verdict::Append;
        }
        if let Some(&(_, _, base)) = self
            .recent
            .iter()
            .find(|(first, last, _)| (*first, *last) == (s.first, s.last))
        {
            return Verdict::Duplicate(base);
        }
        match self.recent.back() {
            None => Verdict::Append,
            // Sequences wrap from i32::MAX to 0, as in Kafka.
            Some(&(_, last, _)) if s.first == last.checked_add(1).unwrap_or(0) => Verdict::Append,
            Some(_) => Verdict::Reject(ResponseError::OutOfOrderSequenceNumber),
        }
    }

    /// Remembers an appended batch.
    pub fn appended(&mut self, s: &Sequenced, base_offset: u64) {
        if s.epoch != self.epoch {
            self.epoch = s.epoch;
            self.recent.clear();
        }
        if self.recent.len() == REMEMBERED {
            self.recent.pop_front();
        }
        self.recent.push_back((s.first, s.last, base_offset));
    }
}

/// `(producer id, topic, partition)`.
type ProducerPartition = (i64, String, u32);

/// Producer ids and every producer's state per partition.
#[derive(Debug)]
pub(crate) struct Producers {
    next_id: AtomicI64,
    states: Mutex<HashMap<ProducerPartition, Arc<Mutex<ProducerState>>>>,
}

impl Producers {
    /// Ids start from the clock (in µs), so that ids handed out after a restart do not repeat
    /// those of before.
    pub fn new() -> Producers {
        Producers {
            next_id: AtomicI64::new(strata_log::now_ms().saturating_mul(1000)),
            states: Mutex::new(HashMap::new()),
        }
    }

    /// The state of `producer_id` on a partition; lock it across check and append.
    pub fn state(
        &self,
        producer_id: i64,
        topic: &str,
        partition: u32,
    ) -> Arc<Mutex<ProducerState>> {
        let mut states = self.states.lock();
        let state = states
            .entry((producer_id, topic.to_owned(), partition))
            .or_insert_with(|| {
                Arc::new(Mutex::new(ProducerState {
                    epoch: i16::MIN,
                    recent: VecDeque::new(),
                    last_used: Instant::now(),
                }))
            });
        state.lock().last_used = Instant::now();
        Arc::clone(state)
    }

    /// Forgets producers idle on a partition for an hour.
    pub fn expire(&self, now: Instant) {
        self.states
            .lock()
            .retain(|_, s| now.duration_since(s.lock().last_used) < IDLE_EXPIRY);
    }

    /// InitProducerId: a new producer id with epoch 0, or (v3+, an id given back) the same id
    /// with the next epoch, which fences the producer's older instances.
    pub fn init(&self, request: &InitProducerIdRequest) -> InitProducerIdResponse {
        if request
            .transactional_id
            .as_ref()
            .is_some_and(|t| !t.0.is_empty())
        {
            return InitProducerIdResponse::default()
                .with_error_code(ResponseError::UnsupportedVersion.code())
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1);
        }
        let bump = request.producer_id.0 >= 0
            && request.producer_epoch >= 0
            && request.producer_epoch < i16::MAX - 1;
        let (id, epoch) = if bump {
            (request.producer_id.0, request.producer_epoch + 1)
        } else {
            (self.next_id.fetch_add(1, Ordering::Relaxed), 0)
        };
        InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(epoch: i16, first: i32, last: i32) -> Sequenced {
        Sequenced {
            producer_id: 1,
            epoch,
            first,
            last,
        }
    }

    #[test]
    fn retries_are_duplicates_gaps_and_old_epochs_are_refused() {
        let producers = Producers::new();
        let state = producers.state(1, "t", 0);
        let mut s = state.lock();
        assert_eq!(s.check(&seq(0, 0, 9)), Verdict::Append);
        s.appended(&seq(0, 0, 9), 100);
        assert_eq!(s.check(&seq(0, 0, 9)), Verdict::Duplicate(100));
        assert_eq!(
            s.check(&seq(0, 20, 29)),
            Verdict::Reject(ResponseError::OutOfOrderSequenceNumber)
        );
        assert_eq!(s.check(&seq(0, 10, 19)), Verdict::Append);
        s.appended(&seq(1, 0, 4), 110);
        assert_eq!(
            s.check(&seq(0, 10, 19)),
            Verdict::Reject(ResponseError::InvalidProducerEpoch)
        );
        for i in 1..=REMEMBERED as i32 {
            s.appended(&seq(1, i * 5, i * 5 + 4), 110 + i as u64 * 5);
        }
        assert_eq!(
            s.check(&seq(1, 0, 4)),
            Verdict::Reject(ResponseError::OutOfOrderSequenceNumber)
        );
        assert_eq!(
            s.check(&seq(1, i32::MAX, i32::MAX)),
            Verdict::Reject(ResponseError::OutOfOrderSequenceNumber)
        );
    }

    #[test]
    fn ids_are_new_or_bumped_and_transactions_are_refused() {
        let producers = Producers::new();
        let a = producers.init(&InitProducerIdRequest::default().with_producer_id(ProducerId(-1)));
        let b = producers.init(&InitProducerIdRequest::default().with_producer_id(ProducerId(-1)));
        assert_ne!(a.producer_id, b.producer_id);
        assert_eq!(a.producer_epoch, 0);
        let bumped = producers.init(
            &InitProducerIdRequest::default()
                .with_producer_id(a.producer_id)
                .with_producer_epoch(0),
        );
        assert_eq!(
            (bumped.producer_id, bumped.producer_epoch),
            (a.producer_id, 1)
        );
        let txn = producers.init(
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(kafka_protocol::messages::TransactionalId("t".into()))),
        );
        assert_eq!(txn.error_code, ResponseError::UnsupportedVersion.code());
    }
}
