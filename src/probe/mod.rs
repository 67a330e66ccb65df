//! `dcsim probe`: a real webrtc 0.21.1 peer that offers to a running service, opens a
//! channel, sends, and reports each step as a check with its time, with dcsim's fault
//! verbs on the live path and the same trace and monitor as the simulator.
//!
//! Signaling: `json` POSTs `{"sdp", "type": "offer"}` and reads `{"sdp", "type"}` back
//! (the shape aiortc-based servers use); `whip` (RFC 9725) POSTs `application/sdp`,
//! expects `201 Created` with a `Location`, and DELETEs it at the end. Plain `http://`
//! only. The peer runs on the crate's own tokio runtime with its UDP sockets behind a
//! fault gate ([`crate::runtime::live`]).

pub mod http;

use crate::check::MonitorConfig;
use crate::guard::webrtc_adapter::IceFeed;
use crate::guard::GuardConfig;
use crate::model::Profile;
use crate::runtime::live::{Gate, LiveFault, LiveRuntime};
use crate::runtime::record::{Done, Record};
use crate::trace::{EventKind, Machine, Millis, PeerId, Trace};
use http::{HttpError, Url};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use webrtc::data_channel::DataChannelEvent;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceConnectionState,
    RTCSessionDescription,
};
use webrtc::runtime::{default_runtime, Runtime};

/// How the offer reaches the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signaling {
    /// POST `{"sdp","type"}` JSON, answer in JSON.
    Json,
    /// WHIP: POST `application/sdp`, 201 + Location, DELETE at the end.
    Whip,
}

/// What each probe message carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbePayload {
    /// This text, with ` #<n>` appended so that echoes can be matched.
    Text(String),
    /// This many bytes (text, padded), with the number first.
    Size(usize),
}

/// A fault on the live path: `verb` at `at_ms`, undone at `until_ms` if given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeFault {
    /// What.
    pub fault: LiveFault,
    /// When, in ms from the start of the probe.
    pub at_ms: Millis,
    /// When it is undone (heal, release, loss back to 0).
    pub until_ms: Option<Millis>,
}

impl ProbeFault {
    /// Parses `VERB[=VALUE]@TIME[+DURATION]` (`partition@3s+8s`, `hold@2s+500ms`,
    /// `loss=0.3@1s+5s`); the error says what is wrong.
    pub fn parse(text: &str) -> Result<ProbeFault, String> {
        let shown: String = text.chars().take(40).collect();
        let err = |why: &str| format!("--fault {shown:?}: {why}");
        let (what, when) = text
            .split_once('@')
            .ok_or_else(|| err("expected VERB@TIME[+DURATION], e.g. partition@3s+8s"))?;
        let (verb, value) = match what.split_once('=') {
            Some((v, x)) => (v, Some(x)),
            None => (what, None),
        };
        let (at, dur) = match when.split_once('+') {
            Some((a, d)) => (a, Some(d)),
            None => (when, None),
        };
        let at_ms = duration_ms(at).map_err(|e| err(&e))?;
        let until_ms = match dur {
            Some(d) => Some(at_ms + duration_ms(d).map_err(|e| err(&e))?),
            None => None,
        };
        let fault = match (verb, value) {
            ("partition", None) => LiveFault::Partition,
            ("hold", None) => LiveFault::Hold,
            ("loss", Some(v)) => match v.parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => LiveFault::Loss(p),
                _ => return Err(err("loss needs a probability from 0 to 1, e.g. loss=0.3@1s")),
            },
            ("loss", None) => return Err(err("loss needs a value, e.g. loss=0.3@1s+5s")),
            _ => {
                return Err(err(
                    "unknown verb (live faults: partition, hold, loss=P; heal and release are the +DURATION)",
                ))
            }
        };
        Ok(ProbeFault {
            fault,
            at_ms,
            until_ms,
        })
    }

    /// The network faults of a scenario file as live faults: `partition`/`heal`,
    /// `hold`/`release`, `loss`, at their times (from the probe's start). Its other
    /// steps are the probe's own to make and are ignored; `latency` and `crash` cannot
    /// act on a live path and are an error that names the step.
    pub fn from_scenario(scenario: &crate::scenario::Scenario) -> Result<Vec<ProbeFault>, String> {
        use crate::scenario::Action;
        if scenario.network.relay_ms > 0 {
            return Err(format!(
                "{}: [network] relay_ms cannot act on a live path (the service's path is what it is)",
                scenario.name
            ));
        }
        let mut faults = Vec::new();
        for s in scenario.timeline() {
            let fault = match &s.step.action {
                Action::Partition => LiveFault::Partition,
                Action::Heal => LiveFault::Heal,
                Action::Hold => LiveFault::Hold,
                Action::Release => LiveFault::Release,
                Action::Loss { value } => LiveFault::Loss(*value),
                Action::Latency { .. } | Action::Crash { .. } => {
                    return Err(format!(
                        "{}: line {}: `{}` cannot act on a live path (live faults: partition, heal, hold, release, loss)",
                        scenario.name,
                        s.step.line,
                        s.step.action.name()
                    ))
                }
                _ => continue,
            };
            faults.push(ProbeFault {
                fault,
                at_ms: s.at_ms,
                until_ms: None,
            });
        }
        Ok(faults)
    }

    fn undo(&self) -> LiveFault {
        match self.fault {
            LiveFault::Partition => LiveFault::Heal,
            LiveFault::Hold => LiveFault::Release,
            LiveFault::Loss(_) => LiveFault::Loss(0.0),
            other => other,
        }
    }
}

