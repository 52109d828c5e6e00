//! The group coordinator: membership and generations of Kafka consumer groups.
//!
//! It runs Kafka's classic rebalance protocol and nothing more: members join (JoinGroup),
//! the coordinator waits until every known member has rejoined or the rebalance timeout
//! passes, opens a new generation and names a leader; the leader computes the assignment
//! (range, round-robin, cooperative-sticky: the client's business) and hands it over in
//! SyncGroup, which the coordinator relays to every member. Heartbeats keep members alive; a
//! member silent for its session timeout is removed, which starts a rebalance.
//!
//! A group without members first waits for more to join (Kafka's
//! `group.initial.rebalance.delay.ms`, KIP-134), so that consumers started together share
//! its first generation. Opening it with the first alone makes that member lead before its
//! client has the topics' metadata (kafka-python asks for it beside its first join): it
//! assigns nothing, then rejoins when the metadata comes. kafka-python (3.0.12, its main
//! branch too) can drop the answer to such a rejoin if it lands between two `poll()`s: its
//! `need_rejoin()` turns false once the leader has computed the assignment, the finished
//! join is never taken up, heartbeats stay off, and the member's session expires while the
//! client waits for ever.
//!
//! States, as Kafka names them: `Empty` → `PreparingRebalance` (joins awaited) →
//! `CompletingRebalance` (assignment awaited from the leader) → `Stable`. Membership lives in
//! memory only, as in Kafka, where a coordinator failover also makes every member rejoin; the
//! committed offsets are durable, in the log's group store.
//!
//! Everything here is synchronous under one lock; a request that must wait (a join until the
//! rebalance completes, a follower's sync until the leader's) gets a oneshot receiver, and
//! [`Coordinator::tick`] (called periodically by the server) enforces the deadlines.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use strata_log::sync::unmodelled::Mutex;
use tokio::sync::oneshot;

/// A group's phase of the rebalance protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum State {
    /// No members (committed offsets may still exist).
    Empty,
    /// A rebalance started: waiting for the members to (re)join.
    PreparingRebalance,
    /// A generation is open: waiting for the leader's assignment.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
}

impl State {
    /// Kafka's name for the state (ListGroups, DescribeGroups).
    pub fn name(self) -> &'static str {
        match self {
            State::Empty => "Empty",
            State::PreparingRebalance => "PreparingRebalance",
            State::CompletingRebalance => "CompletingRebalance",
            State::Stable => "Stable",
        }
    }
}

/// What a client sends to join.
#[derive(Debug, Clone)]
pub(crate) struct JoinParams {
    pub group: String,
    /// Empty for a member's first join.
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    /// `(name, metadata)` in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a first join gets `MEMBER_ID_REQUIRED` with its id, and joins again.
    pub require_known_member_id: bool,
}

/// A member as the leader sees it in the join answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// The member's metadata for the chosen protocol.
    pub metadata: Bytes,
}

/// The answer to a join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Joined {
    pub error: Option<ResponseError>,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Every member, for the leader only.
    pub members: Vec<JoinedMember>,
}

impl Joined {
    fn error(error: ResponseError, member_id: String) -> Joined {
        Joined {
            error: Some(error),
            generation: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            member_id,
            members: Vec::new(),
        }
    }
}

/// The answer to a sync: the member's assignment, or why not.
pub(crate) type Synced = Result<(Bytes, Option<String>, Option<String>), ResponseError>;

/// An answer now, or one to await.
#[derive(Debug)]
pub(crate) enum Pending<T> {
    /// Answered at once.
    Ready(T),
    /// Answered when the rebalance moves on.
    Wait(oneshot::Receiver<T>),
}

/// A member of a group, seen through DescribeGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemberInfo {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

/// A group, seen through DescribeGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupInfo {
    pub state: State,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<MemberInfo>,
}

#[derive(Debug)]
struct Member {
    group_instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    last_seen: Instant,
    /// Order of first join: the earliest member still present leads.
    seq: u64,
    join_waiter: Option<oneshot::Sender<Joined>>,
    sync_waiter: Option<oneshot::Sender<Synced>>,
}

