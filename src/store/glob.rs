//! Redis glob matching (`stringmatchlen`): `*`, `?`, `[a-z]`, `[^a]`, and `\` escapes.
//!
//! A port that keeps Redis's quirks: bytes compare as C `char` (signed) in ranges, an
//! unterminated `[` matches as if closed, and a failed `*` stops retrying longer matches.

fn at(p: &[u8], i: usize) -> u8 {
    p.get(i).copied().unwrap_or(0)
}

fn lower(c: u8) -> u8 {
    c.to_ascii_lowercase()
}

fn matches_impl(pat: &[u8], mut pi: usize, s: &[u8], mut si: usize, nocase: bool, skip: &mut bool) -> bool {
    let mut plen = pat.len() as isize - pi as isize;
    let mut slen = s.len() as isize - si as isize;
    while plen > 0 && slen > 0 {
        match at(pat, pi) {
            b'*' => {
                while plen > 0 && at(pat, pi + 1) == b'*' {
                    pi += 1;
                    plen -= 1;
                }
                if plen == 1 {
                    return true;
                }
                while slen > 0 {
                    if matches_impl(pat, pi + 1, s, si, nocase, skip) {
                        return true;
                    }
                    if *skip {
                        return false;
                    }
                    si += 1;
                    slen -= 1;
                }
                *skip = true;
                return false;
            }
            b'?' => {
                si += 1;
                slen -= 1;
            }
            b'[' => {
                pi += 1;
                plen -= 1;
                let not = at(pat, pi) == b'^';
                if not {
                    pi += 1;
                    plen -= 1;
                }
                let mut matched = false;
                let c = at(s, si);
                loop {
                    if at(pat, pi) == b'\\' && plen >= 2 {
                        pi += 1;
                        plen -= 1;
                        if at(pat, pi) == c {
                            matched = true;
                        }
                    } else if at(pat, pi) == b']' {
                        break;
                    } else if plen == 0 {
                        pi -= 1;
                        plen += 1;
                        break;
                    } else if plen >= 3 && at(pat, pi + 1) == b'-' {
                        // C compares these as signed chars.
                        let (mut start, mut end) = (at(pat, pi), at(pat, pi + 2));
                        let mut ch = c;
                        if nocase {
                            start = lower(start);
                            end = lower(end);
                            ch = lower(ch);
                        }
                        let (mut a, mut b, x) = (start as i8, end as i8, ch as i8);
                        if a > b {
                            std::mem::swap(&mut a, &mut b);
                        }
                        pi += 2;
                        plen -= 2;
                        if x >= a && x <= b {
                            matched = true;
                        }
                    } else if (!nocase && at(pat, pi) == c) || (nocase && lower(at(pat, pi)) == lower(c)) {
                        matched = true;
                    }
                    pi += 1;
                    plen -= 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                si += 1;
                slen -= 1;
            }
            first => {
                let mut pc = first;
                if first == b'\\' && plen >= 2 {
                    pi += 1;
                    plen -= 1;
                    pc = at(pat, pi);
                }
                let c = at(s, si);
                if (!nocase && pc != c) || (nocase && lower(pc) != lower(c)) {
                    return false;
                }
                si += 1;
                slen -= 1;
            }
        }
        pi += 1;
        plen -= 1;
        if slen == 0 {
            while at(pat, pi) == b'*' && plen > 0 {
                pi += 1;
                plen -= 1;
            }
            break;
        }
    }
    plen == 0 && slen == 0
}

/// Whether `s` matches the glob `pattern`, as Redis's `stringmatchlen`.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut skip = false;
    matches_impl(pattern, 0, s, 0, nocase, &mut skip)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn redis_glob_cases() {
        let yes: &[(&str, &str)] = &[
            ("*", "anything"),
            ("h?llo", "hello"),
            ("h*llo", "heeeello"),
            ("h[ae]llo", "hallo"),
            ("h[^e]llo", "hallo"),
            ("h[a-b]llo", "hbllo"),
            ("h[b-a]llo", "hallo"),
            ("h\\*llo", "h*llo"),
            ("a*", "a"),
            ("*a**", "ba"),
            ("[abc", "a"),
        ];
        for (p, s) in yes {
            assert!(glob_match(p.as_bytes(), s.as_bytes(), false), "{p} ~ {s}");
        }
        let no: &[(&str, &str)] = &[("h[^e]llo", "hello"), ("h?llo", "hllo"), ("a*b", "acbd"), ("", "a"), ("h\\*llo", "hello")];
        for (p, s) in no {
            assert!(!glob_match(p.as_bytes(), s.as_bytes(), false), "{p} !~ {s}");
        }
        assert!(glob_match(b"", b"", false));
        assert!(glob_match(b"HeLLo", b"hello", true));
    }
}
