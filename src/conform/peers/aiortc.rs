//! aiortc as a real peer (`conformance/aiortc/`), compared with the `aiortc` profile.
//!
//! Where aiortc 1.16 differs from the W3C spec in a way that matters to an application
//! (no `connected` or `disconnected` ICE state, no `open` event for the answerer's
//! channel, `bufferedamountlow` on hand-over to SCTP, the peer connection closing itself
//! when its DTLS transport ends, `close` events on `pc.close()`), the `aiortc` profile
//! mirrors it with a named switch ([`crate::model::Profile::AIORTC`]). What is left here
//! are deviations an application hardly sees, rewritten in aiortc's trace into what the
//! spec (and the model) says, each pinned by `tests/real_peer_aiortc.rs` on the recorded
//! run in `tests/data/real-peers/aiortc/`. Paths are relative to the aiortc 1.16.0 /
//! aioice 0.13.0 packages.

use super::{shift_windows, state_key, PeerRules};
use crate::conform::deviations::{Deviation, Handling};
use crate::conform::normalize::{Key, Normalized, Timed};
use crate::trace::{Machine, Millis, PeerId};

/// aiortc's rules.
pub const RULES: PeerRules = PeerRules {
    name: "aiortc",
    profile: "aiortc",
    unreported,
    deviations: DEVIATIONS,
    tolerance_ms: TOLERANCE_MS,
};

/// Timing tolerance. aiortc runs on the wall clock in one Python process: a step is
/// late by up to a few tens of ms when the event loop is busy (the offer/answer at 0 ms
/// blocks it for 5 to 30 ms), and the handshake runs 10 to 50 ms apart from the model's
/// (aiortc starts DTLS only after ICE completes). 250 ms, as for the `rtc` stack, covers
/// that with room; consent-failure timing, which is random, is handled by
/// `consent-jitter` instead of a wider tolerance.
pub const TOLERANCE_MS: Millis = 250;

/// What the player cannot observe in aiortc: nothing. Every machine is recorded from
/// aiortc's own state attributes (see `conformance/aiortc/player.py`).
fn unreported(_key: &Key) -> bool {
    false
}

/// Consent failures this far from the model's are still "the same failure, at a random
/// time": after a path death before the first check, aioice fails after 6 waits of 4 to
/// 6 s plus 6 tries of 0.5 s, i.e. 27 to 39 s after ICE completed (mean 33 s, standard
/// deviation 1.4 s); the model's rule fires at the mean. 32 measured failures spread over
/// 6.7 s (3.8 s before to 2.8 s after the model's), and one recorded run failed 4.0 s
/// after it.
pub const CONSENT_JITTER_MS: Millis = 6_000;

/// aiortc's known deviations, in the order they are applied.
pub const DEVIATIONS: &[Deviation] = &[
    Deviation {
        id: "aiortc-sctp-new-state",
        summary: "the SCTP transport starts in a `new` state and enters `connecting` when \
                  DTLS is up: new -> connecting -> connected",
        source: "aiortc/rtcsctptransport.py: `self.__state = \"new\"` in __init__, \
                 `\"connecting\"` in start()",
        expected: "W3C RTCSctpTransportState has no `new`: the transport is `connecting` \
                   from its creation",
        handling: Handling::Tolerated(sctp_new_state),
        test: "aiortc_sctp_starts_new",
    },
    Deviation {
        id: "aiortc-no-closing-event",
        summary: "when the remote resets a channel's stream the channel goes `closing` \
                  without a `closing` event",
        source: "aiortc/rtcdatachannel.py `_setReadyState` emits only `open` and `close`",
        expected: "W3C 6.2.5 (closing procedure announced by the transport): fire `closing`",
        handling: Handling::Tolerated(no_closing_event),
        test: "aiortc_fires_no_closing_event",
    },
    Deviation {
        id: "aiortc-delivers-while-closing",
        summary: "a message that arrives on a channel that is `closing` (the local side \
                  called close(), the remote's reset has not come) is delivered",
        source: "aiortc/rtcsctptransport.py `_data_channel_receive` emits `message` for \
                 any stream in `_data_channels`, whatever its readyState",
        expected: "W3C 6.2 (receiving messages): if readyState is not `open`, discard the \
                   data",
        handling: Handling::Tolerated(delivers_while_closing),
        test: "aiortc_delivers_on_a_closing_channel",
    },
    Deviation {
        id: "aiortc-dtls-failed-on-close",
        summary: "pc.close() during the DTLS handshake leaves the DTLS transport `failed` \
                  (the handshake reads a ConnectionError when ICE stops), not `closed`",
        source: "aiortc/rtcdtlstransport.py `_do_handshake` (ConnectionError -> FAILED); \
                 rtcpeerconnection.py close() stops ICE under it",
        expected: "W3C close(): the DTLS transport's state is set to `closed`",
        handling: Handling::Tolerated(dtls_failed_on_close),
        test: "aiortc_dtls_fails_on_close_during_handshake",
    },
    Deviation {
        id: "consent-jitter",
        summary: "consent failure comes at a random time: aioice waits 4 to 6 s \
                  (CONSENT_INTERVAL 5 s x 0.8..1.2) before each check and gives up after 6 \
                  failures, so the DTLS transport ends (and what follows) up to a few \
                  seconds before or after the model's fixed 33 s",
        source: "aioice/ice.py `query_consent`; RFC 7675 section 5.1 asks for the \
                 randomization",
        expected: "the model's deterministic rule (failure 33 s after the last STUN \
                   packet), within CONSENT_JITTER_MS: the failure instant of each peer is \
                   moved onto the model's",
        handling: Handling::Tolerated(consent_jitter),
        test: "aiortc_consent_failure_within_the_jitter",
    },
];

