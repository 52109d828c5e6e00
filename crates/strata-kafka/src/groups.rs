//! The consumer-group APIs: FindCoordinator (this node), JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, ListGroups and DescribeGroups, translated to and from the [`Coordinator`].
//!
//! [`Coordinator`]: crate::coordinator::Coordinator

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_groups_request::DescribeGroupsRequest;
use kafka_protocol::messages::describe_groups_response::{
    DescribeGroupsResponse, DescribedGroup, DescribedGroupMember,
};
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::find_coordinator_response::{
    Coordinator as Found, FindCoordinatorResponse,
};
use kafka_protocol::messages::heartbeat_request::HeartbeatRequest;
use kafka_protocol::messages::heartbeat_response::HeartbeatResponse;
use kafka_protocol::messages::join_group_request::JoinGroupRequest;
use kafka_protocol::messages::join_group_response::{JoinGroupResponse, JoinGroupResponseMember};
use kafka_protocol::messages::leave_group_request::LeaveGroupRequest;
use kafka_protocol::messages::leave_group_response::{LeaveGroupResponse, MemberResponse};
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use kafka_protocol::messages::list_groups_response::{ListGroupsResponse, ListedGroup};
use kafka_protocol::messages::sync_group_request::SyncGroupRequest;
use kafka_protocol::messages::sync_group_response::SyncGroupResponse;
use kafka_protocol::messages::{BrokerId, GroupId};
use kafka_protocol::protocol::StrBytes;
use strata_log::names::validate_name;

use crate::broker::{Broker, Context};
use crate::coordinator::{JoinParams, Joined, Pending, State};

/// FindCoordinator's key type for consumer groups (1 is transactions: not supported).
const GROUP_KEY: i8 = 0;

fn s(text: impl Into<String>) -> StrBytes {
    StrBytes::from_string(text.into())
}

fn opt(text: Option<String>) -> Option<StrBytes> {
    text.map(StrBytes::from_string)
}

