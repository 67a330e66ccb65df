//! The OpenAvatarChat app under dcsim: the naive app and the fixed one on the
//! `checking-disconnected-failed` race, each run once and swept over 50 seeds.
//!
//! `cargo run --example open_avatar_chat`

mod app;

use app::{AvatarChat, Sending};
use dcsim::drive;
use dcsim::sim::RunOptions;

fn main() -> Result<(), String> {
    let scenario = dcsim::scenario::builtin::get("checking-disconnected-failed")
        .ok_or("no built-in checking-disconnected-failed")?;
    for sending in [Sending::Naive, Sending::Fixed] {
        let make = move |peer| AvatarChat::new(peer, sending);
        let run = drive::run(&scenario, &RunOptions::default(), make)?;
        let explored = drive::explore(&scenario, 50, 0, &RunOptions::default(), make)?;
        println!(
            "{sending:?}: {} violations in one run; {} of 50 explored runs clean ({:?})",
            run.trace.violations().count(),
            if explored.is_clean() {
                "all"
            } else {
                "not all"
            },
            explored.violated.keys().collect::<Vec<_>>()
        );
    }
    Ok(())
}
