//! Profiles: where the `webrtc` crate and the W3C spec differ, each difference is one
//! named switch here, and the model reads the switch, never the profile name.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which behaviour the model reproduces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ProfileName {
    /// The `webrtc` 0.21.1 crate (default).
    #[default]
    #[serde(rename = "webrtc-rs")]
    WebrtcRs,
    /// The W3C WebRTC 1.0 spec (browsers).
    #[serde(rename = "w3c")]
    W3c,
}

impl ProfileName {
    /// Every profile.
    pub const ALL: [ProfileName; 2] = [ProfileName::WebrtcRs, ProfileName::W3c];

    /// `"webrtc-rs"` or `"w3c"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileName::WebrtcRs => "webrtc-rs",
            ProfileName::W3c => "w3c",
        }
    }

    /// Parses `webrtc-rs` or `w3c`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
