//! Signaling: the local and remote descriptions (offer and answer), and the ICE
//! generation they carry.

use super::ice::{Checks, Progress};
use super::Peer;
use crate::vocab::states::*;
use crate::vocab::{Millis, PeerId};

impl Peer {
    // ----- signaling -----------------------------------------------------------------

    /// Creates the local description: the offer on `a`, the answer on `b`.
    pub fn create_description(&mut self, now: Millis) -> Result<String, String> {
        self.now = self.now.max(now);
        if self.closed {
            return Err("InvalidStateError: peer connection is closed".into());
        }
        let kind = match (self.id, self.signaling) {
            (PeerId::A, SignalingState::Stable) => {
                self.set_signaling(SignalingState::HaveLocalOffer);
                if std::mem::take(&mut self.ice.restart_pending) {
                    self.ice.generation += 1;
                    if self.ice.started() {
                        self.enter_checking();
                        self.ice.progress = Progress::Unselected(Checks {
                            awaiting_answer: true,
                            ..Checks::default()
                        });
                    }
                }
                "offer"
            }
            (PeerId::B, SignalingState::HaveRemoteOffer) => {
                self.set_signaling(SignalingState::Stable);
                if self.profile.transports_start_on_remote_description
                    && self.ice.started()
                    && self.dtls.state == DtlsTransportState::New
                {
                    // Both descriptions are set: the DTLS getter is reachable now.
                    self.set_dtls(DtlsTransportState::Connecting);
                }
                "answer"
            }
            (_, s) => {
                return Err(format!(
                    "cannot create a description in signaling state {s}"
                ))
            }
        };
        if self.gathering == IceGatheringState::New || std::mem::take(&mut self.ice.regather) {
            self.set_gathering(IceGatheringState::Gathering);
            self.set_gathering(IceGatheringState::Complete);
        }
        let sdp = format!(
            "dcsim-model {kind} ice-generation={} max-message-size={}",
            self.ice.generation, self.config.max_message_size
        );
        if kind == "answer" {
            self.start_ice();
        }
        Ok(sdp)
    }

    /// Applies the remote description.
    pub fn apply_remote_description(&mut self, now: Millis, sdp: &str) -> Result<(), String> {
        self.now = self.now.max(now);
        if self.closed {
            return Err("InvalidStateError: peer connection is closed".into());
        }
        let (kind, generation) = parse_description(sdp)?;
        match (kind, self.signaling) {
            ("offer", SignalingState::Stable) => {
                self.set_signaling(SignalingState::HaveRemoteOffer);
                if self.profile.transports_start_on_remote_description && !self.ice.started() {
                    // The crate starts ICE here; DTLS is reported with the answer.
                    self.begin_checking();
                    return Ok(());
                }
                if generation > self.ice.generation {
                    self.ice.generation = generation;
                    if self.ice.started() {
                        self.restart_ice();
                    }
                }
                Ok(())
            }
            ("answer", SignalingState::HaveLocalOffer) => {
                self.set_signaling(SignalingState::Stable);
                let awaiting = match &mut self.ice.progress {
                    Progress::Unselected(checks) => std::mem::take(&mut checks.awaiting_answer),
                    _ => false,
                };
                if awaiting {
                    self.start_checks();
                } else {
                    self.start_ice();
                }
                Ok(())
            }
            (kind, s) => Err(format!(
                "cannot apply a remote {kind} in signaling state {s}"
            )),
        }
    }
}

pub(super) fn parse_description(sdp: &str) -> Result<(&'static str, u32), String> {
    let mut words = Words::of(sdp);
    if words.next() != Some("dcsim-model") {
        return Err(format!("not a dcsim model description: {sdp:?}"));
    }
    let kind = match words.next() {
        Some("offer") => "offer",
        Some("answer") => "answer",
        other => return Err(format!("unknown description type {other:?}")),
    };
    let generation = words
        .find_map(|w| w.strip_prefix("ice-generation="))
        .and_then(|g| g.parse().ok())
        .ok_or_else(|| "description has no ice-generation".to_string())?;
    Ok((kind, generation))
}

/// `str::split_whitespace`, taken byte by byte when that gives the same words: for ASCII
/// text without a vertical tab (the one ASCII character `char::is_whitespace` counts and
/// `u8::is_ascii_whitespace` does not), which every description the model writes is.
/// Decoding characters one by one made parsing a tenth of a fuzz execution.
enum Words<'a> {
    Ascii(std::str::SplitAsciiWhitespace<'a>),
    Unicode(std::str::SplitWhitespace<'a>),
}

impl<'a> Words<'a> {
    fn of(text: &'a str) -> Self {
        if text.is_ascii() && !text.contains('\x0B') {
            Words::Ascii(text.split_ascii_whitespace())
        } else {
            Words::Unicode(text.split_whitespace())
        }
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match self {
            Words::Ascii(words) => words.next(),
            Words::Unicode(words) => words.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Words;

    #[test]
    fn words_are_split_whitespace() {
        for text in [
            "",
            "  ",
            "dcsim-model offer ice-generation=3 max-message-size=65536",
            " a\tb\nc\rd\x0Ce  f ",
            "a\x0Bb c",
            "a\u{a0}b\u{2003}c d",
            "\u{85}x\u{3000}",
        ] {
            let ours: Vec<&str> = Words::of(text).collect();
            let std: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(ours, std, "{text:?}");
        }
    }
}
