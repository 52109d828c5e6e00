//! `strata`: the one binary of the platform.

fn main() {
    println!("strata {}", env!("CARGO_PKG_VERSION"));
}
