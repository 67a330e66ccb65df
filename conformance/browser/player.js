// Plays a dcsim scenario with real RTCPeerConnection / RTCDataChannel objects and streams
// every observation to the local server (runner.py) in dcsim's trace vocabulary.
//
// role=ab: both peers in this page (as the web-platform-tests do), offer/answer handed
//          over directly, ICE candidates through the server (which rewrites them to its
//          relay, the network the faults act on);
// role=a / role=b: one peer per Chromium process, signaling through the server's mailbox
//          (used when a fault kills a peer).
//
// Times are absolute (performance.timeOrigin + performance.now(), the host's clock);
// the server subtracts the scenario's t0, which it hands out when every page is ready.
"use strict";

const ROLE = new URLSearchParams(location.search).get("role") || "ab";
const LOCAL = ROLE === "ab" ? ["a", "b"] : [ROLE];
const nowAbs = () => performance.timeOrigin + performance.now();
let plan = null;
let t0 = null;
const nowRel = () => Math.max(0, Math.floor(nowAbs() - t0));

// ---- reporting ------------------------------------------------------------------------

let outbox = [];
let flushTimer = null;
function post(path, body) {
  return fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                       body: JSON.stringify(body) });
}
function emit(ev) {
  ev.t = nowAbs();
  outbox.push(ev);
  if (flushTimer === null) flushTimer = setTimeout(flush, 0);
}
const inFlight = new Set();   // /events posts not answered yet
function flush() {
  flushTimer = null;
  if (!outbox.length) return Promise.resolve();
  const events = outbox;
  outbox = [];
  const p = post("/events", { role: ROLE, events });
  inFlight.add(p);
  p.finally(() => inFlight.delete(p));
  return p;
}
function fail(err) {
  const text = err && err.stack ? String(err.stack).split("\n").slice(0, 3).join(" | ") : String(err);
  post("/error", { role: ROLE, error: text });
}
window.addEventListener("error", (e) => fail(e.error || e.message));
window.addEventListener("unhandledrejection", (e) => fail(e.reason));
function errText(e) {
  return `${e.name}: ${e.message}`;
}

// ---- payloads: the message id rides in the data ----------------------------------------

function payload(step) {
  const head = `#${step.msg}:`;
  if (step.size !== undefined) {
    return step.size > head.length ? head + "x".repeat(step.size - head.length) : head;
  }
  return head + step.data;
}
function payloadBytes(step) {
  return step.size !== undefined ? step.size : new TextEncoder().encode(step.data).length;
}
function msgId(data) {
  const m = typeof data === "string" ? /^#(\d+):/.exec(data) : null;
  return m ? Number(m[1]) : null;
}

// ---- one peer ----------------------------------------------------------------------------

const INITIAL = { signaling: "stable", ice_gathering: "new", ice_connection: "new",
                  peer_connection: "new", dtls: "new", sctp: "connecting" };

class Peer {
  constructor(id) {
    this.id = id;
    this.pc = new RTCPeerConnection({ iceServers: [] });
    this.last = Object.assign({}, INITIAL);
    this.channels = new Map();   // label -> RTCDataChannel
    this.chLast = new Map();     // label -> last recorded readyState
    this.sctp = null;
    this.dtls = null;
    this.pendingCands = [];
    this.guards = new Map();     // label -> Guard
    this.guardIce = null;
    this.guardPc = null;
    this.guardTimer = null;
    this.sendCandidate = null;   // set by the signaling
    const pc = this.pc;
    for (const ev of ["signalingstatechange", "icegatheringstatechange",
                      "iceconnectionstatechange", "connectionstatechange"]) {
      pc.addEventListener(ev, () => this.sync());
    }
    pc.onicecandidate = (e) => { if (e.candidate && this.sendCandidate) this.sendCandidate(e.candidate.toJSON()); };
    pc.ondatachannel = (e) => {
      const dc = e.channel;
      this.chLast.set(dc.label, "connecting");
      this.channels.set(dc.label, dc);
      this.attach(dc);
      this.sync();
      this.callback(dc.label, "datachannel");
    };
  }