/// `new -> connecting -> connected` becomes `connecting -> connected`: the leading
/// `connecting` (entered from `new`) is dropped.
fn sctp_new_state(real: &mut Normalized, _model: &Normalized) -> Option<String> {
    let mut first = None;
    for peer in PeerId::BOTH {
        let seq = real.get_mut(state_key(peer, Machine::Sctp));
        if seq.first().is_some_and(|s| s.value == "connecting") {
            let at = seq.remove(0).t_ms;
            first.get_or_insert(format!("{peer} sctp: new -> connecting at {at} ms"));
        }
    }
    real.seqs.retain(|_, s| !s.is_empty());
    first
}

/// Inserts `closing` into a channel's callbacks where its state entered `closing` and the
/// model fired a `closing` event for it.
fn no_closing_event(real: &mut Normalized, model: &Normalized) -> Option<String> {
    let mut first = None;
    let keys: Vec<Key> = real.seqs.keys().cloned().collect();
    for key in keys {
        let Key::State {
            peer,
            machine: Machine::DataChannel,
            channel: Some(channel),
        } = &key
        else {
            continue;
        };
        let callbacks = Key::Callbacks {
            peer: *peer,
            channel: channel.clone(),
        };
        if !model.get(&callbacks).iter().any(|c| c.value == "closing")
            || real.get(&callbacks).iter().any(|c| c.value == "closing")
        {
            continue;
        }
        let Some(at) = real
            .get(&key)
            .iter()
            .find(|s| s.value == "closing")
            .map(|s| s.t_ms)
        else {
            continue;
        };
        let seq = real.get_mut(callbacks.clone());
        let i = seq.iter().position(|c| c.t_ms > at).unwrap_or(seq.len());
        seq.insert(
            i,
            Timed {
                t_ms: at,
                value: "closing".into(),
            },
        );
        first.get_or_insert(format!("{callbacks}: no closing event at {at} ms"));
    }
    first
}

/// A message aiortc delivered while some channel of the run was `closing`, which the
/// model (W3C) discards and reports undelivered at the end of the run, takes the model's
/// fate. (The normalized trace does not say which channel a message went to; a run
/// where a message is delivered on one channel while another is closing would be
/// misread, and no scenario does that.)
fn delivers_while_closing(real: &mut Normalized, model: &Normalized) -> Option<String> {
    let closing: Vec<(Millis, Millis)> = real
        .seqs
        .iter()
        .filter(|(k, _)| {
            matches!(
                k,
                Key::State {
                    machine: Machine::DataChannel,
                    ..
                }
            )
        })
        .flat_map(|(_, seq)| {
            seq.windows(2)
                .filter(|w| w[0].value == "closing")
                .map(|w| (w[0].t_ms, w[1].t_ms))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut first = None;
    for (key, seq) in real.seqs.iter_mut() {
        let Key::Fate { msg } = key else { continue };
        let [fate] = seq.as_mut_slice() else { continue };
        let model_fate = model.get(key);
        let [model_fate] = model_fate else { continue };
        let during = closing
            .iter()
            .any(|&(from, to)| fate.t_ms >= from && fate.t_ms <= to);
        if fate.value == "delivered" && model_fate.value == "dropped: undelivered" && during {
            first.get_or_insert(format!(
                "#{msg} delivered at {} ms on a closing channel",
                fate.t_ms
            ));
            *fate = model_fate.clone();
        }
    }
    first
}

/// A DTLS `failed` entered at or after the peer's own pc.close() reads `closed`.
fn dtls_failed_on_close(real: &mut Normalized, _model: &Normalized) -> Option<String> {
    let mut first = None;
    for peer in PeerId::BOTH {
        let Some(at) = real.closed_at[peer.index()] else {
            continue;
        };
        for s in real.get_mut(state_key(peer, Machine::Dtls)) {
            if s.value == "failed" && s.t_ms >= at {
                s.value = "closed".into();
                first.get_or_insert(format!(
                    "{peer} dtls: failed at {} ms after pc.close()",
                    s.t_ms
                ));
            }
        }
    }
    first
}

/// The instant a peer's consent failed: the first of its ICE `failed` and the end of its
/// DTLS transport (`closed` or `failed`; the two are a few ms apart, in either order),
/// before anyone called pc.close().
fn consent_failure(n: &Normalized, peer: PeerId) -> Option<Millis> {
    let first_close = n.closed_at.iter().flatten().min().copied();
    let first_of = |machine: Machine, ends: &[&str]| {
        n.get(&state_key(peer, machine))
            .iter()
            .find(|s| ends.contains(&s.value.as_str()))
            .map(|s| s.t_ms)
    };
    let at = [
        first_of(Machine::Dtls, &["closed", "failed"]),
        first_of(Machine::IceConnection, &["failed"]),
    ]
    .into_iter()
    .flatten()
    .min()?;
    if first_close.is_some_and(|c| c <= at) {
        return None;
    }
    Some(at)
}

/// Moves each peer's consent-failure instant (its entries within 100 ms after it) onto
/// the model's, when the two are within [`CONSENT_JITTER_MS`].
fn consent_jitter(real: &mut Normalized, model: &Normalized) -> Option<String> {
    const BURST_MS: Millis = 100;
    let mut first = None;
    for peer in PeerId::BOTH {
        let (Some(r), Some(m)) = (consent_failure(real, peer), consent_failure(model, peer)) else {
            continue;
        };
        if r == m || r.abs_diff(m) > CONSENT_JITTER_MS {
            continue;
        }
        shift_windows(real, peer, &[(r, r + BURST_MS)], m as i64 - r as i64, false);
        first.get_or_insert(format!(
            "{peer}: consent failed at {r} ms, the model's at {m} ms"
        ));
    }
    first
}
