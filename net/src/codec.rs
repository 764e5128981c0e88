//! The primitive Kafka wire types and the reader and writer every message uses.
//!
//! [`Decoder`] reads from a shared [`Bytes`] so that byte fields (record data,
//! assignments, SASL tokens) come out as slices of the receive buffer, never as
//! copies. Every length and count is checked against the bytes left before
//! anything is allocated, and vectors are charged against a per-frame memory
//! budget (see [`crate::limits`]).
//!
//! [`Encoder`] writes into a growing chunk and hands large byte fields over as
//! separate chunks, so a Fetch response with megabytes of batches is a short
//! list of `Bytes` ready for a vectored write.

use bytes::{BufMut, Bytes, BytesMut};

use crate::limits;

/// Why a frame or message could not be decoded. Every variant means the peer
/// sent something malformed; none is a bug in Sluice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated: needed {needed} more bytes, {left} left")]
    Truncated { needed: usize, left: usize },
    #[error("negative length {0} for a non-nullable field")]
    NegativeLength(i64),
    #[error("null value for a non-nullable field")]
    UnexpectedNull,
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("string of {0} bytes is longer than Kafka allows (32767)")]
    StringTooLong(usize),
    #[error("varint longer than its type allows")]
    VarintTooLong,
    #[error("count {count} exceeds the {left} bytes left")]
    CountPastEnd { count: u64, left: usize },
    #[error("decoding would allocate more than the frame's budget of {budget_bytes} bytes")]
    BudgetExceeded { budget_bytes: usize },
    #[error("{0} tagged fields exceed the limit")]
    TooManyTaggedFields(u64),
    #[error("{0} bytes left after the message")]
    TrailingBytes(usize),
}

pub type DecodeResult<T> = Result<T, DecodeError>;

/// How a structure is laid out in one message version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub version: i16,
    /// Flexible versions (KIP-482) use compact strings, arrays and bytes and
    /// end every structure with a tagged-field section.
    pub flexible: bool,
}

/// A 128-bit Kafka UUID (topic ids, directory ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    pub const NIL: Uuid = Uuid([0; 16]);
}

/// Reads Kafka primitives from a shared buffer.
#[derive(Debug)]
pub struct Decoder {
    buf: Bytes,
    pos: usize,
    /// Bytes of memory decoded structures may still allocate.
    budget_bytes: usize,
    budget_total_bytes: usize,
}

