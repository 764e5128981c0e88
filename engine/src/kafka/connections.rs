//! The Kafka connections of one shard: how many there are, the request
//! memory they hold, and whether the shard still takes requests. The limits
//! themselves come from the `[server]` configuration.

use std::cell::Cell;
use std::rc::Rc;

use storage::notify::Signal;

use crate::config::ServerConfig;

pub struct Connections {
    /// Connections open on this shard.
    open: Cell<usize>,
    /// Bytes of request frames held by this shard's connections; when it is
    /// spent, connections stop reading (back-pressure).
    pub request_memory: Rc<glommio::sync::Semaphore>,
    /// Set when the shard stops taking new requests.
    stopping: Cell<bool>,
    /// Woken when the shard starts stopping, so idle connections notice.
    pub stop_signal: Signal,
}

impl Connections {
    pub fn new(server: &ServerConfig) -> Self {
        Self {
            open: Cell::new(0),
            request_memory: Rc::new(glommio::sync::Semaphore::new(
                server.request_memory_per_shard_bytes as u64,
            )),
            stopping: Cell::new(false),
            stop_signal: Signal::default(),
        }
    }

    pub fn open(&self) -> usize {
        self.open.get()
    }

    pub(super) fn opened(&self) {
        self.open.set(self.open.get() + 1);
    }

    pub(super) fn closed(&self) {
        assert!(self.open.get() > 0, "more connections closed than opened");
        self.open.set(self.open.get() - 1);
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.get()
    }

    /// Stops taking requests: new frames are not read, idle connections are
    /// woken to notice, long polls end.
    pub fn stop(&self) {
        self.stopping.set(true);
        self.stop_signal.notify_all();
    }
}