#[derive(Debug)]
struct Group {
    state: State,
    generation: i32,
    protocol_type: Option<String>,
    protocol: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// Ids handed out with `MEMBER_ID_REQUIRED`, valid until the deadline.
    pending: HashMap<String, Instant>,
    /// When a `PreparingRebalance` gives up on members that did not rejoin.
    rebalance_deadline: Option<Instant>,
    /// While the first generation after `Empty` waits for more members: it opens no sooner
    /// than this, which each new member moves on by the initial delay.
    initial_join_until: Option<Instant>,
}

impl Group {
    fn new() -> Group {
        Group {
            state: State::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: HashMap::new(),
            rebalance_deadline: None,
            initial_join_until: None,
        }
    }

    /// Enters `PreparingRebalance`: waiting syncs are told to rejoin.
    fn prepare_rebalance(&mut self, now: Instant) {
        if self.state == State::PreparingRebalance {
            return;
        }
        self.state = State::PreparingRebalance;
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.rebalance_deadline = Some(now + timeout);
        for m in self.members.values_mut() {
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(Err(ResponseError::RebalanceInProgress));
            }
        }
    }

    /// After members left or expired: rebalance the rest, or become empty.
    fn members_changed(&mut self, now: Instant) {
        if self.members.is_empty() {
            self.state = State::Empty;
            self.generation += 1;
            self.leader = None;
            self.protocol = None;
            self.rebalance_deadline = None;
            self.initial_join_until = None;
            return;
        }
        self.prepare_rebalance(now);
        self.try_complete_join(now, false);
    }

    /// Opens the next generation once every member has rejoined (and the initial delay, if
    /// any, has passed), or, when `deadline_passed`, with those that did (the others are
    /// removed).
    fn try_complete_join(&mut self, now: Instant, deadline_passed: bool) {
        if self.state != State::PreparingRebalance {
            return;
        }
        if !deadline_passed && self.initial_join_until.is_some_and(|until| now < until) {
            return;
        }
        let all_joined = self.members.values().all(|m| m.join_waiter.is_some());
        if !all_joined && !deadline_passed {
            return;
        }
        self.members.retain(|_, m| m.join_waiter.is_some());
        if self.members.is_empty() {
            self.members_changed(now);
            return;
        }
        self.generation += 1;
        self.rebalance_deadline = None;
        self.initial_join_until = None;
        let leader = match &self.leader {
            Some(l) if self.members.contains_key(l) => l.clone(),
            _ => self
                .members
                .iter()
                .min_by_key(|(_, m)| m.seq)
                .map(|(id, _)| id.clone())
                .unwrap_or_default(),
        };
        // The leader's most preferred protocol that every member supports.
        let protocol = self.members.get(&leader).and_then(|l| {
            l.protocols
                .iter()
                .map(|(name, _)| name.clone())
                .find(|name| {
                    self.members
                        .values()
                        .all(|m| m.protocols.iter().any(|(n, _)| n == name))
                })
        });
        self.protocol = protocol.clone();
        self.leader = Some(leader.clone());
        self.state = State::CompletingRebalance;
        let everyone: Vec<JoinedMember> = self
            .members
            .iter()
            .map(|(id, m)| JoinedMember {
                member_id: id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                metadata: m
                    .protocols
                    .iter()
                    .find(|(n, _)| Some(n) == protocol.as_ref())
                    .map(|(_, md)| md.clone())
                    .unwrap_or_default(),
            })
            .collect();
        for (id, m) in self.members.iter_mut() {
            m.assignment = Bytes::new();
            m.last_seen = now;
            if let Some(w) = m.join_waiter.take() {
                let _ = w.send(Joined {
                    error: None,
                    generation: self.generation,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: protocol.clone(),
                    leader: leader.clone(),
                    member_id: id.clone(),
                    members: if *id == leader {
                        everyone.clone()
                    } else {
                        Vec::new()
                    },
                });
            }
        }
    }
}

