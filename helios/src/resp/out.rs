//! Reply encoding into a connection's output buffer.
//!
//! Commands call these methods directly; nothing builds an intermediate
//! reply tree. RESP3-only types (map, set, null, double, boolean, verbatim,
//! push) are written in their RESP2 form when the client speaks RESP2,
//! exactly as Redis degrades them.

/// A connection's pending output plus the protocol version it speaks.
#[derive(Debug, Default)]
pub struct Out {
    pub buf: Vec<u8>,
    pub resp3: bool,
}

impl Out {
    pub fn new(resp3: bool) -> Self {
        Out::with_capacity(resp3, 4096)
    }

    /// A buffer for a few small replies: a request of 1 KiB or more from
    /// glibc's malloc first consolidates its free lists, which is costly
    /// when made once per Raft entry.
    pub fn with_capacity(resp3: bool, capacity: usize) -> Self {
        Out {
            buf: Vec::with_capacity(capacity),
            resp3,
        }
    }

    fn line(&mut self, prefix: u8, n: i64) {
        self.buf.push(prefix);
        push_i64(&mut self.buf, n);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A status reply (`+PONG`). Must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply; `msg` starts with the error code (`ERR ...`,
    /// `WRONGTYPE ...`). Newlines are replaced, as Redis does, so a reply
    /// can never break the framing.
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        for b in msg.bytes() {
            self.buf
                .push(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.line(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.line(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// The null array (`*-1` in RESP2, `_` in RESP3).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    /// A push header (pub/sub messages and replies); in RESP2 an array.
    pub fn push(&mut self, len: usize) {
        self.line(if self.resp3 { b'>' } else { b'*' }, len as i64);
    }

    pub fn array(&mut self, len: usize) {
        self.line(b'*', len as i64);
    }

    /// A map header; in RESP2 a flat array of `2 * len` elements.
    pub fn map(&mut self, len: usize) {
        if self.resp3 {
            self.line(b'%', len as i64);
        } else {
            self.line(b'*', 2 * len as i64);
        }
    }

    /// A set header; in RESP2 an array.
    pub fn set(&mut self, len: usize) {
        self.line(if self.resp3 { b'~' } else { b'*' }, len as i64);
    }

    /// Verbatim text (`INFO`, `CLIENT INFO`); in RESP2 a bulk string.
    pub fn verbatim(&mut self, text: &str) {
        if self.resp3 {
            self.line(b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// Bulk strings of every item, as an array.
    pub fn bulk_array<'a>(&mut self, items: impl ExactSizeIterator<Item = &'a [u8]>) {
        self.array(items.len());
        for it in items {
            self.bulk(it);
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Appends the decimal form of `n` without allocating.
pub fn push_i64(buf: &mut Vec<u8>, n: i64) {
    let mut tmp = [0u8; 20];
    buf.extend_from_slice(fmt_i64(n, &mut tmp));
}

/// Formats `n` in decimal into `tmp`, returning the digits.
pub fn fmt_i64(n: i64, tmp: &mut [u8; 20]) -> &[u8] {
    let mut i = tmp.len();
    let neg = n < 0;
    let mut u = n.unsigned_abs();
    loop {
        i -= 1;
        tmp[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        tmp[i] = b'-';
    }
    &tmp[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(resp3: bool, f: impl FnOnce(&mut Out)) -> String {
        let mut o = Out::new(resp3);
        f(&mut o);
        String::from_utf8(o.buf).unwrap()
    }

    #[test]
    fn golden_resp2() {
        assert_eq!(enc(false, |o| o.ok()), "+OK\r\n");
        assert_eq!(enc(false, |o| o.int(-42)), ":-42\r\n");
        assert_eq!(enc(false, |o| o.int(i64::MIN)), ":-9223372036854775808\r\n");
        assert_eq!(enc(false, |o| o.bulk(b"hi")), "$2\r\nhi\r\n");
        assert_eq!(enc(false, |o| o.null()), "$-1\r\n");
        assert_eq!(enc(false, |o| o.null_array()), "*-1\r\n");
        assert_eq!(enc(false, |o| o.map(2)), "*4\r\n");
        assert_eq!(enc(false, |o| o.set(3)), "*3\r\n");
        assert_eq!(enc(false, |o| o.verbatim("a")), "$1\r\na\r\n");
        assert_eq!(
            enc(false, |o| o.error("ERR bad\r\nthing")),
            "-ERR bad  thing\r\n"
        );
    }

    #[test]
    fn golden_resp3() {
        assert_eq!(enc(true, |o| o.null()), "_\r\n");
        assert_eq!(enc(true, |o| o.map(2)), "%2\r\n");
        assert_eq!(enc(true, |o| o.set(3)), "~3\r\n");
        assert_eq!(enc(true, |o| o.verbatim("a")), "=5\r\ntxt:a\r\n");
    }
}
