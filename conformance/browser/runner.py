#!/usr/bin/env python3
"""Plays one dcsim scenario in headless Chromium and writes its trace (JSON lines).

Started by play.sh, which owns the network namespace. This process runs in the root
namespace and

1. reads the scenario TOML (tomllib), decides whether Chromium can express it (else it
   prints `SKIP <reason>` and exits 3), and, for a variant (a fault replaced by one the
   browser can do), writes the scenario actually played to OUTDIR/<name>.toml;
2. serves the player page (player.html, player.js, guard.js), the plan (the scenario
   expanded into timed steps with message ids) and a signaling mailbox, on the
   host-side veth address;
3. starts Chromium inside the namespace: one process holding both peers (as the
   web-platform-tests do), or one process per peer when a fault kills a peer;
4. applies the network faults at their scenario times in the UDP
   relay every datagram between the peers goes through (see `Relay`): latency, loss,
   partition, heal, hold, release; a `crash` kills the peer's Chromium process group
   with SIGKILL;
5. collects the events the pages stream back, adds the `undelivered` drops the model's
   recorder adds, and writes OUTDIR/<name>.jsonl in dcsim's trace format.

Exit status: 0 trace written, 3 scenario skipped, 1 the player broke (one line on stderr).
Python 3.11 standard library only.
"""

import argparse
import json
import heapq
import os
import random
import selectors
import socket
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATIC = {
    "/": ("player.html", "text/html; charset=utf-8"),
    "/player.html": ("player.html", "text/html; charset=utf-8"),
    "/player.js": ("player.js", "text/javascript; charset=utf-8"),
    "/guard.js": ("guard.js", "text/javascript; charset=utf-8"),
}
DEFAULT_ICE = {"disconnected_timeout_ms": 5000, "failed_timeout_ms": 25000, "keepalive_interval_ms": 2000}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Plain host candidates (no mDNS .local names) and no timer throttling.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]


class PlayerError(Exception):
    pass


def now_ms():
    return time.time() * 1000.0


# ---------------------------------------------------------------------------------------
# The scenario: expressibility, variants, the plan for the page.
# ---------------------------------------------------------------------------------------

def load_scenario(path):
    text = Path(path).read_text()
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PlayerError(f"{path}: not TOML: {e}")
    return text, doc


def variant_of(name, text, doc):
    """(skip reason or None, variant text or None, list of changes)."""
    steps = doc.get("step", [])
    actions = [s.get("action") for s in steps]
    ice = doc.get("ice", {})
    for k, v in ice.items():
        if DEFAULT_ICE.get(k) != v:
            return (f"[ice] {k} = {v}: Chrome's ICE timeouts cannot be configured from a page",
                    None, [])
    changes = []
    new_text = text
    # A partition that is never healed: for a, the remote has vanished. Played as a
    # crash of b (its Chromium process killed with SIGKILL, no close of any kind).
    for i, s in enumerate(steps):
        if s.get("action") != "partition":
            continue
        healed = any(t.get("action") == "heal" and t["at_ms"] >= s["at_ms"] for t in steps[i + 1:])
        if healed:
            continue
        pat = re.compile(r'(\[\[step\]\]\s*\nat_ms\s*=\s*%d\s*\n)action\s*=\s*"partition"' % s["at_ms"])
        if not pat.search(new_text):
            return (f"partition at {s['at_ms']} ms never healed, and the step could not be "
                    "rewritten as a crash", None, [])
        new_text = pat.sub(r'\1action = "crash"\npeer = "b"\n# CRASH-AFTER-ICE: the browser player applies it once a reports ICE connected', new_text, count=1)
        changes.append(f"partition at {s['at_ms']} ms (never healed) -> crash of b "
                       "(the relay drops all of b's traffic and b's Chromium is killed with SIGKILL "
                       "once its reports up to then are in: the remote vanishes without a close). "
                       "The scenario puts the fault just after ICE connects and before DTLS "
                       "completes, which Chrome reaches later than the model. From the step's "
                       "time on, the relay drops every DTLS record from a's first one on (no "
                       "DTLS handshake completes without a's first flight) while STUN still "
                       "passes, and cuts the path when both peers have reported ICE `connected`; "
                       "the trace's `crash` event is that moment")
    if changes:
        header = "".join(f"# Chromium variant of the built-in `{name}`: {c}.\n" for c in changes)
        header += "# Written by conformance/browser/runner.py; the model is run on exactly this.\n"
        new_text = header + new_text
        return None, new_text, changes
    return None, None, []


