//! `avatar_chat`: a user's own application under the fuzzer, the way a user writes it:
//! the fixed OpenAvatarChat app (examples/open_avatar_chat) on the built-in
//! `checking-disconnected-failed` race, one run an input (`dcsim::drive::fuzz`).
#![no_main]

#[path = "../../examples/open_avatar_chat/app.rs"]
#[allow(dead_code)] // the naive app is for the tests
mod app;

use app::{AvatarChat, Sending};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let scenario =
        dcsim::scenario::builtin::get("checking-disconnected-failed").expect("a built-in scenario");
    dcsim::drive::fuzz(data, &scenario, |peer| {
        AvatarChat::new(peer, Sending::Fixed)
    });
});
