//! Comparing two normalized traces: the same values in the same order for every key, each
//! at the same time within a tolerance.

use super::normalize::{Key, Normalized, Timed};
use crate::trace::Millis;
use std::fmt;

/// One place where the model and the real stack part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Which sequence.
    pub key: Key,
    /// Position in the sequence (0-based).
    pub index: usize,
    /// The model's value there (`None`: the model's sequence ended).
    pub model: Option<Timed>,
    /// The real stack's value there (`None`: its sequence ended).
    pub real: Option<Timed>,
}

impl Divergence {
    /// When it happened: the earlier of the two times.
    pub fn t_ms(&self) -> Millis {
        [&self.model, &self.real]
            .into_iter()
            .flatten()
            .map(|t| t.t_ms)
            .min()
            .unwrap_or(0)
    }

    /// True when both stacks did the same thing, too far apart in time.
    pub fn is_timing(&self) -> bool {
        matches!((&self.model, &self.real), (Some(m), Some(r)) if m.value == r.value)
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |t: &Option<Timed>| match t {
            Some(t) => t.to_string(),
            None => "nothing".to_string(),
        };
        match (&self.model, &self.real) {
            (Some(m), Some(r)) if m.value == r.value => write!(
                f,
                "{}: {} at {} ms (model) vs {} ms (rtc)",
                self.key, m.value, m.t_ms, r.t_ms
            ),
            _ => write!(
                f,
                "{} #{}: model {}, rtc {}",
                self.key,
                self.index + 1,
                side(&self.model),
                side(&self.real)
            ),
        }
    }
}

/// The largest time difference among the values both stacks agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shift {
    /// Which sequence.
    pub key: Key,
    /// The value.
    pub value: String,
    /// Its time on the model.
    pub model_ms: Millis,
    /// Its time on the real stack.
    pub real_ms: Millis,
}

impl Shift {
    /// |model - real| in milliseconds.
    pub fn ms(&self) -> Millis {
        self.model_ms.abs_diff(self.real_ms)
    }
}

impl fmt::Display for Shift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ms ({} {}: {} ms model, {} ms rtc)",
            self.ms(),
            self.key,
            self.value,
            self.model_ms,
            self.real_ms
        )
    }
}

/// What [`compare`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Every divergence, earliest first. In one sequence, only the first value that
    /// differs is reported (what follows it is out of step); timing divergences are
    /// reported for every value.
    pub divergences: Vec<Divergence>,
    /// The largest time difference within the tolerance, if any value moved at all.
    pub max_shift: Option<Shift>,
}

/// Compares every sequence of `model` with the same sequence of `real`: equal values in
/// equal order, each pair of times at most `tolerance_ms` apart.
pub fn compare(model: &Normalized, real: &Normalized, tolerance_ms: Millis) -> Comparison {
    let mut out = Comparison::default();
    let mut keys: Vec<&Key> = model.seqs.keys().chain(real.seqs.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let (m, r) = (model.get(key), real.get(key));
        for index in 0..m.len().max(r.len()) {
            let (mv, rv) = (m.get(index), r.get(index));
            match (mv, rv) {
                (Some(a), Some(b)) if a.value == b.value => {
                    let shift = a.t_ms.abs_diff(b.t_ms);
                    if shift > tolerance_ms {
                        out.divergences.push(Divergence {
                            key: key.clone(),
                            index,
                            model: Some(a.clone()),
                            real: Some(b.clone()),
                        });
                    } else if shift > 0 && out.max_shift.as_ref().is_none_or(|s| shift > s.ms()) {
                        out.max_shift = Some(Shift {
                            key: key.clone(),
                            value: a.value.clone(),
                            model_ms: a.t_ms,
                            real_ms: b.t_ms,
                        });
                    }
                }
                _ => {
                    out.divergences.push(Divergence {
                        key: key.clone(),
                        index,
                        model: mv.cloned(),
                        real: rv.cloned(),
                    });
                    break;
                }
            }
        }
    }
    out.divergences
        .sort_by(|a, b| (a.t_ms(), &a.key).cmp(&(b.t_ms(), &b.key)));
    out
}
