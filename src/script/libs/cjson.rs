//! Lua CJSON 2.1.0 (`cjson` library) as in Redis's `deps/lua/src/lua_cjson.c`: `encode`,
//! `decode`, the configuration functions, `new` and `null`.

use std::cell::Cell;
use std::rc::Rc;

use mlua::{IntoLuaMulti, Lua, MultiValue, Table, Value};

use super::{arg_error, err, exact_value, format_g, lib_fn, strtod, table_next, type_name, Args, LResult, LibError, MAX_SLOTS};

/// Per-module-table settings (one set per `cjson.new()`).
#[derive(Clone, Copy)]
struct Config {
    sparse_convert: i32,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0: refuse NaN/Inf, 1: write them (`nan`, `inf`), 2: write `null`.
    encode_invalid_numbers: i32,
    decode_invalid_numbers: i32,
    encode_keep_buffer: i32,
    encode_number_precision: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: 0,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: 1,
            encode_keep_buffer: 1,
            encode_number_precision: 14,
        }
    }
}

type Cfg = Rc<Cell<Config>>;

/* ===== Configuration functions ===== */

/// `json_arg_init`: at most `n` arguments.
fn arg_init(args: &Args, n: usize) -> LResult<()> {
    if args.len() > n {
        return arg_error(n + 1, "found too many arguments");
    }
    Ok(())
}

fn is_nil(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Nil))
}

/// `json_integer_option`: optionally sets an integer in `min..=max`, returns the setting.
fn integer_option(lua: &Lua, args: &Args, idx: usize, setting: &mut i32, (min, max): (i32, i32)) -> LResult<Value> {
    if !is_nil(args.get(idx)) {
        let value = args.check_integer(lua, idx)? as i32;
        if !(min <= value && value <= max) {
            return arg_error(1, &format!("expected integer between {min} and {max}"));
        }
        *setting = value;
    }
    Ok(Value::Integer(*setting as i64))
}

/// `json_enum_option`: optionally sets an option from a boolean or one of `options`.
fn enum_option(lua: &Lua, args: &Args, idx: usize, setting: &mut i32, options: &[&str]) -> LResult<Value> {
    match args.get(idx) {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => *setting = *b as i32,
        Some(_) => {
            let s = args.check_string(lua, idx)?;
            match options.iter().position(|o| o.as_bytes() == &s.as_bytes()[..]) {
                Some(i) => *setting = i as i32,
                None => {
                    let name = s.to_string_lossy();
                    let name = name.split('\0').next().unwrap_or("");
                    return arg_error(idx, &format!("invalid option '{name}'"));
                }
            }
        }
    }
    if *setting == 0 || *setting == 1 {
        Ok(Value::Boolean(*setting == 1))
    } else {
        Ok(Value::String(lua.create_string(options[*setting as usize])?))
    }
}

const BOOL_OPTIONS: &[&str] = &["off", "on"];

/// Runs a configuration function body on a copy of the settings and stores them back.
fn configure<F>(cfg: &Cfg, f: F) -> LResult<MultiValue>
where
    F: FnOnce(&mut Config) -> LResult<MultiValue>,
{
    let mut c = cfg.get();
    let r = f(&mut c);
    cfg.set(c);
    r
}

/* ===== Encoding ===== */

/// JSON text being built.
struct Encoder {
    cfg: Config,
    buf: Vec<u8>,
}

/// `json_encode_exception`.
fn exception(v: &Value, reason: &str) -> LibError {
    LibError::Msg(format!("Cannot serialise {}: {}", type_name(Some(v)), reason).into_bytes())
}

impl Encoder {
    fn append_string(&mut self, s: &[u8]) {
        self.buf.reserve(s.len() + 2);
        self.buf.push(b'"');
        for &c in s {
            match c {
                b'"' => self.buf.extend_from_slice(b"\\\""),
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                b'/' => self.buf.extend_from_slice(b"\\/"),
                8 => self.buf.extend_from_slice(b"\\b"),
                9 => self.buf.extend_from_slice(b"\\t"),
                10 => self.buf.extend_from_slice(b"\\n"),
                12 => self.buf.extend_from_slice(b"\\f"),
                13 => self.buf.extend_from_slice(b"\\r"),
                0..=0x1f | 0x7f => self.buf.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
                c => self.buf.push(c),
            }
        }
        self.buf.push(b'"');
    }

