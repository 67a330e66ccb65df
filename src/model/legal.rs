//! Which state changes each profile allows: one table, read by the `legal-transition`
//! invariant and printed by `docs/invariants.md` (a test keeps the page and the table
//! the same). An edge that only some profiles take names the [`Profile`] switch that
//! turns it on, so a new profile or a new switch changes legality in one place.

use super::profile::Profile;
use crate::vocab::Machine;
use std::sync::OnceLock;

/// A [`Profile`] switch: its name, and how to read it.
#[derive(Clone, Copy, Debug)]
pub struct Switch(pub &'static str, pub fn(&Profile) -> bool);

/// Which profiles take an edge.
#[derive(Clone, Copy, Debug)]
pub enum Taken {
    /// Every profile.
    Always,
    /// Profiles with this switch on.
    When(Switch),
    /// Profiles with this switch off.
    Unless(Switch),
}

impl Taken {
    /// `profile` takes the edge.
    pub fn by(&self, profile: &Profile) -> bool {
        match self {
            Taken::Always => true,
            Taken::When(Switch(_, on)) => on(profile),
            Taken::Unless(Switch(_, on)) => !on(profile),
        }
    }

    /// As the docs table prints it.
    pub fn describe(&self) -> String {
        match self {
            Taken::Always => "every profile".into(),
            Taken::When(Switch(name, _)) => format!("with `{name}`"),
            Taken::Unless(Switch(name, _)) => format!("without `{name}`"),
        }
    }
}

/// One legal state change of a machine.
#[derive(Clone, Copy, Debug)]
pub struct Edge {
    /// The machine.
    pub machine: Machine,
    /// The state it leaves; `None`: any state but the target.
    pub from: Option<&'static str>,
    /// The state it enters.
    pub to: &'static str,
    /// Which profiles take it.
    pub taken: Taken,
}

const fn edge(machine: Machine, from: &'static str, to: &'static str) -> Edge {
    Edge {
        machine,
        from: Some(from),
        to,
        taken: Taken::Always,
    }
}

const fn when(machine: Machine, from: &'static str, to: &'static str, switch: Switch) -> Edge {
    Edge {
        machine,
        from: Some(from),
        to,
        taken: Taken::When(switch),
    }
}

/// Every state may go to `closed` (the peer connection closes under it).
const fn to_closed(machine: Machine) -> Edge {
    Edge {
        machine,
        from: None,
        to: "closed",
        taken: Taken::Always,
    }
}

const OBSERVABLE_CLOSING: Switch = Switch("observable_closing", |p| p.observable_closing);
const ICE_REPORTS_COMPLETED: Switch = Switch("ice_reports_completed", |p| p.ice_reports_completed);
const SCTP_CLOSED_DURING_HANDSHAKE: Switch = Switch("sctp_closed_during_handshake", |p| {
    p.sctp_closed_during_handshake
});
const ICE_GATHERING_REPORTS_GATHERING: Switch = Switch("ice_gathering_reports_gathering", |p| {
    p.ice_gathering_reports_gathering
});

/// The table: the W3C paths of each machine, and the edges only some profiles take.
pub const EDGES: &[Edge] = &[
    // data channel
    edge(Machine::DataChannel, "connecting", "open"),
    edge(Machine::DataChannel, "connecting", "closed"),
    edge(Machine::DataChannel, "open", "closed"),
    when(
        Machine::DataChannel,
        "connecting",
        "closing",
        OBSERVABLE_CLOSING,
    ),
    when(Machine::DataChannel, "open", "closing", OBSERVABLE_CLOSING),
    when(
        Machine::DataChannel,
        "closing",
        "closed",
        OBSERVABLE_CLOSING,
    ),
    // ICE connection
    to_closed(Machine::IceConnection),
    edge(Machine::IceConnection, "new", "checking"),
    edge(Machine::IceConnection, "checking", "connected"),
    edge(Machine::IceConnection, "checking", "failed"),
    edge(Machine::IceConnection, "connected", "disconnected"),
    edge(Machine::IceConnection, "connected", "failed"),
    edge(Machine::IceConnection, "disconnected", "connected"),
    edge(Machine::IceConnection, "disconnected", "failed"),
    edge(Machine::IceConnection, "connected", "checking"), // ICE restart
    edge(Machine::IceConnection, "disconnected", "checking"),
    edge(Machine::IceConnection, "failed", "checking"),
    // `completed` where the stack reports it (aiortc, which never reports `connected`:
    // consent then fails from `completed`).
    when(
        Machine::IceConnection,
        "checking",
        "completed",
        ICE_REPORTS_COMPLETED,
    ),
    when(
        Machine::IceConnection,
        "connected",
        "completed",
        ICE_REPORTS_COMPLETED,
    ),
    when(
        Machine::IceConnection,
        "completed",
        "disconnected",
        ICE_REPORTS_COMPLETED,
    ),
    when(
        Machine::IceConnection,
        "completed",
        "failed",
        ICE_REPORTS_COMPLETED,
    ),
    when(
        Machine::IceConnection,
        "completed",
        "checking",
        ICE_REPORTS_COMPLETED,
    ),
    // peer connection
    to_closed(Machine::PeerConnection),
    edge(Machine::PeerConnection, "new", "connecting"),
    edge(Machine::PeerConnection, "connecting", "connected"),
    edge(Machine::PeerConnection, "connecting", "disconnected"),
    edge(Machine::PeerConnection, "connecting", "failed"),
    edge(Machine::PeerConnection, "connected", "disconnected"),
    edge(Machine::PeerConnection, "connected", "failed"),
    edge(Machine::PeerConnection, "disconnected", "connected"),
    edge(Machine::PeerConnection, "disconnected", "failed"),
    edge(Machine::PeerConnection, "connected", "connecting"), // ICE restart
    edge(Machine::PeerConnection, "disconnected", "connecting"),
    edge(Machine::PeerConnection, "failed", "connecting"),
    // signaling
    to_closed(Machine::Signaling),
    edge(Machine::Signaling, "stable", "have-local-offer"),
    edge(Machine::Signaling, "stable", "have-remote-offer"),
    edge(Machine::Signaling, "have-local-offer", "stable"),
    edge(Machine::Signaling, "have-remote-offer", "stable"),
    edge(
        Machine::Signaling,
        "have-local-offer",
        "have-remote-pranswer",
    ),
    edge(
        Machine::Signaling,
        "have-remote-offer",
        "have-local-pranswer",
    ),
    edge(Machine::Signaling, "have-remote-pranswer", "stable"),
    edge(Machine::Signaling, "have-local-pranswer", "stable"),
    // ICE gathering
    edge(Machine::IceGathering, "new", "gathering"),
    edge(Machine::IceGathering, "gathering", "complete"),
    edge(Machine::IceGathering, "complete", "gathering"),
    Edge {
        machine: Machine::IceGathering,
        from: Some("new"),
        to: "complete",
        // A stack that fires no event for `gathering` (webrtc-rs).
        taken: Taken::Unless(ICE_GATHERING_REPORTS_GATHERING),
    },
    // DTLS transport
    edge(Machine::Dtls, "new", "connecting"),
    edge(Machine::Dtls, "connecting", "connected"),
    edge(Machine::Dtls, "connecting", "failed"),
    edge(Machine::Dtls, "connected", "failed"),
    edge(Machine::Dtls, "new", "closed"),
    edge(Machine::Dtls, "connecting", "closed"),
    edge(Machine::Dtls, "connected", "closed"),
    // SCTP transport
    edge(Machine::Sctp, "connecting", "connected"),
    edge(Machine::Sctp, "connecting", "closed"),
    edge(Machine::Sctp, "connected", "closed"),
    // The DTLS server's association reads `closed` between the INIT and the COOKIE ECHO
    // (webrtc-rs): this `closed -> connected` is that handshake, not a transport coming
    // back from the dead.
    when(
        Machine::Sctp,
        "closed",
        "connected",
        SCTP_CLOSED_DURING_HANDSHAKE,
    ),
];

/// `machine` may go from `from` to `to` in `profile`.
pub fn is_legal(profile: &Profile, machine: &str, from: &str, to: &str) -> bool {
    Legality::of(profile).allows(machine, from, to)
}

/// The edges one profile takes, as a set of [`EDGES`] indices: what a monitor keeps
/// (small to copy and hash, as the checker does with every state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Legality(u128);

impl Legality {
    /// The edges `profile` takes.
    pub fn of(profile: &Profile) -> Legality {
        const _: () = assert!(EDGES.len() <= 128, "Legality holds at most 128 edges");
        Legality(
            EDGES
                .iter()
                .enumerate()
                .filter(|(_, e)| e.taken.by(profile))
                .fold(0, |mask, (i, _)| mask | 1 << i),
        )
    }

    /// `machine` (as traces name it) may go from `from` to `to`.
    pub fn allows(&self, machine: &str, from: &str, to: &str) -> bool {
        Machine::ALL
            .iter()
            .find(|m| m.as_str() == machine)
            .is_some_and(|m| self.allows_in(*m, from, to))
    }

    /// [`Legality::allows`] for a machine known by its type (only its own edges are
    /// looked at: the monitor asks on every state change).
    pub fn allows_in(&self, machine: Machine, from: &str, to: &str) -> bool {
        let (start, end) = spans()[machine as usize];
        from != to
            && (start..end).any(|i| {
                let e = &EDGES[i];
                self.0 & (1 << i) != 0 && e.to == to && e.from.is_none_or(|f| f == from)
            })
    }
}

/// Per machine (by its index in [`Machine::ALL`]): the first and one past the last index of
/// its edges in [`EDGES`], which lists each machine's edges together (a test checks).
fn spans() -> &'static [(usize, usize); 7] {
    static SPANS: OnceLock<[(usize, usize); 7]> = OnceLock::new();
    SPANS.get_or_init(|| {
        Machine::ALL.map(|m| {
            let of = |e: &&Edge| e.machine == m;
            let start = EDGES.iter().position(|e| of(&e)).unwrap_or(0);
            let end = EDGES.iter().rposition(|e| of(&e)).map_or(start, |i| i + 1);
            (start, end)
        })
    })
}

