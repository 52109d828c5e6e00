//! `strata produce --listen`: text lines from TCP clients (the classic `nc` source of the
//! socketTextStream word count) become records.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn lines_from_tcp_clients_become_records() {
    let node = Node::start(&[]);
    ok(&node.cli(&["topic", "create", "lines", "--durability", "never"]));
    let mut producer = Command::new(BIN)
        .args([
            "produce",
            "lines",
            "--format",
            "lines",
            "--listen",
            "127.0.0.1:0",
            "--linger",
            "20ms",
        ])
        .env("STRATA_SERVER", &node.url)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(producer.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = line
        .split_whitespace()
        .nth(2)
        .and_then(|a| a.strip_suffix(':'))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    // Keep draining stderr so the producer never blocks on it.
    std::thread::spawn(move || for _ in err.lines() {});

    let mut a = TcpStream::connect(&addr).unwrap();
    let mut b = TcpStream::connect(&addr).unwrap();
    a.write_all(b"to be or\nnot to be\n").unwrap();
    b.write_all(b"that is the question\n").unwrap();
    drop(b);

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut out = String::new();
    while Instant::now() < deadline {
        out = ok(&node.cli(&["consume", "lines"]));
        if out.lines().count() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut got: Vec<&str> = out.lines().collect();
    got.sort_unstable();
    assert_eq!(got, ["not to be", "that is the question", "to be or"]);
    a.write_all(b"more\n").unwrap();
    drop(a);
    signal(&producer, "INT");
    let status =
        wait_timeout(&mut producer, Duration::from_secs(20)).expect("producer stops on Ctrl-C");
    assert!(status.success(), "{status}");
    assert_eq!(ok(&node.cli(&["consume", "lines"])).lines().count(), 4);
}