    /// `json_append_number`; `v` is the Lua value, for the error message.
    fn append_number(&mut self, v: &Value, n: f64) -> LResult<()> {
        match self.cfg.encode_invalid_numbers {
            0 if !n.is_finite() => return Err(exception(v, "must not be NaN or Inf")),
            1 if n.is_nan() => {
                self.buf.extend_from_slice(b"nan");
                return Ok(());
            }
            2 if !n.is_finite() => {
                self.buf.extend_from_slice(b"null");
                return Ok(());
            }
            _ => {}
        }
        self.buf.extend_from_slice(format_g(n, self.cfg.encode_number_precision as usize).as_bytes());
        Ok(())
    }

    /// `lua_array_length`: the array size, or -1 for an object. Errors on excessively sparse arrays.
    fn array_length(&self, t: &Table, v: &Value) -> LResult<i32> {
        let (mut max, mut items) = (0i32, 0i32);
        for pair in t.pairs::<Value, Value>() {
            let k = match pair?.0 {
                Value::Integer(i) => i as f64,
                Value::Number(n) => n,
                _ => return Ok(-1),
            };
            if k == 0.0 || k.floor() != k || k < 1.0 {
                return Ok(-1);
            }
            if k > max as f64 {
                max = super::number_to_int(k);
            }
            items = items.wrapping_add(1);
        }
        let c = &self.cfg;
        if c.sparse_ratio > 0 && max > items.wrapping_mul(c.sparse_ratio) && max > c.sparse_safe {
            if c.sparse_convert == 0 {
                return Err(exception(v, "excessively sparse array"));
            }
            return Ok(-1);
        }
        Ok(max)
    }

    /// Writes a key of an object being encoded.
    fn append_key(&mut self, k: &Value) -> LResult<()> {
        match k {
            Value::Integer(_) | Value::Number(_) => {
                let n = match k {
                    Value::Number(n) => *n,
                    Value::Integer(i) => *i as f64,
                    _ => 0.0,
                };
                self.buf.push(b'"');
                self.append_number(k, n)?;
                self.buf.extend_from_slice(b"\":");
            }
            Value::String(s) => {
                self.append_string(&s.as_bytes());
                self.buf.push(b':');
            }
            _ => return Err(exception(k, "table key must be a number or string")),
        }
        Ok(())
    }

    /// `json_append_data`, iteratively: nested tables use an explicit stack of frames.
    fn append_data(&mut self, lua: &Lua, mut v: Value) -> LResult<()> {
        let mut frames: Vec<EncFrame> = Vec::new();
        // Emulated Lua stack height (for `lua_checkstack`): the argument, plus one slot per
        // enclosing array and two per enclosing object.
        let mut top = 1;
        loop {
            match &v {
                Value::String(s) => self.append_string(&s.as_bytes()),
                Value::Integer(i) => self.append_number(&v, *i as f64)?,
                Value::Number(n) => self.append_number(&v, *n)?,
                Value::Boolean(b) => self.buf.extend_from_slice(if *b { b"true" } else { b"false" }),
                Value::Nil => self.buf.extend_from_slice(b"null"),
                Value::LightUserData(p) if p.0.is_null() => self.buf.extend_from_slice(b"null"),
                Value::Table(t) => {
                    let depth = frames.len() + 1;
                    if depth > self.cfg.encode_max_depth as usize || top + 3 > MAX_SLOTS {
                        return err(format!("Cannot serialise, excessive nesting ({depth})"));
                    }
                    let len = self.array_length(t, &v)?;
                    if len > 0 {
                        self.buf.push(b'[');
                        frames.push(EncFrame::Arr(t.clone(), 1, len as i64));
                        top += 1;
                    } else {
                        self.buf.push(b'{');
                        frames.push(EncFrame::Obj(t.clone(), Value::Nil));
                        top += 2;
                    }
                }
                _ => return Err(exception(&v, "type not supported")),
            }
            // Find the next value to write, closing finished tables.
            loop {
                let Some(frame) = frames.last_mut() else { return Ok(()) };
                match frame {
                    EncFrame::Arr(t, i, len) => {
                        if *i <= *len {
                            if *i > 1 {
                                self.buf.push(b',');
                            }
                            let key = Value::Integer(*i);
                            v = exact_value(t, &key, t.raw_get(*i)?)?;
                            *i += 1;
                            break;
                        }
                        self.buf.push(b']');
                        top -= 1;
                    }
                    EncFrame::Obj(t, key) => {
                        let first = key.is_nil();
                        if let Some((k, item)) = table_next(lua, t, std::mem::replace(key, Value::Nil))? {
                            if !first {
                                self.buf.push(b',');
                            }
                            self.append_key(&k)?;
                            v = item;
                            *key = k;
                            break;
                        }
                        self.buf.push(b'}');
                        top -= 2;
                    }
                }
                frames.pop();
            }
        }
    }
}

