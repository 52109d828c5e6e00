//! SASL/PLAIN on a node with an auth token, with real clients (kcat, kafka-python,
//! confluent-kafka): the token as password produces and consumes; a wrong password fails with
//! an authentication error; no SASL at all fails; neither appends anything or auto-creates a
//! topic. Then, at the wire, what no client sends on purpose: requests before authentication,
//! oversized frames, handshake v0 with its raw token.

mod support;

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::api_versions_request::ApiVersionsRequest;
use kafka_protocol::messages::api_versions_response::ApiVersionsResponse;
use kafka_protocol::messages::metadata_request::MetadataRequest;
use kafka_protocol::messages::metadata_response::MetadataResponse;
use kafka_protocol::messages::sasl_authenticate_request::SaslAuthenticateRequest;
use kafka_protocol::messages::sasl_authenticate_response::SaslAuthenticateResponse;
use kafka_protocol::messages::sasl_handshake_request::SaslHandshakeRequest;
use kafka_protocol::messages::sasl_handshake_response::SaslHandshakeResponse;
use kafka_protocol::protocol::StrBytes;
use strata_kafka::{AuthToken, KafkaConfig};
use support::wire::Wire;
use support::{Broker, run};

const TOKEN: &str = "s3cret-token";

fn with_token() -> Broker {
    Broker::with_config(KafkaConfig {
        auth_token: Some(AuthToken::new(TOKEN)),
        ..KafkaConfig::default()
    })
}

fn kcat(broker: &Broker, password: Option<&str>) -> Command {
    let mut cmd = Command::new("kcat");
    cmd.arg("-b").arg(broker.bootstrap());
    if let Some(password) = password {
        cmd.args([
            "-X",
            "security.protocol=SASL_PLAINTEXT",
            "-X",
            "sasl.mechanisms=PLAIN",
            "-X",
            "sasl.username=analyst",
            "-X",
        ])
        .arg(format!("sasl.password={password}"));
    }
    cmd
}