/// `3s`, `500ms`, `1.5s`, or a bare number of milliseconds.
fn duration_ms(text: &str) -> Result<Millis, String> {
    let t = text.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (t, 1.0)
    };
    match num.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok((v * scale).round() as Millis),
        _ => Err(format!("bad time {t:?} (e.g. 3s, 500ms)")),
    }
}

/// Everything a probe is asked to do.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// The service's signaling URL.
    pub url: String,
    /// JSON or WHIP.
    pub signaling: Signaling,
    /// The channel's label.
    pub channel: String,
    /// What each message carries.
    pub payload: ProbePayload,
    /// How many messages.
    pub count: u32,
    /// Time between two messages.
    pub interval_ms: Millis,
    /// The service echoes each message back: count and time the echoes.
    pub expect_echo: bool,
    /// Send through dcsim's guard instead of the bare send.
    pub guarded: bool,
    /// Faults on the live path.
    pub faults: Vec<ProbeFault>,
    /// The whole probe's deadline; each step also waits at most this long.
    pub timeout: Duration,
    /// The local UDP address to bind (`0.0.0.0:0`: every interface).
    pub bind: String,
    /// Seed of the loss draws.
    pub seed: u64,
}

/// One step of the probe and how it went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// It passed.
    pub passed: bool,
    /// When it was decided, in ms from the start (if it has a moment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<Millis>,
    /// What was seen, and hints.
    pub detail: String,
}

/// The seed debug page's metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// ICE connected, ms from the start.
    pub connect_ms: Option<Millis>,
    /// Channel open, ms from the start.
    pub open_ms: Option<Millis>,
    /// Messages handed to the channel (or the guard) without an error.
    pub sent: u32,
    /// Echoes received.
    pub echoed: u32,
    /// Messages sent and never echoed (with `--expect-echo`).
    pub lost: u32,
    /// Sends refused by the stack.
    pub errors: u32,
    /// Round-trip times of the echoes, in ms, in send order.
    pub rtt_ms: Vec<Millis>,
    /// Datagrams the fault gate dropped.
    pub dropped_datagrams: u64,
}