/// The table as the docs print it: machine, from, to, which profiles.
pub fn table() -> String {
    let mut out = String::from("| machine | from | to | taken by |\n|---|---|---|---|\n");
    for e in EDGES {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            e.machine.as_str(),
            e.from.map_or("any".to_string(), |f| format!("`{f}`")),
            format_args!("`{}`", e.to),
            e.taken.describe()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_machines_edges_are_listed_together_and_every_machine_has_some() {
        for (i, m) in Machine::ALL.iter().enumerate() {
            assert_eq!(*m as usize, i);
            let (start, end) = spans()[i];
            let inside = EDGES[start..end].iter().all(|e| e.machine == *m);
            let count = EDGES.iter().filter(|e| e.machine == *m).count();
            assert!(
                inside && count == end - start && count > 0,
                "{}",
                m.as_str()
            );
        }
        assert_eq!(
            EDGES.len(),
            (0..7).map(|i| spans()[i].1 - spans()[i].0).sum::<usize>()
        );
    }

    #[test]
    fn profile_specific_edges_follow_their_switch() {
        let (rs, w3c, aiortc) = (Profile::WEBRTC_RS, Profile::W3C, Profile::AIORTC);
        let ice = |p: &Profile, from, to| is_legal(p, "ice_connection", from, to);
        assert!(ice(&aiortc, "completed", "failed"));
        assert!(!ice(&rs, "completed", "failed"));
        assert!(!ice(&w3c, "checking", "completed"));
        let closing = |p: &Profile| is_legal(p, "data_channel", "open", "closing");
        assert!(closing(&w3c) && closing(&aiortc) && !closing(&rs));
        let handshake = |p: &Profile| is_legal(p, "sctp", "closed", "connected");
        assert!(handshake(&rs) && !handshake(&w3c) && !handshake(&aiortc));
        let quiet_gathering = |p: &Profile| is_legal(p, "ice_gathering", "new", "complete");
        assert!(quiet_gathering(&rs) && !quiet_gathering(&w3c));
    }

    #[test]
    fn closed_is_left_only_by_the_handshake_edge_and_no_state_goes_to_itself() {
        for p in [Profile::WEBRTC_RS, Profile::W3C, Profile::AIORTC] {
            for e in EDGES {
                let machine = e.machine.as_str();
                assert!(!is_legal(&p, machine, e.to, e.to), "{machine} {}", e.to);
                if e.from == Some("closed") {
                    assert_eq!((machine, e.to), ("sctp", "connected"));
                }
            }
            assert!(is_legal(&p, "peer_connection", "connected", "closed"));
            assert!(!is_legal(&p, "dtls", "closed", "connecting"));
        }
    }
}