/// A table being encoded: array with next index and length, or object with the last key.
enum EncFrame {
    Arr(Table, i64, i64),
    Obj(Table, Value),
}

/// `cjson.encode(value)`.
fn encode(lua: &Lua, cfg: &Cfg, args: Args) -> LResult<MultiValue> {
    if args.len() != 1 {
        return arg_error(1, "expected 1 argument");
    }
    let mut e = Encoder { cfg: cfg.get(), buf: Vec::new() };
    e.append_data(lua, args.0[0].clone())?;
    Ok(lua.create_string(&e.buf)?.into_lua_multi(lua)?)
}

/* ===== Decoding ===== */

/// Token kinds, named as lua_cjson names them in error messages.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
    Error,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ObjBegin => "T_OBJ_BEGIN",
            Kind::ObjEnd => "T_OBJ_END",
            Kind::ArrBegin => "T_ARR_BEGIN",
            Kind::ArrEnd => "T_ARR_END",
            Kind::Str => "T_STRING",
            Kind::Number => "T_NUMBER",
            Kind::Boolean => "T_BOOLEAN",
            Kind::Null => "T_NULL",
            Kind::Colon => "T_COLON",
            Kind::Comma => "T_COMMA",
            Kind::End => "T_END",
            Kind::Error => "T_ERROR",
        }
    }
}

/// A token; strings are left in the parser's `tmp` buffer.
struct Token {
    kind: Kind,
    index: usize,
    num: f64,
    boolean: bool,
    err: &'static str,
}

/// Parser state over the input (which ends at its first NUL byte, as in C).
struct Parser<'a> {
    data: &'a [u8],
    ptr: usize,
    cfg: Config,
    depth: i32,
    tmp: Vec<u8>,
}

