//! `strata`: the one binary of the platform — the node (`strata serve`) and the command-line
//! client of its HTTP API (`topic`, `produce`, `consume`, `group`, `sql`, `view`, `query`, `batch`).
//!
//! Arguments are declared in [`args`]; each command's code lives in [`cmd`].

mod args;
mod cmd;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: the node allocates per request and per
/// micro-batch on every thread (Arrow arrays, JSON bodies), where glibc malloc showed as ~12%
/// of a point lookup's profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cmd::run(cli));
    // Don't wait for lingering blocking reads (e.g. stdin) on the way out.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.0);
            ExitCode::FAILURE
        }
    }
}
