//! Simulated time as seen by the cluster core.
//!
//! The core never reads a clock. Every input carries `now`, an [`Instant`] of simulated time
//! measured from the start of the run, so a unit test can write `Instant::from_millis(1500)` and a
//! replay gets exactly the same values. Spans are plain [`core::time::Duration`] values.

use core::time::Duration;
use serde::{Deserialize, Serialize};

/// A moment of simulated time, in nanoseconds since the run started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Instant(u64);

impl Instant {
    /// The start of the run.
    pub const ZERO: Instant = Instant(0);

    /// The instant `nanos` nanoseconds after the start of the run.
    pub const fn from_nanos(nanos: u64) -> Instant {
        Instant(nanos)
    }

    /// The instant `millis` milliseconds after the start of the run.
    pub const fn from_millis(millis: u64) -> Instant {
        Instant(millis * 1_000_000)
    }

    /// Nanoseconds since the start of the run.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole milliseconds since the start of the run (Kafka timestamps are in milliseconds).
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// The span from `earlier` to `self`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(u64::try_from(rhs.as_nanos()).unwrap_or(u64::MAX)))
    }
}

impl core::fmt::Display for Instant {
    /// Prints seconds with millisecond precision, as the event feed shows time (`12.345s`).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let ms = self.as_millis();
        write!(f, "{}.{:03}s", ms / 1000, ms % 1000)
    }
}

/// `duration` in whole milliseconds, the unit of every Kafka `*.ms` setting.
pub fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_and_display() {
        let t = Instant::from_millis(1500) + Duration::from_millis(25);
        assert_eq!(t.as_millis(), 1525);
        assert_eq!(t.to_string(), "1.525s");
        assert_eq!(Instant::from_millis(3).saturating_since(t), Duration::ZERO);
        assert_eq!(t.saturating_since(Instant::from_millis(1500)), Duration::from_millis(25));
    }
}
