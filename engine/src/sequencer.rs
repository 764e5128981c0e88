//! Turns taken in a fixed order: the order in which tickets were drawn, not
//! the order in which their holders happen to be polled.
//!
//! A lock or semaphore orders its waiters by when they first wait, and an
//! async task may reach that point late (it was spawned behind others, or
//! awaited something first), so two requests can overtake each other on the
//! way to it. A [`Sequencer`] separates the two moments: [`Sequencer::ticket`]
//! is synchronous and fixes the position at once (call it at the point whose
//! order must be kept, such as a request's arrival on its owner shard);
//! [`Ticket::turn`] waits until every earlier ticket has had its turn or been
//! dropped. A dropped ticket (its request was cancelled) gives up its turn
//! without blocking the ones behind it.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

#[derive(Default)]
struct State {
    /// The number the next ticket gets.
    next_ticket: u64,
    /// The ticket whose turn it is (or will be, once its holder asks).
    /// Invariant: `serving <= next_ticket`.
    serving: u64,
    /// Tickets dropped before their turn, skipped when it comes.
    abandoned: BTreeSet<u64>,
    /// Holders waiting for their turn, by ticket.
    waiting: BTreeMap<u64, Waker>,
}

impl State {
    /// Moves past the ticket being served and any abandoned ones after it,
    /// and wakes the holder of the next turn.
    fn advance(&mut self) {
        self.serving += 1;
        while self.abandoned.remove(&self.serving) {
            self.serving += 1;
        }
        assert!(
            self.serving <= self.next_ticket,
            "served past the last ticket"
        );
        if let Some(waker) = self.waiting.remove(&self.serving) {
            waker.wake();
        }
    }
}

/// Hands out turns in ticket order. Cheap to clone; clones share the order.
#[derive(Clone, Default)]
pub struct Sequencer {
    state: Rc<RefCell<State>>,
}

impl Sequencer {
    /// Draws the next ticket. Synchronous, so its place is fixed by the
    /// caller's own order.
    pub fn ticket(&self) -> Ticket {
        let mut state = self.state.borrow_mut();
        let number = state.next_ticket;
        state.next_ticket += 1;
        Ticket {
            state: self.state.clone(),
            number,
            taken: false,
        }
    }

    /// Tickets drawn and not yet done: the queue's length.
    pub fn outstanding(&self) -> u64 {
        let state = self.state.borrow();
        state.next_ticket - state.serving
    }
}

/// A place in a [`Sequencer`]'s order.
pub struct Ticket {
    state: Rc<RefCell<State>>,
    number: u64,
    /// The turn was taken: dropping the ticket is then the turn's business.
    taken: bool,
}

impl Ticket {
    /// Waits for this ticket's turn. The turn lasts until the returned
    /// [`Turn`] is dropped.
    pub async fn turn(mut self) -> Turn {
        poll_fn(|cx| {
            let mut state = self.state.borrow_mut();
            assert!(state.serving <= self.number, "a ticket's turn came twice");
            if state.serving == self.number {
                Poll::Ready(())
            } else {
                state.waiting.insert(self.number, cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        self.taken = true;
        Turn {
            state: self.state.clone(),
            number: self.number,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.taken {
            return;
        }
        let mut state = self.state.borrow_mut();
        state.waiting.remove(&self.number);
        if state.serving == self.number {
            state.advance();
        } else {
            state.abandoned.insert(self.number);
        }
    }
}

/// The holder's turn; the next ticket's turn starts when this is dropped.
pub struct Turn {
    state: Rc<RefCell<State>>,
    number: u64,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut state = self.state.borrow_mut();
        assert_eq!(state.serving, self.number, "a turn ended out of order");
        state.advance();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::cell::Cell;
    use std::time::Duration;

    use storage::testing::run_local as run;

    #[test]
    fn turns_come_in_ticket_order_whatever_order_holders_wait_in() {
        for seed in 0..50u64 {
            let order = run(async move {
                let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
                let sequencer = Sequencer::default();
                let served = Rc::new(RefCell::new(Vec::new()));
                let mut tasks = Vec::new();
                for i in 0..20u64 {
                    let ticket = sequencer.ticket();
                    // Holders start waiting late and in a random order.
                    let delay = Duration::from_micros(rng.gen_range(0..2000));
                    let hold = Duration::from_micros(rng.gen_range(0..200));
                    let served = served.clone();
                    tasks.push(glommio::spawn_local(async move {
                        glommio::timer::sleep(delay).await;
                        let _turn = ticket.turn().await;
                        served.borrow_mut().push(i);
                        glommio::timer::sleep(hold).await;
                    }));
                }
                for t in tasks {
                    t.await;
                }
                assert_eq!(sequencer.outstanding(), 0);
                let order = served.borrow().clone();
                order
            });
            assert_eq!(order, (0..20).collect::<Vec<_>>(), "seed {seed}");
        }
    }

    #[test]
    fn dropped_tickets_give_up_their_turn() {
        run(async {
            let sequencer = Sequencer::default();
            let first = sequencer.ticket();
            let second = sequencer.ticket();
            let third = sequencer.ticket();
            let fourth = sequencer.ticket();
            let reached = Rc::new(Cell::new(0));
            let r = reached.clone();
            let waiter = glommio::spawn_local(async move {
                let _turn = fourth.turn().await;
                r.set(4);
            });
            glommio::timer::sleep(Duration::from_millis(1)).await;
            assert_eq!(reached.get(), 0, "the fourth went before the first");
            // The second and third are cancelled before and during the
            // first's turn; the fourth must not wait for them.
            drop(second);
            let turn = first.turn().await;
            drop(third);
            glommio::timer::sleep(Duration::from_millis(1)).await;
            assert_eq!(reached.get(), 0, "the fourth went during the first's turn");
            drop(turn);
            waiter.await;
            assert_eq!(reached.get(), 4);
            assert_eq!(sequencer.outstanding(), 0);
        });
    }

    #[test]
    fn a_waiting_holder_that_is_cancelled_does_not_block_the_queue() {
        run(async {
            let sequencer = Sequencer::default();
            let first = sequencer.ticket();
            let second = sequencer.ticket();
            let third = sequencer.ticket();
            let turn = first.turn().await;
            let cancelled = glommio::spawn_local(async move {
                let _turn = second.turn().await;
                unreachable!("cancelled before its turn");
            });
            glommio::timer::sleep(Duration::from_millis(1)).await;
            cancelled.cancel().await;
            drop(turn);
            let _turn = third.turn().await;
            assert_eq!(sequencer.outstanding(), 1);
        });
    }
}
