//! SASL/PLAIN authentication of one Kafka connection (KIP-43 handshake, KIP-152
//! SaslAuthenticate framing), as the node's bearer token guards the HTTP API.
//!
//! When the node has a token, a connection starts unauthenticated: it may ask for ApiVersions
//! (clients need it to pick the SASL versions), then SaslHandshake with mechanism `PLAIN`, then
//! SaslAuthenticate with `authzid NUL user NUL password`; the password must be the token, any
//! user name will do. Anything else before that closes the connection, as Kafka's brokers do
//! (see [`Session::admits`] for why not an error answer). A failed step is answered with its
//! error code and message, then the connection is closed ([`Session::take_close`]): clients
//! report the message and do not retry a wrong password in a loop on the same socket.
//!
//! Without a token, SASL requests are answered `ILLEGAL_SASL_STATE` (as on a Kafka plaintext
//! listener) and everything else is served.
//!
//! SaslHandshake v0 is served too, where the PLAIN message follows as a raw size-prefixed
//! frame instead of a SaslAuthenticate request ([`Session::raw_token`]): the clients tested
//! here all use v1, but librdkafka enables SASL only against a broker that lists v0 in
//! ApiVersions, as Kafka's do, and listing a version means serving it.

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::sasl_authenticate_request::SaslAuthenticateRequest;
use kafka_protocol::messages::sasl_authenticate_response::SaslAuthenticateResponse;
use kafka_protocol::messages::sasl_handshake_request::SaslHandshakeRequest;
use kafka_protocol::messages::sasl_handshake_response::SaslHandshakeResponse;
use kafka_protocol::protocol::StrBytes;

use crate::config::AuthToken;

/// The one mechanism served.
pub(crate) const MECHANISM: &str = "PLAIN";

/// Largest request read from a connection that has not authenticated (Kafka's
/// `sasl.server.max.receive.size`, same default): a SASL exchange is tiny, and without this
/// anyone who can connect could make the node allocate the full request limit per connection.
pub(crate) const MAX_UNAUTHENTICATED_REQUEST: usize = 512 * 1024;

/// Where a connection is in the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The node has no token: plaintext, nothing to authenticate.
    Open,
    /// A token is required and no handshake has been made.
    AwaitingHandshake,
    /// PLAIN was agreed; the PLAIN message comes next, in SaslAuthenticate (`framed`, after
    /// handshake v1) or as a raw frame (after v0).
    AwaitingToken {
        /// Whether it comes as a SaslAuthenticate request.
        framed: bool,
    },
    /// The client presented the token.
    Authenticated,
}

/// One connection's authentication.
#[derive(Debug)]
pub(crate) struct Session {
    token: Option<AuthToken>,
    state: State,
    /// Why the connection must close once the last answer is sent.
    close: Option<String>,
}

impl Session {
    /// A connection's session: open without a token, awaiting a handshake with one.
    pub fn new(token: Option<AuthToken>) -> Session {
        let state = if token.is_some() {
            State::AwaitingHandshake
        } else {
            State::Open
        };
        Session {
            token,
            state,
            close: None,
        }
    }

    /// Whether the connection may use the broker's APIs.
    pub fn authenticated(&self) -> bool {
        matches!(self.state, State::Open | State::Authenticated)
    }

    /// Whether a request with this API key may be served now. Before authentication only
    /// ApiVersions and the SASL requests are; for anything else the connection is closed
    /// rather than answered with an error code, because most responses have no top-level
    /// error field a client could read (Metadata, Fetch, Produce…): an error-coded frame
    /// would fail to decode in the client anyway, and a Kafka broker closes too, which every
    /// client reports ("disconnected", "authentication required") and none hangs on.
    pub fn admits(&self, api_key: i16) -> bool {
        self.authenticated()
            || api_key == ApiKey::ApiVersions as i16
            || api_key == ApiKey::SaslHandshake as i16
            || api_key == ApiKey::SaslAuthenticate as i16
    }

    /// The largest request to read next: the listener's limit once authenticated,
    /// [`MAX_UNAUTHENTICATED_REQUEST`] before.
    pub fn max_request_bytes(&self, limit: usize) -> usize {
        if self.authenticated() {
            limit
        } else {
            limit.min(MAX_UNAUTHENTICATED_REQUEST)
        }
    }

    /// Why the connection must be closed after the answer just given, if it must.
    pub fn take_close(&mut self) -> Option<String> {
        self.close.take()
    }

