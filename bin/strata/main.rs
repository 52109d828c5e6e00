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

/// `mi_option_purge_delay` of mimalloc's C API (`mimalloc.h`, v2 and v3), which the Rust
/// binding does not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed pages instead of returning them to the OS after the purge delay (mimalloc's
/// default: a second in the bundled v3, 10 ms in v2):
/// the engine frees and reallocates large Arrow buffers every micro-batch, and purging them
/// cost the Nexmark runner 8–17 % (the environment's `MIMALLOC_PURGE_DELAY`, when set, wins).
fn keep_freed_pages() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: plain option calls of the allocator's C API; they take any option id and
    // value. The id is checked first: only an option holding a plausible purge delay (1 ms to
    // a minute) is changed, so a renumbered API most likely leaves everything as it was.
    unsafe {
        let delay_ms = libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY);
        if (1..=60_000).contains(&delay_ms) {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}

fn main() -> ExitCode {
    keep_freed_pages();
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
