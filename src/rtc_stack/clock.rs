//! Virtual time: [`Millis`] since the run began <-> the crate's `Instant`s.

use crate::trace::Millis;
use std::time::{Duration, Instant};

/// Converts between virtual milliseconds and instants anchored at one base instant.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    base: Instant,
}

impl Clock {
    /// A clock whose time 0 is `base`.
    pub(super) fn new(base: Instant) -> Self {
        Clock { base }
    }

    /// The instant of virtual time `now`.
    pub(super) fn instant(self, now: Millis) -> Instant {
        self.base + Duration::from_millis(now)
    }

    /// The virtual time of `at`, rounded **up** to the next whole millisecond (a deadline
    /// 0.3 ms ahead must not be reported as "now", or a driver would spin on it); an instant
    /// before the base is time 0.
    pub(super) fn millis_ceil(self, at: Instant) -> Millis {
        let since = at.saturating_duration_since(self.base);
        let nanos = since.as_nanos();
        let millis = nanos.div_ceil(1_000_000);
        Millis::try_from(millis).unwrap_or(Millis::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_sub_millisecond_deadlines_up() {
        let base = Instant::now();
        let clock = Clock::new(base);
        assert_eq!(clock.millis_ceil(clock.instant(7)), 7);
        assert_eq!(
            clock.millis_ceil(clock.instant(7) + Duration::from_micros(1)),
            8
        );
        assert_eq!(clock.millis_ceil(base), 0);
    }

    #[test]
    fn instants_before_the_base_are_time_zero() {
        let base = Instant::now() + Duration::from_secs(1);
        let clock = Clock::new(base);
        assert_eq!(clock.millis_ceil(base - Duration::from_millis(5)), 0);
    }
}
