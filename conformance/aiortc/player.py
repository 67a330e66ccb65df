#!/usr/bin/env python3
"""Plays one dcsim scenario with two real aiortc peers in one asyncio process and writes
the trace in dcsim's JSON-lines format (docs/invariants.md, "The trace").

    player.py SCENARIO.toml OUT.jsonl [--played OUT.toml] [--skip-reason-file F]

Exit status: 0 when the scenario was played (whatever aiortc did), 3 when the scenario
needs something aiortc cannot do (the reason is printed on stdout, nothing is written),
anything else when the player itself broke.

What is hooked, and why (see README.md):

- aioice.ice.get_host_addresses is replaced by one that returns ["127.0.0.1"]: aioice
  skips 127.0.0.1 when it lists the host's addresses, so two peers on one machine with no
  other interface would gather no candidate.
- aioice.ice.StunProtocol.datagram_received is wrapped so that every datagram an ICE
  socket receives goes through the simulated link (Network) first: partition drops, hold
  keeps until release, latency delays (FIFO), loss drops at random. Everything a peer
  receives (STUN checks and responses, consent, DTLS, SCTP) goes through it, so a
  partition silences both peers' transports the way turmoil's partition does. (The
  link sits on the receiving side so that a datagram sent just before its sender closed
  its socket still arrives, as it would on a real network.)
- The state attributes of RTCDtlsTransport (_state), RTCSctpTransport (__state) and
  RTCDataChannel (__readyState) are replaced by class-level properties that record every
  assignment: aiortc fires no event for SCTP states or for a channel's `closing`, and the
  DTLS statechange event carries no old state.
- Peer-connection states (signaling, ICE gathering, ICE connection, connection) are
  recorded from the public events (signalingstatechange, ...), as an application sees
  them. Channel callbacks are recorded from the listeners the application attaches (a:
  at createDataChannel, b: in the datachannel event), so an event fired before the
  application holds the channel is not recorded (as it is not seen).
"""

import argparse
import asyncio
import collections
import json
import os
import random
import sys
import tomllib

import aioice.ice
from aiortc import RTCDataChannel, RTCPeerConnection
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcsctptransport import RTCSctpTransport

SKIP = 3


class Skip(Exception):
    pass


# ----------------------------------------------------------------------------------
# Scenario


def load_scenario(path):
    with open(path, "rb") as f:
        sc = tomllib.load(f)
    if sc.get("version") != 1:
        raise ValueError(f"{path}: version must be 1")
    sc.setdefault("duration_ms", 60000)
    sc.setdefault("network", {})
    sc.setdefault("guard", {})
    sc.setdefault("channel", [])
    sc.setdefault("step", [])
    return sc


def timeline(sc):
    """(at_ms, index, step, repeat) sorted by time, stable in file order (dcsim's
    Scenario::timeline)."""
    out = []
    for i, step in enumerate(sc["step"]):
        count = step.get("count", 1) if step["action"] == "send" else 1
        interval = step.get("interval_ms", 0)
        for k in range(count):
            out.append((step["at_ms"] + k * interval, i, step, k))
    out.sort(key=lambda x: x[0])
    return out


# Built-ins whose outcome with aiortc would be luck: played only with
# AIORTC_PLAY_FRAGILE=1 (the reason goes to skipped.txt otherwise).
FRAGILE = {
    "dcep-ack-lost": (
        "timing: the hold must fall in the 10 ms (one one-way latency) between a's "
        "DATA_CHANNEL_OPEN and b's ACK; aiortc's association comes up 10 to 50 ms from "
        "the model's (113-160 ms seen) on a shared machine's wall clock, and with a wider "
        "latency aiortc's handshake needs fewer round trips than the model's (a's "
        "association is up after about 9 one-way latencies, against 12), so the two "
        "windows do not overlap"
    ),
}


