#![forbid(unsafe_code)]
//! The `dcsim` command line (see `dcsim --help`).

fn main() {
    std::process::exit(dcsim::cli::main());
}
