//! The node's configuration: defaults, overlaid by `strata.toml`, overlaid by `STRATA_*`
//! environment variables and command-line flags (the CLI reads both through clap, flags
//! winning over environment).
//!
//! ```toml
//! # strata.toml
//! data_dir = "/var/lib/strata"
//! http = "127.0.0.1:8080"
//! auth_token = "s3cret"
//! max_body_bytes = "16MiB"
//! group_session_timeout = "30s"
//! shutdown_timeout = "10s"
//! checkpoint_interval = "5s"
//! archive_interval = "60s"
//! batch_interval = "10m"    # 0 disables scheduled batch-view runs
//! kafka = "127.0.0.1:9092"  # the Kafka protocol listener; off unless set
//! kafka_auto_create = true  # Kafka's auto.create.topics.enable
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::time::{parse_bytes, parse_duration_ms};

/// The file read when no `--config` is given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "strata.toml";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./strata-data";
/// Default listen address: loopback only.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8080";
/// Default request body limit.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The resolved configuration of a node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Where the log keeps topics and groups.
    pub data_dir: PathBuf,
    /// The HTTP listen address (port 0 picks a free port).
    pub http: SocketAddr,
    /// When set, writes and admin calls need `Authorization: Bearer <token>`, and Kafka
    /// clients must authenticate with SASL/PLAIN and the token as their password.
    pub auth_token: Option<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// A consumer group's delivery positions are forgotten after this long without a fetch,
    /// and its next fetch resumes from the committed offsets (Kafka's session timeout).
    pub group_session_timeout: Duration,
    /// How long a shutdown waits for open requests (follow streams end at once).
    pub shutdown_timeout: Duration,
    /// How often every view checkpoints its state (what a crash can make it redo).
    pub checkpoint_interval: Duration,
    /// How often the continuous archiver copies sealed segments into the lake.
    pub archive_interval: Duration,
    /// How often every view's batch view is recomputed from the lake; `None` disables the
    /// schedule (on-demand runs still work).
    pub batch_interval: Option<Duration>,
    /// Where Kafka clients connect (the Kafka wire protocol over the same log); `None`
    /// serves no Kafka listener.
    pub kafka: Option<SocketAddr>,
    /// Kafka clients create topics by asking for their metadata or producing to them
    /// (Kafka's `auto.create.topics.enable`).
    pub kafka_auto_create: bool,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            http: DEFAULT_HTTP
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
            auth_token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            group_session_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            checkpoint_interval: Duration::from_secs(5),
            archive_interval: Duration::from_secs(60),
            batch_interval: Some(Duration::from_secs(600)),
            kafka: None,
            kafka_auto_create: true,
        }
    }
}

/// One layer of settings, every field optional: the file, or the flags and environment.
/// Sizes and durations are written as text (`"16MiB"`, `"30s"`) or plain numbers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigLayer {
    /// See [`NodeConfig::data_dir`].
    pub data_dir: Option<PathBuf>,
    /// See [`NodeConfig::http`].
    pub http: Option<String>,
    /// See [`NodeConfig::auth_token`].
    pub auth_token: Option<String>,
    /// See [`NodeConfig::max_body_bytes`].
    pub max_body_bytes: Option<SizeOrText>,
    /// See [`NodeConfig::group_session_timeout`].
    pub group_session_timeout: Option<SizeOrText>,
    /// See [`NodeConfig::shutdown_timeout`].
    pub shutdown_timeout: Option<SizeOrText>,
    /// See [`NodeConfig::checkpoint_interval`].
    pub checkpoint_interval: Option<SizeOrText>,
    /// See [`NodeConfig::archive_interval`].
    pub archive_interval: Option<SizeOrText>,
    /// See [`NodeConfig::batch_interval`] (0 disables).
    pub batch_interval: Option<SizeOrText>,
    /// See [`NodeConfig::kafka`] (`off` disables).
    pub kafka: Option<String>,
    /// See [`NodeConfig::kafka_auto_create`].
    pub kafka_auto_create: Option<bool>,
}

