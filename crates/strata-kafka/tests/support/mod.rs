//! A Kafka listener over a fresh log, in-process, for tests that drive it with real clients
//! (kcat, kafka-python, confluent-kafka), installed by `scripts/deps.sh`.

#![allow(dead_code, clippy::unwrap_used)]

pub mod records;
pub mod wire;

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use strata_kafka::KafkaConfig;
use strata_log::{Log, LogOptions};

/// A running listener; stops (and the log closes) on drop.
pub struct Broker {
    pub addr: SocketAddr,
    pub log: Arc<Log>,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Broker {
    pub fn start() -> Broker {
        Self::with_config(KafkaConfig::default())
    }

    pub fn with_config(config: KafkaConfig) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        Self::open(dir, config)
    }

    /// Opens (or reopens) the log in `dir` and serves it.
    pub fn open(dir: tempfile::TempDir, config: KafkaConfig) -> Broker {
        let log = Log::open(dir.path(), LogOptions::default()).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = Arc::clone(&log);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                strata_kafka::serve(listener, served, config, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            });
        });
        Broker {
            addr,
            log,
            dir,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// Stops serving and closes the log, keeping its directory.
    pub fn stop(mut self) -> tempfile::TempDir {
        self.shutdown();
        self.log.close().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Runs a client command with `stdin`, failing the test with its output when it fails.
pub fn run(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {cmd:?} ({e}): scripts/deps.sh installs the Kafka test clients")
        });
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a Python script (given on stdin) with `args`; returns its stdout.
pub fn python(script: &str, args: &[&str]) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg("-").args(args);
    let out = run(&mut cmd, script.as_bytes());
    String::from_utf8(out.stdout).unwrap()
}