def close_races(steps):
    """A peer's close (channel or peer connection) followed within 20 ms by a step of the
    other peer: in one page both peers share the renderer's main thread, and Chrome's
    close() holds it for several ms, so the other peer's step would run late (inside the
    window the scenario is about). Such scenarios (remote-close) run one process a peer."""
    for s in steps:
        if s.get("action") not in ("close_channel", "close_peer"):
            continue
        for t in steps:
            other = t.get("peer", "a") != s.get("peer", "a") and t.get("action") != "connect"
            if other and 0 <= int(t["at_ms"]) - int(s["at_ms"]) <= 20:
                return True
    return False


def build_plan(doc, mode):
    channels = []
    for c in doc.get("channel", []):
        channels.append({
            "label": c["label"],
            "negotiated": bool(c.get("negotiated", False)),
            "id": c.get("id"),
            "ordered": bool(c.get("ordered", True)),
            "create_at_start": bool(c.get("create_at_start", True)),
        })
    occ = []  # (at_ms, peer index, file order, repeat, step)
    for order, s in enumerate(doc.get("step", [])):
        action = s["action"]
        count = int(s.get("count", 1)) if action == "send" else 1
        interval = int(s.get("interval_ms", 0))
        for r in range(count):
            occ.append((int(s["at_ms"]) + r * interval, order, r, s))
    occ.sort(key=lambda o: o[0])  # stable: file order within one millisecond
    # Message ids as the model hands them out: in time order, peer a's script before
    # peer b's within one millisecond, file order within one peer.
    sends = [o for o in occ if o[3]["action"] == "send"]
    sends_sorted = sorted(sends, key=lambda o: (o[0], 0 if o[3].get("peer", "a") == "a" else 1))
    ids = {(o[1], o[2]): i for i, o in enumerate(sends_sorted)}
    steps = []
    for at, order, r, s in occ:
        st = {"at_ms": at, "action": s["action"]}
        if s.get("_after_ice"):
            st["after"] = "a-ice-connected"
        if s["action"] == "hold" and not any(
                t.get("action") == "release" for t in doc.get("step", [])):
            # A hold that is never released is placed in the DCEP window (dcep-ack-lost):
            # after a's SCTP association is up and its channel open, before b's ACK.
            st["after"] = "a-channel-open"
        for k in ("peer", "channel"):
            if k in s:
                st[k] = s[k]
        if s["action"] == "send":
            st["peer"] = s.get("peer", "a")
            st["via"] = s.get("via", "raw")
            st["msg"] = ids[(order, r)]
            if "size" in s:
                st["size"] = int(s["size"])
            else:
                st["data"] = s.get("data", "")
        if s["action"] == "loss":
            st["value"] = s["value"]
        if s["action"] == "latency":
            st["ms"] = s["ms"]
        steps.append(st)
    return {
        "name": doc.get("name", ""),
        "duration_ms": int(doc.get("duration_ms", 60000)),
        "latency_ms": int(doc.get("network", {}).get("latency_ms", 10)),
        "loss": float(doc.get("network", {}).get("loss", 0.0)),
        "guard": doc.get("guard", {}),
        "channels": channels,
        "steps": steps,
        "mode": mode,
    }


# ---------------------------------------------------------------------------------------
# The run: server state shared by the request handlers.
# ---------------------------------------------------------------------------------------