/// What a probe found.
#[derive(Clone, Debug)]
pub struct ProbeReport {
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// The metrics.
    pub summary: Summary,
    /// The trace of the probe's peer, judged by the monitor.
    pub trace: Trace,
}

impl ProbeReport {
    /// Every check passed and no invariant was violated.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The one-screen text report.
    pub fn render_text(&self, url: &str) -> String {
        let mut out = format!("dcsim probe {url}\n");
        for c in &self.checks {
            let at = c.at_ms.map(|t| format!("{t} ms")).unwrap_or_default();
            out.push_str(&format!(
                "  {:4} {:>9}  {}: {}\n",
                if c.passed { "ok" } else { "FAIL" },
                at,
                c.name,
                c.detail
            ));
        }
        let s = &self.summary;
        let ms = |v: Option<Millis>| v.map_or("-".to_string(), |t| format!("{t} ms"));
        let rtt = if s.rtt_ms.is_empty() {
            "-".to_string()
        } else {
            let mut v = s.rtt_ms.clone();
            v.sort_unstable();
            format!("{}/{}/{} ms", v[0], v[v.len() / 2], v[v.len() - 1])
        };
        out.push_str(&format!(
            "summary: connect {}, open {}, sent {}, echoed {}, lost {}, errors {}, RTT min/median/max {rtt}, datagrams dropped by faults {}; {}\n",
            ms(s.connect_ms),
            ms(s.open_ms),
            s.sent,
            s.echoed,
            s.lost,
            s.errors,
            s.dropped_datagrams,
            if self.passed() { "all checks passed" } else { "a check failed" }
        ));
        out
    }

    /// The report as one JSON object: checks, summary, trace events.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Out<'a> {
            passed: bool,
            checks: &'a [Check],
            summary: &'a Summary,
            trace: &'a [crate::trace::TraceEvent],
        }
        serde_json::to_string_pretty(&Out {
            passed: self.passed(),
            checks: &self.checks,
            summary: &self.summary,
            trace: &self.trace.events,
        })
        .unwrap_or_default()
    }
}

/// Why a probe could not run: bad arguments or an unreachable service (exit 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeError(pub String);

/// The probe's own handler: feeds the ICE state to the guard when sends are guarded.
struct ProbeHandler {
    feed: IceFeed,
}