/// Runs a command that must fail, with `stdin`; returns its stderr.
fn fails(cmd: &mut Command, stdin: &[u8]) -> String {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} ({e}): scripts/deps.sh installs it"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(!out.status.success(), "{cmd:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

fn python(name: &str, args: &[&str]) -> String {
    let out = run(Command::new("python3").arg(script(name)).args(args), b"");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Nothing of a refused client reached the log: its topic was not even auto-created.
fn untouched(broker: &Broker, topic: &str) {
    assert!(
        broker.log.topic(topic).is_err(),
        "topic {topic} exists: an unauthenticated client got through"
    );
}

#[test]
fn kcat_with_the_token_produces_and_consumes_and_fails_without_it() {
    let broker = with_token();
    run(
        kcat(&broker, Some(TOKEN)).args(["-q", "-P", "-t", "kc", "-K:"]),
        b"a:1\nb:2\n",
    );
    let out = run(
        kcat(&broker, Some(TOKEN)).args([
            "-q",
            "-C",
            "-t",
            "kc",
            "-o",
            "beginning",
            "-e",
            "-f",
            "%k=%s\\n",
        ]),
        b"",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a=1\nb=2\n");

    let wrong = fails(
        kcat(&broker, Some("guess")).args([
            "-P",
            "-t",
            "kc-wrong",
            "-X",
            "message.timeout.ms=3000",
        ]),
        b"x\ny\n",
    );
    assert!(
        wrong.contains("SASL authentication error: authentication failed: the password must be the node's auth token"),
        "{wrong}"
    );
    untouched(&broker, "kc-wrong");

    let plain = fails(
        kcat(&broker, None).args(["-L", "-t", "kc-plain", "-m", "3"]),
        b"",
    );
    assert!(
        plain.contains("might require SASL authentication"),
        "{plain}"
    );
    untouched(&broker, "kc-plain");
    let end: u64 = broker.log.topic("kc").expect("kc").partitions()[0].end_offset();
    assert_eq!(end, 2, "only the authenticated records");
}

#[test]
fn kafka_python_with_the_token_produces_and_consumes_and_fails_without_it() {
    let broker = with_token();
    let addr = broker.bootstrap();
    let ok = python("sasl_kafka_python.py", &[&addr, "py", "sasl", TOKEN]);
    assert_eq!(
        ok.trim(),
        r#"{"error": null, "acked": true, "consumed": true}"#
    );
    let wrong = python(
        "sasl_kafka_python.py",
        &[&addr, "py-wrong", "sasl", "guess"],
    );
    assert!(
        wrong.contains("SaslAuthenticationFailedError: authentication failed: the password must be the node's auth token"),
        "{wrong}"
    );
    untouched(&broker, "py-wrong");
    let plain = python(
        "sasl_kafka_python.py",
        &[&addr, "py-plain", "plaintext", ""],
    );
    assert!(plain.contains(r#""error": "KafkaTimeoutError""#), "{plain}");
    assert!(plain.contains("socket disconnected"), "{plain}");
    untouched(&broker, "py-plain");
    assert_eq!(
        broker.log.topic("py").expect("py").partitions()[0].end_offset(),
        50
    );
}

#[test]
fn confluent_kafka_with_the_token_produces_and_consumes_and_fails_without_it() {
    let broker = with_token();
    let addr = broker.bootstrap();
    let ok = python("sasl_confluent.py", &[&addr, "ck", "sasl", TOKEN]);
    assert!(
        ok.starts_with(r#"{"delivered": 50, "failed": 0, "consumed": true, "errors": []"#),
        "{ok}"
    );
    let wrong = python("sasl_confluent.py", &[&addr, "ck-wrong", "sasl", "guess"]);
    assert!(
        wrong.starts_with(r#"{"delivered": 0, "failed": 50"#),
        "{wrong}"
    );
    assert!(wrong.contains(r#""_AUTHENTICATION""#), "{wrong}");
    assert!(
        wrong.contains("authentication failed: the password must be the node's auth token"),
        "{wrong}"
    );
    untouched(&broker, "ck-wrong");
    let plain = python("sasl_confluent.py", &[&addr, "ck-plain", "plaintext", ""]);
    assert!(
        plain.starts_with(r#"{"delivered": 0, "failed": 50"#),
        "{plain}"
    );
    untouched(&broker, "ck-plain");
    assert_eq!(
        broker.log.topic("ck").expect("ck").partitions()[0].end_offset(),
        50
    );
}

fn handshake(wire: &mut Wire, version: i16, mechanism: &'static str) -> SaslHandshakeResponse {
    let request =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
    wire.call(ApiKey::SaslHandshake, version, &request)
}

fn authenticate(wire: &mut Wire, message: &'static [u8]) -> SaslAuthenticateResponse {
    let request = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from_static(message));
    wire.call(ApiKey::SaslAuthenticate, 2, &request)
}

#[test]
fn before_authentication_only_api_versions_and_sasl_are_served() {
    let broker = with_token();
    let mut wire = Wire::connect(broker.addr);
    let versions: ApiVersionsResponse =
        wire.call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    let range = |key: ApiKey| {
        versions
            .api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .map(|k| (k.min_version, k.max_version))
    };
    // librdkafka turns SASL on only when handshake v0 is listed.
    assert_eq!(range(ApiKey::SaslHandshake), Some((0, 1)));
    assert_eq!(range(ApiKey::SaslAuthenticate), Some((0, 2)));
    wire.send(ApiKey::Metadata, 12, &MetadataRequest::default());
    assert!(wire.is_closed(), "Metadata before authentication closes");

    // After the handshake but before the password, still closed.
    let mut wire = Wire::connect(broker.addr);
    assert_eq!(handshake(&mut wire, 1, "PLAIN").error_code, 0);
    wire.send(ApiKey::Metadata, 12, &MetadataRequest::default());
    assert!(wire.is_closed());

    // The token opens everything on that connection.
    let mut wire = Wire::connect(broker.addr);
    let h = handshake(&mut wire, 1, "PLAIN");
    assert_eq!((h.error_code, h.mechanisms.len()), (0, 1));
    assert_eq!(
        authenticate(&mut wire, b"\0anyone\0s3cret-token").error_code,
        0
    );
    let metadata: MetadataResponse = wire.call(ApiKey::Metadata, 12, &MetadataRequest::default());
    assert_eq!(metadata.brokers.len(), 1);
}

#[test]
fn wrong_passwords_and_mechanisms_are_answered_then_closed() {
    let broker = with_token();
    let mut wire = Wire::connect(broker.addr);
    handshake(&mut wire, 1, "PLAIN");
    let a = authenticate(&mut wire, b"\0u\0s3cret-tokeN");
    assert_eq!(a.error_code, 58, "SASL_AUTHENTICATION_FAILED");
    assert!(
        a.error_message
            .as_deref()
            .unwrap_or_default()
            .contains("--auth-token"),
        "{a:?}"
    );
    assert!(wire.is_closed());

    let mut wire = Wire::connect(broker.addr);
    let h = handshake(&mut wire, 1, "SCRAM-SHA-512");
    assert_eq!(h.error_code, 33, "UNSUPPORTED_SASL_MECHANISM");
    assert_eq!(h.mechanisms, vec![StrBytes::from_static_str("PLAIN")]);
    assert!(wire.is_closed());
}

#[test]
fn a_large_request_before_authentication_closes() {
    let broker = with_token();
    let mut wire = Wire::connect(broker.addr);
    // A 1 MiB frame (ten times a SASL exchange's worst case, far under the 100 MiB limit of
    // authenticated connections): refused on its size field, before it is read.
    let mut frame = (1i32 << 20).to_be_bytes().to_vec();
    frame.extend_from_slice(&[0, 18, 0, 3, 0, 0, 0, 1]);
    wire.send_raw(&frame);
    assert!(wire.is_closed());
}

#[test]
fn a_connection_that_does_not_authenticate_in_time_is_closed() {
    let broker = Broker::with_config(KafkaConfig {
        auth_token: Some(AuthToken::new(TOKEN)),
        authentication_timeout: std::time::Duration::from_millis(500),
        ..KafkaConfig::default()
    });
    let idle = std::time::Instant::now();
    let mut silent = Wire::connect(broker.addr);
    let mut authenticated = Wire::connect(broker.addr);
    handshake(&mut authenticated, 1, "PLAIN");
    assert_eq!(
        authenticate(&mut authenticated, b"\0u\0s3cret-token").error_code,
        0
    );
    assert!(silent.is_closed(), "closed for not authenticating");
    assert!(idle.elapsed() >= std::time::Duration::from_millis(500));
    // The deadline is for authenticating: an authenticated connection outlives it.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let metadata: MetadataResponse =
        authenticated.call(ApiKey::Metadata, 12, &MetadataRequest::default());
    assert_eq!(metadata.brokers.len(), 1);
}

#[test]
fn handshake_v0_then_a_raw_plain_token_authenticates() {
    let broker = with_token();
    let mut wire = Wire::connect(broker.addr);
    assert_eq!(handshake(&mut wire, 0, "PLAIN").error_code, 0);
    let token = b"\0analyst\0s3cret-token";
    let mut frame = (token.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(token);
    wire.send_raw(&frame);
    assert_eq!(
        wire.receive_frame().as_deref(),
        Some(&[][..]),
        "an empty token back"
    );
    let metadata: MetadataResponse = wire.call(ApiKey::Metadata, 12, &MetadataRequest::default());
    assert_eq!(metadata.brokers.len(), 1);

    // v0 has no error field for a wrong token: the connection closes.
    let mut wire = Wire::connect(broker.addr);
    handshake(&mut wire, 0, "PLAIN");
    let token = b"\0analyst\0guess";
    let mut frame = (token.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(token);
    wire.send_raw(&frame);
    assert!(wire.is_closed());
}

#[test]
fn without_a_token_sasl_is_illegal_and_plaintext_is_served() {
    let broker = Broker::start();
    let mut wire = Wire::connect(broker.addr);
    let h = handshake(&mut wire, 1, "PLAIN");
    assert_eq!(h.error_code, 34, "ILLEGAL_SASL_STATE");
    assert!(h.mechanisms.is_empty());
    let a = authenticate(&mut wire, b"\0u\0p");
    assert_eq!(a.error_code, 34);
    let metadata: MetadataResponse = wire.call(ApiKey::Metadata, 12, &MetadataRequest::default());
    assert_eq!(metadata.brokers.len(), 1, "the connection still serves");
}
