//! [`Gate`]: what the guard does with a message right now, derived from the last
//! reported channel and ICE states. One pure function ([`Gate::derive`]) is the only
//! place that decides, so the simulator, the checker and the tests all agree on it.

use super::GuardConfig;
use crate::vocab::{DataChannelState, IceConnectionState};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The guard's state as far as a send is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Gate {
    /// The channel is not open yet: queue (or reject `not-open`, by policy).
    Connecting,
    /// Open and the path usable: release.
    Open,
    /// Open, but the ICE path is not usable (disconnected, or checking after a restart)
    /// and the policy holds, or the transport refused a message and has not said it can
    /// take more: queue.
    Held,
    /// ICE failed: the queue is dropped and new sends rejected as `path-failed` until an
    /// ICE restart brings the path back.
    PathFailed,
    /// The channel is closing or closed, the transport said so, or ICE (the peer
    /// connection) is closed: everything is dropped as `channel-closed`. Terminal.
    Closed,
}

impl Gate {
    /// Every gate, for tables and exhaustive tests.
    pub const ALL: [Gate; 5] = [
        Gate::Connecting,
        Gate::Open,
        Gate::Held,
        Gate::PathFailed,
        Gate::Closed,
    ];

    /// The gate for the last reported states. First match wins:
    ///
    /// 1. `closed_latched` (channel was closing/closed, ICE closed, or the transport
    ///    said closed): `Closed`
    /// 2. ICE failed: `PathFailed`
    /// 3. channel not open (connecting, or nothing reported): `Connecting`
    /// 4. `blocked` (the transport refused a message): `Held`
    /// 5. ICE connected/completed, or never reported: `Open`
    /// 6. ICE new/checking/disconnected: `Held` if `hold_while_disconnected`, else `Open`
    pub fn derive(
        config: &GuardConfig,
        channel: DataChannelState,
        ice: IceConnectionState,
        closed_latched: bool,
        blocked: bool,
    ) -> Gate {
        use IceConnectionState as I;
        if closed_latched
            || matches!(
                channel,
                DataChannelState::Closing | DataChannelState::Closed
            )
            || ice == I::Closed
        {
            Gate::Closed
        } else if ice == I::Failed {
            Gate::PathFailed
        } else if channel != DataChannelState::Open {
            Gate::Connecting
        } else if blocked {
            Gate::Held
        } else {
            match ice {
                I::Unspecified | I::Connected | I::Completed => Gate::Open,
                _ if config.hold_while_disconnected => Gate::Held,
                _ => Gate::Open,
            }
        }
    }

    /// `connecting`, `open`, `held`, `path-failed`, `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Gate::Connecting => "connecting",
            Gate::Open => "open",
            Gate::Held => "held",
            Gate::PathFailed => "path-failed",
            Gate::Closed => "closed",
        }
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DataChannelState as C;
    use IceConnectionState as I;

    #[test]
    fn open_only_when_channel_open_and_path_usable() {
        let hold = GuardConfig::default();
        let raw = GuardConfig {
            hold_while_disconnected: false,
            ..hold
        };
        for &c in C::ALL {
            for &i in I::ALL {
                for closed in [false, true] {
                    for blocked in [false, true] {
                        let g = Gate::derive(&hold, c, i, closed, blocked);
                        let usable = matches!(i, I::Unspecified | I::Connected | I::Completed);
                        assert_eq!(
                            g == Gate::Open,
                            c == C::Open && usable && !closed && !blocked,
                            "{c} {i} closed={closed} blocked={blocked}: {g}"
                        );
                        let g = Gate::derive(&raw, c, i, closed, blocked);
                        let usable = !matches!(i, I::Failed | I::Closed);
                        assert_eq!(
                            g == Gate::Open,
                            c == C::Open && usable && !closed && !blocked
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn closed_wins_over_failed() {
        let cfg = GuardConfig::default();
        assert_eq!(
            Gate::derive(&cfg, C::Closed, I::Failed, false, false),
            Gate::Closed
        );
        assert_eq!(
            Gate::derive(&cfg, C::Open, I::Closed, false, false),
            Gate::Closed
        );
        assert_eq!(
            Gate::derive(&cfg, C::Connecting, I::Failed, false, false),
            Gate::PathFailed
        );
    }
}