impl PeerConnectionEventHandler for ProbeHandler {
    fn on_ice_connection_state_change<'l, 'a>(&'l self, state: RTCIceConnectionState) -> Done<'a>
    where
        'l: 'a,
        Self: 'a,
    {
        Box::pin(async move { self.feed.publish(state).await })
    }
}

/// The candidates of an SDP: (type, address) of each `a=candidate` line.
pub fn candidates(sdp: &str) -> Vec<(String, String)> {
    sdp.lines()
        .filter_map(|l| l.trim().strip_prefix("a=candidate:"))
        .filter_map(|c| {
            let f: Vec<&str> = c.split_whitespace().collect();
            let typ = f
                .iter()
                .position(|x| *x == "typ")
                .and_then(|i| f.get(i + 1))?;
            Some((typ.to_string(), format!("{}:{}", f.get(4)?, f.get(5)?)))
        })
        .fold(Vec::new(), |mut seen, c| {
            if !seen.contains(&c) {
                seen.push(c);
            }
            seen
        })
}

/// Hints about a service's candidates.
fn candidate_hints(cands: &[(String, String)]) -> Vec<String> {
    let mut hints = Vec::new();
    if cands.is_empty() {
        hints.push("no candidates in the answer: the service answered before gathering".into());
        return hints;
    }
    if !cands.iter().any(|(t, _)| t == "relay") {
        hints.push("no TURN relay candidate: clients behind symmetric NAT cannot connect".into());
    }
    let private = |a: &str| {
        let ip = a.rsplit_once(':').map_or(a, |(h, _)| h);
        ip.parse::<std::net::IpAddr>().is_ok_and(|ip| match ip {
            std::net::IpAddr::V4(v) => v.is_private() || v.is_loopback() || v.is_link_local(),
            std::net::IpAddr::V6(v) => v.is_loopback() || (v.segments()[0] & 0xfe00) == 0xfc00,
        })
    };
    if cands.iter().all(|(t, a)| t == "host" && private(a)) {
        hints.push("only private host candidates: reachable from this network only".into());
    }
    hints
}

/// What the probe's async part hands back: its checks and metrics, or why it could not run.
type Outcome = Result<(Vec<Check>, Summary), ProbeError>;

/// A message received: when, and its bytes.
type Received = (Millis, Vec<u8>);

/// Runs one probe.
pub fn probe(options: &ProbeOptions) -> Result<ProbeReport, ProbeError> {
    let url = Url::parse(&options.url).map_err(ProbeError)?;
    if options.count == 0 {
        return Err(ProbeError("--count: must be at least 1".into()));
    }
    let inner =
        default_runtime().ok_or_else(|| ProbeError("no async runtime compiled in".into()))?;
    let gate = Gate::new(options.seed);
    let live = LiveRuntime::new(inner, Arc::clone(&gate));
    let clock_rt = Arc::clone(&live);
    let record = Record::one_sided(
        MonitorConfig {
            // The probe's own peer is the webrtc crate.
            profile: Profile::WEBRTC_RS,
            guard_max_messages: None,
            check_derived_state: false,
        },
        Arc::new(move || clock_rt.elapsed_ms()),
    );
    let outcome: Arc<Mutex<Outcome>> = Arc::new(Mutex::new(Ok((Vec::new(), Summary::default()))));
    {
        let live2 = Arc::clone(&live);
        let record = record.clone();
        let outcome = Arc::clone(&outcome);
        let options = options.clone();
        live.block_on(Box::pin(async move {
            let result = run(&live2, &record, &url, &options).await;
            if let Ok(mut slot) = outcome.lock() {
                *slot = result;
            }
        }));
    }
    let end = live.elapsed_ms();
    let result = outcome
        .lock()
        .map(|mut r| std::mem::replace(&mut *r, Ok((Vec::new(), Summary::default()))))
        .unwrap_or_else(|_| Err(ProbeError("the probe panicked".into())));
    let (mut checks, mut summary) = result?;
    summary.dropped_datagrams = gate.dropped();
    let trace = record.finish(end);
    let violated = trace.violated();
    checks.push(Check {
        name: "invariants".into(),
        passed: violated.is_empty(),
        at_ms: None,
        detail: if violated.is_empty() {
            "every invariant held".into()
        } else {
            format!("violated: {}", violated.join(", "))
        },
    });
    Ok(ProbeReport {
        checks,
        summary,
        trace,
    })
}

/// Waits until `pred` holds (checked every 10 ms), at most `deadline_ms` from the start.
async fn wait_for(live: &LiveRuntime, deadline_ms: Millis, pred: impl Fn() -> bool) -> bool {
    loop {
        if pred() {
            return true;
        }
        if live.elapsed_ms() >= deadline_ms {
            return false;
        }
        live.sleep(Duration::from_millis(10)).await;
    }
}

async fn run(live: &Arc<LiveRuntime>, record: &Record, url: &Url, o: &ProbeOptions) -> Outcome {
    let deadline = o.timeout.as_millis() as Millis;
    let mut checks = Vec::new();
    let mut summary = Summary::default();
    let mut check = |name: &str, passed: bool, at: Option<Millis>, detail: String| {
        checks.push(Check {
            name: name.into(),
            passed,
            at_ms: at,
            detail,
        });
        passed
    };
    // Faults on their schedule.
    for f in &o.faults {
        let mut steps = vec![(f.at_ms, f.fault)];
        if let Some(until) = f.until_ms {
            steps.push((until, f.undo()));
        }
        for (at, fault) in steps {
            let rt = Arc::clone(live);
            let record = record.clone();
            let gate_rt = Arc::clone(live);
            live.spawn(Box::pin(async move {
                let now = rt.elapsed_ms();
                if at > now {
                    rt.sleep(Duration::from_millis(at - now)).await;
                }
                gate_rt.gate().apply(fault);
                record.event(
                    None,
                    EventKind::Fault {
                        action: fault_name(fault).into(),
                        detail: None,
                    },
                );
            }))
            .detach();
        }
    }
    let feed = IceFeed::new();
    let runtime: Arc<dyn Runtime> = Arc::clone(live) as Arc<dyn Runtime>;
    let pc = PeerConnectionBuilder::new()
        .with_runtime(Arc::clone(&runtime))
        .with_handler(record.handler(PeerId::A, Arc::new(ProbeHandler { feed: feed.clone() })))
        .with_udp_addrs(vec![o.bind.clone()])
        .build()
        .await
        .map_err(|e| ProbeError(format!("cannot build the probe's peer on {}: {e}", o.bind)))?;
    let dc = pc
        .create_data_channel(&o.channel, None)
        .await
        .map_err(|e| ProbeError(format!("cannot create channel {:?}: {e}", o.channel)))?;
    let chat = record.channels().wrap(PeerId::A, dc).await;
    let echoes: Arc<Mutex<Vec<Received>>> = Arc::new(Mutex::new(Vec::new()));
    let guarded = if o.guarded {
        let g = Arc::new(
            chat.guarded(Arc::clone(&runtime), GuardConfig::default(), |_| {})
                .await,
        );
        feed.attach(&g).await;
        Some(g)
    } else {
        None
    };
    {
        let (chat, guarded, echoes, rt) = (
            chat.clone(),
            guarded.clone(),
            Arc::clone(&echoes),
            Arc::clone(live),
        );
        live.spawn(Box::pin(async move {
            loop {
                let event = match &guarded {
                    Some(g) => g.poll().await,
                    None => chat.poll().await,
                };
                match event {
                    Some(DataChannelEvent::OnMessage(m)) => {
                        if let Ok(mut e) = echoes.lock() {
                            e.push((rt.elapsed_ms(), m.data.to_vec()));
                        }
                    }
                    Some(_) => {}
                    None => break,
                }
            }
        }))
        .detach();
    }
    // Offer, gathered.
    let offer = pc
        .create_offer(None)
        .await
        .map_err(|e| ProbeError(format!("create_offer: {e}")))?;
    pc.set_local_description(offer)
        .await
        .map_err(|e| ProbeError(format!("set_local_description: {e}")))?;
    let gathered = wait_for(live, deadline, || {
        record
            .last_state(PeerId::A, Machine::IceGathering, None)
            .as_deref()
            == Some("complete")
    })
    .await;
    let offer = pc
        .local_description()
        .await
        .ok_or_else(|| ProbeError("the probe has no local description".into()))?;
    if !gathered {
        check(
            "ICE gathering",
            false,
            Some(live.elapsed_ms()),
            "the probe's own gathering did not complete".into(),
        );
    }
    // Signaling.
    let timeout = o.timeout;
    let (content_type, body) = match o.signaling {
        Signaling::Json => (
            "application/json",
            serde_json::json!({"sdp": offer.sdp, "type": "offer"})
                .to_string()
                .into_bytes(),
        ),
        Signaling::Whip => ("application/sdp", offer.sdp.clone().into_bytes()),
    };
    let response = match http::request("POST", url, Some(content_type), &body, timeout) {
        Ok(r) => r,
        Err(HttpError(e)) => return Err(ProbeError(format!("unreachable: {e}"))),
    };
    let t = live.elapsed_ms();
    let ok_status = match o.signaling {
        Signaling::Json => (200..300).contains(&response.status),
        Signaling::Whip => response.status == 201,
    };
    check(
        "HTTP reachable",
        ok_status,
        Some(t),
        format!(
            "{} from {}:{}{}",
            response.status,
            url.host,
            url.port,
            if ok_status {
                ""
            } else {
                match o.signaling {
                    Signaling::Whip => " (WHIP expects 201 Created)",
                    Signaling::Json => " (expected 2xx)",
                }
            }
        ),
    );
    if !ok_status {
        return Ok((checks, summary));
    }
    let answer_sdp = match o.signaling {
        Signaling::Json => serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|v| {
                let sdp = v.get("sdp")?.as_str()?.to_string();
                (v.get("type")?.as_str()? == "answer").then_some(sdp)
            }),
        Signaling::Whip => String::from_utf8(response.body.clone()).ok(),
    };
    let location = response.header("location").map(str::to_string);
    let applied = match answer_sdp {
        None => Err("the body is not {\"sdp\": ..., \"type\": \"answer\"}".to_string()),
        Some(sdp) => match RTCSessionDescription::answer(sdp.clone()) {
            Err(e) => Err(format!("not an SDP answer: {e}")),
            Ok(desc) => pc
                .set_remote_description(desc)
                .await
                .map(|_| sdp)
                .map_err(|e| format!("set_remote_description refused it: {e}")),
        },
    };
    let answer = match applied {
        Ok(sdp) => sdp,
        Err(why) => {
            check("answer well-formed", false, Some(live.elapsed_ms()), why);
            let _ = pc.close().await;
            return Ok((checks, summary));
        }
    };
    check(
        "answer well-formed",
        true,
        Some(live.elapsed_ms()),
        format!("{} bytes of SDP", answer.len()),
    );
    let cands = candidates(&answer);
    let listed: Vec<String> = cands.iter().map(|(t, a)| format!("{t} {a}")).collect();
    let mut detail = if listed.is_empty() {
        "none".to_string()
    } else {
        listed.join(", ")
    };
    for h in candidate_hints(&cands) {
        detail.push_str(&format!("; hint: {h}"));
    }
    check("candidates offered", !cands.is_empty(), None, detail);
    // Connectivity.
    let state = |m: Machine| record.last_state(PeerId::A, m, None);
    let ice = wait_for(live, deadline, || {
        state(Machine::IceConnection).as_deref() == Some("connected")
    })
    .await;
    let t = live.elapsed_ms();
    summary.connect_ms = ice.then_some(t);
    check(
        "ICE connected",
        ice,
        Some(t),
        state(Machine::IceConnection).unwrap_or("new".into()),
    );
    let dtls = ice
        && wait_for(live, deadline, || {
            state(Machine::PeerConnection).as_deref() == Some("connected")
        })
        .await;
    check(
        "DTLS (peer connection connected)",
        dtls,
        Some(live.elapsed_ms()),
        state(Machine::PeerConnection).unwrap_or("new".into()),
    );
    let open = dtls
        && wait_for(live, deadline, || {
            record
                .last_state(PeerId::A, Machine::DataChannel, Some(&o.channel))
                .as_deref()
                == Some("open")
        })
        .await;
    let t = live.elapsed_ms();
    summary.open_ms = open.then_some(t);
    check("channel open", open, Some(t), format!("{:?}", o.channel));
    // Messages, sent whatever the channel's state: the guard or the trace says what happened.
    let mut sent_at = Vec::new();
    for i in 0..o.count {
        let text = match &o.payload {
            ProbePayload::Text(t) => format!("{t} #{i}"),
            ProbePayload::Size(n) => {
                let mut s = format!("#{i} ");
                while s.len() < *n {
                    s.push('x');
                }
                s
            }
        };
        let at = live.elapsed_ms();
        let ok = match &guarded {
            Some(g) => !matches!(
                g.send_text(text.clone()).await.status,
                crate::guard::webrtc_adapter::SendStatus::Rejected(_)
            ),
            None => chat.send_text(text.clone()).await.is_ok(),
        };
        if ok {
            summary.sent += 1;
        } else {
            summary.errors += 1;
        }
        sent_at.push((at, text.into_bytes()));
        if i + 1 < o.count && o.interval_ms > 0 {
            live.sleep(Duration::from_millis(o.interval_ms)).await;
        }
    }
    check(
        "messages sent",
        summary.errors == 0,
        Some(live.elapsed_ms()),
        format!("{} of {} accepted", summary.sent, o.count),
    );
    // Wait for the faults to end and the echoes to come.
    let faults_end = o
        .faults
        .iter()
        .map(|f| f.until_ms.unwrap_or(f.at_ms))
        .max()
        .unwrap_or(0);
    // After a fault, ICE must reconnect and SCTP retransmit with its backed-off timer.
    let settle = if o.faults.is_empty() {
        2000
    } else {
        faults_end + 10_000
    }
    .min(deadline);
    let n = o.count as usize;
    let echoed_all = wait_for(
        live,
        settle.max(live.elapsed_ms() + 200).min(deadline),
        || !o.expect_echo || echoes.lock().map(|e| e.len() >= n).unwrap_or(false),
    )
    .await;
    if o.expect_echo {
        let got = echoes.lock().map(|e| e.clone()).unwrap_or_default();
        for (at, bytes) in &sent_at {
            if let Some((back, _)) = got.iter().find(|(_, b)| b == bytes) {
                summary.rtt_ms.push(back.saturating_sub(*at));
            }
        }
        summary.echoed = summary.rtt_ms.len() as u32;
        summary.lost = o.count.saturating_sub(summary.echoed);
        check(
            "messages echoed",
            echoed_all && summary.lost == 0,
            Some(live.elapsed_ms()),
            format!(
                "{} of {} echoed, {} lost",
                summary.echoed, o.count, summary.lost
            ),
        );
    }
    // After faults that end, the path must come back: ICE reports it (consent checks
    // resume after the heal, which can come after the data flows again).
    if o.faults.iter().any(|f| f.until_ms.is_some()) {
        let went_down = record.event_count(PeerId::A, Machine::IceConnection, "disconnected") > 0;
        let back = wait_for(live, settle.max(live.elapsed_ms()), || {
            state(Machine::IceConnection).as_deref() == Some("connected")
        })
        .await;
        check(
            "ICE recovered after the faults",
            back,
            Some(live.elapsed_ms()),
            format!(
                "{}{}",
                state(Machine::IceConnection).unwrap_or("new".into()),
                if went_down {
                    " (went disconnected during the faults)"
                } else {
                    " (never left connected)"
                }
            ),
        );
    }
    // Closing.
    let closed = pc.close().await;
    check(
        "closing",
        closed.is_ok(),
        Some(live.elapsed_ms()),
        match &closed {
            Ok(()) => "pc.close() returned".into(),
            Err(e) => format!("pc.close(): {e}"),
        },
    );
    if let (Signaling::Whip, Some(loc)) = (o.signaling, location) {
        if let Ok(resource) = url.resolve(&loc) {
            let deleted = http::request("DELETE", &resource, None, &[], timeout);
            let ok = deleted
                .as_ref()
                .is_ok_and(|r| (200..300).contains(&r.status));
            check(
                "WHIP DELETE",
                ok,
                Some(live.elapsed_ms()),
                match deleted {
                    Ok(r) => format!("{} for {}", r.status, resource.path),
                    Err(HttpError(e)) => e,
                },
            );
        }
    }
    Ok((checks, summary))
}

fn fault_name(fault: LiveFault) -> &'static str {
    match fault {
        LiveFault::Partition => "partition",
        LiveFault::Heal => "heal",
        LiveFault::Hold => "hold",
        LiveFault::Release => "release",
        LiveFault::Loss(_) => "loss",
    }
}
