//! Request parsing: multibulk and inline commands, with limits.
//!
//! Error texts are Redis's own (`Protocol error: invalid bulk length`, ...),
//! because client libraries and Redis's tests match on them.

use bytes::{Bytes, BytesMut};

/// Limits enforced while parsing, before any allocation they guard.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted bulk string (`proto-max-bulk-len`).
    pub max_bulk_len: usize,
    /// Largest accepted multibulk element count.
    pub max_multibulk_len: usize,
    /// Longest inline command line, and longest `*<n>`/`$<n>` header line.
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
            max_inline_len: 64 * 1024,
        }
    }
}

/// A protocol violation: the connection is answered with
/// `-ERR Protocol error: <msg>` and closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Protocol error: {}", self.0)
    }
}

fn perr(msg: impl Into<String>) -> ParseError {
    ParseError(msg.into())
}

/// Incremental request parser. It remembers how far into a large multibulk
/// it got, so a 100 MB `SET` arriving in many reads is scanned once.
#[derive(Debug, Default)]
pub struct RequestParser {
    limits: Limits,
    /// Bytes of the pending request that still need to arrive; a hint for
    /// how much buffer to reserve.
    pub wanted: usize,
}

impl RequestParser {
    pub fn new(limits: Limits) -> Self {
        RequestParser { limits, wanted: 0 }
    }

    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Parses one request from the front of `buf`.
    ///
    /// Returns `Ok(Some(args))` and removes the request from `buf`;
    /// `Ok(None)` when more bytes are needed (nothing is consumed);
    /// `Ok(Some(empty))` for an empty request (blank inline line or `*0`),
    /// which callers skip. Errors are protocol violations.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ParseError> {
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] == b'*' {
            self.parse_multibulk(buf)
        } else {
            self.parse_inline(buf)
        }
    }

    fn parse_multibulk(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ParseError> {
        let lim = self.limits;
        let Some((count, mut pos)) = read_header(buf, 0, lim.max_inline_len, "mbulk")? else {
            return Ok(None);
        };
        if count > i32::MAX as i64 || count > lim.max_multibulk_len as i64 {
            return Err(perr("invalid multibulk length"));
        }
        if count <= 0 {
            let _ = buf.split_to(pos);
            return Ok(Some(Vec::new()));
        }
        let count = count as usize;
        // Ranges first; slices are cut after the whole request is present.
        let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            if pos >= buf.len() {
                self.wanted = 0;
                return Ok(None);
            }
            if buf[pos] != b'$' {
                let got = buf[pos] as char;
                return Err(perr(format!("expected '$', got '{got}'")));
            }
            let Some((len, next)) = read_header(buf, pos, lim.max_inline_len, "bulk")? else {
                return Ok(None);
            };
            if len < 0 || len as u64 > lim.max_bulk_len as u64 {
                return Err(perr("invalid bulk length"));
            }
            let len = len as usize;
            let end = next + len;
            if end + 2 > buf.len() {
                self.wanted = end + 2 - buf.len();
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(perr("expected CRLF after bulk string"));
            }
            ranges.push((next, end));
            pos = end + 2;
        }
        self.wanted = 0;
        let frame = buf.split_to(pos).freeze();
        Ok(Some(
            ranges.into_iter().map(|(s, e)| frame.slice(s..e)).collect(),
        ))
    }

    fn parse_inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ParseError> {
        let Some(nl) = memchr(b'\n', buf) else {
            if buf.len() > self.limits.max_inline_len {
                return Err(perr("too big inline request"));
            }
            return Ok(None);
        };
        if nl > self.limits.max_inline_len {
            return Err(perr("too big inline request"));
        }
        let line = buf.split_to(nl + 1);
        let mut line = &line[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        match split_args(line) {
            Some(args) => Ok(Some(args.into_iter().map(Bytes::from).collect())),
            None => Err(perr("unbalanced quotes in request")),
        }
    }
}

/// Reads a `<prefix><integer>\r\n` header line starting at `at`.
/// Returns the integer and the offset just past the CRLF.
fn read_header(
    buf: &[u8],
    at: usize,
    max_line: usize,
    what: &str,
) -> Result<Option<(i64, usize)>, ParseError> {
    let rest = &buf[at + 1..];
    let Some(cr) = memchr(b'\r', rest) else {
        if rest.len() > max_line {
            return Err(perr(format!("too big {what} count string")));
        }
        return Ok(None);
    };
    if cr + 1 >= rest.len() {
        return Ok(None);
    }
    if rest[cr + 1] != b'\n' {
        return Err(perr(format!("invalid {what} length")));
    }
    let n = parse_i64(&rest[..cr]).ok_or_else(|| {
        perr(if what == "mbulk" {
            "invalid multibulk length"
        } else {
            "invalid bulk length"
        })
    })?;
    Ok(Some((n, at + 1 + cr + 2)))
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Strict decimal i64: optional '-', digits, no spaces or '+', no overflow.
/// Redis's `string2ll` rules, used for protocol headers and integer args.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || (digits[0] == b'0' && digits.len() > 1) {
        return None;
    }
    if neg && digits == b"0" {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = (d - b'0') as i64;
        v = if neg {
            v.checked_mul(10)?.checked_sub(d)?
        } else {
            v.checked_mul(10)?.checked_add(d)?
        };
    }
    Some(v)
}

