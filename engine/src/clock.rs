//! The engine's one clock seam. Wall-clock time (Kafka timestamps, group
//! sessions and commit ages, retention) is read only through a [`Clock`], so
//! that logic driven by it can run on a clock a test moves by hand. Timers
//! and local deadlines (glommio sleeps, fetch long polls) use monotonic time
//! and are not part of the seam; the cluster's state machines take time as
//! an input and never read a clock themselves.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock milliseconds since the Unix epoch. Cheap to clone;
/// clones of a manual clock share its time.
#[derive(Clone, Default)]
pub struct Clock {
    /// `None`: the system clock. `Some`: a clock a test sets.
    manual: Option<Rc<Cell<u64>>>,
}

impl Clock {
    /// The system's real-time clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that stands at `start_ms` until [`Clock::advance_ms`] moves it.
    pub fn manual(start_ms: u64) -> Self {
        Self {
            manual: Some(Rc::new(Cell::new(start_ms))),
        }
    }

    pub fn now_ms(&self) -> u64 {
        match &self.manual {
            Some(now) => now.get(),
            // A clock before 1970 is a broken machine; 0 keeps ages finite.
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        }
    }

    /// Moves a manual clock forward. Panics on the system clock: only tests
    /// move time.
    pub fn advance_ms(&self, ms: u64) {
        let now = self.manual.as_ref().expect("only a manual clock is moved");
        now.set(now.get() + ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = Clock::manual(1_000);
        let copy = clock.clone();
        assert_eq!(clock.now_ms(), 1_000);
        copy.advance_ms(250);
        assert_eq!(clock.now_ms(), 1_250);
        assert!(Clock::system().now_ms() > 1_600_000_000_000, "after 2020");
    }
}