def check_expressible(sc):
    """Raises Skip for what the player cannot play."""
    if sc.get("name") in FRAGILE and os.environ.get("AIORTC_PLAY_FRAGILE") != "1":
        raise Skip(FRAGILE[sc["name"]])
    for step in sc["step"]:
        action = step["action"]
        if action == "crash":
            raise Skip("crash is not played (a peer of the same process cannot vanish)")


# ----------------------------------------------------------------------------------
# Trace



def peer_version():
    """`aiortc 1.16.0 (aioice 0.10.2)`: the versions the trace was recorded with."""
    from importlib.metadata import PackageNotFoundError, version

    def v(pkg):
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "?"

    return f"aiortc {v('aiortc')} (aioice {v('aioice')})"

class Recorder:
    def __init__(self, loop):
        self.loop = loop
        self.t0 = None
        self.events = []
        self.next_msg = 0
        self.handed = {}  # msg -> (peer, channel)
        self.ended = set()
        self.closed = False

    def start(self):
        self.t0 = self.loop.time()

    def now(self):
        if self.t0 is None:
            return 0
        return max(0, int((self.loop.time() - self.t0) * 1000))

    def record(self, peer, event, **fields):
        if self.closed:
            return
        e = {"t_ms": self.now()}
        if peer is not None:
            e["peer"] = peer
        e["event"] = event
        e.update(fields)
        if event == "send" and fields.get("outcome") == "sent" and peer:
            self.handed[fields["msg"]] = (peer, fields["channel"])
        if event in ("deliver", "drop"):
            self.ended.add(fields["msg"])
        self.events.append(e)

    def state(self, peer, machine, frm, to, channel=None):
        fields = {"machine": machine}
        if channel is not None:
            fields["channel"] = channel
        fields["from"] = frm
        fields["to"] = to
        self.record(peer, "state", **fields)

    def msg_id(self):
        m = self.next_msg
        self.next_msg += 1
        return m

    def finish(self, t_end):
        t_end = max([t_end] + [e["t_ms"] for e in self.events])
        for msg, (peer, channel) in sorted(self.handed.items()):
            if msg not in self.ended:
                self.events.append(
                    {
                        "t_ms": t_end,
                        "peer": peer,
                        "event": "drop",
                        "channel": channel,
                        "msg": msg,
                        "reason": "undelivered",
                    }
                )
        self.closed = True

    def jsonl(self):
        # Stable sort: events recorded in the same millisecond keep their order; a
        # timestamp read before a late callback is never later than the next one anyway.
        events = sorted(self.events, key=lambda e: e["t_ms"])
        # What the run was played on, first (dcsim's `meta` event).
        meta = {"t_ms": 0, "event": "meta", "name": "peer", "value": peer_version()}
        return "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in [meta, *events])