/// Consumer groups' membership, for one broker.
#[derive(Debug)]
pub(crate) struct Coordinator {
    groups: Mutex<HashMap<String, Group>>,
    /// Distinguishes member ids across restarts (with `next_seq`).
    epoch: u128,
    next_seq: Mutex<u64>,
    min_session: Duration,
    max_session: Duration,
    /// How long a group that had no members waits for more before its first generation.
    initial_delay: Duration,
}

impl Coordinator {
    /// A coordinator accepting session timeouts in `min_session..=max_session`, whose groups
    /// wait `initial_delay` for more members before their first generation (zero: none).
    pub fn new(
        min_session: Duration,
        max_session: Duration,
        initial_delay: Duration,
    ) -> Coordinator {
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Coordinator {
            groups: Mutex::new(HashMap::new()),
            epoch,
            next_seq: Mutex::new(0),
            min_session,
            max_session,
            initial_delay,
        }
    }

    fn next_seq(&self) -> u64 {
        let mut seq = self.next_seq.lock();
        *seq += 1;
        *seq
    }

    /// JoinGroup.
    pub fn join(&self, p: JoinParams) -> Pending<Joined> {
        let now = Instant::now();
        if p.session_timeout < self.min_session || p.session_timeout > self.max_session {
            return Pending::Ready(Joined::error(
                ResponseError::InvalidSessionTimeout,
                p.member_id,
            ));
        }
        if p.protocol_type.is_empty() || p.protocols.is_empty() {
            return Pending::Ready(Joined::error(
                ResponseError::InconsistentGroupProtocol,
                p.member_id,
            ));
        }
        let mut groups = self.groups.lock();
        let group = groups.entry(p.group.clone()).or_insert_with(Group::new);
        if group.state != State::Empty || !group.members.is_empty() {
            let same_type = group.protocol_type.as_deref() == Some(p.protocol_type.as_str());
            let shared = group.members.iter().all(|(id, m)| {
                *id == p.member_id
                    || p.protocols
                        .iter()
                        .any(|(n, _)| m.protocols.iter().any(|(mn, _)| mn == n))
            });
            if !same_type || !shared {
                return Pending::Ready(Joined::error(
                    ResponseError::InconsistentGroupProtocol,
                    p.member_id,
                ));
            }
        }
        let member_id = if p.member_id.is_empty() {
            let id = format!("{}-{:x}-{}", p.client_id, self.epoch, self.next_seq());
            if p.require_known_member_id {
                group.pending.insert(id.clone(), now + p.session_timeout);
                return Pending::Ready(Joined::error(ResponseError::MemberIdRequired, id));
            }
            id
        } else if group.members.contains_key(&p.member_id)
            || group.pending.remove(&p.member_id).is_some()
        {
            p.member_id.clone()
        } else {
            return Pending::Ready(Joined::error(ResponseError::UnknownMemberId, p.member_id));
        };
        let (tx, rx) = oneshot::channel();
        let was_empty = group.state == State::Empty;
        let seq = group.members.get(&member_id).map(|m| m.seq);
        let seq = match seq {
            Some(s) => s,
            None => self.next_seq(),
        };
        let previous = group.members.insert(
            member_id.clone(),
            Member {
                group_instance_id: p.group_instance_id,
                client_id: p.client_id,
                client_host: p.client_host,
                session_timeout: p.session_timeout,
                rebalance_timeout: p.rebalance_timeout,
                protocols: p.protocols,
                assignment: Bytes::new(),
                last_seen: now,
                seq,
                join_waiter: Some(tx),
                sync_waiter: None,
            },
        );
        // The first member of an empty group starts the initial delay, and each newcomer
        // during it starts it over (bounded by the rebalance deadline): the generation opens
        // once the members started together have all come. Kafka checks instead at the end of
        // each delay whether someone came, so waits up to twice as long.
        if !self.initial_delay.is_zero()
            && (was_empty || (previous.is_none() && group.initial_join_until.is_some()))
        {
            group.initial_join_until = Some(now + self.initial_delay);
        }
        // A join that replaces one still waiting: the older request is told to rejoin
        // (dropping its sender answers it with REBALANCE_IN_PROGRESS).
        drop(previous);
        group.protocol_type = Some(p.protocol_type);
        group.prepare_rebalance(now);
        group.try_complete_join(now, false);
        Pending::Wait(rx)
    }

