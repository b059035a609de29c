//! The protobuf wire format, read without a schema: a message is a run of
//! `(field number, wire type)` keys, each followed by a varint, a fixed 32- or 64-bit
//! value, or a length-prefixed run of bytes. Meaning comes later, from the table; this
//! layer only guarantees that every read stays inside the buffer, so malformed input is
//! an error and never a panic.

use std::fmt;

/// What went wrong reading the wire: becomes a 400 that quotes it.
#[derive(Debug, Clone, PartialEq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One field's raw value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Raw<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl Raw<'_> {
    /// The wire type's name, for errors.
    pub fn describe(&self) -> &'static str {
        match self {
            Raw::Varint(_) => "varint",
            Raw::Fixed64(_) => "fixed64",
            Raw::Bytes(_) => "length-delimited",
            Raw::Fixed32(_) => "fixed32",
        }
    }
}

/// Reads a message's fields in order.
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Fields { buf, pos: 0 }
    }

    /// The next `(field number, value)`, `None` at the end of the message.
    pub fn next_field(&mut self) -> Result<Option<(u32, Raw<'a>)>, WireError> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let tag = key >> 3;
        if tag == 0 || tag > u64::from(u32::MAX >> 3) {
            return Err(WireError(format!("proto: illegal field number {tag}")));
        }
        let value = match key & 7 {
            0 => Raw::Varint(self.varint()?),
            1 => Raw::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"))),
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| WireError("proto: negative length found during unmarshaling".into()))?;
                Raw::Bytes(self.take(len)?)
            }
            5 => Raw::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes"))),
            // 3 and 4 are proto1 groups, which no Kubernetes message uses
            other => return Err(WireError(format!("proto: illegal wireType {other}"))),
        };
        Ok(Some((tag as u32, value)))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(unexpected_eof)?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let (value, used) = varint(&self.buf[self.pos..])?;
        self.pos += used;
        Ok(value)
    }
}

fn unexpected_eof() -> WireError {
    WireError("unexpected EOF".into())
}

/// A base-128 varint at the start of `buf`, and how many bytes it took.
pub fn varint(buf: &[u8]) -> Result<(u64, usize), WireError> {
    let mut value = 0u64;
    for (i, byte) in buf.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    if buf.len() >= 10 {
        Err(WireError("proto: integer overflow".into()))
    } else {
        Err(unexpected_eof())
    }
}

/// The values of a packed repeated numeric field: its bytes hold bare values, no keys.
pub fn packed(buf: &[u8], wire: PackedKind) -> Result<Vec<Raw<'_>>, WireError> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        match wire {
            PackedKind::Varint => {
                let (v, used) = varint(rest)?;
                out.push(Raw::Varint(v));
                rest = &rest[used..];
            }
            PackedKind::Fixed64 => {
                if rest.len() < 8 {
                    return Err(unexpected_eof());
                }
                let (head, tail) = rest.split_at(8);
                out.push(Raw::Fixed64(u64::from_le_bytes(head.try_into().expect("8 bytes"))));
                rest = tail;
            }
        }
    }
    Ok(out)
}

/// How the elements of a packed field are laid out.
#[derive(Debug, Clone, Copy)]
pub enum PackedKind {
    Varint,
    Fixed64,
}

/// The writer's side of a varint, for tests that build protobuf bodies by hand.
#[cfg(test)]
pub fn encode_varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_wire_type() {
        // 1: varint 150, 2: "hi", 3: fixed64 1, 4: fixed32 2
        let buf = [0x08, 0x96, 0x01, 0x12, 2, b'h', b'i', 0x19, 1, 0, 0, 0, 0, 0, 0, 0, 0x25, 2, 0, 0, 0];
        let mut f = Fields::new(&buf);
        assert_eq!(f.next_field().unwrap(), Some((1, Raw::Varint(150))));
        assert_eq!(f.next_field().unwrap(), Some((2, Raw::Bytes(b"hi"))));
        assert_eq!(f.next_field().unwrap(), Some((3, Raw::Fixed64(1))));
        assert_eq!(f.next_field().unwrap(), Some((4, Raw::Fixed32(2))));
        assert_eq!(f.next_field().unwrap(), None);
    }

    #[test]
    fn truncated_input_is_an_error() {
        for buf in [&[0x12, 5, b'a'][..], &[0x08, 0x80][..], &[0x19, 1, 2][..], &[0x0f][..], &[0x00][..]] {
            assert!(Fields::new(buf).next_field().is_err(), "{buf:?}");
        }
        assert!(varint(&[0xff; 11]).is_err());
    }

    #[test]
    fn a_length_past_the_end_is_refused_not_sliced() {
        // length u64::MAX
        let buf = [0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert!(Fields::new(&buf).next_field().is_err());
    }

    #[test]
    fn packed_values() {
        assert_eq!(packed(&[1, 0x96, 0x01], PackedKind::Varint).unwrap(), vec![Raw::Varint(1), Raw::Varint(150)]);
        assert!(packed(&[1, 2, 3], PackedKind::Fixed64).is_err());
    }
}
