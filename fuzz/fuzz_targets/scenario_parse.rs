//! `scenario_parse`: see `dcsim::fuzzing::parsers::check_scenario_parse` for what is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(report) = dcsim::fuzzing::check_scenario_parse(data) {
        panic!("{report}");
    }
});