class Run:
    def __init__(self, plan, roles, netns, verbose):
        self.plan = plan
        self.roles = roles            # ["ab"] or ["a", "b"]
        self.netns = netns
        self.verbose = verbose
        self.lock = threading.Condition()
        self.ready = set()
        self.t0 = None
        self.events = []              # (t_abs, seq, event dict)
        self.seq = 0
        self.done = set()
        self.crashed = set()          # roles killed by a crash fault
        self.mail = {r: [] for r in ("a", "b")}
        self.errors = []
        self.browsers = {}            # role -> Popen
        self.relay = None
        self.phase = {}               # (peer, machine) -> t_abs of its first connected/open
        self.crashed_at = {}          # peer -> t_abs of its crash (its later events dropped)
        self.applied = []             # (step, t_abs) of the faults applied
        self.flushed = {}             # peer -> page time of its latest /flushed answer
        self.shift_ms = 0.0           # how much later than scheduled the later steps run

    def log(self, text):
        if self.verbose:
            print(f"[{self.plan['name']}] {text}", file=sys.stderr, flush=True)

    def add_events(self, evs):
        with self.lock:
            for e in evs:
                t = e.pop("t")
                if e.get("event") == "state" and e.get("to") in ("connected", "open"):
                    self.phase.setdefault((e["peer"], e["machine"]), t)
                    self.lock.notify_all()
                self.events.append((t, self.seq, e))
                self.seq += 1

    def add_global(self, t_abs, event):
        with self.lock:
            self.events.append((t_abs, self.seq, event))
            self.seq += 1

    # -- faults -------------------------------------------------------------------------

    def apply_fault(self, step, cut_at=None):
        """Applies one fault now; `cut_at`: a vanish the relay already cut at that time."""
        a = step["action"]
        t = now_ms() if cut_at is None else cut_at
        ev = {"event": "fault", "action": a}
        relay = self.relay
        if a == "partition":
            relay.set_mode("drop")
        elif a == "heal":
            relay.set_mode("pass")
        elif a == "hold":
            relay.set_mode("hold")
        elif a == "release":
            relay.set_mode("pass")
        elif a == "loss":
            relay.loss = float(step["value"])
            ev["detail"] = str(step["value"])
        elif a == "latency":
            relay.delay_ms = int(step["ms"])
            ev["detail"] = f"{step['ms']} ms"
        elif a == "crash":
            peer = step["peer"]
            p = self.browsers.get(peer)
            if p is None:
                raise PlayerError(f"crash of {peer}: no browser process of its own")
            # The vanish: from this instant nothing of b reaches a (the relay drops
            # everything) and b's own later observations are not part of the trace.
            if cut_at is None:
                relay.set_mode("drop")
            with self.lock:
                self.crashed_at[peer] = t
                # b's Chromium is killed once its reports up to now are in: the page is
                # asked through its mailbox to report everything and answers when its
                # reports are acknowledged. (Waiting for a report made after the cut
                # was not enough: a page can be silent, or its reports late, for over
                # 500 ms, and the run then lost b's ICE `connected`.)
                self.flushed.pop(peer, None)
                self.mail[peer].append({"type": "flush"})
                self.lock.notify_all()
                deadline = time.time() + 10
                while time.time() < deadline and self.flushed.get(peer, 0.0) <= t:
                    self.lock.wait(0.005)
                if self.flushed.get(peer, 0.0) <= t:
                    raise PlayerError(f"{peer}'s page did not report within 10 s of the vanish")
            os.killpg(p.pid, signal.SIGKILL)
            with self.lock:
                self.crashed.add(peer)
                self.lock.notify_all()
            self.log(f"{peer}'s Chromium killed {now_ms() - t:.0f} ms after the cut")
            # The model writes the crash as a step of the crashed peer.
            ev = {"peer": peer, "event": "fault", "action": "crash"}
        else:
            raise PlayerError(f"fault {a!r} is not supported by the browser player")
        self.log(f"fault {a} applied at {t - self.t0:.1f} ms")
        self.applied.append((step, t))
        self.add_global(t, ev)
        if step.get("after"):
            self.shift_after(step, t)

    def shift_after(self, step, t_abs):
        """A fault placed by an event (after a's ICE connected, after a's channel open)
        comes later than its scenario time, by as much as Chrome is slower than the
        model to get there. The steps after it keep their distance to it: every later
        step, fault and the end of the run move by that lateness, so that the scenario
        Chrome plays after the fault is the model's (a send 15.955 s after the vanish
        stays 0.55 s after connectionState `failed`, whatever the browser's start-up).
        The pages are told through their mailboxes; the comparison measures the steps
        from the fault (src/conform/peers/anchor.rs)."""
        late = max(0.0, t_abs - (self.t0 + self.shift_ms + step["at_ms"]))
        if late <= 0:
            return
        with self.lock:
            self.shift_ms += late
            for role in self.roles:
                for peer in ("a", "b") if role == "ab" else (role,):
                    if peer not in self.crashed_at:
                        self.mail[peer].append({"type": "shift", "after_ms": step["at_ms"],
                                                "by_ms": late})
                        break
            self.lock.notify_all()
        self.log(f"steps after {step['at_ms']} ms shifted by {late:.1f} ms")

    def fault_thread(self):
        faults = [s for s in self.plan["steps"] if s["action"] in FAULTS]
        for s in faults:
            wait = (self.t0 + self.shift_ms + s["at_ms"]) - now_ms()
            if wait > 0:
                time.sleep(wait / 1000.0)
            after = s.get("after")
            cut_at = None
            if after == "a-ice-connected" and s["action"] == "crash":
                # Both ICE agents connected (as in the model, b first at 31 ms, a at
                # 41 ms), no DTLS transport connected: the relay stops DTLS at a's first
                # record (Relay.arm_vanish), and the path is cut once both pages have
                # reported ICE `connected`.
                self.relay.arm_vanish(s["peer"])
                both = [("a", "ice_connection"), ("b", "ice_connection")]
                with self.lock:
                    deadline = time.time() + 10
                    while any(k not in self.phase for k in both) and time.time() < deadline:
                        self.lock.wait(0.001)
                    missing = [p for p, _ in both if (p, "ice_connection") not in self.phase]
                if missing:
                    self.relay.cut_now()
                    with self.lock:
                        self.errors.append(
                            f"vanish of {s['peer']}: {' and '.join(missing)} reported no ICE "
                            "connected within 10 s of the step: its window never came")
                        self.lock.notify_all()
                    return
                dtls_at = self.relay.cut_now()
                cut_at = now_ms()
                for t, who, b0, n in self.relay.dtls_seen:
                    self.log(f"DTLS datagram from {who} at {t - self.t0:.1f} ms: type {b0}, {n} bytes")
                self.log("DTLS dropped from " + (f"{dtls_at - self.t0:.1f} ms" if dtls_at else "(a sent none)")
                         + f", path cut at {cut_at - self.t0:.1f} ms")
            elif after:
                # a's channel open.
                keys = {"a-channel-open": [("a", "data_channel")]}[after]
                with self.lock:
                    deadline = time.time() + 10
                    while any(k not in self.phase for k in keys) and time.time() < deadline:
                        self.lock.wait(0.001)
            try:
                self.apply_fault(s, cut_at)
            except Exception as e:  # noqa: BLE001 - reported, the run fails
                with self.lock:
                    self.errors.append(f"fault {s['action']} at {s['at_ms']} ms: {e}")
                    self.lock.notify_all()
                return

    # -- the trace ----------------------------------------------------------------------

    def trace(self):
        if self.t0 is None:
            return []
        dur = self.plan["duration_ms"] + int(self.shift_ms)
        out = []
        for t, seq, e in sorted(self.events, key=lambda x: (int(max(0.0, x[0] - self.t0)), x[1])):
            t_ms = int(max(0.0, t - self.t0))
            cut = self.crashed_at.get(e.get("peer"))
            if cut is not None and t > cut and e.get("action") != "crash":
                continue
            if t_ms > dur:
                continue
            out.append(dict({"t_ms": t_ms}, **e))
        # The model's recorder: a message handed to the transport (send outcome sent)
        # that was neither delivered nor dropped is reported `undelivered` at the end.
        handed, ended = {}, set()
        for e in out:
            if e["event"] == "send" and e["outcome"] == "sent":
                handed[e["msg"]] = (e["peer"], e["channel"])
            elif e["event"] in ("deliver", "drop"):
                ended.add(e["msg"])
        end = dur
        for msg in sorted(handed):
            if msg not in ended:
                peer, ch = handed[msg]
                out.append({"t_ms": end, "peer": peer, "event": "drop", "channel": ch,
                            "msg": msg, "reason": "undelivered"})
        return out