    /// Whether the next frame is a raw SASL token rather than a request: after SaslHandshake
    /// v0, the client sends its PLAIN message as a bare size-prefixed frame (no header).
    pub fn expects_raw_token(&self) -> bool {
        self.state == State::AwaitingToken { framed: false }
    }

    /// Answers SaslHandshake: v1 is followed by SaslAuthenticate requests, v0 by a raw token.
    pub fn handshake(
        &mut self,
        version: i16,
        request: &SaslHandshakeRequest,
    ) -> SaslHandshakeResponse {
        let enabled = || vec![StrBytes::from_static_str(MECHANISM)];
        let response = SaslHandshakeResponse::default();
        match self.state {
            State::Open => response.with_error_code(ResponseError::IllegalSaslState.code()),
            State::AwaitingHandshake if request.mechanism.as_str() == MECHANISM => {
                self.state = State::AwaitingToken {
                    framed: version >= 1,
                };
                response.with_mechanisms(enabled())
            }
            State::AwaitingHandshake => {
                self.close = Some(format!(
                    "SASL mechanism {:?} is not supported: use PLAIN with the node's auth token as the password",
                    request.mechanism.as_str()
                ));
                response
                    .with_error_code(ResponseError::UnsupportedSaslMechanism.code())
                    .with_mechanisms(enabled())
            }
            State::AwaitingToken { .. } => {
                self.close = Some("a second SaslHandshake before SaslAuthenticate".into());
                response
                    .with_error_code(ResponseError::IllegalSaslState.code())
                    .with_mechanisms(enabled())
            }
            // Already in: no re-authentication (KIP-368) is offered, so the client has no
            // reason to ask; the connection stays usable, as on a Kafka broker.
            State::Authenticated => response
                .with_error_code(ResponseError::IllegalSaslState.code())
                .with_mechanisms(enabled()),
        }
    }

    /// Answers SaslAuthenticate: checks the PLAIN message against the token.
    pub fn authenticate(&mut self, request: &SaslAuthenticateRequest) -> SaslAuthenticateResponse {
        let fail = |code: ResponseError, message: String| {
            SaslAuthenticateResponse::default()
                .with_error_code(code.code())
                .with_error_message(Some(StrBytes::from_string(message)))
        };
        match self.state {
            State::AwaitingToken { framed: true } => match self.check(&request.auth_bytes) {
                // Session lifetime 0: the token does not expire, so clients never need to
                // re-authenticate.
                Ok(()) => SaslAuthenticateResponse::default()
                    .with_auth_bytes(Bytes::new())
                    .with_session_lifetime_ms(0),
                Err(message) => fail(ResponseError::SaslAuthenticationFailed, message),
            },
            State::Open => fail(
                ResponseError::IllegalSaslState,
                "this node has no auth token: connect without SASL (security.protocol=PLAINTEXT)"
                    .into(),
            ),
            State::Authenticated => fail(
                ResponseError::IllegalSaslState,
                "this connection is already authenticated".into(),
            ),
            State::AwaitingHandshake | State::AwaitingToken { framed: false } => {
                self.close = Some("SaslAuthenticate without a SaslHandshake v1 before it".into());
                fail(
                    ResponseError::IllegalSaslState,
                    "send SaslHandshake v1 with mechanism PLAIN first".into(),
                )
            }
        }
    }

    /// Answers the raw PLAIN token that follows SaslHandshake v0: an empty frame when it
    /// is right. v0 has no way to carry an error, so a wrong token only closes the
    /// connection (`None`, with the reason in [`Self::take_close`]), as on a Kafka broker.
    pub fn raw_token(&mut self, token: &[u8]) -> Option<Bytes> {
        debug_assert!(self.expects_raw_token());
        self.check(token).ok()?;
        Some(Bytes::from_static(&[0, 0, 0, 0]))
    }

    /// Checks a PLAIN message against the token: authenticates the connection, or marks it
    /// for closing and returns the message for the client.
    fn check(&mut self, message: &[u8]) -> Result<(), String> {
        let outcome = match (plain(message), &self.token) {
            (Ok((user, password)), Some(token)) if token.matches(password) => {
                tracing::debug!(user, "Kafka client authenticated with SASL/PLAIN");
                self.state = State::Authenticated;
                return Ok(());
            }
            (Ok((user, _)), _) => (
                format!("SASL/PLAIN authentication failed for user {user:?}: wrong password"),
                "authentication failed: the password must be the node's auth token (--auth-token)"
                    .to_owned(),
            ),
            (Err(why), _) => (
                format!("SASL/PLAIN authentication failed: {why}"),
                format!("authentication failed: {why}"),
            ),
        };
        let (log, client) = outcome;
        self.close = Some(log);
        Err(client)
    }
}

