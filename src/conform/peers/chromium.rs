//! Headless Chromium as a real peer (`conformance/browser/`), compared with the `w3c`
//! profile.

use super::PeerRules;
use crate::conform::normalize::Key;

/// Chromium's rules.
pub const RULES: PeerRules = PeerRules {
    name: "chromium",
    profile: "w3c",
    unreported,
    deviations: &[],
    tolerance_ms: 250,
};

/// What the player cannot observe in Chromium.
fn unreported(_key: &Key) -> bool {
    false
}