FAULTS = ("partition", "heal", "hold", "release", "loss", "latency", "crash")


def vanish_misplaced(plan, trace):
    """The vanish of a CRASH-AFTER-ICE variant must fall after both ICE `connected` and
    before any DTLS transport `connected`: else the run played another scenario than the
    model's, which is a broken player (one line why), never a divergence or a skip."""
    if not any(s.get("after") == "a-ice-connected" for s in plan["steps"]):
        return []
    crash = next((e for e in trace if e["event"] == "fault" and e["action"] == "crash"), None)
    if crash is None:
        return ["the vanish was never applied"]
    before = trace[: trace.index(crash)]
    dtls = next((e for e in before if e.get("machine") == "dtls" and e.get("to") == "connected"), None)
    for peer in ("a", "b"):
        if not any(e.get("peer") == peer and e.get("machine") == "ice_connection"
                   and e.get("to") == "connected" for e in before):
            return [f"the vanish at {crash['t_ms']} ms came before {peer} reported ICE connected"]
    if dtls:
        return [f"the vanish at {crash['t_ms']} ms came after {dtls['peer']}'s DTLS connected "
                f"at {dtls['t_ms']} ms"]
    return []


class Relay:
    """The network between the peers: a UDP mirror on the host side of the veth.

    Every ICE candidate is rewritten in signaling to an address of the relay, so each peer
    only ever talks to the relay, which forwards each datagram to the real address of the
    other peer, from the relay socket that stands for the sender (so source addresses
    match the rewritten candidates and peer-reflexive discovery stays consistent). The
    relay adds the scenario's one-way latency, drops at random (loss), drops everything
    (partition), or holds datagrams and lets them go on release. No kernel queueing
    discipline (netem) or firewall module is needed.
    """

    def __init__(self, host_ip, delay_ms, loss):
        self.host_ip = host_ip
        self.delay_ms = delay_ms
        self.loss = loss
        self.mode = "pass"
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.by_real = {}
        self.real_of = {}
        self.heap = []
        self.held = []
        self.seq = 0
        self.rng = random.Random(0)
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.sel.register(self.wake_r, selectors.EVENT_READ)
        self.forwarded = 0
        self.dropped = 0
        self.owner = {}               # real (ip, port) -> "a" or "b", from signaling
        self.dtls_seen = []           # (t_abs, owner, first byte, length) of the first DTLS datagrams
        self.vanish = None            # the armed vanish cut, see arm_vanish

    def proxy_for(self, real):
        with self.lock:
            s = self.by_real.get(real)
            if s is None:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind((self.host_ip, 0))
                s.setblocking(False)
                self.by_real[real] = s
                self.real_of[s] = real
                self.sel.register(s, selectors.EVENT_READ)
                self.wake_w.send(b"x")
            return s

    def rewrite(self, cand, owner):
        """The candidate of peer `owner` as the other peer gets it (None: not relayed,
        e.g. TCP)."""
        parts = cand.get("candidate", "").split()
        if len(parts) < 8 or parts[2].lower() != "udp" or ":" in parts[4]:
            return None
        if parts[4].endswith(".local"):
            raise PlayerError("mDNS host candidate; is WebRtcHideLocalIpsWithMdns disabled?")
        real = (parts[4], int(parts[5]))
        with self.lock:
            self.owner[real] = owner
        s = self.proxy_for(real)
        parts[4], parts[5] = self.host_ip, str(s.getsockname()[1])
        out = dict(cand)
        out["candidate"] = " ".join(parts)
        return out

    def arm_vanish(self, victim):
        """Arms the first half of a vanish placed just after ICE connects and before DTLS
        completes: from the survivor's first DTLS record on, every DTLS record is dropped
        in both directions while STUN still passes, so both ICE agents can finish
        connecting but no DTLS handshake can complete on either side (none completes
        without the survivor's first flight, DTLS 1.2 or 1.3, whichever side is the
        client). `cut_now` then drops everything. Driven by the datagrams, not by a
        clock: the survivor sends DTLS only once its ICE transport is writable, which a
        page reports some ms later, and in DTLS 1.3 the client completes 10 ms (one
        latency) after the survivor's first flight."""
        with self.lock:
            self.vanish = {"victim": victim, "dtls_dropped_at": None}

    def cut_now(self):
        """Drops everything from now on (the second half of the vanish). Returns the
        time DTLS started being dropped (None: a had sent no DTLS yet)."""
        with self.lock:
            v, self.vanish = self.vanish, None
            self.mode = "drop"
        self.wake_w.send(b"x")
        return v["dtls_dropped_at"] if v else None

    def _vanish_drops(self, src, data):
        """Under self.lock: True when an armed vanish drops this datagram."""
        v = self.vanish
        if data and 20 <= data[0] <= 63 and len(self.dtls_seen) < 12:
            self.dtls_seen.append((now_ms(), self.owner.get(src), data[0], len(data)))
        if v is None or not data or not 20 <= data[0] <= 63:  # DTLS (RFC 7983)
            return False
        if v["dtls_dropped_at"] is None:
            who = self.owner.get(src)
            if who is None or who == v["victim"]:
                return False
            v["dtls_dropped_at"] = now_ms()
        return True

    def set_mode(self, mode):
        with self.lock:
            was, self.mode = self.mode, mode
            if was == "hold" and mode != "hold":
                due = time.monotonic() + self.delay_ms / 1000.0
                for out, data, dst in self.held:
                    heapq.heappush(self.heap, (due, self.seq, out, data, dst))
                    self.seq += 1
                self.held = []
        self.wake_w.send(b"x")

    def loop(self):
        while True:
            with self.lock:
                timeout = max(0.0, self.heap[0][0] - time.monotonic()) if self.heap else 0.5
            for key, _ in self.sel.select(timeout):
                sock = key.fileobj
                if sock is self.wake_r:
                    try:
                        sock.recv(4096)
                    except BlockingIOError:
                        pass
                    continue
                while True:
                    try:
                        data, src = sock.recvfrom(65536)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        continue  # ICMP errors of a vanished peer
                    dst = self.real_of.get(sock)
                    out = self.proxy_for(src)
                    with self.lock:
                        if self._vanish_drops(src, data):
                            self.dropped += 1
                        elif self.mode == "drop" or (self.loss > 0 and self.rng.random() < self.loss):
                            self.dropped += 1
                        elif self.mode == "hold":
                            self.held.append((out, data, dst))
                        else:
                            due = time.monotonic() + self.delay_ms / 1000.0
                            heapq.heappush(self.heap, (due, self.seq, out, data, dst))
                            self.seq += 1
            now = time.monotonic()
            while True:
                with self.lock:
                    if not self.heap or self.heap[0][0] > now:
                        break
                    _, _, out, data, dst = heapq.heappop(self.heap)
                try:
                    out.sendto(data, dst)
                    self.forwarded += 1
                except OSError:
                    pass