fn hex4(p: &Parser<'_>, at: usize) -> Option<u32> {
    (0..4).try_fold(0u32, |acc, i| (p.at(at + i) as char).to_digit(16).map(|d| acc << 4 | d))
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn token(&self, kind: Kind, index: usize) -> Token {
        Token { kind, index, num: 0.0, boolean: false, err: "" }
    }

    fn error_token(&self, msg: &'static str) -> Token {
        Token { kind: Kind::Error, index: self.ptr, num: 0.0, boolean: false, err: msg }
    }

    /// Decodes `\uXXXX` (with surrogate pairs) at `ptr` into `tmp`.
    fn unicode_escape(&mut self) -> Option<()> {
        let mut cp = hex4(self, self.ptr + 2)?;
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 || self.at(self.ptr + 6) != b'\\' || self.at(self.ptr + 7) != b'u' {
                return None;
            }
            let low = hex4(self, self.ptr + 8)?;
            if low & 0xFC00 != 0xDC00 {
                return None;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let c = char::from_u32(cp).unwrap_or('\u{FFFD}');
        let mut b = [0u8; 4];
        self.tmp.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
        self.ptr += len;
        Some(())
    }

    fn string_token(&mut self) -> Token {
        let index = self.ptr;
        self.ptr += 1;
        self.tmp.clear();
        loop {
            let ch = self.at(self.ptr);
            match ch {
                b'"' => break,
                0 => return self.error_token("unexpected end of string"),
                b'\\' => {
                    let esc = match self.at(self.ptr + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b't' => 9,
                        b'n' => 10,
                        b'f' => 12,
                        b'r' => 13,
                        b'u' => {
                            if self.unicode_escape().is_none() {
                                return self.error_token("invalid unicode escape code");
                            }
                            continue;
                        }
                        _ => return self.error_token("invalid escape code"),
                    };
                    self.tmp.push(esc);
                    self.ptr += 2;
                }
                c => {
                    self.tmp.push(c);
                    self.ptr += 1;
                }
            }
        }
        self.ptr += 1;
        self.token(Kind::Str, index)
    }

    /// `json_is_invalid_number`: syntax strtod accepts but strict JSON does not.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.ptr;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        if self.at(p) == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        } else if self.at(p) <= b'9' {
            return false;
        }
        let starts = |w: &[u8]| w.iter().enumerate().all(|(i, &c)| (self.at(p + i) | 0x20) == c);
        starts(b"inf") || starts(b"nan")
    }

    fn number_token(&mut self) -> Token {
        let end = self.data[self.ptr..].iter().position(|&c| c == 0).map_or(self.data.len(), |n| self.ptr + n);
        match strtod(&self.data[self.ptr..end]) {
            Some((n, len)) => {
                let mut t = self.token(Kind::Number, self.ptr);
                t.num = n;
                self.ptr += len;
                t
            }
            None => self.error_token("invalid number"),
        }
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.ptr), b' ' | b'\t' | b'\n' | b'\r') {
            self.ptr += 1;
        }
        let index = self.ptr;
        let ch = self.at(self.ptr);
        let single = match ch {
            0 => return self.token(Kind::End, index),
            b'{' => Some(Kind::ObjBegin),
            b'}' => Some(Kind::ObjEnd),
            b'[' => Some(Kind::ArrBegin),
            b']' => Some(Kind::ArrEnd),
            b',' => Some(Kind::Comma),
            b':' => Some(Kind::Colon),
            _ => None,
        };
        if let Some(kind) = single {
            self.ptr += 1;
            return self.token(kind, index);
        }
        let word = |w: &[u8]| self.data.len() >= index + w.len() && &self.data[index..index + w.len()] == w;
        match ch {
            b'"' => self.string_token(),
            b'-' | b'0'..=b'9' => {
                if self.cfg.decode_invalid_numbers == 0 && self.is_invalid_number() {
                    return self.error_token("invalid number");
                }
                self.number_token()
            }
            b't' | b'f' | b'n' | b'i' | b'I' | b'N' | b'+' => {
                if word(b"true") || word(b"false") {
                    let b = ch == b't';
                    self.ptr += if b { 4 } else { 5 };
                    let mut t = self.token(Kind::Boolean, index);
                    t.boolean = b;
                    t
                } else if word(b"null") {
                    self.ptr += 4;
                    self.token(Kind::Null, index)
                } else if self.cfg.decode_invalid_numbers != 0 && self.is_invalid_number() {
                    self.number_token()
                } else {
                    self.error_token("invalid token")
                }
            }
            _ => self.error_token("invalid token"),
        }
    }

    fn parse_error<T>(&self, exp: &str, t: &Token) -> LResult<T> {
        let found = if t.kind == Kind::Error { t.err } else { t.kind.name() };
        err(format!("Expected {exp} but found {found} at character {}", t.index + 1))
    }

    /// `json_decode_descend`: depth and emulated `lua_checkstack(slots)` check.
    fn descend(&mut self, slots: usize, top: usize) -> LResult<()> {
        self.depth += 1;
        if self.depth <= self.cfg.decode_max_depth && top + slots <= MAX_SLOTS {
            return Ok(());
        }
        err(format!("Found too many nested data structures ({}) at character {}", self.depth, self.ptr))
    }

    /// Reads `"key" :` inside an object, starting from token `tok`, and returns the key.
    fn object_key(&mut self, lua: &Lua, tok: &Token) -> LResult<mlua::String> {
        if tok.kind != Kind::Str {
            return self.parse_error("object key string", tok);
        }
        let key = lua.create_string(&self.tmp)?;
        let colon = self.next_token();
        if colon.kind != Kind::Colon {
            return self.parse_error("colon", &colon);
        }
        Ok(key)
    }

    /// `json_process_value` for `tok`, iteratively (nesting uses an explicit stack of frames).
    fn process_value(&mut self, lua: &Lua, mut tok: Token) -> LResult<Value> {
        let mut frames: Vec<Frame> = Vec::new();
        // Emulated Lua stack height: the argument, plus one slot per array and two per object.
        let mut top = 1;
        loop {
            let mut value = match tok.kind {
                Kind::Str => Value::String(lua.create_string(&self.tmp)?),
                Kind::Number => Value::Number(tok.num),
                Kind::Boolean => Value::Boolean(tok.boolean),
                Kind::Null => Value::NULL,
                Kind::ObjBegin | Kind::ArrBegin => {
                    let is_obj = tok.kind == Kind::ObjBegin;
                    self.descend(if is_obj { 3 } else { 2 }, top)?;
                    let t = lua.create_table()?;
                    tok = self.next_token();
                    if tok.kind == if is_obj { Kind::ObjEnd } else { Kind::ArrEnd } {
                        self.depth -= 1;
                        Value::Table(t)
                    } else if is_obj {
                        let key = self.object_key(lua, &tok)?;
                        tok = self.next_token();
                        frames.push(Frame::Obj(t, Some(key)));
                        top += 2;
                        continue;
                    } else {
                        frames.push(Frame::Arr(t, 1));
                        top += 1;
                        continue;
                    }
                }
                _ => return self.parse_error("value", &tok),
            };
            // Store the finished value into its parent, closing parents that end.
            loop {
                let Some(frame) = frames.last_mut() else { return Ok(value) };
                match frame {
                    Frame::Arr(t, i) => {
                        t.raw_set(*i, value)?;
                        tok = self.next_token();
                        if tok.kind != Kind::ArrEnd {
                            if tok.kind != Kind::Comma {
                                return self.parse_error("comma or array end", &tok);
                            }
                            tok = self.next_token();
                            *i += 1;
                            break;
                        }
                        top -= 1;
                    }
                    Frame::Obj(t, key) => {
                        t.raw_set(key.take(), value)?;
                        tok = self.next_token();
                        if tok.kind != Kind::ObjEnd {
                            if tok.kind != Kind::Comma {
                                return self.parse_error("comma or object end", &tok);
                            }
                            tok = self.next_token();
                            *key = Some(self.object_key(lua, &tok)?);
                            tok = self.next_token();
                            break;
                        }
                        top -= 2;
                    }
                }
                self.depth -= 1;
                value = match frames.pop() {
                    Some(Frame::Arr(t, _) | Frame::Obj(t, _)) => Value::Table(t),
                    None => Value::Nil,
                };
            }
        }
    }
}

