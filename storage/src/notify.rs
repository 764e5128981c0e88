//! A single-threaded "something changed" signal: waiters register a waker and
//! are all woken by the next `notify_all`. Used for durability waits, long
//! polls, back-pressure and waking the writer and syncer; public because the
//! engine uses the same primitive for its own shard-local signals (shutdown,
//! new-data wake-ups) instead of keeping a copy.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
pub struct Signal {
    generation: Cell<u64>,
    next_id: Cell<u64>,
    // One entry per live `Notified` future, removed when it completes or is
    // dropped, so the map is bounded by the number of waiters.
    wakers: RefCell<BTreeMap<u64, Waker>>,
}

impl Signal {
    pub fn notify_all(&self) {
        self.generation.set(self.generation.get() + 1);
        let wakers = std::mem::take(&mut *self.wakers.borrow_mut());
        for (_, waker) in wakers {
            waker.wake();
        }
    }

    /// Completes at the first `notify_all` after this call.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            signal: self,
            generation: self.generation.get(),
            id: None,
        }
    }
}

pub struct Notified<'a> {
    signal: &'a Signal,
    generation: u64,
    id: Option<u64>,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.generation.get() != self.generation {
            if let Some(id) = self.id.take() {
                self.signal.wakers.borrow_mut().remove(&id);
            }
            return Poll::Ready(());
        }
        let id = match self.id {
            Some(id) => id,
            None => {
                let id = self.signal.next_id.get();
                self.signal.next_id.set(id + 1);
                self.id = Some(id);
                id
            }
        };
        self.signal
            .wakers
            .borrow_mut()
            .insert(id, cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.signal.wakers.borrow_mut().remove(&id);
        }
    }
}