def browser_version(chromium):
    """`Chromium 156.0.8078.114`: what the recorded trace says it was played on."""
    try:
        out = subprocess.run([chromium, "--version"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise PlayerError(f"{chromium} --version: {e}")
    m = re.search(r"Chromium [0-9.]+", out)
    if not m:
        raise PlayerError(f"{chromium} --version printed no version: {out.strip()[:80]!r}")
    return m.group(0)


def ordered_event(e):
    """Key order as dcsim writes it (serde field order)."""
    order = ["t_ms", "peer", "event", "machine", "channel", "msg", "via", "state", "outcome",
             "error", "reason", "flushed", "name", "from", "to", "action", "detail",
             "invariant"]
    # dcsim's order differs per event kind; follow its structs exactly.
    kind = e["event"]
    if kind == "state":
        keys = ["t_ms", "peer", "event", "machine", "channel", "from", "to"]
    elif kind == "send":
        keys = ["t_ms", "peer", "event", "channel", "msg", "via", "state", "outcome", "error",
                "reason", "flushed"]
    elif kind in ("deliver",):
        keys = ["t_ms", "peer", "event", "channel", "msg"]
    elif kind == "drop":
        keys = ["t_ms", "peer", "event", "channel", "msg", "reason"]
    elif kind == "callback":
        keys = ["t_ms", "peer", "event", "channel", "name"]
    elif kind == "fault":
        keys = ["t_ms", "peer", "event", "action", "detail"]
    elif kind == "meta":
        keys = ["t_ms", "event", "name", "value"]
    else:
        keys = order
    return {k: e[k] for k in keys if k in e and e[k] is not None and e[k] is not False}


class Server(ThreadingHTTPServer):
    # The pages keep up to a dozen requests in flight (events, signaling, long polls);
    # with the default listen backlog of 5 a burst was refused and the page's fetch
    # failed ("TypeError: Failed to fetch", a broken player).
    request_queue_size = 128


def make_handler(run):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):  # quiet
            pass

        def reply(self, code, body, ctype="application/json"):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            try:
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # a page that went away (killed by a crash fault, or at the end)

        def body(self):
            n = int(self.headers.get("Content-Length", "0"))
            return json.loads(self.rfile.read(n) or b"{}")

        def do_GET(self):
            path, _, query = self.path.partition("?")
            if path in STATIC:
                f, ctype = STATIC[path]
                return self.reply(200, (HERE / f).read_bytes(), ctype)
            if path == "/plan":
                return self.reply(200, run.plan)
            if path == "/favicon.ico":
                return self.reply(404, b"", "text/plain")
            return self.reply(404, {"error": "not found"})

        def do_POST(self):
            path = self.path.partition("?")[0]
            try:
                msg = self.body()
            except Exception as e:  # noqa: BLE001
                return self.reply(400, {"error": str(e)})
            if path == "/ready":
                with run.lock:
                    run.ready.add(msg["role"])
                    run.lock.notify_all()
                    deadline = time.time() + 30
                    while set(run.roles) - run.ready and time.time() < deadline:
                        run.lock.wait(0.5)
                    if set(run.roles) - run.ready:
                        return self.reply(504, {"error": "peers not ready"})
                    if run.t0 is None:
                        run.t0 = now_ms() + 300.0
                        threading.Thread(target=run.fault_thread, daemon=True).start()
                        run.log("all pages ready, t0 set")
                    return self.reply(200, {"t0": run.t0})
            if path == "/events":
                run.add_events(msg.get("events", []))
                return self.reply(200, {})
            if path == "/sig":
                if msg["msg"].get("type") == "cand":
                    owner = "a" if msg["to"] == "b" else "b"
                    cand = run.relay.rewrite(msg["msg"]["cand"], owner)
                    if run.t0 is not None:
                        run.log(f"candidate of {owner} signalled at {now_ms() - run.t0:.1f} ms")
                    if cand is None:
                        return self.reply(200, {"dropped": True})
                    msg["msg"]["cand"] = cand
                with run.lock:
                    run.mail[msg["to"]].append(msg["msg"])
                    run.lock.notify_all()
                return self.reply(200, {})
            if path == "/poll":
                role = msg["role"]
                with run.lock:
                    deadline = time.time() + 5
                    while not run.mail[role] and time.time() < deadline:
                        run.lock.wait(0.5)
                    out, run.mail[role] = run.mail[role], []
                return self.reply(200, {"msgs": out})
            if path == "/flushed":
                with run.lock:
                    run.flushed[msg["role"]] = float(msg["t"])
                    run.lock.notify_all()
                return self.reply(200, {})
            if path == "/done":
                with run.lock:
                    run.done.add(msg["role"])
                    run.lock.notify_all()
                return self.reply(200, {})
            if path == "/error":
                with run.lock:
                    run.errors.append(f"page {msg.get('role')}: {msg.get('error')}")
                    run.lock.notify_all()
                return self.reply(200, {})
            if path == "/log":
                run.log(f"page {msg.get('role')}: {msg.get('text')}")
                return self.reply(200, {})
            return self.reply(404, {"error": "not found"})

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", required=True, help="scenario .toml file")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--netns", required=True)
    ap.add_argument("--host-ip", required=True, help="address to serve on (host side of the veth)")
    ap.add_argument("--chromium", default="chromium")
    ap.add_argument("--check-only", action="store_true", help="only decide skip/variant")
    ap.add_argument("--split", action="store_true",
                    help="each peer in its own Chromium process (default: only when a peer crashes)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    text, doc = load_scenario(args.scenario)
    name = doc.get("name") or Path(args.scenario).stem
    skip, variant, changes = variant_of(name, text, doc)
    if skip:
        print(f"SKIP {skip}")
        return 3
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if variant:
        (out / f"{name}.toml").write_text(variant)
        doc = tomllib.loads(variant)
    if args.check_only:
        return 0
    steps = doc.get("step", [])
    if variant and "# CRASH-AFTER-ICE" in variant:
        for s in steps:
            if s.get("action") == "crash":
                s["_after_ice"] = True
    split = args.split or any(s.get("action") == "crash" for s in steps) or close_races(steps)
    roles = ["a", "b"] if split else ["ab"]
    plan = build_plan(doc, "split" if split else "single")
    run = Run(plan, roles, args.netns, args.verbose)

    server = Server((args.host_ip, 0), make_handler(run))
    server.daemon_threads = True
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    run.relay = Relay(args.host_ip, plan["latency_ms"], plan["loss"])
    threading.Thread(target=run.relay.loop, daemon=True).start()

    tmp = Path(tempfile.mkdtemp(prefix=f"dcsim-chromium-{name}-"))
    code = 1
    try:
        for role in roles:
            udd = tmp / f"profile-{role}"
            udd.mkdir()
            url = f"http://{args.host_ip}:{port}/player.html?role={role}"
            cmd = ["ip", "netns", "exec", args.netns, args.chromium, *CHROMIUM_FLAGS,
                   f"--user-data-dir={udd}", url]
            logf = open(tmp / f"chromium-{role}.log", "w")
            run.browsers[role] = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                                  start_new_session=True)
        # Wait: pages ready (30 s), then the scenario, then the pages' reports.
        deadline = time.time() + 45
        with run.lock:
            while run.t0 is None and not run.errors and time.time() < deadline:
                run.lock.wait(0.5)
                for role, p in run.browsers.items():
                    if p.poll() is not None and role not in run.crashed:
                        run.errors.append(f"chromium ({role}) exited with {p.returncode} "
                                          f"before the page was ready; log: {tmp}/chromium-{role}.log")
            if run.t0 is None and not run.errors:
                run.errors.append("timeout: the page(s) did not load within 45 s")
            if not run.errors:
                deadline = time.time() + (run.t0 - now_ms()) / 1000 + plan["duration_ms"] / 1000 + 20
                while not run.errors and time.time() < deadline + run.shift_ms / 1000:
                    live = set(roles) - run.crashed
                    if live <= run.done:
                        break
                    run.lock.wait(0.5)
                else:
                    if not run.errors:
                        missing = sorted(set(roles) - run.crashed - run.done)
                        run.errors.append(f"timeout: page(s) {missing} did not finish the scenario")
        if not run.errors:
            run.errors.extend(vanish_misplaced(plan, run.trace()))
        if run.errors:
            print(f"error: {name}: {run.errors[0]}", file=sys.stderr)
            keep = out / f"{name}.partial.jsonl"
            keep.write_text("".join(json.dumps(ordered_event(e)) + "\n" for e in run.trace()))
            return 1
        meta = {"t_ms": 0, "event": "meta", "name": "peer", "value": browser_version(args.chromium)}
        lines = [json.dumps(ordered_event(e), separators=(",", ":")) for e in [meta, *run.trace()]]
        (out / f"{name}.jsonl").write_text("".join(line + "\n" for line in lines))
        code = 0
    finally:
        for role, p in run.browsers.items():
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=10)
        server.shutdown()
        if code == 0 and not args.verbose:
            subprocess.run(["rm", "-rf", str(tmp)])
    return code


if __name__ == "__main__":
    # SIGTERM (play.sh's last-resort timeout, or its exit trap) unwinds through main's
    # `finally`, which kills the Chromium process groups this runner started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        sys.exit(main())
    except PlayerError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
