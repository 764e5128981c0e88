//! The metadata writer's state, kept on the controller shard only: the order
//! in which changes are applied and the producer-id counter.

use std::cell::Cell;

use crate::sequencer::Sequencer;

#[derive(Default)]
pub struct Controller {
    /// Changes take their turn in the order they reached the controller
    /// shard, so one connection's changes apply in its request order.
    pub(super) order: Sequencer,
    /// The next producer id to hand out.
    pub(super) next_producer_id: Cell<i64>,
}

impl Controller {
    /// A controller whose producer ids start at `first_producer_id` (ids
    /// below it may have been handed out before a restart).
    pub fn new(first_producer_id: i64) -> Self {
        Self {
            order: Sequencer::default(),
            next_producer_id: Cell::new(first_producer_id),
        }
    }
}
