//! Which state changes each profile allows: one table, read by the `legal-transition`
//! invariant and printed by `docs/invariants.md` (a test keeps the page and the table
//! the same). An edge that only some profiles take names the [`Profile`] switch that
//! turns it on, so a new profile or a new switch changes legality in one place.

use super::profile::Profile;
use crate::vocab::Machine;
use std::sync::OnceLock;

/// Which profiles take an edge.
#[derive(Clone, Copy, Debug)]
pub enum Taken {
    /// Every profile.
    Always,
    /// Profiles with this switch on (its name, and how to read it).
    When(&'static str, fn(&Profile) -> bool),
    /// Profiles with this switch off.
    Unless(&'static str, fn(&Profile) -> bool),
}

impl Taken {
    /// `profile` takes the edge.
    pub fn by(&self, profile: &Profile) -> bool {
        match self {
            Taken::Always => true,
            Taken::When(_, on) => on(profile),
            Taken::Unless(_, on) => !on(profile),
        }
    }

    /// As the docs table prints it.
    pub fn describe(&self) -> String {
        match self {
            Taken::Always => "every profile".into(),
            Taken::When(name, _) => format!("with `{name}`"),
            Taken::Unless(name, _) => format!("without `{name}`"),
        }
    }
}

/// One legal state change of a machine.
#[derive(Clone, Copy, Debug)]
pub struct Edge {
    /// The machine, as traces name it (`ice_connection`, `data_channel`, ...).
    pub machine: &'static str,
    /// The state it leaves; `None`: any state but the target.
    pub from: Option<&'static str>,
    /// The state it enters.
    pub to: &'static str,
    /// Which profiles take it.
    pub taken: Taken,
}

const fn edge(machine: &'static str, from: &'static str, to: &'static str) -> Edge {
    Edge {
        machine,
        from: Some(from),
        to,
        taken: Taken::Always,
    }
}

const fn when(
    machine: &'static str,
    from: &'static str,
    to: &'static str,
    name: &'static str,
    on: fn(&Profile) -> bool,
) -> Edge {
    Edge {
        machine,
        from: Some(from),
        to,
        taken: Taken::When(name, on),
    }
}

/// Every state may go to `closed` (the peer connection closes under it).
const fn to_closed(machine: &'static str) -> Edge {
    Edge {
        machine,
        from: None,
        to: "closed",
        taken: Taken::Always,
    }
}

fn observable_closing(p: &Profile) -> bool {
    p.observable_closing
}

fn ice_reports_completed(p: &Profile) -> bool {
    p.ice_reports_completed
}

fn sctp_closed_during_handshake(p: &Profile) -> bool {
    p.sctp_closed_during_handshake
}

fn ice_gathering_reports_gathering(p: &Profile) -> bool {
    p.ice_gathering_reports_gathering
}

/// The table: the W3C paths of each machine, and the edges only some profiles take.
pub const EDGES: &[Edge] = &[
    // data channel
    edge("data_channel", "connecting", "open"),
    edge("data_channel", "connecting", "closed"),
    edge("data_channel", "open", "closed"),
    when(
        "data_channel",
        "connecting",
        "closing",
        "observable_closing",
        observable_closing,
    ),
    when(
        "data_channel",
        "open",
        "closing",
        "observable_closing",
        observable_closing,
    ),
    when(
        "data_channel",
        "closing",
        "closed",
        "observable_closing",
        observable_closing,
    ),
    // ICE connection
    to_closed("ice_connection"),
    edge("ice_connection", "new", "checking"),
    edge("ice_connection", "checking", "connected"),
    edge("ice_connection", "checking", "failed"),
    edge("ice_connection", "connected", "disconnected"),
    edge("ice_connection", "connected", "failed"),
    edge("ice_connection", "disconnected", "connected"),
    edge("ice_connection", "disconnected", "failed"),
    edge("ice_connection", "connected", "checking"), // ICE restart
    edge("ice_connection", "disconnected", "checking"),
    edge("ice_connection", "failed", "checking"),
    // `completed` where the stack reports it (aiortc, which never reports `connected`:
    // consent then fails from `completed`).
    when(
        "ice_connection",
        "checking",
        "completed",
        "ice_reports_completed",
        ice_reports_completed,
    ),
    when(
        "ice_connection",
        "connected",
        "completed",
        "ice_reports_completed",
        ice_reports_completed,
    ),
    when(
        "ice_connection",
        "completed",
        "disconnected",
        "ice_reports_completed",
        ice_reports_completed,
    ),
    when(
        "ice_connection",
        "completed",
        "failed",
        "ice_reports_completed",
        ice_reports_completed,
    ),
    when(
        "ice_connection",
        "completed",
        "checking",
        "ice_reports_completed",
        ice_reports_completed,
    ),
    // peer connection
    to_closed("peer_connection"),
    edge("peer_connection", "new", "connecting"),
    edge("peer_connection", "connecting", "connected"),
    edge("peer_connection", "connecting", "disconnected"),
    edge("peer_connection", "connecting", "failed"),
    edge("peer_connection", "connected", "disconnected"),
    edge("peer_connection", "connected", "failed"),
    edge("peer_connection", "disconnected", "connected"),
    edge("peer_connection", "disconnected", "failed"),
    edge("peer_connection", "connected", "connecting"), // ICE restart
    edge("peer_connection", "disconnected", "connecting"),
    edge("peer_connection", "failed", "connecting"),
    // signaling
    to_closed("signaling"),
    edge("signaling", "stable", "have-local-offer"),
    edge("signaling", "stable", "have-remote-offer"),
    edge("signaling", "have-local-offer", "stable"),
    edge("signaling", "have-remote-offer", "stable"),
    edge("signaling", "have-local-offer", "have-remote-pranswer"),
    edge("signaling", "have-remote-offer", "have-local-pranswer"),
    edge("signaling", "have-remote-pranswer", "stable"),
    edge("signaling", "have-local-pranswer", "stable"),
    // ICE gathering
    edge("ice_gathering", "new", "gathering"),
    edge("ice_gathering", "gathering", "complete"),
    edge("ice_gathering", "complete", "gathering"),
    Edge {
        machine: "ice_gathering",
        from: Some("new"),
        to: "complete",
        // A stack that fires no event for `gathering` (webrtc-rs).
        taken: Taken::Unless(
            "ice_gathering_reports_gathering",
            ice_gathering_reports_gathering,
        ),
    },
    // DTLS transport
    edge("dtls", "new", "connecting"),
    edge("dtls", "connecting", "connected"),
    edge("dtls", "connecting", "failed"),
    edge("dtls", "connected", "failed"),
    edge("dtls", "new", "closed"),
    edge("dtls", "connecting", "closed"),
    edge("dtls", "connected", "closed"),
    // SCTP transport
    edge("sctp", "connecting", "connected"),
    edge("sctp", "connecting", "closed"),
    edge("sctp", "connected", "closed"),
    // The DTLS server's association reads `closed` between the INIT and the COOKIE ECHO
    // (webrtc-rs): this `closed -> connected` is that handshake, not a transport coming
    // back from the dead.
    when(
        "sctp",
        "closed",
        "connected",
        "sctp_closed_during_handshake",
        sctp_closed_during_handshake,
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
        MACHINES
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
                self.0 & (1 << i) != 0
                    && e.machine == machine.as_str()
                    && e.to == to
                    && e.from.is_none_or(|f| f == from)
            })
    }
}