def error_text(exc):
    text = str(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


# ----------------------------------------------------------------------------------
# The simulated link between the two peers


class Network:
    """The link between the peers, applied where datagrams are received (so that a
    datagram already on its way still arrives after its sender closed its socket, as on
    a real network)."""

    def __init__(self, loop, latency_ms=0, loss=0.0, rng=None):
        self.loop = loop
        self.latency_ms = latency_ms
        self.loss = loss
        self.partitioned = False
        self.held = False
        self.hold_queue = []  # (protocol, data, addr)
        self.rng = rng or random.Random(0)
        self.pipe = collections.deque()  # datagrams in flight, FIFO
        self.dropped = 0
        self.passed = 0

    def received(self, protocol, data, addr):
        if self.partitioned:
            self.dropped += 1
            return
        if self.loss and self.rng.random() < self.loss:
            self.dropped += 1
            return
        if self.held:
            self.hold_queue.append((protocol, data, addr))
            return
        self._forward(protocol, data, addr)

    def _forward(self, protocol, data, addr):
        self.passed += 1
        if self.latency_ms <= 0:
            self._deliver(protocol, data, addr)
            return
        self.pipe.append((protocol, data, addr))
        self.loop.call_later(self.latency_ms / 1000.0, self._deliver_front)

    def _deliver_front(self):
        # Every callback delivers the oldest datagram, so equal deadlines keep FIFO.
        if self.pipe:
            self._deliver(*self.pipe.popleft())

    def _deliver(self, protocol, data, addr):
        transport = getattr(protocol, "transport", None)
        if transport is None or transport.is_closing():
            return
        ORIGINAL_RECEIVED(protocol, data, addr)

    def release(self):
        self.held = False
        queued, self.hold_queue = self.hold_queue, []
        for protocol, data, addr in queued:
            self._forward(protocol, data, addr)


ORIGINAL_RECEIVED = aioice.ice.StunProtocol.datagram_received
NETWORK = None


def install_hooks(rec, registry):
    # 1. Loopback host candidate.
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

    # 2. Every datagram an ICE socket receives goes through the simulated link.
    def datagram_received(self, data, addr):
        if NETWORK is None:
            ORIGINAL_RECEIVED(self, data, addr)
        else:
            NETWORK.received(self, data, addr)

    aioice.ice.StunProtocol.datagram_received = datagram_received

    # 3. Recording state attributes.
    def recording_attr(cls, attr, machine, to_str, owner_peer, channel_of=None):
        store = "_dcsim_" + machine

        def get(self):
            return self.__dict__.get(store)

        def set_(self, value):
            old = self.__dict__.get(store)
            self.__dict__[store] = value
            if old is None:
                return
            frm, to = to_str(old), to_str(value)
            if frm == to:
                return
            peer = owner_peer(self)
            if peer is None:
                return
            label = channel_of(self) if channel_of else None
            rec.state(peer, machine, frm, to, channel=label)
            registry.on_state(peer, machine, to, label, self)

        setattr(cls, attr, property(get, set_))

    def dtls_str(state):
        return str(state)[6:].lower()

    recording_attr(
        RTCDtlsTransport, "_state", "dtls", dtls_str, lambda t: registry.peer_of(t)
    )
    recording_attr(
        RTCSctpTransport,
        "_RTCSctpTransport__state",
        "sctp",
        str,
        lambda t: registry.peer_of(t),
    )
    recording_attr(
        RTCDataChannel,
        "_RTCDataChannel__readyState",
        "data_channel",
        str,
        lambda c: registry.peer_of(c.__dict__.get("_RTCDataChannel__transport")),
        channel_of=lambda c: c.label,
    )

    # 4. Which peer owns a transport: wrap the peer connection's factories.
    original_dtls = RTCPeerConnection._RTCPeerConnection__createDtlsTransport

    def create_dtls(self):
        t = original_dtls(self)
        peer = registry.pc_peer.get(id(self))
        if peer:
            registry.own(t, peer)
        return t

    RTCPeerConnection._RTCPeerConnection__createDtlsTransport = create_dtls

    original_sctp = RTCPeerConnection._RTCPeerConnection__createSctpTransport

    def create_sctp(self):
        original_sctp(self)
        peer = registry.pc_peer.get(id(self))
        if peer:
            registry.own(self._RTCPeerConnection__sctp, peer)

    RTCPeerConnection._RTCPeerConnection__createSctpTransport = create_sctp


# ----------------------------------------------------------------------------------
# The send guard: a port of dcsim's src/guard (Guard, Gate) and src/sim/guarded.rs


class Guard:
    def __init__(self, cfg):
        self.cfg = cfg
        self.channel = None  # None = not reported
        self.ice = None
        self.pc_failed = False
        self.closed = False
        self.blocked = False
        self.now = 0
        self.queue = collections.deque()  # (id, size, expires_at)
        self.drops = collections.deque()
        self.last_release = None

    def gate(self):
        if self.closed or self.channel in ("closing", "closed") or self.ice == "closed":
            return "closed"
        if self.ice == "failed" or self.pc_failed:
            return "path-failed"
        if self.channel != "open":
            return "connecting"
        if self.blocked:
            return "held"
        if self.ice in (None, "connected", "completed"):
            return "open"
        return "held" if self.cfg["hold_while_disconnected"] else "open"

    def advance(self, now):
        self.now = max(self.now, now)
        while self.queue and self._expired_front():
            pass
        return self.now

    def _expired_front(self):
        for i, (mid, size, exp) in enumerate(self.queue):
            if exp is not None and self.now >= exp:
                del self.queue[i]
                self.drops.append((mid, "expired"))
                return True
        return False

    def _fits(self, size):
        return (
            len(self.queue) < self.cfg["max_queue_messages"]
            and sum(s for _, s, _ in self.queue) + size <= self.cfg["max_queue_bytes"]
        )

    def send(self, now, mid, size):
        now = self.advance(now)
        ttl = self.cfg["ttl_ms"]
        exp = None if ttl is None else now + ttl
        gate = self.gate()
        reason = None
        if gate == "closed":
            reason = "channel-closed"
        elif gate == "path-failed":
            reason = "path-failed"
        elif size > self.cfg["max_message_size"]:
            reason = "too-large"
        elif gate == "connecting" and not self.cfg["queue_while_connecting"]:
            reason = "not-open"
        if reason:
            return ("rejected", reason)
        if gate == "open" and not self.queue:
            self.last_release = (mid, exp)
            return ("send", None)
        if exp is not None and now >= exp:
            return ("rejected", "expired")
        if not self._fits(size):
            return ("rejected", "queue-full")
        self.queue.append((mid, size, exp))
        return ("queued", None)

    def on_channel_state(self, now, state):
        self.advance(now)
        was, self.channel = self.channel, state
        if state == "open" and was != "open":
            self.blocked = False
        elif state in ("closing", "closed"):
            self.closed = True
        self.settle()

    def on_ice_state(self, now, state):
        self.advance(now)
        self.ice = state
        if state == "closed":
            self.closed = True
        self.settle()

    def on_pc_state(self, now, state):
        # A failed peer connection is a dead path, as ICE failed is; a new attempt
        # lifts it (Guard::on_peer_connection_state).
        self.advance(now)
        if state == "closed":
            self.closed = True
        elif state == "failed":
            self.pc_failed = True
        elif state in ("new", "connecting", "connected"):
            self.pc_failed = False
        self.settle()

    def on_send_error(self, now, mid, size, kind):
        now = self.advance(now)
        if kind == "closed":
            self.closed = True
            self.drops.append((mid, "channel-closed"))
            self.settle()
            return
        if kind == "too-large":
            self.drops.append((mid, "too-large"))
            return
        if kind == "not-open":
            if self.channel == "open":
                self.channel = "connecting"
        else:
            self.blocked = True
        g = self.gate()
        if g == "closed":
            self.drops.append((mid, "channel-closed"))
            return
        if g == "path-failed":
            self.drops.append((mid, "path-failed"))
            return
        if self.last_release and self.last_release[0] == mid:
            exp = self.last_release[1]
        else:
            ttl = self.cfg["ttl_ms"]
            exp = None if ttl is None else now + ttl
        if exp is not None and now >= exp:
            self.drops.append((mid, "expired"))
            return
        if len(self.queue) < self.cfg["max_queue_messages"]:
            self.queue.appendleft((mid, size, exp))
        else:
            self.drops.append((mid, "queue-full"))

    def handle_timeout(self, now):
        self.advance(now)

    def poll_timeout(self):
        deadlines = [exp for _, _, exp in self.queue if exp is not None]
        return min(deadlines) if deadlines else None

    def poll_output(self):
        if self.drops:
            mid, reason = self.drops.popleft()
            return ("dropped", mid, reason)
        if self.gate() != "open" or not self.queue:
            return None
        mid, size, exp = self.queue.popleft()
        self.last_release = (mid, exp)
        return ("transmit", mid, size)

    def settle(self):
        g = self.gate()
        if g == "closed":
            reason = "channel-closed"
        elif g == "path-failed":
            reason = "path-failed"
        else:
            return
        while self.queue:
            mid, _, _ = self.queue.popleft()
            self.drops.append((mid, reason))


def send_error_kind(text):
    """dcsim's SendErrorKind::from_error_text."""
    if text == "data channel is not open yet":
        return "not-open"
    if "closed" in text:
        return "closed"
    if "larger than maximum message size" in text or text.startswith("TypeError"):
        return "too-large"
    if "send buffer full" in text or text.startswith("OperationError"):
        return "buffer-full"
    if text.startswith("InvalidStateError") or text == "DataChannel is not opened":
        return "not-open"
    return "other"


def guard_config(spec):
    cfg = {
        "queue_while_connecting": True,
        "hold_while_disconnected": True,
        "max_queue_messages": 1024,
        "max_queue_bytes": 1 << 20,
        "ttl_ms": 30000,
        "max_message_size": 65536,
    }
    for k in (
        "queue_while_connecting",
        "hold_while_disconnected",
        "max_queue_messages",
        "max_queue_bytes",
        "ttl_ms",
    ):
        if k in spec:
            cfg[k] = spec[k]
    return cfg


# ----------------------------------------------------------------------------------
# Peers


class Peer:
    def __init__(self, name, player):
        self.name = name
        self.player = player
        self.pc = None
        self.channels = {}  # label -> RTCDataChannel (what the app holds)
        self.guards = {}
        self.ice = None
        self.pc_state = None
        self.prev = {}
        self.payloads = {}  # msg -> what was (or will be) sent


class Player:
    def __init__(self, sc, loop):
        self.sc = sc
        self.loop = loop
        self.rec = Recorder(loop)
        self.peers = {"a": Peer("a", self), "b": Peer("b", self)}
        self.pc_peer = {}
        self.owned = {}
        self.guard_cfg = guard_config(sc["guard"])
        self.specs = {c["label"]: c for c in sc["channel"]}
        self.tasks = []
        self.errors = []
        self.timer_handles = []

    # registry -----------------------------------------------------------------
    def own(self, obj, peer):
        self.owned[id(obj)] = (obj, peer)

    def peer_of(self, obj):
        if obj is None:
            return None
        entry = self.owned.get(id(obj))
        return entry[1] if entry and entry[0] is obj else None

    def on_state(self, peer, machine, to, label, obj):
        if machine == "data_channel":
            p = self.peers[peer]
            # The guard follows the channel the app holds (or will hold, for b).
            if label in p.guards:
                p.guards[label].on_channel_state(self.rec.now(), to)
                self.settle(p)

    # peer connections ---------------------------------------------------------
    def make_pc(self, name):
        p = self.peers[name]
        pc = RTCPeerConnection()
        p.pc = pc
        self.pc_peer[id(pc)] = name
        p.prev = {
            "signaling": pc.signalingState,
            "ice_gathering": pc.iceGatheringState,
            "ice_connection": pc.iceConnectionState,
            "peer_connection": pc.connectionState,
        }

        def watch(machine, getter):
            def handler():
                to = getter()
                frm = p.prev[machine]
                if to == frm:
                    return
                p.prev[machine] = to
                self.rec.state(name, machine, frm, to)
                now = self.rec.now()
                if machine == "ice_connection":
                    p.ice = to
                    for g in p.guards.values():
                        g.on_ice_state(now, to)
                    self.settle(p)
                elif machine == "peer_connection":
                    p.pc_state = to
                    for g in p.guards.values():
                        g.on_pc_state(now, to)
                    self.settle(p)

            return handler

        pc.on("signalingstatechange", watch("signaling", lambda: pc.signalingState))
        pc.on(
            "icegatheringstatechange",
            watch("ice_gathering", lambda: pc.iceGatheringState),
        )
        pc.on(
            "iceconnectionstatechange",
            watch("ice_connection", lambda: pc.iceConnectionState),
        )
        pc.on(
            "connectionstatechange",
            watch("peer_connection", lambda: pc.connectionState),
        )

        @pc.on("datachannel")
        def on_datachannel(channel):
            self.rec.record(name, "callback", channel=channel.label, name="datachannel")
            self.adopt(p, channel)

        return pc

    def adopt(self, p, channel):
        """The application takes hold of a channel: listeners on every event."""
        label = channel.label
        p.channels[label] = channel
        name = p.name

        def cb(event):
            return lambda *args: self.rec.record(
                name, "callback", channel=label, name=event
            )

        for event in ("open", "close", "error", "bufferedamountlow"):
            channel.on(event, cb(event))

        @channel.on("message")
        def on_message(data):
            if isinstance(data, bytes):
                head = data[:24].split(b"|", 1)[0]
            else:
                head = data.split("|", 1)[0].encode()
            try:
                msg = int(head)
            except ValueError:
                self.rec.record(name, "callback", channel=label, name="message")
                return
            self.rec.record(name, "deliver", channel=label, msg=msg)

        if label in p.guards:
            p.guards[label].on_channel_state(self.rec.now(), channel.readyState)
            self.settle(p)

    def create_channel(self, p, label):
        spec = self.specs.get(label, {})
        kwargs = {"ordered": spec.get("ordered", True)}
        if spec.get("negotiated"):
            kwargs["negotiated"] = True
            kwargs["id"] = spec.get("id", 0)
        channel = p.pc.createDataChannel(label, **kwargs)
        self.adopt(p, channel)
        return channel

    async def connect(self):
        a, b = self.peers["a"].pc, self.peers["b"].pc
        offer = await a.createOffer()
        await a.setLocalDescription(offer)
        await b.setRemoteDescription(a.localDescription)
        answer = await b.createAnswer()
        await b.setLocalDescription(answer)
        await a.setRemoteDescription(b.localDescription)

    # sends and the guard ------------------------------------------------------
    def payload(self, msg, step):
        if "size" in step:
            head = f"{msg}|".encode()
            size = step["size"]
            return head + b"x" * max(0, size - len(head)), size
        text = f"{msg}|{step['data']}"
        return text, len(step["data"].encode())

    def transmit(self, p, label, data):
        channel = p.channels.get(label)
        try:
            # The application's reference: None when it has no such channel (yet).
            channel.send(data)
            return None
        except Exception as exc:  # noqa: BLE001 - every error is data here
            return error_text(exc)

    def state_of(self, p, label):
        channel = p.channels.get(label)
        return channel.readyState if channel is not None else "unknown"

    def guard(self, p, label):
        g = p.guards.get(label)
        if g is None:
            g = Guard(self.guard_cfg)
            now = self.rec.now()
            if p.ice is not None:
                g.on_ice_state(now, p.ice)
            if p.pc_state is not None:
                g.on_pc_state(now, p.pc_state)
            p.guards[label] = g
        return g

    def send(self, p, step):
        label = step["channel"]
        msg = self.rec.msg_id()
        data, size = self.payload(msg, step)
        via = step.get("via", "raw")
        now = self.rec.now()
        state = self.state_of(p, label)
        p.payloads[msg] = data
        if via == "raw":
            err = self.transmit(p, label, data)
            self.record_send(p, label, msg, "raw", state, err)
            return
        g = self.guard(p, label)
        channel = p.channels.get(label)
        if channel is not None and g.channel != channel.readyState:
            g.on_channel_state(now, channel.readyState)
        outcome, reason = g.send(now, msg, size)
        if outcome == "send":
            err = self.transmit(p, label, data)
            self.record_send(p, label, msg, "guarded", state, err)
            if err is not None:
                g.on_send_error(self.rec.now(), msg, size, send_error_kind(err))
        elif outcome == "queued":
            self.rec.record(
                p.name, "send", channel=label, msg=msg, via="guarded", state=state,
                outcome="queued",
            )
        else:
            self.rec.record(
                p.name, "send", channel=label, msg=msg, via="guarded", state=state,
                outcome="rejected", reason=reason,
            )
        self.settle(p)

    def record_send(self, p, label, msg, via, state, err, flushed=False):
        fields = dict(channel=label, msg=msg, via=via, state=state)
        if err is None:
            fields["outcome"] = "sent"
        else:
            fields["outcome"] = "error"
            fields["error"] = err
        if flushed:
            fields["flushed"] = True
        self.rec.record(p.name, "send", **fields)

    def settle(self, p):
        now = self.rec.now()
        for label, g in p.guards.items():
            channel = p.channels.get(label)
            if g.queue and channel is not None and g.channel != channel.readyState:
                g.on_channel_state(now, channel.readyState)
            while True:
                out = g.poll_output()
                if out is None:
                    break
                if out[0] == "dropped":
                    _, mid, reason = out
                    self.rec.record(p.name, "drop", channel=label, msg=mid, reason=reason)
                    continue
                _, mid, size = out
                state = self.state_of(p, label)
                err = self.transmit(p, label, p.payloads[mid])
                self.record_send(p, label, mid, "guarded", state, err, flushed=True)
                if err is not None:
                    g.on_send_error(self.rec.now(), mid, size, send_error_kind(err))
            deadline = g.poll_timeout()
            if deadline is not None:
                delay = max(0.0, (deadline - self.rec.now()) / 1000.0)
                self.timer_handles.append(
                    self.loop.call_later(delay, self.guard_timer, p, label, deadline)
                )

    def guard_timer(self, p, label, deadline):
        g = p.guards.get(label)
        if g is None or self.rec.closed:
            return
        g.handle_timeout(max(deadline, self.rec.now()))
        self.settle(p)

    # steps --------------------------------------------------------------------
    def spawn(self, coro, what):
        async def guarded():
            try:
                await coro
            except Exception as exc:  # noqa: BLE001
                self.errors.append(f"{what}: {error_text(exc)}")

        task = asyncio.ensure_future(guarded())
        self.tasks.append(task)
        return task

    def step(self, at_ms, step):
        action = step["action"]
        rec = self.rec
        if action == "connect":
            rec.record("a", "fault", action="connect")
            self.spawn(self.connect(), "connect")
        elif action == "send":
            self.send(self.peers[step["peer"]], step)
        elif action == "create_channel":
            p = self.peers[step["peer"]]
            label = step["channel"]
            try:
                self.create_channel(p, label)
                detail = label
            except Exception as exc:  # noqa: BLE001
                detail = f"{label}: {error_text(exc)}"
            rec.record(p.name, "fault", action="create_channel", detail=detail)
        elif action == "close_channel":
            p = self.peers[step["peer"]]
            label = step["channel"]
            channel = p.channels.get(label)
            detail = label
            rec.record(p.name, "fault", action="close_channel", detail=label)
            try:
                channel.close()
            except Exception as exc:  # noqa: BLE001
                detail = f"{label}: {error_text(exc)}"
                rec.events.pop()
                rec.record(p.name, "fault", action="close_channel", detail=detail)
        elif action == "ice_restart":
            # aiortc 1.16 has no restartIce(): the call fails, nothing restarts. (Were it
            # there, the offer/answer would follow, as after connect.)
            p = self.peers[step["peer"]]
            rec.record(p.name, "fault", action="ice_restart")
            try:
                p.pc.restartIce()
                self.spawn(self.connect(), "ice_restart")
            except Exception as exc:  # noqa: BLE001
                rec.record(p.name, "fault", action="ice_restart", detail=error_text(exc))
        elif action == "close_peer":
            p = self.peers[step["peer"]]
            rec.record(p.name, "fault", action="close_peer")
            self.spawn(p.pc.close(), f"close_peer {p.name}")
        elif action in ("partition", "heal", "hold", "release", "loss", "latency"):
            detail = None
            if action == "partition":
                NETWORK.partitioned = True
            elif action == "heal":
                NETWORK.partitioned = False
                NETWORK.release()
            elif action == "hold":
                NETWORK.held = True
            elif action == "release":
                NETWORK.release()
            elif action == "loss":
                NETWORK.loss = step["value"]
                detail = f"{step['value']}"
            elif action == "latency":
                NETWORK.latency_ms = step["ms"]
                detail = f"{step['ms']} ms"
            fields = {"action": action}
            if detail:
                fields["detail"] = detail
            rec.record(None, "fault", **fields)
        else:
            raise ValueError(f"unknown action {action}")

    async def run(self):
        sc = self.sc
        for name in ("a", "b"):
            self.make_pc(name)
        self.rec.start()
        # Channels created before the run: a's in-band ones, both peers' negotiated ones.
        for spec in sc["channel"]:
            if not spec.get("create_at_start", True):
                continue
            self.create_channel(self.peers["a"], spec["label"])
            if spec.get("negotiated"):
                self.create_channel(self.peers["b"], spec["label"])
        t0 = self.rec.t0
        last_at = None
        for at_ms, _, step, _ in timeline(sc):
            delay = t0 + at_ms / 1000.0 - self.loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif at_ms != last_at:
                # Late (the loop was busy): still let what the previous instant scheduled
                # run first (aiortc flushes sends in a task), so that two instants do
                # not merge into one.
                await asyncio.sleep(0)
            last_at = at_ms
            self.step(at_ms, step)
        delay = t0 + sc["duration_ms"] / 1000.0 - self.loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        end = self.rec.now()
        for p in self.peers.values():
            for label, g in p.guards.items():
                for mid, _, _ in g.queue:
                    self.rec.record(p.name, "drop", channel=label, msg=mid, reason="end-of-run")
        self.rec.finish(max(end, sc["duration_ms"]))

    async def shutdown(self):
        for h in self.timer_handles:
            h.cancel()
        for p in self.peers.values():
            if p.pc is not None:
                try:
                    await asyncio.wait_for(p.pc.close(), 5)
                except Exception:  # noqa: BLE001
                    pass
        for t in self.tasks:
            if not t.done():
                t.cancel()


async def main_async(args):
    global NETWORK
    sc = load_scenario(args.scenario)
    # aioice draws each consent check's interval from the module-level generator
    # (0.8-1.2 x 5 s, aioice/ice.py): seeded, the path's death is noticed at the same
    # time on every run instead of anywhere in 27-34 s, where a scripted send could land
    # on either side of it (1 of 3 runs of checking-disconnected-failed diverged so).
    random.seed(sc.get("seed", 0))
    check_expressible(sc)
    loop = asyncio.get_running_loop()
    player = Player(sc, loop)
    NETWORK = Network(
        loop,
        latency_ms=sc["network"].get("latency_ms", 10),
        loss=sc["network"].get("loss", 0.0),
        rng=random.Random(sc.get("seed", 0)),
    )
    install_hooks(player.rec, player)
    try:
        await asyncio.wait_for(player.run(), sc["duration_ms"] / 1000.0 + 30)
    finally:
        try:
            await asyncio.wait_for(player.shutdown(), 15)
        except Exception:  # noqa: BLE001
            pass
    with open(args.out, "w") as f:
        f.write(player.rec.jsonl())
    for e in player.errors:
        print(f"note: {e}", file=sys.stderr)
    print(
        f"{sc['name']}: {len(player.rec.events)} events, "
        f"{NETWORK.passed} datagrams passed, {NETWORK.dropped} dropped",
        file=sys.stderr,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario")
    ap.add_argument("out")
    args = ap.parse_args()
    try:
        asyncio.run(main_async(args))
    except Skip as s:
        print(str(s))
        return SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main())