  state(machine, from, to, channel) {
    const ev = { peer: this.id, event: "state", machine, from, to };
    if (channel !== undefined) ev.channel = channel;
    emit(ev);
    const now = nowRel();
    if (machine === "data_channel") {
      this.guard(channel).onChannelState(now, to);
      this.settle();
    } else if (machine === "ice_connection") {
      this.guardIce = to;
      for (const g of this.guards.values()) g.onIceState(now, to);
      this.settle();
    } else if (machine === "peer_connection") {
      this.guardPc = to;
      for (const g of this.guards.values()) g.onPeerConnectionState(now, to);
      this.settle();
    }
  }

  callback(channel, name) {
    emit({ peer: this.id, event: "callback", channel, name });
  }

  // Records every state that changed since the last look (events, or none: pc.close()
  // changes states without events).
  sync() {
    const pc = this.pc;
    if (pc.sctp && !this.sctp) {
      this.sctp = pc.sctp;
      this.sctp.addEventListener("statechange", () => this.sync());
      this.dtls = pc.sctp.transport;
      if (this.dtls) this.dtls.addEventListener("statechange", () => this.sync());
    }
    const now = {
      signaling: pc.signalingState,
      ice_gathering: pc.iceGatheringState,
      ice_connection: pc.iceConnectionState,
      peer_connection: pc.connectionState,
      dtls: this.dtls ? this.dtls.state : this.last.dtls,
      sctp: this.sctp ? this.sctp.state : this.last.sctp,
    };
    // W3C event order on an ICE change: transport, ICE, peer connection.
    for (const m of ["signaling", "ice_gathering", "dtls", "ice_connection", "peer_connection", "sctp"]) {
      if (now[m] !== this.last[m]) {
        const from = this.last[m];
        this.last[m] = now[m];
        this.state(m, from, now[m]);
      }
    }
    // RTCIceTransport.state has no machine in the trace: logged (runner -v) as evidence
    // of how Chrome's iceConnectionState relates to it.
    const iceT = this.dtls && this.dtls.iceTransport ? this.dtls.iceTransport.state : null;
    if (iceT !== this.lastIceTransport) {
      if (this.lastIceTransport !== undefined || iceT !== null) {
        post("/log", { role: ROLE, text: `${this.id} RTCIceTransport.state ${this.lastIceTransport} -> ${iceT} at ${nowRel()} ms` });
      }
      this.lastIceTransport = iceT;
    }
    for (const [label, dc] of this.channels) {
      const was = this.chLast.get(label);
      if (dc.readyState !== was) {
        this.chLast.set(label, dc.readyState);
        this.state("data_channel", was, dc.readyState, label);
      }
    }
  }

  attach(dc) {
    const label = dc.label;
    const on = (name) => () => { this.sync(); this.callback(label, name); };
    dc.onopen = on("open");
    dc.onclosing = on("closing");
    dc.onclose = on("close");
    dc.onerror = (e) => {
      // The RTCError's detail is logged (runner -v); the trace has the callback only.
      const err = e.error || {};
      post("/log", { role: ROLE, text: `${this.id} ${label} error: ${err.name}: ${err.message} (errorDetail ${err.errorDetail}, sctpCauseCode ${err.sctpCauseCode})` });
      on("error")();
    };
    dc.onbufferedamountlow = on("bufferedamountlow");
    dc.onmessage = (e) => {
      const id = msgId(e.data);
      if (id === null) return fail(`${this.id}: message without an id on ${label}`);
      emit({ peer: this.id, event: "deliver", channel: label, msg: id });
    };
  }

  createChannel(spec) {
    const init = { ordered: spec.ordered };
    if (spec.negotiated) { init.negotiated = true; init.id = spec.id; }
    const dc = this.pc.createDataChannel(spec.label, init);
    this.channels.set(spec.label, dc);
    this.chLast.set(spec.label, "connecting");
    this.attach(dc);
    this.sync();
  }

