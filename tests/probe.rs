//! `dcsim probe` against local services built with the webrtc 0.21.1 crate on loopback:
//! an echo service (JSON signaling and WHIP), one that answers HTTP 500, one that answers
//! garbage SDP, one that closes the channel after 3 messages, one that accepts the
//! connection and never answers; and bad input. Each asserts the verdict and the failing
//! check; the exit codes are asserted through the `dcsim` binary.

use dcsim::probe::{probe, ProbeFault, ProbeOptions, ProbePayload, ProbeReport, Signaling};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
    RTCSessionDescription,
};

type Done<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// The service side of one connection: echoes every message, closes after `close_after`.
struct Echo {
    gathered: Arc<AtomicBool>,
    close_after: Option<usize>,
}

impl PeerConnectionEventHandler for Echo {
    fn on_ice_gathering_state_change<'l, 'a>(&'l self, s: RTCIceGatheringState) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        if s == RTCIceGatheringState::Complete {
            self.gathered.store(true, Ordering::SeqCst);
        }
        Box::pin(async {})
    }

    fn on_data_channel<'l, 'a>(&'l self, dc: Arc<dyn DataChannel>) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        let close_after = self.close_after;
        tokio::spawn(async move {
            let mut n = 0;
            while let Some(event) = dc.poll().await {
                if let DataChannelEvent::OnMessage(m) = event {
                    n += 1;
                    let text = String::from_utf8_lossy(&m.data).into_owned();
                    let _ = dc.send_text(&text).await;
                    if close_after == Some(n) {
                        let _ = dc.close().await;
                    }
                }
            }
        });
        Box::pin(async {})
    }
}

struct Service {
    addr: SocketAddr,
}

/// The peers the service answered, kept alive for the test binary's life.
static PEERS: Mutex<Vec<Box<dyn PeerConnection>>> = Mutex::new(Vec::new());

fn answer(rt: &tokio::runtime::Runtime, offer: String, close_after: Option<usize>) -> String {
    rt.block_on(async move {
        let gathered = Arc::new(AtomicBool::new(false));
        let pc = PeerConnectionBuilder::new()
            .with_handler(Arc::new(Echo {
                gathered: gathered.clone(),
                close_after,
            }))
            .with_udp_addrs(vec!["127.0.0.1:0".to_string()])
            .build()
            .await
            .expect("service peer");
        let offer = RTCSessionDescription::offer(offer).expect("offer");
        pc.set_remote_description(offer)
            .await
            .expect("offer applied");
        let answer = pc.create_answer(None).await.expect("answer");
        pc.set_local_description(answer).await.expect("answer set");
        for _ in 0..500 {
            if gathered.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let sdp = pc.local_description().await.expect("sdp").sdp;
        PEERS.lock().expect("peers").push(Box::new(pc));
        sdp
    })
}

fn read_request(stream: &mut TcpStream) -> (String, String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let mut first = head.lines().next().unwrap_or("").split(' ');
            let method = first.next().unwrap_or("").to_string();
            let path = first.next().unwrap_or("").to_string();
            return (method, path, buf[end + 4..].to_vec());
        }
    }
    (String::new(), String::new(), Vec::new())
}