/// Splits an inline command line like Redis's `sdssplitargs`: whitespace
/// separated, with "double quotes" (supporting \n \r \t \b \a \\ \" \xHH)
/// and 'single quotes' (supporting \'). `None` on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    let hex = std::str::from_utf8(&line[i + 2..i + 4]).ok()?;
                    cur.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 3;
                } else if line[i] == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if line[i] == b'"' {
                    // Closing quote must be followed by a space or the end.
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    in_dq = false;
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else if in_sq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if line[i] == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    in_sq = false;
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else {
                if i >= n || line[i].is_ascii_whitespace() {
                    break;
                }
                match line[i] {
                    b'"' if cur.is_empty() => in_dq = true,
                    b'\'' if cur.is_empty() => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        let _ = (in_dq, in_sq);
        args.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ParseError> {
        let mut p = RequestParser::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(args) = p.parse(&mut buf)? {
            out.push(args.iter().map(|a| a.to_vec()).collect());
        }
        Ok(out)
    }

    fn v(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_and_pipelining() {
        let got = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(got, vec![v(&["GET", "k"]), v(&["PING"])]);
    }

    #[test]
    fn binary_safe_bulk() {
        let got = parse_all(b"*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n").unwrap();
        assert_eq!(got[0][1], b"a\r\nb".to_vec());
    }

    #[test]
    fn partial_frames_wait_for_more() {
        let full = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        for cut in 1..full.len() {
            let mut p = RequestParser::default();
            let mut buf = BytesMut::from(&full[..cut]);
            assert_eq!(p.parse(&mut buf).unwrap(), None, "cut at {cut}");
            assert_eq!(buf.len(), cut, "nothing consumed at {cut}");
            buf.extend_from_slice(&full[cut..]);
            let args = p.parse(&mut buf).unwrap().unwrap();
            assert_eq!(args.len(), 3);
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn inline_commands() {
        let got = parse_all(b"PING\r\nSET k \"a b\\n\"\r\n\r\nGET 'it\\'s'\n").unwrap();
        assert_eq!(
            got,
            vec![
                v(&["PING"]),
                v(&["SET", "k", "a b\n"]),
                vec![],
                v(&["GET", "it's"])
            ]
        );
    }

    #[test]
    fn inline_hex_escape_and_unbalanced_quotes() {
        assert_eq!(split_args(b"\"\\x41\\x4a\"").unwrap(), v(&["AJ"]));
        assert!(split_args(b"\"abc").is_none());
        assert!(split_args(b"\"abc\"x").is_none());
        let err = parse_all(b"SET \"k\r\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Protocol error: unbalanced quotes in request"
        );
    }

    #[test]
    fn limits_are_checked_before_allocation() {
        let err = parse_all(b"*2\r\n$536870913\r\n").unwrap_err();
        assert_eq!(err.to_string(), "Protocol error: invalid bulk length");
        let err = parse_all(b"*1048577\r\n").unwrap_err();
        assert_eq!(err.to_string(), "Protocol error: invalid multibulk length");
        let err = parse_all(b"*1\r\n$-5\r\n").unwrap_err();
        assert_eq!(err.to_string(), "Protocol error: invalid bulk length");
        let err = parse_all(b"*x\r\n").unwrap_err();
        assert_eq!(err.to_string(), "Protocol error: invalid multibulk length");
        let err = parse_all(b"*1\r\n+OK\r\n").unwrap_err();
        assert_eq!(err.to_string(), "Protocol error: expected '$', got '+'");
        let long = vec![b'a'; 70 * 1024];
        let err = parse_all(&long).unwrap_err();
        assert_eq!(err.to_string(), "Protocol error: too big inline request");
    }

    #[test]
    fn empty_multibulk_is_skipped() {
        let empty: Vec<Vec<u8>> = vec![];
        assert_eq!(
            parse_all(b"*0\r\n*-1\r\n").unwrap(),
            vec![empty.clone(), empty]
        );
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"123"), Some(123));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b""[..], b"+1", b" 1", b"01", b"-0", b"1a", b"-"] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
