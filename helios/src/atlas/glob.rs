//! Glob-style pattern matching, as Redis's `stringmatchlen` does it for
//! `KEYS`, `SCAN MATCH` and `CONFIG GET`: `*`, `?`, `[abc]`, `[^a-z]`, and
//! `\` escapes. Byte-wise, optionally case-insensitive.

pub fn matches(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    match_at(pattern, s, nocase, 0)
}

fn lower(b: u8, nocase: bool) -> u8 {
    if nocase {
        b.to_ascii_lowercase()
    } else {
        b
    }
}

fn match_at(mut p: &[u8], mut s: &[u8], nocase: bool, depth: usize) -> bool {
    // Redis caps recursion to avoid stack exhaustion on hostile patterns.
    if depth > 1000 {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for i in 0..s.len() {
                    if match_at(&p[1..], &s[i..], nocase, depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                s = &s[1..];
            }
            b'[' => {
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    if p.is_empty() {
                        // Unterminated class: Redis treats the end as closing.
                        break;
                    }
                    if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        if p[0] == s[0] {
                            matched = true;
                        }
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut a, mut b) = (lower(p[0], nocase), lower(p[2], nocase));
                        if a > b {
                            std::mem::swap(&mut a, &mut b);
                        }
                        let c = lower(s[0], nocase);
                        if c >= a && c <= b {
                            matched = true;
                        }
                        p = &p[2..];
                    } else if lower(p[0], nocase) == lower(s[0], nocase) {
                        matched = true;
                    }
                    p = &p[1..];
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // Pattern ended inside the class.
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if lower(p[0], nocase) != lower(s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                if lower(c, nocase) != lower(s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_cases() {
        let yes = [
            ("*", "anything"),
            ("h?llo", "hello"),
            ("h*llo", "heeeello"),
            ("h[ae]llo", "hallo"),
            ("h[^e]llo", "hallo"),
            ("h[a-b]llo", "hbllo"),
            ("h[b-a]llo", "hallo"),
            ("h\\*llo", "h*llo"),
            ("key:*", "key:1"),
            ("*:1", "key:1"),
            ("a*b*c", "aXXbYYc"),
        ];
        for (p, s) in yes {
            assert!(matches(p.as_bytes(), s.as_bytes(), false), "{p} ~ {s}");
        }
        let no = [
            ("h?llo", "hllo"),
            ("h[ae]llo", "hillo"),
            ("h[^e]llo", "hello"),
            ("h\\*llo", "hello"),
            ("key:*", "other"),
            ("a*b*c", "aXXbYY"),
            ("", "x"),
            // As in Redis: a pattern never matches the empty string
            // (KEYS * and SCAN MATCH * special-case "*").
            ("*", ""),
        ];
        for (p, s) in no {
            assert!(!matches(p.as_bytes(), s.as_bytes(), false), "{p} !~ {s}");
        }
        assert!(matches(b"HELLO", b"hello", true));
    }
}
