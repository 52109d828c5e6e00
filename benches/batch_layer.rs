//! Placeholder; the benchmark lands shortly.
fn main() {}