/// An array or object being decoded: its table and the next index, or the pending key.
enum Frame {
    Arr(Table, i64),
    Obj(Table, Option<mlua::String>),
}

/// `cjson.decode(text)`.
fn decode(lua: &Lua, cfg: &Cfg, args: Args) -> LResult<MultiValue> {
    if args.len() != 1 {
        return arg_error(1, "expected 1 argument");
    }
    let s = args.check_string(lua, 1)?;
    let data = s.as_bytes();
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return err("JSON parser does not support UTF-16 or UTF-32");
    }
    let mut p = Parser { data: &data, ptr: 0, cfg: cfg.get(), depth: 0, tmp: Vec::new() };
    let tok = p.next_token();
    let v = p.process_value(lua, tok)?;
    let tok = p.next_token();
    if tok.kind != Kind::End {
        return p.parse_error("the end", &tok);
    }
    Ok(v.into_lua_multi(lua)?)
}

/* ===== Module ===== */

/// Creates a `cjson` module table with its own configuration (also what `cjson.new()` returns).
pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Cfg = Rc::new(Cell::new(Config::default()));
    let t = lua.create_table()?;
    let c = cfg.clone();
    t.raw_set("encode", lib_fn(lua, true, move |lua, args| encode(lua, &c, args))?)?;
    let c = cfg.clone();
    t.raw_set("decode", lib_fn(lua, false, move |lua, args| decode(lua, &c, args))?)?;

    let c = cfg.clone();
    let f = lib_fn(lua, false, move |lua, args| {
        arg_init(&args, 3)?;
        configure(&c, |c| {
            let a = enum_option(lua, &args, 1, &mut c.sparse_convert, BOOL_OPTIONS)?;
            let b = integer_option(lua, &args, 2, &mut c.sparse_ratio, (0, i32::MAX))?;
            let d = integer_option(lua, &args, 3, &mut c.sparse_safe, (0, i32::MAX))?;
            Ok((a, b, d).into_lua_multi(lua)?)
        })
    })?;
    t.raw_set("encode_sparse_array", f)?;

    type IntField = fn(&mut Config) -> &mut i32;
    let ints: [(&'static str, IntField, (i32, i32)); 3] = [
        ("encode_max_depth", |c| &mut c.encode_max_depth, (1, i32::MAX)),
        ("decode_max_depth", |c| &mut c.decode_max_depth, (1, i32::MAX)),
        ("encode_number_precision", |c| &mut c.encode_number_precision, (1, 14)),
    ];
    for (name, field, range) in ints {
        let c = cfg.clone();
        let f = lib_fn(lua, false, move |lua, args| {
            arg_init(&args, 1)?;
            configure(&c, |c| Ok(integer_option(lua, &args, 1, field(c), range)?.into_lua_multi(lua)?))
        })?;
        t.raw_set(name, f)?;
    }

    let enums: [(&'static str, IntField, &'static [&'static str]); 3] = [
        ("encode_keep_buffer", |c| &mut c.encode_keep_buffer, BOOL_OPTIONS),
        ("encode_invalid_numbers", |c| &mut c.encode_invalid_numbers, &["off", "on", "null"]),
        ("decode_invalid_numbers", |c| &mut c.decode_invalid_numbers, BOOL_OPTIONS),
    ];
    for (name, field, options) in enums {
        let c = cfg.clone();
        let f = lib_fn(lua, false, move |lua, args| {
            arg_init(&args, 1)?;
            configure(&c, |c| Ok(enum_option(lua, &args, 1, field(c), options)?.into_lua_multi(lua)?))
        })?;
        t.raw_set(name, f)?;
    }

    t.raw_set("new", lib_fn(lua, false, |lua, _| Ok(create(lua)?.into_lua_multi(lua)?))?)?;
    t.raw_set("null", Value::NULL)?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::tests::lua;

    fn eval<T: mlua::FromLuaMulti>(code: &str) -> T {
        lua().load(code).eval().unwrap()
    }

    /// Runs each snippet (a function body) under pcall; returns the result or the error text.
    fn outcomes(lua: &mlua::Lua, snippets: &[&str]) -> Vec<String> {
        snippets
            .iter()
            .map(|s| {
                let code = format!("local ok, r = pcall(function() {s} end) return (string.gsub(tostring(r), '^%[string .-%]:%d+: ', ''))");
                lua.load(&code).eval::<String>().unwrap()
            })
            .collect()
    }

    #[test]
    fn redis_numeric_and_string_decoding() {
        let s: String = eval(r#"return table.concat(cjson.decode("[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]"), " ")"#);
        assert_eq!(s, "0 -5000 -1 0.0003 1023.2 0");
        let v: Vec<String> = eval(r#"local decoded = cjson.decode('{"keya": "a", "keyb": "b"}') return {decoded.keya, decoded.keyb}"#);
        assert_eq!(v, ["a", "b"]);
    }

    #[test]
    fn redis_smoke_test() {
        let ok: bool = eval(
            r#"
            local some_map = {s1="Some string", n1=100, a1={"Some","String","Array"}, nil1=nil, b1=true, b2=false}
            local encoded = cjson.encode(some_map)
            local decoded = cjson.decode(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            cjson.encode_keep_buffer(false)
            encoded = cjson.encode(some_map)
            decoded = cjson.decode(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            local table1 = {one="one", [1]="one"}
            encoded = cjson.encode(table1)
            decoded = cjson.decode(encoded)
            assert(decoded["one"] == table1["one"])
            assert(decoded["1"] == table1[1])
            local array1 = {[1]="one", [2]="two"}
            encoded = cjson.encode(array1)
            decoded = cjson.decode(encoded)
            assert(table.concat(array1) == table.concat(decoded))
            local invalid_map = {}
            invalid_map[false] = "false"
            local ok, encoded = pcall(cjson.encode, invalid_map)
            assert(ok == false)
            cjson.encode_max_depth(1)
            ok, encoded = pcall(cjson.encode, some_map)
            assert(ok == false)
            cjson.decode_max_depth(1)
            ok, decoded = pcall(cjson.decode, '{"obj": {"array": [1,2,3,4]}}')
            assert(ok == false)
            ok, encoded = pcall(cjson.encode, {num1=0/0})
            assert(ok == false)
            cjson.encode_invalid_numbers(true)
            ok, encoded = pcall(cjson.encode, {num1=0/0})
            assert(ok == true)
            cjson.decode_max_depth(1000)
            cjson.encode_max_depth(1000)
            cjson.encode_invalid_numbers(false)
            return true"#,
        );
        assert!(ok);
    }

    #[test]
    fn encode_values() {
        let lua = lua();
        let got = outcomes(
            &lua,
            &[
                "return cjson.encode({1, 2, 3})",
                "return cjson.encode({})",
                "return cjson.encode({a = {}})",
                "return cjson.encode('a/b\"c\\\\d\\n\\1\\127')",
                "return cjson.encode(0.1)",
                "return cjson.encode(1e15)",
                "return cjson.encode(123456789012345678)",
                "return cjson.encode(-0.0)",
                "return cjson.encode(1e-20)",
                "return cjson.encode(3.14159265358979)",
                "return cjson.encode(cjson.null)",
                "return cjson.encode(nil)",
                "return cjson.encode({[1] = 1, [2] = nil, [3] = 3})",
                "return cjson.encode({[10] = 1})",
                "return cjson.encode({[1.5] = 1})",
                "return cjson.encode({[0] = 'z'})",
                "return cjson.encode({1, 2, x = 3})",
                "return cjson.encode({[11] = 1})",
                "return cjson.encode(1/0)",
                "return cjson.encode(print or type)",
                "return cjson.encode({[true] = 1})",
                "return cjson.encode()",
                "return cjson.encode(1, 2)",
                "return cjson.encode({{{}}})",
                "return cjson.encode({1, {2, {3, {x = 'y'}}}})",
                "return cjson.encode(true) .. cjson.encode(false)",
                "return cjson.encode({{}, cjson.null})",
            ],
        );
        let want = [
            "[1,2,3]",
            "{}",
            "{\"a\":{}}",
            "\"a\\/b\\\"c\\\\d\\n\\u0001\\u007f\"",
            "0.1",
            "1e+15",
            "1.2345678901235e+17",
            "-0",
            "1e-20",
            "3.1415926535898",
            "null",
            "null",
            "[1,null,3]",
            "[null,null,null,null,null,null,null,null,null,1]",
            "{\"1.5\":1}",
            "{\"0\":\"z\"}",
            "",
            "Cannot serialise table: excessively sparse array",
            "Cannot serialise number: must not be NaN or Inf",
            "Cannot serialise function: type not supported",
            "Cannot serialise boolean: table key must be a number or string",
            "bad argument #1 to 'encode' (expected 1 argument)",
            "bad argument #1 to 'encode' (expected 1 argument)",
            "[[{}]]",
            "[1,[2,[3,{\"x\":\"y\"}]]]",
            "truefalse",
            "[{},null]",
        ];
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            if i == 16 {
                assert!(g == "{\"1\":1,\"2\":2,\"x\":3}" || g.starts_with('{') && g.contains("\"x\":3"), "{g}");
            } else {
                assert_eq!(g, w, "case {i}");
            }
        }
    }

    #[test]
    fn encode_config() {
        let lua = lua();
        let got = outcomes(
            &lua,
            &[
                "return cjson.encode_number_precision(3) .. cjson.encode(3.14159)",
                "cjson.encode_number_precision(14) return cjson.encode_invalid_numbers('null') .. cjson.encode({1/0, 0/0})",
                "return tostring(cjson.encode_invalid_numbers(true)) .. cjson.encode({1/0, -1/0, 0/0})",
                "cjson.encode_invalid_numbers(false) local a, b, c = cjson.encode_sparse_array(true) return tostring(a) .. b .. c .. cjson.encode({[20] = 1})",
                "local a, b, c = cjson.encode_sparse_array(false, 0) return tostring(a) .. b .. c .. cjson.encode({[20] = 1}):sub(1, 5)",
                "cjson.encode_sparse_array(false, 2, 10) cjson.encode_max_depth(2) return cjson.encode({{{}}})",
                "cjson.encode_max_depth(1000) local t = {} for i = 1, 1001 do t = {t} end return cjson.encode(t)",
                "return cjson.encode_max_depth(0)",
                "return cjson.encode_number_precision(15)",
                "return cjson.encode_keep_buffer('maybe')",
                "return cjson.encode_max_depth(1, 2)",
                "return cjson.encode_sparse_array(nil, 'x')",
                "return cjson.encode_sparse_array(nil, -1)",
                "return tostring(cjson.encode_keep_buffer('on')) .. tostring(cjson.decode_invalid_numbers())",
                "return cjson.encode_max_depth() .. cjson.decode_max_depth() .. cjson.encode_number_precision()",
                "local j = cjson.new() j.encode_max_depth(1) return cjson.encode_max_depth() .. j.encode_max_depth() .. j._NAME .. j._VERSION .. tostring(j.null == cjson.null)",
            ],
        );
        assert_eq!(
            got,
            [
                "33.14",
                "null[null,null]",
                "true[inf,-inf,nan]",
                "true210{\"20\":1}",
                "false010[null",
                "Cannot serialise, excessive nesting (3)",
                "Cannot serialise, excessive nesting (1001)",
                "bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)",
                "bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)",
                "bad argument #1 to 'encode_keep_buffer' (invalid option 'maybe')",
                "bad argument #2 to 'encode_max_depth' (found too many arguments)",
                "bad argument #2 to 'encode_sparse_array' (number expected, got string)",
                "bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)",
                "truetrue",
                "1000100014",
                "10001cjson2.1.0true",
            ]
        );
    }

    #[test]
    fn decode_values() {
        let lua = lua();
        let got = outcomes(
            &lua,
            &[
                r#"return cjson.decode('"\\u00e9\\ud83d\\ude00\\/\\b\\f\\n\\r\\t"') == "\195\169\240\159\152\128/\b\f\n\r\t""#,
                r#"return cjson.decode('null') == cjson.null"#,
                r#"local t = cjson.decode('{"a": [1, 2, {"b": null}], "c": true, "d": false}') return t.a[2] .. tostring(t.a[3].b == cjson.null) .. tostring(t.c) .. tostring(t.d)"#,
                r#"return cjson.decode(' 12.5e1 ')"#,
                r#"return cjson.decode('0x10') .. cjson.decode('+5') .. cjson.decode('01') .. cjson.decode('-Infinity') .. tostring(cjson.decode('nan') ~= cjson.decode('nan'))"#,
                r#"return cjson.decode(123)"#,
                r#"return cjson.decode('[1]\0garbage')[1]"#,
                "return cjson.decode('x')",
                "return cjson.decode('')",
                "return cjson.decode('[1,]')",
                "return cjson.decode('[1 2]')",
                "return cjson.decode('{1: 2}')",
                "return cjson.decode('{\"a\" 2}')",
                "return cjson.decode('{\"a\": 2,}')",
                "return cjson.decode('{\"a\": 2 \"b\"}')",
                "return cjson.decode('[1] 2')",
                "return cjson.decode('\"abc')",
                "return cjson.decode('\"a\\\\qb\"')",
                "return cjson.decode('\"\\\\ud800\"')",
                "return cjson.decode('\"\\\\u12g4\"')",
                "return cjson.decode('-')",
                "return cjson.decode('tru')",
                "return cjson.decode('a\\0')",
                "return cjson.decode()",
                "return cjson.decode({})",
                "cjson.decode_max_depth(1) return cjson.decode('[[1]]')",
                "cjson.decode_max_depth(1000) return cjson.decode(string.rep('[', 1001))",
                "return #cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000))",
                "cjson.decode_invalid_numbers(false) return cjson.decode('0x10')",
                "return cjson.decode('Infinity')",
                "return cjson.decode('-01')",
                "return cjson.decode('1.5')",
            ],
        );
        assert_eq!(
            got,
            [
                "true",
                "true",
                "2truetruefalse",
                "125",
                "1651-inftrue",
                "123",
                "1",
                "Expected value but found invalid token at character 1",
                "Expected value but found T_END at character 1",
                "Expected value but found T_ARR_END at character 4",
                "Expected comma or array end but found T_NUMBER at character 4",
                "Expected object key string but found T_NUMBER at character 2",
                "Expected colon but found T_NUMBER at character 6",
                "Expected object key string but found T_OBJ_END at character 9",
                "Expected comma or object end but found T_STRING at character 9",
                "Expected the end but found T_NUMBER at character 5",
                "Expected value but found unexpected end of string at character 5",
                "Expected value but found invalid escape code at character 3",
                "Expected value but found invalid unicode escape code at character 2",
                "Expected value but found invalid unicode escape code at character 2",
                "Expected value but found invalid number at character 1",
                "Expected value but found invalid token at character 1",
                "JSON parser does not support UTF-16 or UTF-32",
                "bad argument #1 to 'decode' (expected 1 argument)",
                "bad argument #1 to 'decode' (string expected, got table)",
                "Found too many nested data structures (2) at character 2",
                "Found too many nested data structures (1001) at character 1001",
                "1",
                "Expected value but found invalid number at character 1",
                "Expected value but found invalid token at character 1",
                "Expected value but found invalid number at character 1",
                "1.5",
            ]
        );
    }

    #[test]
    fn deep_nesting_is_bounded() {
        // Raising the limits must not overflow the Rust stack nor mlua's reference stack.
        let lua = lua();
        let got = outcomes(
            &lua,
            &[
                "cjson.decode_max_depth(100000) return cjson.decode(string.rep('[', 100000))",
                "cjson.encode_max_depth(100000) local a = {} a[1] = a return cjson.encode(a)",
                "local a = {} a.x = a return cjson.encode(a)",
            ],
        );
        assert!(got[0].starts_with("Found too many nested data structures (6999)"), "{}", got[0]);
        assert_eq!(got[1], "Cannot serialise, excessive nesting (6998)");
        assert_eq!(got[2], "Cannot serialise, excessive nesting (3500)");
    }
}