fn reply(stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn json_answer(sdp: &str) -> Vec<u8> {
    serde_json::json!({"sdp": sdp, "type": "answer"})
        .to_string()
        .into_bytes()
}

fn service() -> &'static Service {
    static SERVICE: OnceLock<Service> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            let rt = Arc::new(
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .expect("runtime"),
            );
            let resources = Arc::new(AtomicUsize::new(0));
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (rt, resources) = (rt.clone(), resources.clone());
                std::thread::spawn(move || {
                    let (method, path, body) = read_request(&mut stream);
                    let offer_of = |body: &[u8]| -> String {
                        serde_json::from_slice::<serde_json::Value>(body)
                            .ok()
                            .and_then(|v| v.get("sdp")?.as_str().map(str::to_string))
                            .unwrap_or_default()
                    };
                    match (method.as_str(), path.as_str()) {
                        ("POST", "/echo") => {
                            let sdp = answer(&rt, offer_of(&body), None);
                            reply(
                                &mut stream,
                                "200 OK",
                                "Content-Type: application/json\r\n",
                                &json_answer(&sdp),
                            );
                        }
                        ("POST", "/close-after-3") => {
                            let sdp = answer(&rt, offer_of(&body), Some(3));
                            reply(
                                &mut stream,
                                "200 OK",
                                "Content-Type: application/json\r\n",
                                &json_answer(&sdp),
                            );
                        }
                        ("POST", "/whip") => {
                            let sdp =
                                answer(&rt, String::from_utf8_lossy(&body).into_owned(), None);
                            let n = resources.fetch_add(1, Ordering::SeqCst);
                            let location = format!(
                                "Location: /whip/resource/{n}\r\nContent-Type: application/sdp\r\n"
                            );
                            reply(&mut stream, "201 Created", &location, sdp.as_bytes());
                        }
                        ("DELETE", p) if p.starts_with("/whip/resource/") => {
                            reply(&mut stream, "200 OK", "", b"");
                        }
                        ("POST", "/fail") => {
                            reply(&mut stream, "500 Internal Server Error", "", b"oops")
                        }
                        ("POST", "/garbage") => {
                            reply(
                                &mut stream,
                                "200 OK",
                                "",
                                &json_answer("this is not an SDP"),
                            );
                        }
                        ("POST", "/hang") => {
                            // Accept and never answer (the probe's --timeout must end it).
                            std::thread::sleep(Duration::from_secs(30));
                        }
                        _ => reply(&mut stream, "404 Not Found", "", b""),
                    }
                });
            }
        });
        Service { addr }
    })
}

fn options(path: &str) -> ProbeOptions {
    ProbeOptions {
        url: format!("http://{}{path}", service().addr),
        signaling: Signaling::Json,
        channel: "chat".into(),
        payload: ProbePayload::Text("hello".into()),
        count: 5,
        interval_ms: 50,
        expect_echo: true,
        guarded: false,
        faults: Vec::new(),
        timeout: Duration::from_secs(20),
        bind: "127.0.0.1:0".into(),
        seed: 0,
    }
}

fn failed(report: &ProbeReport) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.clone())
        .collect()
}

#[test]
fn the_echo_service_passes_every_check() {
    let report = probe(&options("/echo")).expect("probe runs");
    let text = report.render_text("echo");
    println!("{text}");
    assert!(report.passed(), "{text}");
    assert_eq!(report.summary.echoed, 5, "{text}");
    assert!(report.summary.open_ms.is_some());
    assert!(
        text.contains("candidates offered: host 127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains("hint: only private host candidates"),
        "{text}"
    );
}

#[test]
fn the_whip_service_passes_and_the_resource_is_deleted() {
    let mut o = options("/whip");
    o.signaling = Signaling::Whip;
    let report = probe(&o).expect("probe runs");
    let text = report.render_text("whip");
    assert!(report.passed(), "{text}");
    assert!(
        text.contains("WHIP DELETE: 200 for /whip/resource/"),
        "{text}"
    );
}

#[test]
fn an_http_500_fails_the_reachability_check() {
    let report = probe(&options("/fail")).expect("probe runs");
    assert_eq!(
        failed(&report),
        ["HTTP reachable"],
        "{}",
        report.render_text("fail")
    );
}

#[test]
fn a_garbage_answer_fails_the_answer_check() {
    let report = probe(&options("/garbage")).expect("probe runs");
    assert_eq!(
        failed(&report),
        ["answer well-formed"],
        "{}",
        report.render_text("garbage")
    );
}

#[test]
fn a_service_that_closes_the_channel_loses_the_later_messages() {
    let report = probe(&options("/close-after-3")).expect("probe runs");
    let text = report.render_text("close");
    assert!(
        failed(&report).contains(&"messages echoed".to_string()),
        "{text}"
    );
    // Three are echoed before the close (the third echo may race the close itself).
    assert!((2..=3).contains(&report.summary.echoed), "{text}");
}

#[test]
fn a_partition_on_the_live_path_disconnects_and_the_guarded_sends_arrive_after_the_heal() {
    let mut o = options("/echo");
    o.guarded = true;
    o.count = 8;
    o.interval_ms = 700;
    // From 3 s: the channel is open long before, even on a loaded machine.
    o.faults = vec![ProbeFault::parse("partition@3s+6s").expect("fault")];
    o.timeout = Duration::from_secs(45);
    let report = probe(&o).expect("probe runs");
    let text = report.render_text("partition");
    println!("{text}");
    let ice: Vec<(u64, String)> = report
        .trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            dcsim::trace::EventKind::State { machine, to, .. }
                if machine.as_str() == "ice_connection" =>
            {
                Some((e.t_ms, to.clone()))
            }
            _ => None,
        })
        .collect();
    let at = |to: &str| ice.iter().find(|(_, s)| s == to).map(|(t, _)| *t);
    let disconnected = at("disconnected").expect("ICE went disconnected");
    // Silent from 3 s (the partition); the agent's last STUN arrived just before.
    assert!((7_000..=12_000).contains(&disconnected), "{ice:?}");
    let back = ice
        .iter()
        .any(|(t, s)| *t > disconnected && s == "connected");
    assert!(back, "ICE recovered after the heal: {ice:?}");
    assert_eq!(report.summary.lost, 0, "{text}");
    assert!(report.passed(), "{text}");
}

