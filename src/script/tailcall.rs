//! Keeps the script's frame when it returns a `redis.call` directly.
//!
//! Redis's `redis.call` is a C function, and Lua 5.1 does not turn a call of a C function in
//! `return f(...)` into a tail call, so the error handler finds the script's line there
//! (`... script: <sha>, on @user_script:1.`). Ours is a Lua function (it may yield while a
//! command waits for another shard), whose tail call would replace the script's frame and
//! lose that line. So before compiling, `return redis.call(...)` and `return
//! redis.pcall(...)` become `return (redis.call(...))`: a parenthesised call is not a tail
//! call, returns the same single value, and stays on the same lines.

use std::borrow::Cow;

/// The script with every `return redis.call(` / `return redis.pcall(` call parenthesised;
/// the text unchanged when it has none (or when its brackets do not balance).
pub fn keep_script_frame(src: &[u8]) -> Cow<'_, [u8]> {
    let mut inserts: Vec<(usize, u8)> = Vec::new();
    // Open candidate calls: (position of `redis`, paren depth inside the call).
    let mut open: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let n = src.len();
    while i < n {
        let c = src[i];
        match c {
            b'-' if src.get(i + 1) == Some(&b'-') => {
                i += 2;
                match long_bracket(src, i) {
                    Some(level) => match close_long(src, i, level) {
                        Some(end) => i = end,
                        None => return Cow::Borrowed(src),
                    },
                    None => {
                        while i < n && src[i] != b'\n' {
                            i += 1;
                        }
                    }
                }
            }
            b'[' => match long_bracket(src, i) {
                Some(level) => match close_long(src, i, level) {
                    Some(end) => i = end,
                    None => return Cow::Borrowed(src),
                },
                None => i += 1,
            },
            b'\'' | b'"' => {
                i += 1;
                loop {
                    match src.get(i) {
                        None => return Cow::Borrowed(src),
                        Some(b'\\') => i += 2,
                        Some(&q) if q == c => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' => {
                if depth == 0 {
                    return Cow::Borrowed(src);
                }
                if open.last() == Some(&depth) {
                    open.pop();
                    inserts.push((i + 1, b')'));
                }
                depth -= 1;
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while i < n && (src[i].is_ascii_alphanumeric() || src[i] == b'_') {
                    i += 1;
                }
                if &src[start..i] == b"return" && !start_is_inside_word(src, start) {
                    if let Some((at, paren)) = redis_call_after(src, i) {
                        inserts.push((at, b'('));
                        depth += 1;
                        open.push(depth);
                        i = paren + 1;
                    }
                }
            }
            _ => i += 1,
        }
    }
    if inserts.is_empty() || !open.is_empty() {
        return Cow::Borrowed(src);
    }
    inserts.sort_by_key(|&(at, _)| at);
    let mut out = Vec::with_capacity(n + inserts.len());
    let mut from = 0;
    for (at, b) in inserts {
        out.extend_from_slice(&src[from..at]);
        out.push(b);
        from = at;
    }
    out.extend_from_slice(&src[from..]);
    Cow::Owned(out)
}

/// Whether the byte before `start` continues an identifier (`return` inside `xreturn`).
fn start_is_inside_word(src: &[u8], start: usize) -> bool {
    start > 0 && (src[start - 1].is_ascii_alphanumeric() || src[start - 1] == b'_' || src[start - 1] == b'.')
}

/// After `return` at `i`: `redis.call(` or `redis.pcall(` (spaces allowed between the
/// tokens) gives the position of `redis` and of its `(`.
fn redis_call_after(src: &[u8], mut i: usize) -> Option<(usize, usize)> {
    let skip_ws = |mut i: usize| {
        while i < src.len() && src[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    i = skip_ws(i);
    let at = i;
    i = src[i..].starts_with(b"redis").then_some(i + 5)?;
    i = skip_ws(i);
    i = (src.get(i) == Some(&b'.')).then_some(i + 1)?;
    i = skip_ws(i);
    i = if src[i..].starts_with(b"call") {
        i + 4
    } else if src[i..].starts_with(b"pcall") {
        i + 5
    } else {
        return None;
    };
    i = skip_ws(i);
    (src.get(i) == Some(&b'(')).then_some((at, i))
}

/// The level of a long bracket `[==[` opening at `i` (the number of `=`), if one does.
fn long_bracket(src: &[u8], i: usize) -> Option<usize> {
    if src.get(i) != Some(&b'[') {
        return None;
    }
    let mut j = i + 1;
    while src.get(j) == Some(&b'=') {
        j += 1;
    }
    (src.get(j) == Some(&b'[')).then_some(j - i - 1)
}

/// The position just past the `]==]` closing a long bracket of `level` opened at `i`.
fn close_long(src: &[u8], i: usize, level: usize) -> Option<usize> {
    let mut j = i + level + 2;
    while j < src.len() {
        if src[j] == b']' && src.get(j + 1 + level) == Some(&b']') && src[j + 1..j + 1 + level].iter().all(|&b| b == b'=') {
            return Some(j + level + 2);
        }
        j += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::keep_script_frame;

    fn t(s: &str) -> String {
        String::from_utf8(keep_script_frame(s.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn a_returned_call_is_parenthesised_on_the_same_lines() {
        assert_eq!(t("return redis.call('get', KEYS[1])"), "return (redis.call('get', KEYS[1]))");
        assert_eq!(t("return redis.pcall('x')"), "return (redis.pcall('x'))");
        assert_eq!(
            t("local a = 1\nreturn  redis . call ( 'set', 'k',\n 'v' )"),
            "local a = 1\nreturn  (redis . call ( 'set', 'k',\n 'v' ))"
        );
        assert_eq!(t("return redis.call('incr', (KEYS[1]))"), "return (redis.call('incr', (KEYS[1])))");
        // Nested, and inside functions.
        assert_eq!(
            t("local function f() return redis.call('a', (function() return redis.call('b') end)()) end return f()"),
            "local function f() return (redis.call('a', (function() return (redis.call('b')) end)())) end return f()"
        );
    }

    #[test]
    fn strings_comments_and_other_calls_are_left_alone() {
        for s in [
            "return 'return redis.call(\"x\")'",
            "-- return redis.call('x')\nreturn 1",
            "--[[ return redis.call('x') ]] return 1",
            "return [==[ return redis.call( ]==]",
            "local x = redis.call('get', 'k') return x",
            "xreturn redis.call('x')",
            "return redis.call 'x'",
            "return redis.call('a'",
            "return redis.call(')')) x(",
        ] {
            assert_eq!(t(s), s);
        }
        assert_eq!(t("return redis.call(')', \"(\", [[)]])"), "return (redis.call(')', \"(\", [[)]]))");
    }
}