/// FindCoordinator: this node coordinates every group (v0-v3: one key; v4+: a batch).
pub(crate) fn find_coordinator(
    broker: &Arc<Broker>,
    ctx: &Context,
    version: i16,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let (host, port) = broker.advertised(ctx);
    let node = BrokerId(broker.config.node_id);
    let error = (request.key_type != GROUP_KEY).then_some(ResponseError::CoordinatorNotAvailable);
    let message =
        error.map(|_| s("transactions are not supported: strata coordinates consumer groups only"));
    if version >= 4 {
        let coordinators = request
            .coordinator_keys
            .into_iter()
            .map(|key| {
                Found::default()
                    .with_key(key)
                    .with_node_id(if error.is_some() { BrokerId(-1) } else { node })
                    .with_host(if error.is_some() {
                        StrBytes::default()
                    } else {
                        host.clone()
                    })
                    .with_port(if error.is_some() { -1 } else { port })
                    .with_error_code(error.map_or(0, |e| e.code()))
                    .with_error_message(message.clone())
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    match error {
        Some(e) => FindCoordinatorResponse::default()
            .with_error_code(e.code())
            .with_error_message(message)
            .with_node_id(BrokerId(-1))
            .with_port(-1),
        None => FindCoordinatorResponse::default()
            .with_node_id(node)
            .with_host(host)
            .with_port(port),
    }
}

/// JoinGroup: waits (without holding a thread) until the rebalance completes.
pub(crate) async fn join_group(
    broker: &Arc<Broker>,
    ctx: &Context,
    version: i16,
    request: JoinGroupRequest,
) -> JoinGroupResponse {
    let group = request.group_id.0.to_string();
    let joined = if validate_name("group", &group).is_err() {
        Joined {
            error: Some(ResponseError::InvalidGroupId),
            generation: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            member_id: request.member_id.to_string(),
            members: Vec::new(),
        }
    } else {
        let session = Duration::from_millis(u64::try_from(request.session_timeout_ms).unwrap_or(0));
        // v0 has no rebalance timeout: Kafka used the session timeout.
        let rebalance = if version >= 1 {
            Duration::from_millis(u64::try_from(request.rebalance_timeout_ms).unwrap_or(0))
        } else {
            session
        };
        let member_id = request.member_id.to_string();
        let params = JoinParams {
            group,
            member_id: member_id.clone(),
            group_instance_id: request.group_instance_id.map(|i| i.to_string()),
            client_id: ctx.client_id.clone(),
            client_host: format!("/{}", ctx.peer.ip()),
            session_timeout: session,
            rebalance_timeout: rebalance,
            protocol_type: request.protocol_type.to_string(),
            protocols: request
                .protocols
                .into_iter()
                .map(|p| (p.name.to_string(), p.metadata))
                .collect(),
            require_known_member_id: version >= 4,
        };
        match broker.coordinator.join(params) {
            Pending::Ready(j) => j,
            Pending::Wait(rx) => rx.await.unwrap_or(Joined {
                // Replaced by a newer join of the same member.
                error: Some(ResponseError::RebalanceInProgress),
                generation: -1,
                protocol_type: None,
                protocol_name: None,
                leader: String::new(),
                member_id,
                members: Vec::new(),
            }),
        }
    };
    let members = joined
        .members
        .into_iter()
        .map(|m| {
            JoinGroupResponseMember::default()
                .with_member_id(s(m.member_id))
                .with_group_instance_id(opt(m.group_instance_id))
                .with_metadata(m.metadata)
        })
        .collect();
    JoinGroupResponse::default()
        .with_error_code(joined.error.map_or(0, |e| e.code()))
        .with_generation_id(joined.generation)
        .with_protocol_type(opt(joined.protocol_type))
        // v0-v6 encode the name as a non-null string.
        .with_protocol_name(Some(s(joined.protocol_name.unwrap_or_default())))
        .with_leader(s(joined.leader))
        .with_member_id(s(joined.member_id))
        .with_members(members)
}

/// SyncGroup: the leader's assignment in, each member's share out.
pub(crate) async fn sync_group(
    broker: &Arc<Broker>,
    _version: i16,
    request: SyncGroupRequest,
) -> SyncGroupResponse {
    let assignments = request
        .assignments
        .into_iter()
        .map(|a| (a.member_id.to_string(), a.assignment))
        .collect();
    let pending = broker.coordinator.sync(
        &request.group_id.0,
        request.generation_id,
        &request.member_id,
        assignments,
    );
    let synced = match pending {
        Pending::Ready(r) => r,
        Pending::Wait(rx) => rx.await.unwrap_or(Err(ResponseError::RebalanceInProgress)),
    };
    match synced {
        Ok((assignment, protocol_type, protocol_name)) => SyncGroupResponse::default()
            .with_assignment(assignment)
            .with_protocol_type(opt(protocol_type))
            .with_protocol_name(opt(protocol_name)),
        Err(e) => SyncGroupResponse::default().with_error_code(e.code()),
    }
}

/// Heartbeat.
pub(crate) fn heartbeat(broker: &Arc<Broker>, request: HeartbeatRequest) -> HeartbeatResponse {
    let error = broker.coordinator.heartbeat(
        &request.group_id.0,
        request.generation_id,
        &request.member_id,
    );
    HeartbeatResponse::default().with_error_code(error.map_or(0, |e| e.code()))
}

/// LeaveGroup (v0-v2: one member; v3+: a batch, answered per member).
pub(crate) fn leave_group(
    broker: &Arc<Broker>,
    version: i16,
    request: LeaveGroupRequest,
) -> LeaveGroupResponse {
    if version < 3 {
        let ids = [request.member_id.to_string()];
        let error = broker.coordinator.leave(&request.group_id.0, &ids)[0];
        return LeaveGroupResponse::default().with_error_code(error.map_or(0, |e| e.code()));
    }
    let ids: Vec<String> = request
        .members
        .iter()
        .map(|m| m.member_id.to_string())
        .collect();
    let answers = broker.coordinator.leave(&request.group_id.0, &ids);
    let members = request
        .members
        .into_iter()
        .zip(answers)
        .map(|(m, error)| {
            MemberResponse::default()
                .with_member_id(m.member_id)
                .with_group_instance_id(m.group_instance_id)
                .with_error_code(error.map_or(0, |e| e.code()))
        })
        .collect();
    LeaveGroupResponse::default().with_members(members)
}

/// ListGroups: groups with members, and groups that only have committed offsets (`Empty`).
pub(crate) fn list_groups(broker: &Arc<Broker>, request: ListGroupsRequest) -> ListGroupsResponse {
    let mut groups = broker.coordinator.list();
    for name in broker.log.groups().groups() {
        if !groups.iter().any(|(g, _, _)| *g == name) {
            groups.push((name, String::new(), State::Empty));
        }
    }
    groups.sort();
    let wanted = |state: State| {
        request.states_filter.is_empty()
            || request
                .states_filter
                .iter()
                .any(|f| f.eq_ignore_ascii_case(state.name()))
    };
    let groups = groups
        .into_iter()
        .filter(|(_, _, state)| wanted(*state))
        .map(|(name, protocol_type, state)| {
            ListedGroup::default()
                .with_group_id(GroupId(s(name)))
                .with_protocol_type(s(protocol_type))
                .with_group_state(s(state.name()))
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}

/// DescribeGroups: state, protocol and members; a group without members is `Empty` if it
/// has committed offsets and `Dead` (Kafka's "no such group") otherwise.
pub(crate) fn describe_groups(
    broker: &Arc<Broker>,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let groups = request
        .groups
        .into_iter()
        .map(|id| {
            let described = DescribedGroup::default()
                .with_group_id(id.clone())
                .with_authorized_operations(i32::MIN);
            match broker.coordinator.describe(&id.0) {
                Some(info) => {
                    let members = info
                        .members
                        .into_iter()
                        .map(|m| {
                            DescribedGroupMember::default()
                                .with_member_id(s(m.member_id))
                                .with_group_instance_id(opt(m.group_instance_id))
                                .with_client_id(s(m.client_id))
                                .with_client_host(s(m.client_host))
                                .with_member_metadata(m.metadata)
                                .with_member_assignment(m.assignment)
                        })
                        .collect();
                    described
                        .with_group_state(s(info.state.name()))
                        .with_protocol_type(s(info.protocol_type))
                        .with_protocol_data(s(info.protocol))
                        .with_members(members)
                }
                None => {
                    let known = broker.log.groups().offsets(&id.0).is_ok();
                    described.with_group_state(s(if known { "Empty" } else { "Dead" }))
                }
            }
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