/// Splits a SASL/PLAIN message (RFC 4616: `[authzid] NUL authcid NUL passwd`) into the user
/// name and the password, with Kafka's checks: a user name is required, and an authorization
/// id, if any, must be that user.
fn plain(message: &[u8]) -> Result<(&str, &[u8]), &'static str> {
    let mut parts = message.split(|&b| b == 0);
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("a SASL/PLAIN message is [authzid] NUL user NUL password");
    };
    let user = std::str::from_utf8(user).map_err(|_| "the user name is not UTF-8")?;
    if user.is_empty() {
        return Err("no user name: any name will do, but one is required");
    }
    if !authzid.is_empty() && authzid != user.as_bytes() {
        return Err("the authorization id differs from the user name: leave it empty");
    }
    Ok((user, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_token() -> Session {
        Session::new(Some(AuthToken::new("s3cret")))
    }

    fn handshake(s: &mut Session, mechanism: &str) -> SaslHandshakeResponse {
        s.handshake(
            1,
            &SaslHandshakeRequest::default()
                .with_mechanism(StrBytes::from_string(mechanism.to_owned())),
        )
    }

    fn authenticate(s: &mut Session, message: &[u8]) -> SaslAuthenticateResponse {
        s.authenticate(
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(message)),
        )
    }

    #[test]
    fn the_right_password_opens_every_api() {
        let mut s = with_token();
        assert!(!s.authenticated());
        assert!(s.admits(ApiKey::ApiVersions as i16));
        assert!(s.admits(ApiKey::SaslHandshake as i16));
        assert!(!s.admits(ApiKey::Metadata as i16));
        assert!(!s.admits(ApiKey::Produce as i16));
        assert!(!s.admits(-1), "unknown keys close too");
        assert_eq!(s.max_request_bytes(100 << 20), MAX_UNAUTHENTICATED_REQUEST);
        let h = handshake(&mut s, "PLAIN");
        assert_eq!(h.error_code, 0);
        assert_eq!(h.mechanisms, vec![StrBytes::from_static_str("PLAIN")]);
        assert!(
            !s.admits(ApiKey::Metadata as i16),
            "not before the password"
        );
        let a = authenticate(&mut s, b"\0anyone\0s3cret");
        assert_eq!(a.error_code, 0);
        assert_eq!(a.session_lifetime_ms, 0);
        assert!(s.authenticated());
        assert!(s.admits(ApiKey::Produce as i16));
        assert_eq!(s.max_request_bytes(100 << 20), 100 << 20);
        assert_eq!(s.take_close(), None);
    }

    #[test]
    fn a_wrong_password_is_refused_and_closes() {
        let mut s = with_token();
        handshake(&mut s, "PLAIN");
        let a = authenticate(&mut s, b"\0u\0s3creT");
        assert_eq!(a.error_code, ResponseError::SaslAuthenticationFailed.code());
        assert!(
            a.error_message.as_deref().unwrap().contains("--auth-token"),
            "{a:?}"
        );
        assert!(!s.authenticated());
        assert!(!s.admits(ApiKey::Fetch as i16));
        let why = s.take_close().expect("closes");
        assert!(why.contains("\"u\""), "{why}");
        assert!(
            !why.contains("s3creT"),
            "the password is never logged: {why}"
        );
        // A prefix of the token, and the token plus a byte, are wrong too.
        for wrong in [&b"\0u\0s3cre"[..], b"\0u\0s3cret!", b"\0u\0"] {
            let mut s = with_token();
            handshake(&mut s, "PLAIN");
            assert_eq!(authenticate(&mut s, wrong).error_code, 58, "{wrong:?}");
        }
    }

    #[test]
    fn malformed_plain_messages_are_refused() {
        for (message, why) in [
            (&b"u\0s3cret"[..], "[authzid] NUL user NUL password"),
            (b"\0u\0s3cret\0x", "[authzid] NUL user NUL password"),
            (b"\0\0s3cret", "no user name"),
            (b"admin\0u\0s3cret", "authorization id differs"),
            (b"\0\xff\0s3cret", "not UTF-8"),
        ] {
            let mut s = with_token();
            handshake(&mut s, "PLAIN");
            let a = authenticate(&mut s, message);
            assert_eq!(a.error_code, 58, "{message:?}");
            let text = a.error_message.unwrap();
            assert!(text.contains(why), "{message:?}: {text}");
            assert!(s.take_close().is_some());
        }
        // The authorization id may name the user itself.
        let mut s = with_token();
        handshake(&mut s, "PLAIN");
        assert_eq!(authenticate(&mut s, b"u\0u\0s3cret").error_code, 0);
    }

    #[test]
    fn handshake_v0_takes_the_plain_message_as_a_raw_token() {
        let v0 = |s: &mut Session| {
            s.handshake(
                0,
                &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
            )
        };
        let mut s = with_token();
        assert!(!s.expects_raw_token());
        assert_eq!(v0(&mut s).error_code, 0);
        assert!(s.expects_raw_token());
        assert!(!s.admits(ApiKey::Metadata as i16));
        assert_eq!(
            s.raw_token(b"\0u\0s3cret").as_deref(),
            Some(&[0u8, 0, 0, 0][..])
        );
        assert!(s.authenticated());
        assert!(!s.expects_raw_token());

        let mut s = with_token();
        v0(&mut s);
        assert_eq!(s.raw_token(b"\0u\0nope"), None, "v0 cannot carry an error");
        assert!(s.take_close().is_some());
        assert!(!s.authenticated());

        // The framed request does not follow a v0 handshake.
        let mut s = with_token();
        v0(&mut s);
        assert_eq!(authenticate(&mut s, b"\0u\0s3cret").error_code, 34);
        assert!(s.take_close().is_some());
        assert!(!s.authenticated());
    }

    #[test]
    fn other_mechanisms_get_the_enabled_list_and_a_close() {
        let mut s = with_token();
        let h = handshake(&mut s, "SCRAM-SHA-256");
        assert_eq!(h.error_code, ResponseError::UnsupportedSaslMechanism.code());
        assert_eq!(h.mechanisms, vec![StrBytes::from_static_str("PLAIN")]);
        assert!(s.take_close().unwrap().contains("SCRAM-SHA-256"));
        assert!(!s.authenticated());
    }

    #[test]
    fn steps_out_of_order_are_illegal() {
        let mut s = with_token();
        let a = authenticate(&mut s, b"\0u\0s3cret");
        assert_eq!(a.error_code, ResponseError::IllegalSaslState.code());
        assert!(s.take_close().is_some());
        assert!(!s.authenticated(), "the password alone does not let one in");

        let mut s = with_token();
        handshake(&mut s, "PLAIN");
        let again = handshake(&mut s, "PLAIN");
        assert_eq!(again.error_code, ResponseError::IllegalSaslState.code());
        assert!(s.take_close().is_some());

        let mut s = with_token();
        handshake(&mut s, "PLAIN");
        authenticate(&mut s, b"\0u\0s3cret");
        assert_eq!(handshake(&mut s, "PLAIN").error_code, 34);
        assert_eq!(authenticate(&mut s, b"\0u\0s3cret").error_code, 34);
        assert_eq!(s.take_close(), None, "an authenticated connection stays");
        assert!(s.authenticated());
    }

    #[test]
    fn without_a_token_sasl_is_illegal_and_everything_else_is_served() {
        let mut s = Session::new(None);
        assert!(s.authenticated());
        assert!(s.admits(ApiKey::Produce as i16));
        assert_eq!(s.max_request_bytes(100 << 20), 100 << 20);
        let h = handshake(&mut s, "PLAIN");
        assert_eq!(h.error_code, ResponseError::IllegalSaslState.code());
        assert!(h.mechanisms.is_empty());
        let a = authenticate(&mut s, b"\0u\0anything");
        assert_eq!(a.error_code, 34);
        assert!(a.error_message.unwrap().contains("PLAINTEXT"));
        assert_eq!(s.take_close(), None);
        assert!(s.authenticated());
    }

    #[test]
    fn the_token_is_never_printed() {
        let token = AuthToken::new("s3cret");
        assert!(!format!("{token:?}").contains("s3cret"));
        let s = Session::new(Some(token));
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
