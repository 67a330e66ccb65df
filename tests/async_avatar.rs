//! The OpenAvatarChat server written against the async webrtc 0.21.1 API
//! (examples/open_avatar_chat_async), unmodified but for its channel type, on two real
//! peer connections under the dcsim runtime and the built-in
//! `checking-disconnected-failed` race.

#[path = "../examples/open_avatar_chat_async/app.rs"]
mod app;

use app::{Client, Sending, Server};
use dcsim::check::names;
use dcsim::runtime::harness::AsyncRun;
use dcsim::scenario::Scenario;
use dcsim::trace::{EventKind, PeerId, Trace};
use webrtc::peer_connection::PeerConnection;

fn race() -> Scenario {
    dcsim::scenario::builtin::get("checking-disconnected-failed").expect("built-in scenario")
}

/// One run of the server against the race, seed `seed`: both peers built, the
/// scenario's faults played, offer/answer at 0, the server closes its peer connection
/// at 33 s as the scenario says, the run ends at 40 s.
fn serve(sending: Sending, scenario: &Scenario, seed: u64) -> Trace {
    let run = AsyncRun::new(scenario, seed);
    let result = run.run(async {
        let server = Server::new(sending);
        let a = run
            .builder(PeerId::A, server.clone())
            .build()
            .await
            .expect("peer a");
        let client = Client::new(run.channels(), run.runtime(PeerId::B));
        let b = run
            .builder(PeerId::B, client)
            .build()
            .await
            .expect("peer b");
        let dc = a.create_data_channel("chat", None).await.expect("chat");
        server
            .attach(run.channel(PeerId::A, dc).await, run.runtime(PeerId::A))
            .await;
        run.play_faults();
        run.negotiate(&a, &b).await.expect("negotiation");
        if let Some(close) = close_peer_at(scenario) {
            run.until(close).await;
            let _ = a.close().await;
        }
        run.until(scenario.duration_ms).await;
    });
    result.expect("the run ends")
}

/// When the scenario has `a` close its peer connection.
fn close_peer_at(scenario: &Scenario) -> Option<u64> {
    scenario.timeline().into_iter().find_map(|s| {
        matches!(s.step.action, dcsim::scenario::Action::ClosePeer { .. }).then_some(s.at_ms)
    })
}

fn naive(seed: u64) -> Trace {
    serve(Sending::Naive, &race(), seed)
}

fn fixed(seed: u64) -> Trace {
    serve(Sending::Fixed, &race(), seed)
}

#[test]
fn the_guarded_server_passes_the_race() {
    let trace = fixed(1);
    println!("{}", trace.render_text());
    assert_eq!(
        trace.violated(),
        Vec::<String>::new(),
        "{}",
        trace.render_text()
    );
}

#[test]
fn the_guarded_server_delivers_on_a_healthy_path() {
    let trace = serve(
        Sending::Fixed,
        &dcsim::scenario::builtin::get("happy-path").expect("built-in"),
        1,
    );
    println!("{}", trace.render_text());
    assert_eq!(
        trace.violated(),
        Vec::<String>::new(),
        "{}",
        trace.render_text()
    );
    assert!(trace
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Deliver { .. })));
}

#[test]
fn the_naive_server_is_caught_at_its_first_send_with_the_crates_error() {
    let trace = naive(1);
    println!("{}", trace.render_text());
    assert!(
        trace
            .violated()
            .contains(&names::NO_SEND_ON_NON_OPEN.to_string()),
        "{}",
        trace.render_text()
    );
    let first = trace
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Send { error, .. } => Some(error.clone()),
            _ => None,
        })
        .expect("a send");
    assert_eq!(first.as_deref(), Some("data channel is not open yet"));
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    for seed in 0..5 {
        assert_eq!(
            naive(seed).to_jsonl(),
            naive(seed).to_jsonl(),
            "seed {seed}"
        );
    }
}
