//! A minimal reader for netlink attributes (`struct nlattr` TLVs), for the
//! attributes the library decodes itself. Bounds are checked; an attribute
//! whose length does not fit ends the iteration with an error, never a panic;
//! trailing bytes shorter than a header are padding (as for the kernel's
//! nla_ok()).

/// One attribute: its type (flags masked off) and value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nla<'a> {
    pub kind: u16,
    pub value: &'a [u8],
}

impl<'a> Nla<'a> {
    /// A native-endian u32 value (exactly 4 bytes).
    pub(crate) fn u32(&self) -> Option<u32> {
        u32_of(self.value)
    }

    /// A native-endian i32 value.
    pub(crate) fn i32(&self) -> Option<i32> {
        self.u32().map(|v| v as i32)
    }

    /// A u8 value.
    pub(crate) fn u8(&self) -> Option<u8> {
        self.value.first().copied()
    }

    /// A string value, up to the first NUL.
    pub(crate) fn str(&self) -> String {
        c_string(self.value)
    }
}

/// A native-endian u32 from exactly 4 bytes.
pub(crate) fn u32_of(v: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(v).ok().map(u32::from_ne_bytes)
}

/// A native-endian u32 at `at`.
pub(crate) fn u32_at(v: &[u8], at: usize) -> Option<u32> {
    u32_of(v.get(at..at.checked_add(4)?)?)
}

/// A NUL-terminated string (lossily UTF-8).
pub(crate) fn c_string(v: &[u8]) -> String {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    let bytes = &v[..end];
    // Valid UTF-8 (every name the kernel gives) is copied as is.
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Append an attribute (`struct nlattr` and its value, padded to 4 bytes)
/// to a request being written by hand.
pub(crate) fn put(buf: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = 4 + value.len();
    buf.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(value);
    buf.resize(buf.len() + ((4 - len % 4) % 4), 0);
}

/// Append a NUL-terminated string attribute.
pub(crate) fn put_str(buf: &mut Vec<u8>, kind: u16, value: &str) {
    let len = 4 + value.len() + 1;
    buf.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(value.as_bytes());
    buf.push(0);
    buf.resize(buf.len() + ((4 - len % 4) % 4), 0);
}

/// Iterator over the attributes of a buffer.
pub(crate) struct Nlas<'a> {
    buf: &'a [u8],
}

impl<'a> Nlas<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Nlas { buf }
    }
}

impl<'a> Iterator for Nlas<'a> {
    type Item = Result<Nla<'a>, &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let b = self.buf;
        if b.len() < 4 {
            // Fewer bytes than a header: padding, as the kernel's own
            // nla_ok() treats it.
            self.buf = &[];
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([b[0], b[1]]));
        if len < 4 || len > b.len() {
            self.buf = &[];
            return Some(Err("attribute length out of bounds"));
        }
        let kind = u16::from_ne_bytes([b[2], b[3]]) & netlink_packet_core::NLA_TYPE_MASK;
        self.buf = b.get((len + 3) & !3..).unwrap_or_default();
        Some(Ok(Nla {
            kind,
            value: &b[4..len],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_stops_on_garbage() {
        let mut b = Vec::new();
        b.extend_from_slice(&8u16.to_ne_bytes());
        b.extend_from_slice(&4u16.to_ne_bytes());
        b.extend_from_slice(&1500u32.to_ne_bytes());
        b.extend_from_slice(&7u16.to_ne_bytes());
        b.extend_from_slice(&3u16.to_ne_bytes());
        b.extend_from_slice(b"ab\0\0");
        let v: Vec<_> = Nlas::new(&b).collect();
        assert_eq!(v.len(), 2);
        let a = v[0].unwrap();
        assert_eq!((a.kind, a.u32()), (4, Some(1500)));
        assert_eq!(v[1].unwrap().str(), "ab");
        // A length beyond the buffer, a length below the header.
        for bad in [[200u8, 0, 1, 0], [2, 0, 1, 0]] {
            let r: Vec<_> = Nlas::new(&bad).collect();
            assert!(r.len() == 1 && r[0].is_err());
        }
        // Fewer bytes than a header are padding.
        assert!(Nlas::new(&[1, 2]).next().is_none());
    }

    #[test]
    fn written_attributes_read_back() {
        let mut b = Vec::new();
        put_str(&mut b, 3, "eth0");
        put(&mut b, 29, &8u32.to_ne_bytes());
        assert_eq!(b.len(), 12 + 8);
        let v: Vec<_> = Nlas::new(&b).map(|a| a.unwrap()).collect();
        assert_eq!((v[0].kind, v[0].str()), (3, "eth0".to_owned()));
        assert_eq!((v[1].kind, v[1].u32()), (29, Some(8)));
    }
}
