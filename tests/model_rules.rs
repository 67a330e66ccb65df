//! The lifecycle rules of reference/lifecycle.md sections 2 to 6, one test each, on two
//! model peers over the in-memory link.

use dcsim::model::*;
use dcsim::stack::AppCall;
use dcsim::trace::{EventKind, PeerId};

const A: PeerId = PeerId::A;
const B: PeerId = PeerId::B;

fn pair(profile: Profile) -> Pair {
    pair_with(profile, PeerConfig::default())
}

fn pair_with(profile: Profile, config: PeerConfig) -> Pair {
    let mut p = Pair::new(profile, config, 10);
    p.app(
        A,
        AppCall::CreateChannel {
            label: "chat".into(),
            negotiated: None,
            ordered: true,
        },
    )
    .unwrap();
    p.connect().unwrap();
    p
}

/// The state sequence of one machine on one peer, as "from->to" strings.
fn states(p: &Pair, peer: PeerId, machine: &str) -> Vec<String> {
    p.trace
        .events
        .iter()
        .filter(|e| e.peer == Some(peer))
        .filter_map(|e| match &e.kind {
            EventKind::State {
                machine: m, to, ..
            } if m.as_str() == machine => Some(to.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn debug_dump() {
    let mut p = pair(Profile::WEBRTC_RS);
    p.run_until(500);
    p.send(A, "chat", 1, 10).unwrap();
    p.run_until(1000);
    print!("{}", p.trace.to_jsonl());
    assert_eq!(states(&p, A, "data_channel"), ["open"]);
}
