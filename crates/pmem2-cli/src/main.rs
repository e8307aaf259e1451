//! The `pmem2` command-line tool.
fn main() {}
