//! Argument documentation for COMMAND DOCS (and so redis-cli's hints), derived from each
//! spec's compact syntax string.
//!
//! Syntax: words separated by spaces; `UPPER` is a literal token; `name` or `name:type` an
//! argument (`key` names are keys; types: string, integer, double, key, pattern, unix-time);
//! `[...]` optional; `(...)` a group; `a|b` alternatives; a trailing `...` repeats.
//! A token followed by an argument (`EX seconds`) documents one argument with that token.

use bytes::Bytes;

use crate::protocol::Reply;

/// One documented argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    name: String,
    typ: &'static str,
    token: Option<String>,
    optional: bool,
    multiple: bool,
    children: Vec<Arg>,
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i] == b' ' {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat_dots(&mut self) -> bool {
        if self.s[self.i..].starts_with(b"...") {
            self.i += 3;
            true
        } else {
            false
        }
    }

    /// Alternatives of sequences, up to `close` (or the end).
    fn alts(&mut self, close: Option<u8>) -> Vec<Vec<Arg>> {
        let mut alts = vec![Vec::new()];
        loop {
            self.skip_ws();
            match self.peek() {
                None => return alts,
                Some(c) if Some(c) == close => {
                    self.i += 1;
                    return alts;
                }
                Some(b'|') => {
                    self.i += 1;
                    alts.push(Vec::new());
                }
                Some(_) => {
                    let item = self.item();
                    alts.last_mut().expect("one alternative at least").push(item);
                }
            }
        }
    }

    fn item(&mut self) -> Arg {
        let c = self.peek().expect("item start");
        let mut arg = if c == b'[' || c == b'(' {
            self.i += 1;
            let close = if c == b'[' { b']' } else { b')' };
            let mut a = combine(self.alts(Some(close)));
            a.optional |= c == b'[';
            a
        } else {
            let start = self.i;
            while self.i < self.s.len() && !b" |[]()".contains(&self.s[self.i]) && !self.s[self.i..].starts_with(b"...") {
                self.i += 1;
            }
            word(std::str::from_utf8(&self.s[start..self.i]).unwrap_or(""))
        };
        if self.eat_dots() {
            arg.multiple = true;
        }
        arg
    }
}

fn word(w: &str) -> Arg {
    let (name, typ) = match w.split_once(':') {
        Some((n, t)) => (n, t),
        None if w.chars().all(|c| !c.is_ascii_lowercase()) => (w, "pure-token"),
        None if w == "key" => (w, "key"),
        None if w == "pattern" => (w, "pattern"),
        None if ["seconds", "milliseconds", "count", "offset", "start", "end", "increment", "decrement", "index", "db"].contains(&w) => {
            (w, "integer")
        }
        None if w.starts_with("unix-time") => (w, "unix-time"),
        None => (w, "string"),
    };
    let typ = match typ {
        "integer" => "integer",
        "double" => "double",
        "key" => "key",
        "pattern" => "pattern",
        "unix-time" => "unix-time",
        "pure-token" => "pure-token",
        _ => "string",
    };
    let token = (typ == "pure-token").then(|| name.to_string());
    Arg { name: name.to_ascii_lowercase(), typ, token, optional: false, multiple: false, children: Vec::new() }
}

/// Turns one alternative's sequence into a single argument.
fn seq(mut items: Vec<Arg>) -> Arg {
    if items.len() == 2 && items[0].typ == "pure-token" && items[1].typ != "pure-token" && items[1].token.is_none() {
        let value = items.pop().expect("two items");
        return Arg { token: items[0].token.clone(), ..value };
    }
    if items.len() == 1 {
        return items.pop().expect("one item");
    }
    let name = items.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join("-");
    Arg { name, typ: "block", token: None, optional: false, multiple: false, children: items }
}

fn combine(alts: Vec<Vec<Arg>>) -> Arg {
    let mut alts: Vec<Arg> = alts.into_iter().filter(|a| !a.is_empty()).map(seq).collect();
    if alts.len() == 1 {
        return alts.pop().expect("one alternative");
    }
    let name = alts.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join("-");
    Arg { name, typ: "oneof", token: None, optional: false, multiple: false, children: alts }
}

/// Parses a syntax string into its top-level arguments.
pub fn parse(syntax: &str) -> Vec<Arg> {
    let mut p = P { s: syntax.as_bytes(), i: 0 };
    let mut alts = p.alts(None);
    if alts.len() == 1 {
        alts.pop().expect("one alternative")
    } else {
        vec![combine(alts)]
    }
}

fn b(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

/// The COMMAND DOCS map of one argument.
pub fn arg_reply(a: &Arg) -> Reply {
    let mut m = vec![(b("name"), b(&a.name)), (b("type"), b(a.typ))];
    if a.typ == "key" {
        m.push((b("key_spec_index"), Reply::Int(0)));
    }
    if let Some(t) = &a.token {
        m.push((b("token"), b(t)));
    }
    let mut flags = Vec::new();
    if a.optional {
        flags.push(Reply::Status("optional"));
    }
    if a.multiple {
        flags.push(Reply::Status("multiple"));
    }
    if !flags.is_empty() {
        m.push((b("flags"), Reply::Set(flags)));
    }
    if !a.children.is_empty() {
        m.push((b("arguments"), Reply::Array(a.children.iter().map(arg_reply).collect())));
    }
    Reply::Map(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_set_syntax() {
        let args = parse("key value [NX|XX] [GET] [EX seconds|PX milliseconds|KEEPTTL]");
        assert_eq!(args.len(), 5);
        assert_eq!(args[0].typ, "key");
        assert_eq!(args[2].typ, "oneof");
        assert!(args[2].optional);
        assert_eq!(args[3].token.as_deref(), Some("GET"));
        let exp = &args[4].children;
        assert_eq!(exp[0].token.as_deref(), Some("EX"));
        assert_eq!(exp[0].typ, "integer");
        let mset = parse("(key value)...");
        assert_eq!(mset[0].typ, "block");
        assert!(mset[0].multiple);
        assert!(parse("").is_empty());
    }
}