/// A number, or text like `16MiB` / `30s`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SizeOrText {
    /// A plain number (bytes, or milliseconds for durations).
    Number(u64),
    /// Text with a unit.
    Text(String),
}

impl SizeOrText {
    fn bytes(&self, field: &str) -> Result<u64> {
        match self {
            SizeOrText::Number(n) => Ok(*n),
            SizeOrText::Text(t) => {
                parse_bytes(t).map_err(|e| Error::Config(format!("{field}: {e}")))
            }
        }
    }

    fn millis(&self, field: &str) -> Result<u64> {
        match self {
            SizeOrText::Number(n) => Ok(*n),
            SizeOrText::Text(t) => {
                parse_duration_ms(t).map_err(|e| Error::Config(format!("{field}: {e}")))
            }
        }
    }
}

impl ConfigLayer {
    /// Reads a TOML file.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file and the problem (unknown keys are rejected, so a
    /// typo is caught rather than ignored).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!("cannot read config file {}: {e}", path.display()))
        })?;
        toml::from_str(&text)
            .map_err(|e| Error::Config(format!("config file {}: {e}", path.display())))
    }

    /// Reads `path` if given (it must exist), else `./strata.toml` if it exists.
    ///
    /// # Errors
    /// As [`ConfigLayer::from_file`].
    pub fn discover(path: Option<&Path>) -> Result<Self> {
        match path {
            Some(p) => Self::from_file(p),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                Self::from_file(Path::new(DEFAULT_CONFIG_FILE))
            }
            None => Ok(Self::default()),
        }
    }

    /// This layer with every field that `over` sets replaced by `over`'s.
    #[must_use]
    pub fn overlay(self, over: ConfigLayer) -> ConfigLayer {
        ConfigLayer {
            data_dir: over.data_dir.or(self.data_dir),
            http: over.http.or(self.http),
            auth_token: over.auth_token.or(self.auth_token),
            max_body_bytes: over.max_body_bytes.or(self.max_body_bytes),
            group_session_timeout: over.group_session_timeout.or(self.group_session_timeout),
            shutdown_timeout: over.shutdown_timeout.or(self.shutdown_timeout),
            checkpoint_interval: over.checkpoint_interval.or(self.checkpoint_interval),
            archive_interval: over.archive_interval.or(self.archive_interval),
            batch_interval: over.batch_interval.or(self.batch_interval),
            kafka: over.kafka.or(self.kafka),
            kafka_auto_create: over.kafka_auto_create.or(self.kafka_auto_create),
        }
    }

    /// Fills the unset fields with defaults and checks every value.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field and what a valid value looks like.
    pub fn resolve(self) -> Result<NodeConfig> {
        let d = NodeConfig::default();
        let http = match self.http {
            None => d.http,
            Some(text) => parse_listen(&text)?,
        };
        let max_body_bytes = match self.max_body_bytes {
            None => d.max_body_bytes,
            Some(v) => {
                let n = v.bytes("max_body_bytes")?;
                if !(1024..=1 << 32).contains(&n) {
                    return Err(Error::Config(format!(
                        "max_body_bytes must be between 1KiB and 4GiB, not {n}"
                    )));
                }
                n as usize
            }
        };
        let auth_token = self.auth_token.filter(|t| !t.is_empty());
        let ms = |v: Option<SizeOrText>, field: &str, default: Duration| -> Result<Duration> {
            match v {
                None => Ok(default),
                Some(v) => Ok(Duration::from_millis(v.millis(field)?)),
            }
        };
        Ok(NodeConfig {
            data_dir: self.data_dir.unwrap_or(d.data_dir),
            http,
            auth_token,
            max_body_bytes,
            group_session_timeout: ms(
                self.group_session_timeout,
                "group_session_timeout",
                d.group_session_timeout,
            )?,
            shutdown_timeout: ms(
                self.shutdown_timeout,
                "shutdown_timeout",
                d.shutdown_timeout,
            )?,
            checkpoint_interval: match ms(
                self.checkpoint_interval,
                "checkpoint_interval",
                d.checkpoint_interval,
            )? {
                d if d.is_zero() => {
                    return Err(Error::Config(
                        "checkpoint_interval must be more than 0, e.g. 5s or 500ms".into(),
                    ));
                }
                d => d,
            },
            archive_interval: match ms(
                self.archive_interval,
                "archive_interval",
                d.archive_interval,
            )? {
                d if d.is_zero() => {
                    return Err(Error::Config(
                        "archive_interval must be more than 0, e.g. 60s (the archiver keeps the lake complete; in Lambda mode retention waits for it)".into(),
                    ));
                }
                d => d,
            },
            batch_interval: Some(ms(
                self.batch_interval,
                "batch_interval",
                d.batch_interval.unwrap_or_default(),
            )?)
            .filter(|d| !d.is_zero()),
            kafka: match self.kafka.as_deref().map(str::trim) {
                None | Some("off") => None,
                Some(text) => Some(parse_listen(text)?),
            },
            kafka_auto_create: self.kafka_auto_create.unwrap_or(d.kafka_auto_create),
        })
    }
}