impl Decoder {
    /// A decoder over `buf` with a memory budget proportional to its size.
    pub fn new(buf: Bytes) -> Self {
        let budget = buf
            .len()
            .saturating_mul(limits::DECODE_MEMORY_PER_FRAME_BYTE)
            .max(limits::DECODE_MEMORY_FLOOR_BYTES);
        Self {
            buf,
            pos: 0,
            budget_bytes: budget,
            budget_total_bytes: budget,
        }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    /// Fails unless every byte has been consumed.
    pub fn finish(&self) -> DecodeResult<()> {
        match self.remaining() {
            0 => Ok(()),
            left => Err(DecodeError::TrailingBytes(left)),
        }
    }

    /// Bytes not yet read, as a slice of the underlying buffer.
    pub fn rest(&self) -> Bytes {
        self.buf.slice(self.pos..)
    }

    fn need(&self, n: usize) -> DecodeResult<()> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                needed: n,
                left: self.remaining(),
            });
        }
        Ok(())
    }

    fn take_array<const N: usize>(&mut self) -> DecodeResult<[u8; N]> {
        self.need(N)?;
        let out: [u8; N] = self.buf[self.pos..self.pos + N]
            .try_into()
            .expect("length checked above");
        self.pos += N;
        Ok(out)
    }

    /// Takes `n` bytes as a slice of the shared buffer: no copy.
    pub fn take_bytes(&mut self, n: usize) -> DecodeResult<Bytes> {
        self.need(n)?;
        let out = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(out)
    }

    fn skip(&mut self, n: usize) -> DecodeResult<()> {
        self.need(n)?;
        self.pos += n;
        Ok(())
    }

    /// Reserves `bytes` of the frame's memory budget before allocating them.
    pub fn charge(&mut self, bytes: usize) -> DecodeResult<()> {
        if bytes > self.budget_bytes {
            return Err(DecodeError::BudgetExceeded {
                budget_bytes: self.budget_total_bytes,
            });
        }
        self.budget_bytes -= bytes;
        Ok(())
    }

    pub fn i8(&mut self) -> DecodeResult<i8> {
        Ok(i8::from_be_bytes(self.take_array()?))
    }
    pub fn i16(&mut self) -> DecodeResult<i16> {
        Ok(i16::from_be_bytes(self.take_array()?))
    }
    pub fn i32(&mut self) -> DecodeResult<i32> {
        Ok(i32::from_be_bytes(self.take_array()?))
    }
    pub fn i64(&mut self) -> DecodeResult<i64> {
        Ok(i64::from_be_bytes(self.take_array()?))
    }
    pub fn u16(&mut self) -> DecodeResult<u16> {
        Ok(u16::from_be_bytes(self.take_array()?))
    }
    pub fn u32(&mut self) -> DecodeResult<u32> {
        Ok(u32::from_be_bytes(self.take_array()?))
    }
    pub fn f64(&mut self) -> DecodeResult<f64> {
        Ok(f64::from_be_bytes(self.take_array()?))
    }

    /// Unsigned LEB128 varint of at most 5 bytes (a u32).
    pub fn uvarint(&mut self) -> DecodeResult<u32> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let [byte] = self.take_array::<1>()?;
            if i == 4 && byte > 0x0f {
                return Err(DecodeError::VarintTooLong);
            }
            value |= u32::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintTooLong)
    }

    /// Unsigned LEB128 varint of at most 10 bytes (a u64).
    pub fn uvarlong(&mut self) -> DecodeResult<u64> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let [byte] = self.take_array::<1>()?;
            if i == 9 && byte > 0x01 {
                return Err(DecodeError::VarintTooLong);
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintTooLong)
    }

    /// Zig-zag signed varint (record fields).
    pub fn varint(&mut self) -> DecodeResult<i32> {
        let raw = self.uvarint()?;
        Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    /// Zig-zag signed varlong (record fields).
    pub fn varlong(&mut self) -> DecodeResult<i64> {
        let raw = self.uvarlong()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    /// Length of a string, bytes or array field: `None` for null. `wide`
    /// selects the i32 prefix (bytes, arrays) over the i16 one (strings) in
    /// classic versions. The length is checked against the bytes left: for a
    /// count of array elements that holds too, because every element takes at
    /// least one byte on the wire.
    fn length(&mut self, layout: Layout, wide: bool) -> DecodeResult<Option<usize>> {
        let len: i64 = if layout.flexible {
            i64::from(self.uvarint()?) - 1
        } else if wide {
            i64::from(self.i32()?)
        } else {
            i64::from(self.i16()?)
        };
        if len < 0 {
            if len == -1 {
                return Ok(None);
            }
            return Err(DecodeError::NegativeLength(len));
        }
        let len = len as usize;
        if len > self.remaining() {
            return Err(DecodeError::CountPastEnd {
                count: len as u64,
                left: self.remaining(),
            });
        }
        Ok(Some(len))
    }

    pub fn nullable_string(&mut self, layout: Layout) -> DecodeResult<Option<String>> {
        let Some(len) = self.length(layout, false)? else {
            return Ok(None);
        };
        // Kafka caps strings at i16::MAX bytes in every version, compact ones
        // included; enforcing it here means any string Sluice decoded can be
        // encoded again in a classic version, where the prefix is an i16.
        if len > i16::MAX as usize {
            return Err(DecodeError::StringTooLong(len));
        }
        self.need(len)?;
        let text = std::str::from_utf8(&self.buf[self.pos..self.pos + len])
            .map_err(|_| DecodeError::InvalidUtf8)?
            .to_owned();
        self.pos += len;
        Ok(Some(text))
    }

    pub fn nullable_bytes(&mut self, layout: Layout) -> DecodeResult<Option<Bytes>> {
        match self.length(layout, true)? {
            None => Ok(None),
            Some(len) => self.take_bytes(len).map(Some),
        }
    }

    /// Array length: `None` for a null array.
    pub fn array_len(&mut self, layout: Layout) -> DecodeResult<Option<usize>> {
        self.length(layout, true)
    }

    /// Reads a tagged-field section, handing each field to `field` with a
    /// decoder over exactly its bytes. `field` returns false for tags it does
    /// not know, which are skipped.
    pub fn tagged_fields(
        &mut self,
        mut field: impl FnMut(u32, &mut Decoder) -> DecodeResult<bool>,
    ) -> DecodeResult<()> {
        let count = u64::from(self.uvarint()?);
        // Each tagged field is at least two bytes (tag and size).
        if count > limits::TAGGED_FIELDS_MAX as u64 {
            return Err(DecodeError::TooManyTaggedFields(count));
        }
        if count.saturating_mul(2) > self.remaining() as u64 {
            return Err(DecodeError::CountPastEnd {
                count,
                left: self.remaining(),
            });
        }
        for _ in 0..count {
            let tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.need(size)?;
            let mut sub = Decoder {
                buf: self.buf.slice(self.pos..self.pos + size),
                pos: 0,
                budget_bytes: self.budget_bytes,
                budget_total_bytes: self.budget_total_bytes,
            };
            let known = field(tag, &mut sub)?;
            if known {
                sub.finish()?;
            }
            self.budget_bytes = sub.budget_bytes;
            self.skip(size)?;
        }
        Ok(())
    }
}

/// One piece of an encoded frame: either bytes the encoder wrote or a byte
/// field handed over untouched.
#[derive(Debug)]
enum Part {
    Written(BytesMut),
    Shared(Bytes),
}

/// Writes Kafka primitives, keeping large byte fields as separate chunks.
#[derive(Debug, Default)]
pub struct Encoder {
    parts: Vec<Part>,
    current: BytesMut,
    len: usize,
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes written so far, across all chunks.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn put_slice(&mut self, data: &[u8]) {
        self.current.put_slice(data);
        self.len += data.len();
    }

    pub fn i8(&mut self, v: i8) {
        self.put_slice(&v.to_be_bytes());
    }
    pub fn i16(&mut self, v: i16) {
        self.put_slice(&v.to_be_bytes());
    }
    pub fn i32(&mut self, v: i32) {
        self.put_slice(&v.to_be_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.put_slice(&v.to_be_bytes());
    }
    pub fn u16(&mut self, v: u16) {
        self.put_slice(&v.to_be_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.put_slice(&v.to_be_bytes());
    }
    pub fn f64(&mut self, v: f64) {
        self.put_slice(&v.to_be_bytes());
    }

    pub fn uvarint(&mut self, mut v: u32) {
        let mut out = [0u8; 5];
        let mut n = 0;
        while v >= 0x80 {
            out[n] = (v as u8) | 0x80;
            v >>= 7;
            n += 1;
        }
        out[n] = v as u8;
        self.put_slice(&out[..=n]);
    }

    pub fn uvarlong(&mut self, mut v: u64) {
        let mut out = [0u8; 10];
        let mut n = 0;
        while v >= 0x80 {
            out[n] = (v as u8) | 0x80;
            v >>= 7;
            n += 1;
        }
        out[n] = v as u8;
        self.put_slice(&out[..=n]);
    }

    pub fn varint(&mut self, v: i32) {
        self.uvarint(((v << 1) ^ (v >> 31)) as u32);
    }

    pub fn varlong(&mut self, v: i64) {
        self.uvarlong(((v << 1) ^ (v >> 63)) as u64);
    }

    /// Length prefix for a string, bytes or array; `None` writes null.
    fn length(&mut self, layout: Layout, wide: bool, len: Option<usize>) {
        match (layout.flexible, len) {
            (true, None) => self.uvarint(0),
            (true, Some(n)) => {
                let n = u32::try_from(n).ok().and_then(|n| n.checked_add(1));
                self.uvarint(n.expect("field longer than u32::MAX - 1"));
            }
            (false, None) if wide => self.i32(-1),
            (false, None) => self.i16(-1),
            (false, Some(n)) if wide => {
                self.i32(i32::try_from(n).expect("field longer than i32::MAX"))
            }
            (false, Some(n)) => self.i16(i16::try_from(n).expect("string longer than i16::MAX")),
        }
    }

    /// Writes a string; one over i16::MAX bytes (which Kafka forbids and the
    /// decoder never produces) is a bug in the caller and panics.
    pub fn nullable_string(&mut self, layout: Layout, s: Option<&str>) {
        self.length(layout, false, s.map(str::len));
        if let Some(s) = s {
            self.put_slice(s.as_bytes());
        }
    }

    pub fn nullable_bytes(&mut self, layout: Layout, b: Option<&Bytes>) {
        self.length(layout, true, b.map(Bytes::len));
        if let Some(b) = b {
            self.put_shared(b);
        }
    }

    /// Length prefix of a bytes field whose `len` bytes the caller appends
    /// next (possibly as several shared chunks); `None` writes null.
    pub fn bytes_len(&mut self, layout: Layout, len: Option<usize>) {
        self.length(layout, true, len);
    }

    pub fn array_len(&mut self, layout: Layout, len: Option<usize>) {
        self.length(layout, true, len);
    }

    /// Appends `data`, by reference when it is large enough to deserve its own
    /// chunk of a vectored write.
    pub fn put_shared(&mut self, data: &Bytes) {
        if data.len() < limits::ENCODE_INLINE_BYTES_MAX {
            self.put_slice(data);
            return;
        }
        if !self.current.is_empty() {
            self.parts.push(Part::Written(self.current.split()));
        }
        self.parts.push(Part::Shared(data.clone()));
        self.len += data.len();
    }

    /// Appends everything `other` wrote.
    pub fn append(&mut self, other: Encoder) {
        for part in other.parts {
            match part {
                Part::Written(b) => self.put_slice(&b),
                Part::Shared(b) => self.put_shared(&b),
            }
        }
        self.put_slice(&other.current);
    }

    /// The encoded bytes as chunks, in order, none empty.
    pub fn into_chunks(mut self) -> Vec<Bytes> {
        if !self.current.is_empty() {
            self.parts.push(Part::Written(self.current.split()));
        }
        self.parts
            .into_iter()
            .map(|p| match p {
                Part::Written(b) => b.freeze(),
                Part::Shared(b) => b,
            })
            .filter(|b| !b.is_empty())
            .collect()
    }

    /// Overwrites 4 bytes at `at` (an earlier placeholder, e.g. a size prefix).
    /// The placeholder must lie in bytes this encoder wrote itself.
    pub fn patch_i32(&mut self, at: usize, v: i32) {
        let mut offset = 0;
        for part in self.parts.iter_mut().map(Some).chain([None]) {
            let chunk: &mut [u8] = match part {
                Some(Part::Written(b)) => b,
                Some(Part::Shared(b)) => {
                    assert!(at >= offset + b.len(), "patch inside a shared chunk");
                    offset += b.len();
                    continue;
                }
                None => &mut self.current,
            };
            if at < offset + chunk.len() {
                let local = at - offset;
                assert!(local + 4 <= chunk.len(), "patch straddles chunks");
                chunk[local..local + 4].copy_from_slice(&v.to_be_bytes());
                return;
            }
            offset += chunk.len();
        }
        panic!("patch position {at} past the end");
    }

    /// Writes a tagged field: tag, size, then what `value` encodes.
    pub fn tagged_field(&mut self, tag: u32, value: impl FnOnce(&mut Encoder)) {
        let mut inner = Encoder::new();
        value(&mut inner);
        self.uvarint(tag);
        self.uvarint(u32::try_from(inner.len()).expect("tagged field over 4 GiB"));
        self.append(inner);
    }
}

/// A value with a Kafka wire form that depends on the message version.
pub trait Wire: Sized {
    fn decode(d: &mut Decoder, layout: Layout) -> DecodeResult<Self>;
    fn encode(&self, e: &mut Encoder, layout: Layout);
}

macro_rules! fixed_wire {
    ($($ty:ty => $method:ident),* $(,)?) => {$(
        impl Wire for $ty {
            fn decode(d: &mut Decoder, _: Layout) -> DecodeResult<Self> {
                d.$method()
            }
            fn encode(&self, e: &mut Encoder, _: Layout) {
                e.$method(*self)
            }
        }
    )*};
}

fixed_wire!(i8 => i8, i16 => i16, i32 => i32, i64 => i64, u16 => u16, f64 => f64);

impl Wire for bool {
    fn decode(d: &mut Decoder, _: Layout) -> DecodeResult<Self> {
        Ok(d.i8()? != 0)
    }
    fn encode(&self, e: &mut Encoder, _: Layout) {
        e.i8(i8::from(*self))
    }
}

impl Wire for Uuid {
    fn decode(d: &mut Decoder, _: Layout) -> DecodeResult<Self> {
        Ok(Uuid(d.take_array()?))
    }
    fn encode(&self, e: &mut Encoder, _: Layout) {
        e.put_slice(&self.0)
    }
}

impl Wire for String {
    fn decode(d: &mut Decoder, layout: Layout) -> DecodeResult<Self> {
        d.nullable_string(layout)?
            .ok_or(DecodeError::UnexpectedNull)
    }
    fn encode(&self, e: &mut Encoder, layout: Layout) {
        e.nullable_string(layout, Some(self))
    }
}

impl Wire for Option<String> {
    fn decode(d: &mut Decoder, layout: Layout) -> DecodeResult<Self> {
        d.nullable_string(layout)
    }
    fn encode(&self, e: &mut Encoder, layout: Layout) {
        e.nullable_string(layout, self.as_deref())
    }
}

impl Wire for Bytes {
    fn decode(d: &mut Decoder, layout: Layout) -> DecodeResult<Self> {
        d.nullable_bytes(layout)?.ok_or(DecodeError::UnexpectedNull)
    }
    fn encode(&self, e: &mut Encoder, layout: Layout) {
        e.nullable_bytes(layout, Some(self))
    }
}

impl Wire for Option<Bytes> {
    fn decode(d: &mut Decoder, layout: Layout) -> DecodeResult<Self> {
        d.nullable_bytes(layout)
    }
    fn encode(&self, e: &mut Encoder, layout: Layout) {
        e.nullable_bytes(layout, self.as_ref())
    }
}

fn decode_elements<T: Wire>(d: &mut Decoder, layout: Layout, n: usize) -> DecodeResult<Vec<T>> {
    d.charge(n.saturating_mul(std::mem::size_of::<T>()))?;
    let mut out = Vec::with_capacity(n.min(limits::VEC_PREALLOC_ELEMENTS_MAX));
    for _ in 0..n {
        out.push(T::decode(d, layout)?);
    }
    Ok(out)
}

impl<T: Wire> Wire for Vec<T> {
    fn decode(d: &mut Decoder, layout: Layout) -> DecodeResult<Self> {
        let n = d.array_len(layout)?.ok_or(DecodeError::UnexpectedNull)?;
        decode_elements(d, layout, n)
    }
    fn encode(&self, e: &mut Encoder, layout: Layout) {
        e.array_len(layout, Some(self.len()));
        for item in self {
            item.encode(e, layout);
        }
    }
}

impl<T: Wire> Wire for Option<Vec<T>> {
    fn decode(d: &mut Decoder, layout: Layout) -> DecodeResult<Self> {
        match d.array_len(layout)? {
            None => Ok(None),
            Some(n) => decode_elements(d, layout, n).map(Some),
        }
    }
    fn encode(&self, e: &mut Encoder, layout: Layout) {
        e.array_len(layout, self.as_ref().map(Vec::len));
        for item in self.iter().flatten() {
            item.encode(e, layout);
        }
    }
}

/// Declares a message structure: the Rust type, its defaults, and its wire
/// form per version. Each field names the versions it exists in; tagged fields
/// (KIP-482) name their tag and are written only when they differ from their
/// default.
macro_rules! message {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty [$min:literal, $max:literal] $(tag $tag:literal)? = $default:expr
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }

        #[cfg(test)]
        impl $crate::testkit::Sample for $name {
            fn sample(g: &mut $crate::testkit::Gen) -> Self {
                g.enter();
                let this = Self { $( $field: $crate::testkit::Sample::sample(g), )* };
                g.leave();
                this
            }
        }

        impl $crate::codec::Wire for $name {
            #[allow(unused_mut, unused_variables)]
            fn decode(
                d: &mut $crate::codec::Decoder,
                layout: $crate::codec::Layout,
            ) -> $crate::codec::DecodeResult<Self> {
                let v = layout.version;
                let mut this = Self::default();
                $(
                    $crate::codec::untagged!($($tag)?;
                        if ($min..=$max).contains(&v) {
                            this.$field = $crate::codec::Wire::decode(d, layout)?;
                        }
                    );
                )*
                if layout.flexible {
                    d.tagged_fields(|tag, sub| {
                        $(
                            $(
                                if tag == $tag && ($min..=$max).contains(&v) {
                                    this.$field = $crate::codec::Wire::decode(sub, layout)?;
                                    return Ok(true);
                                }
                            )?
                        )*
                        let _ = (tag, sub);
                        Ok(false)
                    })?;
                }
                Ok(this)
            }

            #[allow(unused_variables, unused_mut)]
            fn encode(&self, e: &mut $crate::codec::Encoder, layout: $crate::codec::Layout) {
                let v = layout.version;
                $(
                    $crate::codec::untagged!($($tag)?;
                        if ($min..=$max).contains(&v) {
                            $crate::codec::Wire::encode(&self.$field, e, layout);
                        }
                    );
                )*
                if layout.flexible {
                    let default = Self::default();
                    let mut count: u32 = 0;
                    $( $(
                        let _ = $tag;
                        if ($min..=$max).contains(&v) && self.$field != default.$field {
                            count += 1;
                        }
                    )? )*
                    e.uvarint(count);
                    $( $(
                        if ($min..=$max).contains(&v) && self.$field != default.$field {
                            e.tagged_field($tag, |inner| {
                                $crate::codec::Wire::encode(&self.$field, inner, layout)
                            });
                        }
                    )? )*
                }
            }
        }
    };
}
pub(crate) use message;

/// Expands its body only for fields without a tag.
macro_rules! untagged {
    (; $($body:tt)*) => { $($body)* };
    ($tag:literal; $($body:tt)*) => {};
}
pub(crate) use untagged;

#[cfg(test)]
mod tests {
    use super::*;

    const FLEX: Layout = Layout {
        version: 0,
        flexible: true,
    };
    const CLASSIC: Layout = Layout {
        version: 0,
        flexible: false,
    };

    fn decoder(bytes: &[u8]) -> Decoder {
        Decoder::new(Bytes::copy_from_slice(bytes))
    }

    #[test]
    fn varints_match_the_kafka_encoding() {
        let cases: [(u32, &[u8]); 4] = [
            (0, &[0]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (u32::MAX, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for (value, wire) in cases {
            let mut e = Encoder::new();
            e.uvarint(value);
            assert_eq!(e.into_chunks().concat(), wire);
            assert_eq!(decoder(wire).uvarint().unwrap(), value);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -300] {
            let mut e = Encoder::new();
            e.varlong(v);
            let wire = e.into_chunks().concat();
            assert_eq!(decoder(&wire).varlong().unwrap(), v);
        }
        assert_eq!(
            decoder(&[0xff, 0xff, 0xff, 0xff, 0x1f]).uvarint(),
            Err(DecodeError::VarintTooLong)
        );
        // zig-zag: -1 is 1, 1 is 2
        let mut e = Encoder::new();
        e.varint(-1);
        e.varint(1);
        assert_eq!(e.into_chunks().concat(), [1, 2]);
    }

    #[test]
    fn lengths_are_checked_before_use() {
        // classic string claiming 5 bytes with 2 left
        assert!(matches!(
            decoder(&[0, 5, b'a', b'b']).nullable_string(CLASSIC),
            Err(DecodeError::CountPastEnd { count: 5, left: 2 })
        ));
        assert_eq!(
            decoder(&[0xff, 0xfe]).nullable_string(CLASSIC),
            Err(DecodeError::NegativeLength(-2))
        );
        assert_eq!(decoder(&[0xff, 0xff]).nullable_string(CLASSIC), Ok(None));
        assert_eq!(
            String::decode(&mut decoder(&[0]), FLEX),
            Err(DecodeError::UnexpectedNull)
        );
        assert_eq!(
            String::decode(&mut decoder(&[0, 2, 0xc3, 0x28]), CLASSIC),
            Err(DecodeError::InvalidUtf8)
        );
        let mut long = vec![0x81, 0x80, 0x02]; // compact length 32768
        long.extend(std::iter::repeat_n(b'a', 32_768));
        assert_eq!(
            String::decode(&mut decoder(&long), FLEX),
            Err(DecodeError::StringTooLong(32_768))
        );
        long[0] = 0x80; // 32767: the longest allowed
        assert_eq!(
            String::decode(&mut decoder(&long[..long.len() - 1]), FLEX)
                .unwrap()
                .len(),
            32_767
        );
        let huge_array = [0x7f, 0xff, 0xff, 0xff];
        assert!(matches!(
            Vec::<i32>::decode(&mut decoder(&huge_array), CLASSIC),
            Err(DecodeError::CountPastEnd { .. })
        ));
    }

    #[test]
    fn byte_fields_are_slices_of_the_input() {
        let mut wire = vec![0, 0, 0, 3];
        wire.extend_from_slice(b"abc");
        let input = Bytes::from(wire);
        let mut d = Decoder::new(input.clone());
        let got = Bytes::decode(&mut d, CLASSIC).unwrap();
        assert_eq!(&got[..], b"abc");
        assert_eq!(got.as_ptr(), input[4..].as_ptr());
    }

    #[test]
    fn large_byte_fields_become_their_own_chunk() {
        let big = Bytes::from(vec![7u8; limits::ENCODE_INLINE_BYTES_MAX]);
        let mut e = Encoder::new();
        e.i32(1);
        big.encode(&mut e, CLASSIC);
        e.i16(2);
        assert_eq!(e.len(), 4 + 4 + big.len() + 2);
        e.patch_i32(0, 9);
        let chunks = e.into_chunks();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[1].as_ptr(), big.as_ptr());
        assert_eq!(&chunks[0][..4], &9i32.to_be_bytes());
    }

    #[test]
    fn budget_bounds_vector_memory() {
        // 64 Ki elements of u16 pass the count check (1 byte each would not be
        // enough, so use a huge budget-busting element type instead).
        let mut wire = vec![0, 1, 0, 0];
        wire.extend(std::iter::repeat_n(0u8, 0x10000 * 8));
        let mut d = decoder(&wire);
        d.budget_bytes = 1024;
        assert!(matches!(
            Vec::<i64>::decode(&mut d, CLASSIC),
            Err(DecodeError::BudgetExceeded { .. })
        ));
    }

    #[test]
    fn tagged_section_skips_unknown_and_checks_sizes() {
        // two fields: tag 5 with 2 bytes, tag 9 with 0 bytes
        let mut d = decoder(&[2, 5, 2, 0xaa, 0xbb, 9, 0]);
        let mut seen = Vec::new();
        d.tagged_fields(|tag, _| {
            seen.push(tag);
            Ok(false)
        })
        .unwrap();
        assert_eq!(seen, [5, 9]);
        assert_eq!(d.remaining(), 0);
        // size past the end
        let mut d = decoder(&[1, 5, 9, 0xaa]);
        assert!(d.tagged_fields(|_, _| Ok(false)).is_err());
        // truncated section: count 1, nothing after it
        let mut d = decoder(&[1]);
        assert!(d.tagged_fields(|_, _| Ok(false)).is_err());
    }
}