    /// SyncGroup: the leader hands in the assignment; every member gets its own.
    pub fn sync(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        assignments: Vec<(String, Bytes)>,
    ) -> Pending<Synced> {
        let now = Instant::now();
        let mut groups = self.groups.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return Pending::Ready(Err(ResponseError::UnknownMemberId));
        };
        if !group.members.contains_key(member_id) {
            return Pending::Ready(Err(ResponseError::UnknownMemberId));
        }
        if generation != group.generation {
            return Pending::Ready(Err(ResponseError::IllegalGeneration));
        }
        let names = (group.protocol_type.clone(), group.protocol.clone());
        match group.state {
            State::Empty => Pending::Ready(Err(ResponseError::UnknownMemberId)),
            State::PreparingRebalance => Pending::Ready(Err(ResponseError::RebalanceInProgress)),
            State::Stable => {
                let m = group.members.get_mut(member_id);
                Pending::Ready(m.map_or(Err(ResponseError::UnknownMemberId), |m| {
                    m.last_seen = now;
                    Ok((m.assignment.clone(), names.0, names.1))
                }))
            }
            State::CompletingRebalance => {
                if group.leader.as_deref() == Some(member_id) {
                    for (id, assignment) in assignments {
                        if let Some(m) = group.members.get_mut(&id) {
                            m.assignment = assignment;
                        }
                    }
                    group.state = State::Stable;
                    let mut own = Err(ResponseError::UnknownMemberId);
                    for (id, m) in group.members.iter_mut() {
                        let answer = Ok((m.assignment.clone(), names.0.clone(), names.1.clone()));
                        if id == member_id {
                            m.last_seen = now;
                            own = answer;
                        } else if let Some(w) = m.sync_waiter.take() {
                            let _ = w.send(answer);
                        }
                    }
                    Pending::Ready(own)
                } else {
                    let (tx, rx) = oneshot::channel();
                    if let Some(m) = group.members.get_mut(member_id) {
                        m.last_seen = now;
                        m.sync_waiter = Some(tx);
                    }
                    Pending::Wait(rx)
                }
            }
        }
    }

    /// Heartbeat: keeps the member alive and tells it when to rejoin.
    pub fn heartbeat(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
    ) -> Option<ResponseError> {
        let mut groups = self.groups.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return Some(ResponseError::UnknownMemberId);
        };
        let Some(member) = group.members.get_mut(member_id) else {
            return Some(ResponseError::UnknownMemberId);
        };
        member.last_seen = Instant::now();
        if generation != group.generation {
            return Some(ResponseError::IllegalGeneration);
        }
        (group.state == State::PreparingRebalance).then_some(ResponseError::RebalanceInProgress)
    }

    /// LeaveGroup: each member's answer, in order; the rest of the group rebalances.
    pub fn leave(&self, group_id: &str, member_ids: &[String]) -> Vec<Option<ResponseError>> {
        let now = Instant::now();
        let mut groups = self.groups.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return member_ids
                .iter()
                .map(|_| Some(ResponseError::UnknownMemberId))
                .collect();
        };
        let answers: Vec<_> = member_ids
            .iter()
            .map(|id| {
                group
                    .members
                    .remove(id)
                    .map_or(Some(ResponseError::UnknownMemberId), |_| None)
            })
            .collect();
        if answers.iter().any(Option::is_none) {
            group.members_changed(now);
        }
        answers
    }

    /// Whether an OffsetCommit from `member_id` in `generation` may commit: yes for
    /// generation -1 (a consumer that assigns itself partitions, outside any group
    /// membership), else only for a current member of the current generation.
    ///
    /// # Errors
    /// `UNKNOWN_MEMBER_ID`, `ILLEGAL_GENERATION`, or `REBALANCE_IN_PROGRESS` while the
    /// leader's assignment is awaited.
    pub fn check_commit(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
    ) -> Result<(), ResponseError> {
        if generation < 0 {
            return Ok(());
        }
        let mut groups = self.groups.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return Err(ResponseError::IllegalGeneration);
        };
        let Some(member) = group.members.get_mut(member_id) else {
            return Err(ResponseError::UnknownMemberId);
        };
        member.last_seen = Instant::now();
        if generation != group.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        if group.state == State::CompletingRebalance {
            return Err(ResponseError::RebalanceInProgress);
        }
        Ok(())
    }

    /// Removes members whose session expired and ends rebalances whose deadline passed.
    pub fn tick(&self, now: Instant) {
        let mut groups = self.groups.lock();
        for (name, group) in groups.iter_mut() {
            group.pending.retain(|_, deadline| *deadline > now);
            let before = group.members.len();
            group.members.retain(|id, m| {
                let alive = m.join_waiter.is_some() || now < m.last_seen + m.session_timeout;
                if !alive {
                    tracing::info!(group = %name, member = %id, "a Kafka group member's session expired");
                }
                alive
            });
            if group.members.len() != before {
                group.members_changed(now);
            }
            if group.rebalance_deadline.is_some_and(|d| now >= d) {
                group.try_complete_join(now, true);
            } else if group.initial_join_until.is_some_and(|until| now >= until) {
                group.try_complete_join(now, false);
            }
        }
        groups.retain(|_, g| {
            g.state != State::Empty || !g.members.is_empty() || !g.pending.is_empty()
        });
    }

    /// Every group with members: `(name, protocol type, state)`.
    pub fn list(&self) -> Vec<(String, String, State)> {
        let groups = self.groups.lock();
        let mut list: Vec<_> = groups
            .iter()
            .map(|(name, g)| {
                (
                    name.clone(),
                    g.protocol_type.clone().unwrap_or_default(),
                    g.state,
                )
            })
            .collect();
        list.sort();
        list
    }

    /// One group's state and members; `None` when it has no members.
    pub fn describe(&self, group_id: &str) -> Option<GroupInfo> {
        let groups = self.groups.lock();
        let g = groups.get(group_id)?;
        let protocol = g.protocol.clone().unwrap_or_default();
        Some(GroupInfo {
            state: g.state,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            members: g
                .members
                .iter()
                .map(|(id, m)| MemberInfo {
                    member_id: id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: m
                        .protocols
                        .iter()
                        .find(|(n, _)| *n == protocol)
                        .map(|(_, md)| md.clone())
                        .unwrap_or_default(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
            protocol,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A coordinator that opens a new group's first generation at once.
    fn coordinator() -> Coordinator {
        Coordinator::new(
            Duration::from_millis(10),
            Duration::from_secs(60),
            Duration::ZERO,
        )
    }

    fn params(member_id: &str) -> JoinParams {
        JoinParams {
            group: "g".into(),
            member_id: member_id.into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(10),
            protocol_type: "consumer".into(),
            protocols: vec![
                ("range".into(), Bytes::from_static(b"r")),
                ("roundrobin".into(), Bytes::from_static(b"rr")),
            ],
            require_known_member_id: true,
        }
    }

    fn ready<T: std::fmt::Debug>(p: Pending<T>) -> T {
        match p {
            Pending::Ready(t) => t,
            Pending::Wait(mut rx) => rx.try_recv().expect("answered already"),
        }
    }

    fn waiting<T>(p: Pending<T>) -> oneshot::Receiver<T> {
        match p {
            Pending::Wait(rx) => rx,
            Pending::Ready(_) => panic!("expected to wait"),
        }
    }

    /// Joins with a fresh id (the v4 two-step) and returns the answer.
    fn first_join(c: &Coordinator) -> Pending<Joined> {
        let required = ready(c.join(params("")));
        assert_eq!(required.error, Some(ResponseError::MemberIdRequired));
        c.join(params(&required.member_id))
    }

    #[test]
    fn a_lone_member_leads_generation_one_and_gets_its_assignment() {
        let c = coordinator();
        let joined = ready(first_join(&c));
        assert_eq!(joined.error, None);
        assert_eq!(joined.generation, 1);
        assert_eq!(joined.leader, joined.member_id);
        assert_eq!(joined.protocol_name.as_deref(), Some("range"));
        assert_eq!(joined.members.len(), 1);
        let me = joined.member_id.clone();
        let synced = ready(c.sync("g", 1, &me, vec![(me.clone(), Bytes::from_static(b"all"))]));
        assert_eq!(synced.expect("assignment").0, Bytes::from_static(b"all"));
        assert_eq!(c.heartbeat("g", 1, &me), None);
        assert_eq!(c.describe("g").expect("group").state, State::Stable);
    }

    #[test]
    fn a_second_member_makes_the_first_rejoin_then_both_get_their_share() {
        let c = coordinator();
        let a = ready(first_join(&c)).member_id;
        ready(c.sync("g", 1, &a, vec![(a.clone(), Bytes::from_static(b"0,1"))])).expect("sync");
        let mut b_join = waiting(first_join(&c));
        assert_eq!(
            c.heartbeat("g", 1, &a),
            Some(ResponseError::RebalanceInProgress)
        );
        let a_join = ready(c.join(params(&a)));
        let b_joined = b_join.try_recv().expect("b answered when a rejoined");
        assert_eq!(a_join.generation, 2);
        assert_eq!(a_join.leader, a, "the earlier member keeps leading");
        assert_eq!(a_join.members.len(), 2);
        assert!(b_joined.members.is_empty(), "followers get no member list");
        let b = b_joined.member_id;
        let mut b_sync = waiting(c.sync("g", 2, &b, Vec::new()));
        let a_sync = ready(c.sync(
            "g",
            2,
            &a,
            vec![
                (a.clone(), Bytes::from_static(b"0")),
                (b.clone(), Bytes::from_static(b"1")),
            ],
        ));
        assert_eq!(a_sync.expect("a").0, Bytes::from_static(b"0"));
        assert_eq!(
            b_sync.try_recv().expect("relayed").expect("b").0,
            Bytes::from_static(b"1")
        );
        assert_eq!(
            c.check_commit("g", 1, &a),
            Err(ResponseError::IllegalGeneration)
        );
        assert_eq!(c.check_commit("g", 2, &a), Ok(()));
        assert_eq!(c.check_commit("g", -1, ""), Ok(()));
    }

    #[test]
    fn leaving_rebalances_the_rest_and_the_last_one_empties_the_group() {
        let c = coordinator();
        let a = ready(first_join(&c)).member_id;
        let mut b_join = waiting(first_join(&c));
        ready(c.join(params(&a)));
        let b = b_join.try_recv().expect("b").member_id;
        assert_eq!(c.leave("g", std::slice::from_ref(&a)), vec![None]);
        assert_eq!(
            c.heartbeat("g", 2, &b),
            Some(ResponseError::RebalanceInProgress)
        );
        let alone = ready(c.join(params(&b)));
        assert_eq!(alone.generation, 3);
        assert_eq!(alone.leader, b);
        assert_eq!(
            c.leave("g", &[b.clone(), b]),
            vec![None, Some(ResponseError::UnknownMemberId)]
        );
        assert_eq!(c.describe("g").expect("group").state, State::Empty);
    }

    #[test]
    fn expired_sessions_and_missed_rebalances_remove_members() {
        let c = coordinator();
        let a = ready(first_join(&c)).member_id;
        let mut b_join = waiting(first_join(&c));
        // `a` never rejoins: past the rebalance deadline the generation opens without it.
        c.tick(Instant::now() + Duration::from_secs(11));
        let b = b_join.try_recv().expect("b");
        assert_eq!(b.generation, 2);
        assert_eq!(b.members.len(), 1);
        assert_eq!(
            c.heartbeat("g", 2, &a),
            Some(ResponseError::UnknownMemberId)
        );
        // Then `b` falls silent past its session timeout.
        c.tick(Instant::now() + Duration::from_secs(30));
        assert!(
            c.describe("g").is_none(),
            "an empty group without members is forgotten"
        );
    }

    #[test]
    fn consumers_started_together_share_the_first_generation_of_a_new_group() {
        // Two consumers start at once. Opening generation 1 with the first alone (then
        // generation 2 with both) made its leader assign partitions before its client had the
        // topic's metadata, then rejoin once it had: a rejoin that kafka-python can lose
        // (the leader then never heartbeats again and its session expires).
        let c = Coordinator::new(
            Duration::from_millis(10),
            Duration::from_secs(60),
            Duration::from_secs(3),
        );
        let start = Instant::now();
        let mut a_join = waiting(first_join(&c));
        let mut b_join = waiting(first_join(&c));
        assert!(
            a_join.try_recv().is_err(),
            "generation 1 must not open with the first member alone"
        );
        assert_eq!(
            c.describe("g").expect("group").state,
            State::PreparingRebalance
        );
        c.tick(start + Duration::from_secs(2));
        assert!(a_join.try_recv().is_err(), "the delay has not passed");
        c.tick(start + Duration::from_secs(4));
        let a = a_join.try_recv().expect("a answered after the delay");
        let b = b_join.try_recv().expect("b answered after the delay");
        assert_eq!((a.generation, b.generation), (1, 1));
        assert_eq!(a.leader, a.member_id, "the first to join leads");
        assert_eq!(a.members.len(), 2, "the leader assigns to both at once");
    }

    #[test]
    fn only_a_group_without_members_waits_and_never_past_the_rebalance_timeout() {
        let c = Coordinator::new(
            Duration::from_millis(10),
            Duration::from_secs(60),
            Duration::from_secs(3),
        );
        let start = Instant::now();
        let mut a_join = waiting(first_join(&c));
        c.tick(start + Duration::from_secs(4));
        let a = a_join
            .try_recv()
            .expect("a alone after the delay")
            .member_id;
        ready(c.sync("g", 1, &a, vec![(a.clone(), Bytes::from_static(b"all"))])).expect("sync");
        // A newcomer to a running group rebalances it without the delay.
        let mut b_join = waiting(first_join(&c));
        ready(c.join(params(&a)));
        let b = b_join.try_recv().expect("b at once").member_id;
        assert_eq!(c.leave("g", &[a, b]), vec![None, None]);
        // Emptied, the group waits again, but no longer than the joiner's rebalance timeout.
        let required = ready(c.join(params("")));
        let mut hasty = params(&required.member_id);
        hasty.rebalance_timeout = Duration::from_secs(1);
        let mut c_join = waiting(c.join(hasty));
        c.tick(Instant::now() + Duration::from_millis(500));
        assert!(c_join.try_recv().is_err());
        c.tick(Instant::now() + Duration::from_secs(2));
        assert_eq!(c_join.try_recv().expect("c by the deadline").generation, 4);
    }

    #[test]
    fn bad_joins_are_refused() {
        let c = coordinator();
        let mut p = params("");
        p.session_timeout = Duration::from_millis(1);
        assert_eq!(
            ready(c.join(p)).error,
            Some(ResponseError::InvalidSessionTimeout)
        );
        assert_eq!(
            ready(c.join(params("stranger"))).error,
            Some(ResponseError::UnknownMemberId)
        );
        ready(first_join(&c));
        let mut other = params("");
        other.protocol_type = "connect".into();
        assert_eq!(
            ready(c.join(other)).error,
            Some(ResponseError::InconsistentGroupProtocol)
        );
    }
}
