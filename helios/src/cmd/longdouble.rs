//! Safe wrapper over the C long double helper (`csrc/longdouble.c`).

#[allow(unsafe_code)]
mod ffi {
    extern "C" {
        pub fn helios_incrbyfloat(
            a: *const u8,
            alen: usize,
            b: *const u8,
            blen: usize,
            out: *mut u8,
            outlen: usize,
        ) -> i32;
    }
}

/// Why an `INCRBYFLOAT` could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrFloatError {
    /// The stored value (first operand) is not a float.
    BadValue,
    /// The increment is not a float.
    BadIncrement,
    /// The sum is NaN or infinite.
    NanOrInfinity,
}

/// `a + b` in long double, formatted as Redis's `INCRBYFLOAT` replies.
pub fn incr_by_float(a: &[u8], b: &[u8]) -> Result<Vec<u8>, IncrFloatError> {
    let mut out = vec![0u8; 5 * 1024 + 64];
    #[allow(unsafe_code)]
    // SAFETY: every pointer/length pair describes a live, correctly sized
    // buffer; the C side writes at most `out.len()` bytes and reads at most
    // the given lengths.
    let n = unsafe {
        ffi::helios_incrbyfloat(
            a.as_ptr(),
            a.len(),
            b.as_ptr(),
            b.len(),
            out.as_mut_ptr(),
            out.len(),
        )
    };
    match n {
        -1 => Err(IncrFloatError::BadValue),
        -2 => Err(IncrFloatError::BadIncrement),
        n if n < 0 => Err(IncrFloatError::NanOrInfinity),
        n => {
            out.truncate(n as usize);
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_formatting() {
        let cases: &[(&str, &str, &str)] = &[
            ("10.50", "0.1", "10.6"),
            ("0.1", "0.2", "0.3"),
            ("5.0e3", "2.0e2", "5200"),
            ("0", "-0", "0"),
            ("3", "-3", "0"),
            ("1", "1.5", "2.5"),
        ];
        for (a, b, want) in cases {
            let got = incr_by_float(a.as_bytes(), b.as_bytes()).unwrap();
            assert_eq!(String::from_utf8(got).unwrap(), *want, "{a} + {b}");
        }
    }

    #[test]
    fn rejects_what_redis_rejects() {
        assert_eq!(incr_by_float(b"abc", b"1"), Err(IncrFloatError::BadValue));
        assert_eq!(
            incr_by_float(b"1", b" 1"),
            Err(IncrFloatError::BadIncrement)
        );
        assert_eq!(
            incr_by_float(b"1", b"nan"),
            Err(IncrFloatError::BadIncrement)
        );
        assert_eq!(incr_by_float(b"1", b""), Err(IncrFloatError::BadIncrement));
        assert_eq!(
            incr_by_float(b"inf", b"-inf"),
            Err(IncrFloatError::NanOrInfinity)
        );
        assert_eq!(
            incr_by_float(b"1e4932", b"1e4932"),
            Err(IncrFloatError::NanOrInfinity)
        );
    }
}
