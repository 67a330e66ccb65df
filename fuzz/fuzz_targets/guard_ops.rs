//! `guard_ops`: see `dcsim::fuzzing::guard_ops` for the input and what is checked.
#![no_main]

use dcsim::fuzzing::{check_guard_ops_with, Options};
use libfuzzer_sys::fuzz_target;

/// The harness options: the planted bug only with the `planted-bug` feature.
const OPTIONS: Options = Options {
    plant_skip_state_check: cfg!(feature = "planted-bug"),
};

fuzz_target!(|data: &[u8]| {
    if let Err(report) = check_guard_ops_with(data, &OPTIONS) {
        panic!("{report}");
    }
});
