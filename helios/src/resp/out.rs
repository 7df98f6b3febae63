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

    /// A double (`ZSCORE`): RESP3 `,`, RESP2 a bulk string, both in
    /// [`fmt_double`]'s text.
    pub fn double(&mut self, d: f64) {
        let text = fmt_double(d);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(text.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
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

/// A double as Redis 7.0 prints it: C's `%.17g` (17 significant digits,
/// trailing zeros dropped, exponent form below 1e-4 and from 1e17), and
/// `inf` / `-inf`. Every double survives the round trip through its text.
pub fn fmt_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sign = if d < 0.0 { "-" } else { "" };
    // "d.dddddddddddddddde[-]x": the 17 significant digits, correctly
    // rounded as printf rounds them.
    let sci = format!("{:.16e}", d.abs());
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("an integer exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let trim = |s: &str| s.trim_end_matches('0').to_string();
    if (-4..17).contains(&exp) {
        let (int, frac) = if exp >= 0 {
            let split = exp as usize + 1;
            (digits[..split].to_string(), trim(&digits[split..]))
        } else {
            let zeros = "0".repeat((-exp - 1) as usize);
            ("0".to_string(), trim(&format!("{zeros}{digits}")))
        };
        if frac.is_empty() {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac}")
        }
    } else {
        let frac = trim(&digits[1..]);
        let dot = if frac.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{}{dot}{frac}e{esign}{:02}", &digits[..1], exp.abs())
    }
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
    fn doubles_print_as_printf_17g() {
        let cases = [
            (0.1, "0.10000000000000001"),
            (1.5, "1.5"),
            (100.0, "100"),
            (-2.5, "-2.5"),
            (1e17, "1e+17"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (12345678901234567.0, "12345678901234568"),
            (-0.0, "-0"),
            (0.0, "0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (1e-300, "1e-300"),
            (f64::MAX, "1.7976931348623157e+308"),
        ];
        for (d, text) in cases {
            assert_eq!(fmt_double(d), text, "{d:e}");
        }
        assert_eq!(enc(false, |o| o.double(2.0)), "$1\r\n2\r\n");
        assert_eq!(enc(true, |o| o.double(-1.5)), ",-1.5\r\n");
        assert_eq!(enc(true, |o| o.double(f64::INFINITY)), ",inf\r\n");
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