/// Every machine, in [`Machine`]'s order.
const MACHINES: [Machine; 7] = [
    Machine::Signaling,
    Machine::IceGathering,
    Machine::IceConnection,
    Machine::PeerConnection,
    Machine::Dtls,
    Machine::Sctp,
    Machine::DataChannel,
];

/// Per machine (by its index in [`MACHINES`]): the first and one past the last index of
/// its edges in [`EDGES`], which lists each machine's edges together (a test checks).
fn spans() -> &'static [(usize, usize); 7] {
    static SPANS: OnceLock<[(usize, usize); 7]> = OnceLock::new();
    SPANS.get_or_init(|| {
        MACHINES.map(|m| {
            let of = |e: &&Edge| e.machine == m.as_str();
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
            e.machine,
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
        for (i, m) in MACHINES.iter().enumerate() {
            assert_eq!(*m as usize, i);
            let (start, end) = spans()[i];
            let inside = EDGES[start..end].iter().all(|e| e.machine == m.as_str());
            let count = EDGES.iter().filter(|e| e.machine == m.as_str()).count();
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
                assert!(
                    !is_legal(&p, e.machine, e.to, e.to),
                    "{} {}",
                    e.machine,
                    e.to
                );
                if e.from == Some("closed") {
                    assert_eq!((e.machine, e.to), ("sctp", "connected"));
                }
            }
            assert!(is_legal(&p, "peer_connection", "connected", "closed"));
            assert!(!is_legal(&p, "dtls", "closed", "connecting"));
        }
    }
}