#[test]
fn bad_input_is_one_clear_error() {
    for (url, what) in [
        ("ftp://x/y", "expected a URL starting with http://"),
        ("http://127.0.0.1:1/offer", "unreachable"),
    ] {
        let mut o = options("/echo");
        o.url = url.into();
        o.timeout = Duration::from_secs(2);
        let err = probe(&o).expect_err(url);
        assert!(err.0.contains(what), "{url}: {}", err.0);
        assert!(!err.0.contains('\n'), "{url}: one line: {}", err.0);
    }
    let mut o = options("/hang");
    o.timeout = Duration::from_secs(2);
    let started = std::time::Instant::now();
    let err = probe(&o).expect_err("hang");
    assert!(err.0.contains("unreachable"), "{}", err.0);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "ended by --timeout"
    );
    for bad in [
        "partition",
        "nap@1s",
        "loss@1s",
        "loss=2@1s",
        "partition@soon",
    ] {
        assert!(ProbeFault::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_exit_codes_are_0_1_and_2() {
    let exe = env!("CARGO_BIN_EXE_dcsim");
    let run = |args: &[&str]| {
        std::process::Command::new(exe)
            .args(args)
            .output()
            .expect("dcsim runs")
    };
    let base = format!("http://{}", service().addr);
    let ok = run(&[
        "probe",
        &format!("{base}/echo"),
        "--bind",
        "127.0.0.1:0",
        "--expect-echo",
        "--count",
        "2",
        "--interval-ms",
        "10",
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let fail = run(&["probe", &format!("{base}/fail"), "--bind", "127.0.0.1:0"]);
    assert_eq!(fail.status.code(), Some(1));
    let bad = run(&["probe", "not-a-url"]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    let bad_fault = run(&["probe", &format!("{base}/echo"), "--fault", "nap@1s"]);
    assert_eq!(bad_fault.status.code(), Some(2));
}

#[test]
fn a_scenario_files_network_steps_become_live_faults() {
    let race = dcsim::scenario::builtin::get("checking-disconnected-failed").expect("built-in");
    let faults = ProbeFault::from_scenario(&race).expect("faults");
    assert_eq!(
        faults,
        [ProbeFault::parse("partition@45ms").expect("fault")]
    );
    let transient = dcsim::scenario::builtin::get("transient-disconnect").expect("built-in");
    let faults = ProbeFault::from_scenario(&transient).expect("faults");
    assert_eq!(faults.len(), 2, "partition and heal: {faults:?}");
    let slow = dcsim::scenario::Scenario::parse(
        "slow.toml",
        "version = 1\nname = \"slow\"\n\n[[channel]]\nlabel = \"chat\"\n\n[[step]]\nat_ms = 10\naction = \"latency\"\nms = 100\n",
    )
    .expect("scenario");
    let err = ProbeFault::from_scenario(&slow).expect_err("latency is not live");
    assert!(err.contains("line 7") && err.contains("`latency`"), "{err}");
}