  remoteDescriptionSet() {
    const cands = this.pendingCands;
    this.pendingCands = [];
    for (const c of cands) this.pc.addIceCandidate(c).catch(fail);
  }

  addCandidate(c) {
    if (this.pc.remoteDescription) this.pc.addIceCandidate(c).catch(fail);
    else this.pendingCands.push(c);
  }

  // -- raw send ---------------------------------------------------------------------------

  rawSend(step) {
    const dc = this.channels.get(step.channel);
    const state = dc ? dc.readyState : "unknown";
    const ev = { peer: this.id, event: "send", channel: step.channel, msg: step.msg, via: "raw", state };
    try {
      // A channel this peer does not have: the application holds no object, and
      // calling send on it is what JavaScript makes of that.
      dc.send(payload(step));
      ev.outcome = "sent";
    } catch (e) {
      ev.outcome = "error";
      ev.error = errText(e);
    }
    emit(ev);
    this.sync();
  }

  // -- guarded send (src/sim/guarded.rs) ---------------------------------------------------

  guard(label) {
    let g = this.guards.get(label);
    if (!g) {
      g = new Guard(guardConfig(plan.guard));
      const now = nowRel();
      if (this.guardIce !== null) g.onIceState(now, this.guardIce);
      if (this.guardPc !== null) g.onPeerConnectionState(now, this.guardPc);
      this.guards.set(label, g);
    }
    return g;
  }

  guardedSend(step) {
    const now = nowRel();
    const dc = this.channels.get(step.channel);
    const ready = dc ? dc.readyState : null;
    const g = this.guard(step.channel);
    if (ready !== null && g.channel !== ready) g.onChannelState(now, ready);
    const bytes = payloadBytes(step);
    this.queuedSteps.set(step.msg, step);
    const out = g.send(now, step.msg, bytes);
    const ev = { peer: this.id, event: "send", channel: step.channel, msg: step.msg, via: "guarded",
                 state: ready === null ? "unknown" : ready };
    if (out.kind === "send") {
      try {
        dc.send(payload(step));
        ev.outcome = "sent";
        emit(ev);
      } catch (e) {
        ev.outcome = "error";
        ev.error = errText(e);
        emit(ev);
        g.onSendError(now, step.msg, bytes, errorKind(ev.error));
      }
    } else if (out.kind === "queued") {
      ev.outcome = "queued";
      emit(ev);
    } else {
      ev.outcome = "rejected";
      ev.reason = out.reason;
      emit(ev);
    }
    this.settle();
  }

  get queuedSteps() {
    if (!this._queuedSteps) this._queuedSteps = new Map();
    return this._queuedSteps;
  }

  settle() {
    const now = nowRel();
    for (const [label, g] of this.guards) {
      const dc = this.channels.get(label);
      if (g.queue.length > 0 && dc && g.channel !== dc.readyState) g.onChannelState(now, dc.readyState);
      let out;
      while ((out = g.pollOutput())) {
        if (out.kind === "transmit") {
          const step = this.queuedSteps.get(out.id);
          const ev = { peer: this.id, event: "send", channel: label, msg: out.id, via: "guarded",
                       state: dc ? dc.readyState : "unknown" };
          try {
            dc.send(payload(step));
            ev.outcome = "sent";
            ev.flushed = true;
            emit(ev);
          } catch (e) {
            ev.outcome = "error";
            ev.error = errText(e);
            ev.flushed = true;
            emit(ev);
            g.onSendError(now, out.id, out.bytes, errorKind(ev.error));
          }
        } else {
          emit({ peer: this.id, event: "drop", channel: label, msg: out.id, reason: out.reason });
        }
      }
    }
    this.armGuardTimer();
  }

  armGuardTimer() {
    let next = null;
    for (const g of this.guards.values()) {
      const t = g.pollTimeout();
      if (t !== null && (next === null || t < next)) next = t;
    }
    if (this.guardTimer !== null) clearTimeout(this.guardTimer);
    this.guardTimer = null;
    if (next !== null && next <= plan.duration_ms) {
      this.guardTimer = setTimeout(() => {
        this.guardTimer = null;
        const now = nowRel();
        for (const g of this.guards.values()) g.advance(now);
        this.settle();
      }, Math.max(0, t0 + next - nowAbs()));
    }
  }

