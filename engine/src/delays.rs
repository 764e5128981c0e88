//! Named points on the request path where the engine's own tests inject
//! delays, to reproduce races deterministically (a request that is slow
//! between arriving on its owner and reaching the log, say). In every other
//! build [`at`] is an empty function that compiles to nothing.

/// A place where a delay may be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// A produce has taken its place in the partition's order and is about
    /// to validate its batches and wait for its turn.
    AppendBeforeTurn,
}

/// Waits as long as this thread's test schedule says (tests only).
#[inline(always)]
pub async fn at(point: Point) {
    #[cfg(test)]
    schedule::wait(point).await;
    #[cfg(not(test))]
    let _ = point;
}

#[cfg(test)]
pub mod schedule {
    use std::cell::RefCell;
    use std::time::Duration;

    use super::Point;

    type Schedule = Box<dyn FnMut(Point) -> Duration>;

    thread_local! {
        static SCHEDULE: RefCell<Option<Schedule>> = RefCell::new(None);
    }

    /// Sets this thread's (executor's) delays: `schedule` is asked at every
    /// point reached on this thread.
    pub fn set(schedule: impl FnMut(Point) -> Duration + 'static) {
        SCHEDULE.with(|s| *s.borrow_mut() = Some(Box::new(schedule)));
    }

    pub(super) async fn wait(point: Point) {
        let delay = SCHEDULE.with(|s| s.borrow_mut().as_mut().map(|f| f(point)));
        match delay {
            Some(delay) if !delay.is_zero() => glommio::timer::sleep(delay).await,
            Some(_) => futures_lite::future::yield_now().await,
            None => {}
        }
    }
}
