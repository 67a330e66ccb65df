//! aiortc as a real peer (`conformance/aiortc/`), compared with the `aiortc` profile.

use super::PeerRules;
use crate::conform::normalize::Key;

/// aiortc's rules.
pub const RULES: PeerRules = PeerRules {
    name: "aiortc",
    profile: "aiortc",
    unreported,
    deviations: &[],
    tolerance_ms: 250,
};

/// What the player cannot observe in aiortc.
fn unreported(_key: &Key) -> bool {
    false
}