  finish() {
    const now = nowRel();
    for (const [label, g] of this.guards) {
      for (const e of g.queue) {
        emit({ peer: this.id, event: "drop", channel: label, msg: e.id, reason: "end-of-run" });
      }
      g.queue = [];
    }
    void now;
  }
}

// ---- signaling ---------------------------------------------------------------------------

const peers = {};

async function negotiateLocal(opts) {
  const a = peers.a, b = peers.b;
  const offer = await a.pc.createOffer(opts);
  await a.pc.setLocalDescription(offer);
  await b.pc.setRemoteDescription(offer);
  b.remoteDescriptionSet();
  const answer = await b.pc.createAnswer();
  await b.pc.setLocalDescription(answer);
  await a.pc.setRemoteDescription(answer);
  a.remoteDescriptionSet();
}

// Split mode: a sends the offer through the mailbox and waits for the answer there.
let answerWaiter = null;
async function negotiateRemote(opts) {
  const a = peers.a;
  const offer = await a.pc.createOffer(opts);
  await a.pc.setLocalDescription(offer);
  const answered = new Promise((resolve) => { answerWaiter = resolve; });
  await post("/sig", { to: "b", msg: { type: "offer", sdp: offer.sdp } });
  const answer = await answered;
  await a.pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  a.remoteDescriptionSet();
}

async function handleSignal(m, role) {
  const me = peers[role];
  if (m.type === "cand") me.addCandidate(m.cand);
  else if (m.type === "offer") {
    await me.pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
    me.remoteDescriptionSet();
    const answer = await me.pc.createAnswer();
    await me.pc.setLocalDescription(answer);
    await post("/sig", { to: "a", msg: { type: "answer", sdp: answer.sdp } });
  } else if (m.type === "shift") {
    shiftSteps(m.after_ms, m.by_ms);
  } else if (m.type === "flush") {
    // The runner is about to kill this peer: everything observed up to now must be in.
    for (const id of LOCAL) peers[id].sync();
    flush();
    await Promise.allSettled([...inFlight]);
    await post("/flushed", { role: ROLE, t: nowAbs() });
  } else if (m.type === "answer" && answerWaiter) {
    const w = answerWaiter;
    answerWaiter = null;
    w(m);
  }
}

async function pollLoop(role) {
  for (;;) {
    const r = await fetch("/poll", { method: "POST", body: JSON.stringify({ role }) });
    const { msgs } = await r.json();
    for (const m of msgs) await handleSignal(m, role);
  }
}

// ---- the script --------------------------------------------------------------------------

function runStep(step) {
  const peer = peers[step.action === "connect" ? "a" : step.peer];
  if (!peer) return;
  const stepEvent = (detail) => {
    const ev = { peer: peer.id, event: "fault", action: step.action };
    if (detail !== undefined) ev.detail = detail;
    emit(ev);
  };
  switch (step.action) {
    case "connect":
      stepEvent();
      (ROLE === "ab" ? negotiateLocal() : negotiateRemote()).catch(fail);
      break;
    case "send":
      if (step.via === "guarded") peer.guardedSend(step);
      else peer.rawSend(step);
      break;
    case "create_channel": {
      const spec = plan.channels.find((c) => c.label === step.channel);
      try {
        peer.createChannel(spec);
        stepEvent(step.channel);
      } catch (e) {
        stepEvent(`${step.channel}: ${errText(e)}`);
      }
      break;
    }
    case "close_channel": {
      const dc = peer.channels.get(step.channel);
      try {
        dc.close();
        stepEvent(step.channel);
      } catch (e) {
        stepEvent(`${step.channel}: ${errText(e)}`);
      }
      peer.sync();
      break;
    }
    case "close_peer":
      stepEvent();
      try { peer.pc.close(); } catch (e) { stepEvent(errText(e)); }
      peer.sync();
      break;
    case "ice_restart":
      stepEvent();
      (ROLE === "ab" ? negotiateLocal({ iceRestart: true }) : negotiateRemote({ iceRestart: true })).catch(fail);
      break;
    default:
      break; // network faults: applied by the server
  }
}

