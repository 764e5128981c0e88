//! Bounds of the Kafka client (kept apart from the codec's `net::limits`
//! because they size client-side queues, not what the codec accepts).

use std::time::Duration;

/// Requests one connection may have written and not yet answered. Kafka's
/// `max.in.flight.requests.per.connection` default is 5; more rarely helps
/// and multiplies memory held per connection.
pub const IN_FLIGHT_REQUESTS_DEFAULT: usize = 5;
pub const IN_FLIGHT_REQUESTS_MAX: usize = 64;

/// Largest response frame the client accepts: Fetch responses are bounded by
/// the fetch sizes the client asks for, far below this.
pub const RESPONSE_BYTES_MAX: usize = 256 << 20;

/// How long a connection attempt may take before the address counts as down.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default of how long any request may wait for its response before the
/// connection is declared broken. Long-poll fetches add their own max wait.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Times a batch is resent after a retriable error before it fails.
pub const PRODUCE_RETRIES_MAX: u32 = 5;
/// Pause before a retry, so a leader election has time to finish.
pub const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// Records in one batch: the batch header counts them in an i32, and a
/// bound keeps per-batch bookkeeping (one tag per record) small.
pub const BATCH_RECORDS_MAX: usize = 100_000;

/// Bytes a fetch asks for per partition and per response.
pub const FETCH_PARTITION_BYTES_MAX: i32 = 4 << 20;
pub const FETCH_RESPONSE_BYTES_MAX: i32 = 32 << 20;
/// Broker-side long-poll wait of a fetch that finds no data.
pub const FETCH_MAX_WAIT_MS: i32 = 100;

/// Deliveries queued for the application before the producer stops sending;
/// the application drains them, so this only smooths bursts.
pub const DELIVERY_QUEUE_MAX: usize = 4096;
