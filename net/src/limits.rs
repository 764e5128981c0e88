//! Every bound the wire codec enforces, in one place, with the reason for each.
//!
//! A frame is hostile until decoded: no count or length read from it is
//! trusted before it has been checked against the bytes that remain and
//! against these limits.

/// Default largest request frame accepted, in bytes (Kafka's default
/// `socket.request.max.bytes`). A larger size prefix closes the connection
/// before any of the frame is buffered.
pub const FRAME_BYTES_MAX_DEFAULT: usize = 100 * 1024 * 1024;

/// Receive-buffer space reserved ahead of an incomplete frame. The size
/// prefix is only a claim: reserving all of it at once would let four bytes
/// from a client pin `FRAME_BYTES_MAX_DEFAULT` of memory. The buffer grows by
/// at most this much per read instead, as the bytes actually arrive.
pub const RECEIVE_RESERVE_BYTES_MAX: usize = 1024 * 1024;

/// Hard ceiling for a configured frame maximum: the size prefix is an i32 and
/// the decode budget below is a multiple of the frame size, which must fit.
pub const FRAME_BYTES_MAX_CEILING: usize = i32::MAX as usize;

/// Decoded structures (vectors of structs, strings) may take at most this many
/// bytes of memory per byte of frame. Each array element costs at least one
/// wire byte but can be a 100-byte struct in memory, so without this budget a
/// frame full of one-byte elements would amplify into gigabytes. The densest
/// legitimate messages (arrays of small flexible structs) stay well below 32.
pub const DECODE_MEMORY_PER_FRAME_BYTE: usize = 32;

/// Memory budget floor for tiny frames, so that the fixed cost of a small
/// message (a few vectors of a few elements) never trips the budget.
pub const DECODE_MEMORY_FLOOR_BYTES: usize = 64 * 1024;

/// Vectors are pre-sized from the wire count only up to this many elements;
/// beyond it they grow as elements are actually decoded. Keeps one lying count
/// from reserving the whole budget up front.
pub const VEC_PREALLOC_ELEMENTS_MAX: usize = 1024;

/// Tagged fields in one tagged-field section. Kafka defines fewer than ten per
/// structure; unknown ones are skipped, and this stops a frame from making the
/// decoder walk millions of empty tags.
pub const TAGGED_FIELDS_MAX: usize = 64;

/// Byte strings shorter than this are copied into the encoder's current chunk
/// when a response is encoded; longer ones (record data) are kept as their own
/// chunk for a vectored write. An iovec entry costs more than copying a few
/// hundred bytes.
pub const ENCODE_INLINE_BYTES_MAX: usize = 512;

/// Records one batch may claim, used only as a sanity bound while iterating
/// records: every record takes at least 7 bytes on the wire, so a count above
/// `bytes / 7` is a lie that the iterator rejects before looping.
pub const RECORD_BYTES_MIN: usize = 7;

/// Headers one record may carry before the iterator rejects it.
pub const RECORD_HEADERS_MAX: usize = 64 * 1024;

const _: () = assert!(FRAME_BYTES_MAX_DEFAULT <= FRAME_BYTES_MAX_CEILING);
const _: () = assert!(DECODE_MEMORY_FLOOR_BYTES >= VEC_PREALLOC_ELEMENTS_MAX * 8);