// Before the run's clock starts: a browser's first peer connection starts its WebRTC
// threads and network monitor and makes a certificate. Done inside the run, that took up
// to a second on a loaded machine and moved the whole run; done here, it costs nothing
// the trace sees. Nothing of it leaves the page (no candidate is signalled).
async function warmUp() {
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.createDataChannel("warm-up");
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === "complete") resolve(); };
    if (pc.iceGatheringState === "complete") resolve();
    setTimeout(resolve, 2000);
  });
  pc.close();
}

async function main() {
  plan = await (await fetch("/plan")).json();
  await warmUp();
  for (const id of LOCAL) peers[id] = new Peer(id);
  // ICE candidates always go through the server, which rewrites them to addresses of
  // its relay (the network the faults act on).
  for (const id of LOCAL) {
    const other = id === "a" ? "b" : "a";
    peers[id].sendCandidate = (c) => post("/sig", { to: other, msg: { type: "cand", cand: c } });
    pollLoop(id).catch(fail);
  }
  const r = await post("/ready", { role: ROLE });
  if (!r.ok) throw new Error(`/ready: HTTP ${r.status}`);
  t0 = (await r.json()).t0;

  // Channels created before the run (at 0): by a, and negotiated ones by both.
  for (const spec of plan.channels) {
    if (!spec.create_at_start) continue;
    for (const id of LOCAL) {
      if (id === "a" || spec.negotiated) peers[id].createChannel(spec);
    }
  }
  for (const s of plan.steps) {
    if (!stepGroups.has(s.at_ms)) stepGroups.set(s.at_ms, { steps: [], timer: null });
    stepGroups.get(s.at_ms).steps.push(s);
  }
  for (const at of stepGroups.keys()) scheduleGroup(at);
  setInterval(() => { for (const id of LOCAL) peers[id].sync(); }, 20);
  scheduleEnd();
}

// Steps by scenario time, each group with its pending timer. `shiftMs`: how much later
// than its scenario time a step after an event-placed fault runs (the runner says so).
const stepGroups = new Map();
let shiftMs = 0;
let shiftAfter = Infinity;
let endTimer = null;
const dueAt = (at) => t0 + at + (at > shiftAfter ? shiftMs : 0);

// A step's timer is set LEAD_MS early and the step then waits, spinning, for its exact
// time: Chrome's timers fired up to 8 ms late in a split run (remote-close's send at
// 1005 ms ran at 1013 ms, after the remote's reset had arrived at 1011 ms), which is the
// width of the windows the race scenarios are about.
const LEAD_MS = 15;
function scheduleGroup(at) {
  const g = stepGroups.get(at);
  if (g.timer !== null) clearTimeout(g.timer);
  g.timer = setTimeout(() => {
    while (nowAbs() < dueAt(at)) { /* spin, at most LEAD_MS */ }
    g.timer = null;
    stepGroups.delete(at);
    for (const s of g.steps) runStep(s);
  }, Math.max(0, dueAt(at) - LEAD_MS - nowAbs()));
}

function scheduleEnd() {
  if (endTimer !== null) clearTimeout(endTimer);
  endTimer = setTimeout(async () => {
    for (const id of LOCAL) { peers[id].sync(); peers[id].finish(); }
    await flush();
    await post("/done", { role: ROLE });
  }, Math.max(0, dueAt(plan.duration_ms) - nowAbs()));
}

function shiftSteps(afterMs, byMs) {
  shiftAfter = Math.min(shiftAfter, afterMs);
  shiftMs += byMs;
  for (const at of stepGroups.keys()) if (at > afterMs) scheduleGroup(at);
  scheduleEnd();
}

main().catch(fail);
