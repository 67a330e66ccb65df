// A line-by-line port of dcsim's send guard (src/guard/mod.rs, gate.rs, queue.rs,
// outcome.rs) and of the simulator's glue around it (src/sim/guarded.rs), so that the
// scenario's `via = "guarded"` sends go through the same policy in the browser as in
// the model. Keep it in step with the Rust code: the trace compares the two.
"use strict";

const GUARD_DEFAULTS = {
  queue_while_connecting: true,
  hold_while_disconnected: true,
  max_queue_messages: 1024,
  max_queue_bytes: 1 << 20,
  ttl_ms: 30000,            // null: never expires
  max_message_size: 65536,
};

function guardConfig(spec) {
  const c = Object.assign({}, GUARD_DEFAULTS);
  for (const k of ["max_queue_messages", "max_queue_bytes", "ttl_ms",
                   "hold_while_disconnected", "queue_while_connecting"]) {
    if (spec && spec[k] !== undefined) c[k] = spec[k];
  }
  return c;
}

// SendErrorKind::from_error_text
function errorKind(text) {
  if (text === "data channel is not open yet") return "not-open";
  if (text.includes("closed")) return "closed";
  if (text.includes("larger than maximum message size") || text.startsWith("TypeError")) return "too-large";
  if (text.includes("send buffer full") || text.startsWith("OperationError")) return "buffer-full";
  if (text.startsWith("InvalidStateError") || text === "DataChannel is not opened") return "not-open";
  return "other";
}

class Guard {
  constructor(config) {
    this.config = config;
    this.channel = null;   // Unspecified
    this.ice = null;       // Unspecified
    this.pcFailed = false; // the peer connection reported failed
    this.closed = false;
    this.blocked = false;
    this.now = 0;
    this.queue = [];       // {id, payload, bytes, expires_at}
    this.queueBytes = 0;
    this.returnedAtFront = 0;
    this.drops = [];       // [id, reason]
    this.lastRelease = null; // [id, expires_at]
  }

  gate() {
    const ice = this.ice === "closed" ? "closed" : (this.pcFailed ? "failed" : this.ice);
    if (this.closed || this.channel === "closing" || this.channel === "closed" || ice === "closed") return "closed";
    if (ice === "failed") return "path-failed";
    if (this.channel !== "open") return "connecting";
    if (this.blocked) return "held";
    if (ice === null || ice === "connected" || ice === "completed") return "open";
    return this.config.hold_while_disconnected ? "held" : "open";
  }

  fits(bytes) {
    return this.queue.length < this.config.max_queue_messages &&
      this.queueBytes + bytes <= this.config.max_queue_bytes;
  }

  popFront() {
    const e = this.queue.shift();
    if (!e) return null;
    this.queueBytes -= e.bytes;
    this.returnedAtFront = Math.max(0, this.returnedAtFront - 1);
    return e;
  }

  advance(now) {
    this.now = Math.max(this.now, now);
    while (this.queue.length && this.queue[0].expires_at !== null && this.now >= this.queue[0].expires_at) {
      const e = this.popFront();
      this.drops.push([e.id, "expired"]);
    }
    return this.now;
  }

  settle() {
    const g = this.gate();
    let reason;
    if (g === "closed") reason = "channel-closed";
    else if (g === "path-failed") reason = "path-failed";
    else return;
    let e;
    while ((e = this.popFront())) this.drops.push([e.id, reason]);
  }

  // -> {kind: "send"} | {kind: "queued"} | {kind: "rejected", reason}
  send(now, id, bytes) {
    now = this.advance(now);
    const ttl = this.config.ttl_ms;
    const expires_at = ttl === null || ttl === undefined ? null : now + ttl;
    const gate = this.gate();
    let rejection = null;
    if (gate === "closed") rejection = "channel-closed";
    else if (gate === "path-failed") rejection = "path-failed";
    else if (bytes > this.config.max_message_size) rejection = "too-large";
    else if (gate === "connecting" && !this.config.queue_while_connecting) rejection = "not-open";
    if (rejection) return { kind: "rejected", reason: rejection };
    if (gate === "open" && this.queue.length === 0) {
      this.lastRelease = [id, expires_at];
      return { kind: "send" };
    }
    if (expires_at !== null && now >= expires_at) return { kind: "rejected", reason: "expired" };
    if (!this.fits(bytes)) return { kind: "rejected", reason: "queue-full" };
    this.queue.push({ id, bytes, expires_at });
    this.queueBytes += bytes;
    return { kind: "queued" };
  }

  onChannelState(now, state) {
    now = this.advance(now);
    const was = this.channel;
    this.channel = state;
    if (state === "open" && was !== "open") this.blocked = false;
    else if (state === "closing" || state === "closed") this.closed = true;
    this.settle();
  }

  onIceState(now, state) {
    this.advance(now);
    this.ice = state;
    if (state === "closed") this.closed = true;
    this.settle();
  }

  // `failed` is a dead path, as ICE `failed` is (Chrome reports it only here); a new
  // attempt (new, connecting, connected) lifts it. Mirrors Guard::on_peer_connection_state.
  onPeerConnectionState(now, state) {
    this.advance(now);
    if (state === "closed") this.closed = true;
    else if (state === "failed") this.pcFailed = true;
    else if (state === "new" || state === "connecting" || state === "connected") this.pcFailed = false;
    this.settle();
  }

  onSendError(now, id, bytes, kind) {
    now = this.advance(now);
    if (kind === "closed") {
      this.closed = true;
      this.drops.push([id, "channel-closed"]);
      this.settle();
      return;
    }
    if (kind === "too-large") { this.drops.push([id, "too-large"]); return; }
    if (kind === "not-open") {
      if (this.channel === "open") this.channel = "connecting";
    } else {
      this.blocked = true;
    }
    const g = this.gate();
    if (g === "closed") { this.drops.push([id, "channel-closed"]); return; }
    if (g === "path-failed") { this.drops.push([id, "path-failed"]); return; }
    let expires_at;
    if (this.lastRelease && this.lastRelease[0] === id) expires_at = this.lastRelease[1];
    else expires_at = this.config.ttl_ms == null ? null : now + this.config.ttl_ms;
    if (expires_at !== null && now >= expires_at) { this.drops.push([id, "expired"]); return; }
    if (!this.fits(bytes)) { this.drops.push([id, "queue-full"]); return; }
    const at = Math.min(this.returnedAtFront, this.queue.length);
    if (expires_at !== null) {
      const next = this.queue[at];
      if (next && next.expires_at !== null) expires_at = Math.min(expires_at, next.expires_at);
      const prev = at > 0 ? this.queue[at - 1] : null;
      if (prev && prev.expires_at !== null) expires_at = Math.max(expires_at, prev.expires_at);
    }
    this.queue.splice(at, 0, { id, bytes, expires_at });
    this.queueBytes += bytes;
    this.returnedAtFront = at + 1;
  }

  pollTimeout() {
    return this.queue.length ? this.queue[0].expires_at : null;
  }

  // -> {kind: "dropped", id, reason} | {kind: "transmit", id, bytes} | null
  pollOutput() {
    if (this.drops.length) {
      const [id, reason] = this.drops.shift();
      return { kind: "dropped", id, reason };
    }
    if (this.gate() !== "open") return null;
    const e = this.popFront();
    if (!e) return null;
    this.lastRelease = [e.id, e.expires_at];
    return { kind: "transmit", id: e.id, bytes: e.bytes };
  }
}

if (typeof module !== "undefined") module.exports = { Guard, guardConfig, errorKind };