/// Parses `HOST:PORT` (`localhost` is accepted for `127.0.0.1`).
///
/// # Errors
/// [`Error::Config`] with an example.
pub fn parse_listen(text: &str) -> Result<SocketAddr> {
    let t = text.trim();
    let t = t
        .strip_prefix("localhost:")
        .map_or_else(|| t.to_owned(), |port| format!("127.0.0.1:{port}"));
    t.parse().map_err(|_| {
        Error::Config(format!(
            "http address {text:?} is not HOST:PORT with an IP host; write it like 127.0.0.1:8080 (or 0.0.0.0:8080 to listen on every interface)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_overlay_and_resolve() {
        let file: ConfigLayer = toml::from_str(
            "data_dir = \"/d\"\nhttp = \"127.0.0.1:9000\"\nmax_body_bytes = \"1MiB\"\ngroup_session_timeout = \"5s\"",
        )
        .unwrap();
        let flags = ConfigLayer {
            http: Some("localhost:9001".into()),
            ..ConfigLayer::default()
        };
        let c = file.overlay(flags).resolve().unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/d"));
        assert_eq!(c.http.port(), 9001);
        assert_eq!(c.max_body_bytes, 1 << 20);
        assert_eq!(c.group_session_timeout, Duration::from_secs(5));
        assert!(c.auth_token.is_none());
        assert_eq!(c.archive_interval, Duration::from_secs(60));
        assert_eq!(c.batch_interval, Some(Duration::from_secs(600)));
        assert_eq!(c.kafka, None, "no Kafka listener unless asked for");
        let kafka: ConfigLayer =
            toml::from_str("kafka = \"localhost:9092\"\nkafka_auto_create = false").unwrap();
        let c = kafka.resolve().unwrap();
        assert_eq!(c.kafka.map(|a| a.port()), Some(9092));
        assert!(!c.kafka_auto_create);
    }

    #[test]
    fn batch_intervals() {
        let c: ConfigLayer =
            toml::from_str("archive_interval = \"2s\"\nbatch_interval = 0").unwrap();
        let c = c.resolve().unwrap();
        assert_eq!(c.archive_interval, Duration::from_secs(2));
        assert_eq!(c.batch_interval, None);
        let bad = ConfigLayer {
            archive_interval: Some(SizeOrText::Text("0s".into())),
            ..ConfigLayer::default()
        };
        assert!(
            bad.resolve()
                .unwrap_err()
                .to_string()
                .contains("archive_interval")
        );
    }

    #[test]
    fn bad_values_name_the_field() {
        let err = toml::from_str::<ConfigLayer>("htp = \"x\"").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let layer = ConfigLayer {
            http: Some("nowhere".into()),
            ..ConfigLayer::default()
        };
        assert!(
            layer
                .resolve()
                .unwrap_err()
                .to_string()
                .contains("HOST:PORT")
        );
        let layer = ConfigLayer {
            max_body_bytes: Some(SizeOrText::Text("huge".into())),
            ..ConfigLayer::default()
        };
        assert!(
            layer
                .resolve()
                .unwrap_err()
                .to_string()
                .contains("max_body_bytes")
        );
    }
}
