//! `strata serve`: resolve the configuration, start a node, serve until a signal.

use std::io::Write;

use strata_server::config::SizeOrText;
use strata_server::{ConfigLayer, Node, shutdown_signal};
use tracing_subscriber::EnvFilter;

use super::Result;
use crate::args::ServeArgs;

/// Runs the node.
pub async fn run(args: ServeArgs) -> Result {
    let filter = EnvFilter::try_new(&args.log).map_err(|e| {
        super::Failure(format!(
            "--log {:?} is not a log filter ({e}); use e.g. info, warn or strata_server=debug",
            args.log
        ))
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let file = ConfigLayer::discover(args.config.as_deref())?;
    let flags = ConfigLayer {
        data_dir: args.data_dir,
        http: args.http,
        auth_token: args.auth_token,
        max_body_bytes: args.max_body_bytes.map(SizeOrText::Text),
        group_session_timeout: args.group_session_timeout.map(SizeOrText::Text),
        shutdown_timeout: args.shutdown_timeout.map(SizeOrText::Text),
        checkpoint_interval: args.checkpoint_interval.map(SizeOrText::Text),
        archive_interval: args.archive_interval.map(SizeOrText::Text),
        batch_interval: args.batch_interval.map(SizeOrText::Text),
        kafka: args.kafka,
        kafka_auto_create: args.kafka_auto_create,
    };
    let config = file.overlay(flags).resolve()?;
    let data_dir = config.data_dir.clone();
    let node = Node::start(config).await?;
    let addr = node.local_addr()?;
    {
        // The first line of stdout names the address: scripts and tests read it.
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "strata {} listening on http://{addr} (data in {})",
            env!("CARGO_PKG_VERSION"),
            data_dir.display()
        )?;
        if let Some(kafka) = node.kafka_addr()? {
            writeln!(out, "Kafka protocol on {kafka} (bootstrap.servers={kafka})")?;
        }
        out.flush()?;
    }
    node.run(shutdown_signal()).await?;
    Ok(())
}
