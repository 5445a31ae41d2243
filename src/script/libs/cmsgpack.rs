//! MessagePack for Lua (`cmsgpack` library) as in Redis's `deps/lua/src/lua_cmsgpack.c`
//! (lua-cmsgpack 0.4.0): `pack`, `unpack`, `unpack_one` and `unpack_limit`.

use mlua::{IntoLuaMulti, Lua, MultiValue, Table, Value};

use super::{arg_error, err, exact_value, lib_fn, table_next, Args, LResult, LibError, MAX_SLOTS};

/// Tables nested deeper than this are packed as nil (this also stops circular references).
const MAX_NESTING: usize = 16;

/// Appends a string with the smallest str header (fixstr, str8, str16, str32).
fn encode_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        buf.push(0xa0 | len as u8);
    } else if len <= 0xff {
        buf.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        buf.push(0xda);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(0xdb);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
    buf.extend_from_slice(s);
}

/// Appends an integer with the smallest int/uint encoding.
fn encode_int(buf: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            buf.push(n as u8);
        } else if n <= 0xff {
            buf.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            buf.push(0xcd);
            buf.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            buf.push(0xce);
            buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            buf.push(0xcf);
            buf.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        buf.push(n as i8 as u8);
    } else if n >= -128 {
        buf.extend_from_slice(&[0xd0, n as u8]);
    } else if n >= -32768 {
        buf.push(0xd1);
        buf.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2147483648 {
        buf.push(0xd2);
        buf.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        buf.push(0xd3);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends a number: integral values in int64 range as integers, others as float32 when that is
/// exact, else float64.
fn encode_number(buf: &mut Vec<u8>, n: f64) {
    if (-9223372036854775808.0..9223372036854775808.0).contains(&n) && n.trunc() == n {
        encode_int(buf, n as i64);
    } else if (n as f32) as f64 == n {
        buf.push(0xca);
        buf.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        buf.push(0xcb);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends an array or map header.
fn encode_header(buf: &mut Vec<u8>, n: usize, fix: u8, c16: u8) {
    if n <= 15 {
        buf.push(fix | n as u8);
    } else if n <= 0xffff {
        buf.push(c16);
        buf.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        buf.push(c16 + 1);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// True when the keys are exactly the integers 1..n.
fn table_is_an_array(t: &Table) -> mlua::Result<bool> {
    let (mut count, mut max) = (0i64, 0i64);
    for pair in t.pairs::<Value, Value>() {
        let n = match pair?.0 {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(false),
        };
        if n <= 0.0 || n > i32::MAX as f64 || n.trunc() != n {
            return Ok(false);
        }
        max = max.max(n as i64);
        count += 1;
    }
    Ok(max == count)
}

/// Appends a Lua value; non-serialisable values (and tables at the nesting limit) become nil.
fn encode_value(lua: &Lua, buf: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => encode_bytes(buf, &s.as_bytes()),
        Value::Boolean(b) => buf.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_int(buf, *i),
        Value::Number(n) => encode_number(buf, *n),
        Value::Table(t) if level < MAX_NESTING => {
            if table_is_an_array(t)? {
                let len = t.raw_len();
                encode_header(buf, len, 0x90, 0xdc);
                for j in 1..=len {
                    let key = Value::Integer(j as i64);
                    let v = exact_value(t, &key, t.raw_get(j)?)?;
                    encode_value(lua, buf, &v, level + 1)?;
                }
            } else {
                let len = t.pairs::<Value, Value>().count();
                encode_header(buf, len, 0x80, 0xde);
                let mut key = Value::Nil;
                while let Some((k, v)) = table_next(lua, t, key)? {
                    encode_value(lua, buf, &k, level + 1)?;
                    encode_value(lua, buf, &v, level + 1)?;
                    key = k;
                }
            }
        }
        _ => buf.push(0xc0),
    }
    Ok(())
}

/// `cmsgpack.pack(...)`: all arguments packed one after the other.
fn pack(lua: &Lua, args: Args) -> LResult<MultiValue> {
    if args.len() == 0 {
        return arg_error(0, "MessagePack pack needs input.");
    }
    if args.len() * 2 > MAX_SLOTS {
        return arg_error(0, "Too many arguments for MessagePack pack.");
    }
    let mut buf = Vec::new();
    for v in &args.0 {
        encode_value(lua, &mut buf, v, 0)?;
    }
    Ok(lua.create_string(&buf)?.into_lua_multi(lua)?)
}

/// Decoding failure.
enum MpErr {
    /// Not enough data to complete the value.
    Eof,
    /// Unknown type byte.
    BadFmt,
    /// Error raised immediately (stack overflow, nil table index, ...).
    Lib(LibError),
}

impl From<mlua::Error> for MpErr {
    fn from(e: mlua::Error) -> Self {
        MpErr::Lib(e.into())
    }
}

/// Input cursor.
struct Cur<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn left(&self) -> usize {
        self.s.len() - self.pos
    }

    /// Consumes `n` bytes, failing with `Eof` when fewer are left.
    fn take(&mut self, n: usize) -> Result<&'a [u8], MpErr> {
        if self.left() < n {
            return Err(MpErr::Eof);
        }
        let r = &self.s[self.pos..self.pos + n];
        self.pos += n;
        Ok(r)
    }

    /// Reads a big-endian unsigned length of `n` bytes.
    fn len(&mut self, n: usize) -> Result<usize, MpErr> {
        Ok(self.take(n)?.iter().fold(0usize, |a, &b| (a << 8) | b as usize))
    }
}

/// A container being decoded: array (table, next index, length) or map (table, pairs left,
/// pending key).
enum Frame {
    Arr(Table, usize, usize),
    Map(Table, usize, Option<Value>),
}

impl Frame {
    /// Lua stack slots the C decoder holds for this container while decoding its next item.
    fn slots(&self) -> usize {
        match self {
            Frame::Arr(..) => 2,
            Frame::Map(_, _, k) => 1 + k.is_some() as usize,
        }
    }
}

/// What the type byte announced: a complete value, or a container of `n` items.
enum Item {
    Value(Value),
    Array(usize),
    Map(usize),
}

/// Decodes one item header (and scalars entirely).
fn decode_item(lua: &Lua, c: &mut Cur<'_>) -> Result<Item, MpErr> {
    let t = c.s[c.pos];
    let be = |b: &[u8]| b.iter().fold(0u64, |a, &x| (a << 8) | x as u64);
    Ok(Item::Value(match t {
        0xcc => Value::Integer(c.take(2)?[1] as i64),
        0xcd => Value::Integer(be(&c.take(3)?[1..]) as i64),
        0xce => Value::Integer(be(&c.take(5)?[1..]) as i64),
        0xcf => Value::Number(be(&c.take(9)?[1..]) as i64 as f64),
        0xd0 => Value::Integer(c.take(2)?[1] as i8 as i64),
        0xd1 => Value::Integer(be(&c.take(3)?[1..]) as u16 as i16 as i64),
        0xd2 => Value::Integer(be(&c.take(5)?[1..]) as u32 as i32 as i64),
        0xd3 => Value::Number(be(&c.take(9)?[1..]) as i64 as f64),
        0xc0 => {
            c.pos += 1;
            Value::Nil
        }
        0xc2 | 0xc3 => {
            c.pos += 1;
            Value::Boolean(t == 0xc3)
        }
        0xca => Value::Number(f32::from_bits(be(&c.take(5)?[1..]) as u32) as f64),
        0xcb => Value::Number(f64::from_bits(be(&c.take(9)?[1..]))),
        0xd9..=0xdb => {
            let n = [1, 2, 4][(t - 0xd9) as usize];
            if c.left() < 1 + n {
                return Err(MpErr::Eof);
            }
            c.pos += 1;
            let l = c.len(n)?;
            Value::String(lua.create_string(c.take(l)?)?)
        }
        0xdc | 0xdd => {
            c.take(1)?;
            return Ok(Item::Array(c.len(if t == 0xdc { 2 } else { 4 })?));
        }
        0xde | 0xdf => {
            c.take(1)?;
            return Ok(Item::Map(c.len(if t == 0xde { 2 } else { 4 })?));
        }
        _ if t & 0x80 == 0 => {
            c.pos += 1;
            Value::Integer(t as i64)
        }
        _ if t & 0xe0 == 0xe0 => {
            c.pos += 1;
            Value::Integer(t as i8 as i64)
        }
        _ if t & 0xe0 == 0xa0 => {
            let l = (t & 0x1f) as usize;
            Value::String(lua.create_string(&c.take(1 + l)?[1..])?)
        }
        _ if t & 0xf0 == 0x90 => {
            c.pos += 1;
            return Ok(Item::Array((t & 0xf) as usize));
        }
        _ if t & 0xf0 == 0x80 => {
            c.pos += 1;
            return Ok(Item::Map((t & 0xf) as usize));
        }
        _ => return Err(MpErr::BadFmt),
    }))
}

fn overflow(what: &str) -> MpErr {
    MpErr::Lib(LibError::Msg(format!("stack overflow ({what})").into_bytes()))
}

/// Decodes one complete value (iteratively); `base` is the emulated Lua stack height before it.
fn decode(lua: &Lua, c: &mut Cur<'_>, base: usize) -> Result<Value, MpErr> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut top = base;
    loop {
        if c.left() < 1 {
            return Err(MpErr::Eof);
        }
        if top + 1 > MAX_SLOTS {
            return Err(overflow("too many return values at once; use unpack_one or unpack_limit instead."));
        }
        let mut value = match decode_item(lua, c)? {
            Item::Value(v) => v,
            Item::Array(n) => {
                let t = lua.create_table()?;
                if top + 2 > MAX_SLOTS {
                    return Err(overflow("in function mp_decode_to_lua_array"));
                }
                if n > 0 {
                    frames.push(Frame::Arr(t, 1, n));
                    top += 2;
                    continue;
                }
                Value::Table(t)
            }
            Item::Map(n) => {
                let t = lua.create_table()?;
                if n > 0 {
                    frames.push(Frame::Map(t, n, None));
                    top += 1;
                    continue;
                }
                Value::Table(t)
            }
        };
        // Store the value into its parent, closing containers that are complete.
        loop {
            let Some(frame) = frames.last_mut() else { return Ok(value) };
            top -= frame.slots();
            match frame {
                Frame::Arr(t, i, n) => {
                    t.raw_set(*i, value)?;
                    if *i < *n {
                        *i += 1;
                        top += frame.slots();
                        break;
                    }
                }
                Frame::Map(t, left, key) => match key.take() {
                    None => {
                        *key = Some(value);
                        top += frame.slots();
                        break;
                    }
                    Some(k) => {
                        match k {
                            Value::Nil => return Err(MpErr::Lib(LibError::Msg(b"table index is nil".to_vec()))),
                            Value::Number(n) if n.is_nan() => return Err(MpErr::Lib(LibError::Msg(b"table index is NaN".to_vec()))),
                            k => t.raw_set(k, value)?,
                        }
                        *left -= 1;
                        if *left > 0 {
                            top += frame.slots();
                            break;
                        }
                    }
                },
            }
            value = match frames.pop() {
                Some(Frame::Arr(t, ..) | Frame::Map(t, ..)) => Value::Table(t),
                None => Value::Nil,
            };
        }
    }
}

/// Shared body of the unpack functions (`mp_unpack_full`); `base` is the number of stack slots
/// taken by arguments.
fn unpack_full(lua: &Lua, args: &Args, limit: i64, offset: i64, base: usize) -> LResult<MultiValue> {
    let s = args.check_string(lua, 1)?;
    let s = s.as_bytes();
    let len = s.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return err(format!("Invalid request to unpack with offset of {} and limit of {}.", offset as i32, len as i32));
    } else if offset as u64 > len as u64 {
        return err(format!("Start offset {} greater than input length {}.", offset as i32, len as i32));
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut c = Cur { s: &s, pos: offset as usize };
    let mut out = Vec::new();
    let mut cnt = 0i64;
    while c.left() > 0 && cnt < limit {
        match decode(lua, &mut c, base + out.len()) {
            Ok(v) => out.push(v),
            Err(MpErr::Eof) => return err("Missing bytes in input."),
            Err(MpErr::BadFmt) => return err("Bad data format in input."),
            Err(MpErr::Lib(e)) => return Err(e),
        }
        cnt += 1;
    }
    if !decode_all {
        let next = if c.left() == 0 { -1 } else { c.pos as i64 };
        out.insert(0, Value::Integer(next));
    }
    Ok(MultiValue::from_iter(out))
}

/// Creates the `cmsgpack` module table.
pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lib_fn(lua, true, pack)?)?;
    t.raw_set("unpack", lib_fn(lua, false, |lua, args| unpack_full(lua, &args, 0, 0, args.len()))?)?;
    let one = lib_fn(lua, false, |lua, args| {
        let offset = args.opt_integer(lua, 2, 0)?;
        unpack_full(lua, &args, 1, offset, 1)
    })?;
    t.raw_set("unpack_one", one)?;
    let limit = lib_fn(lua, false, |lua, args| {
        let limit = args.check_integer(lua, 2)?;
        let offset = args.opt_integer(lua, 3, 0)?;
        unpack_full(lua, &args, limit, offset, 1)
    })?;
    t.raw_set("unpack_limit", limit)?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::tests::lua;

    const HEX: &str =
        "local function hex(s) local h = '' for i = 1, #s do h = h .. string.format('%02x', string.byte(s, i)) end return h end ";

    fn eval<T: mlua::FromLuaMulti>(code: &str) -> T {
        lua().load(format!("{HEX}{code}")).eval().unwrap()
    }

    #[test]
    fn redis_pack_double_and_negative_int64() {
        assert_eq!(eval::<String>("return hex(cmsgpack.pack(0.1))"), "cb3fb999999999999a");
        assert_eq!(eval::<String>("return hex(cmsgpack.pack(-1099511627776))"), "d3ffffff0000000000");
    }

    #[test]
    fn scalar_encodings() {
        let v: Vec<String> = eval(
            "return {hex(cmsgpack.pack(0)), hex(cmsgpack.pack(127)), hex(cmsgpack.pack(128)), hex(cmsgpack.pack(256)),
                     hex(cmsgpack.pack(65536)), hex(cmsgpack.pack(2^32)), hex(cmsgpack.pack(-1)), hex(cmsgpack.pack(-33)),
                     hex(cmsgpack.pack(-129)), hex(cmsgpack.pack(-32769)), hex(cmsgpack.pack(0.5)), hex(cmsgpack.pack(1e-20)),
                     hex(cmsgpack.pack(-0.0)), hex(cmsgpack.pack(1/0)), hex(cmsgpack.pack(2^63)), hex(cmsgpack.pack(-2^63)),
                     hex(cmsgpack.pack(true, false, nil, print or type)), hex(cmsgpack.pack('abc')), hex(cmsgpack.pack(string.rep('x', 32)):sub(1, 6)),
                     hex(cmsgpack.pack(string.rep('x', 256)):sub(1, 8)), hex(cmsgpack.pack(string.rep('x', 65536)):sub(1, 12)),
                     hex(cmsgpack.pack({1, 2})), hex(cmsgpack.pack({a = 1})), hex(cmsgpack.pack({})), hex(cmsgpack.pack({[1] = 1, [3] = 3}))}",
        );
        let want = [
            "00",
            "7f",
            "cc80",
            "cd0100",
            "ce00010000",
            "cf0000000100000000",
            "ff",
            "d0df",
            "d1ff7f",
            "d2ffff7fff",
            "ca3f000000",
            "cb3bc79ca10c924223",
            "00",
            "ca7f800000",
            "ca5f000000",
            "d38000000000000000",
            "c3c2c0c0",
            "a3616263",
            "d92078787878",
            "da01007878787878",
            "db0001000078787878787878",
            "920102",
            "81a16101",
            "90",
        ];
        assert_eq!(&v[..want.len()], want);
        let last = &v[want.len()];
        assert!(last == "8201010303" || last == "820303" || last.starts_with("82"), "{last}");
    }

    #[test]
    fn redis_smoke_test() {
        let ok: bool = eval(
            r#"
            local str_lt_32 = string.rep("x", 30)
            local str_lt_255 = string.rep("x", 250)
            local str_lt_65535 = string.rep("x", 65530)
            local str_long = string.rep("x", 100000)
            local array_big = {}
            for i=1, 100000 do array_big[i] = i end
            local map_big = {}
            for i=1, 100000 do map_big[tostring(i)] = i end
            local some_map = {s1=str_lt_32, s2=str_lt_255, s3=str_lt_65535, s4=str_long, d1=0.1, i1=1, i2=250, i3=65530,
                i4=100000, i5=2^40, i6=-1, i7=-120, i8=-32000, i9=-100000, i10=-3147483648, a1={1, 2, 3, 4, 5},
                a2={1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}, a3=array_big, m1={a=1, b=2}, m2=map_big,
                b1=false, b2=true, n=nil}
            local encoded = cmsgpack.pack(some_map)
            local decoded = cmsgpack.unpack(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            local offset, decoded_one = cmsgpack.unpack_one(encoded, 0)
            assert(table.concat(some_map) == table.concat(decoded_one))
            assert(offset == -1)
            for k, v in pairs(some_map) do
              if type(v) ~= 'table' then assert(decoded[k] == v, k) end
            end
            assert(#decoded.a3 == 100000 and decoded.a3[100000] == 100000 and decoded.m2['77777'] == 77777)
            local encoded_multiple = cmsgpack.pack(str_lt_32, str_lt_255, str_lt_65535, str_long)
            local offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, 0)
            assert(obj == str_lt_32)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_lt_255)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_lt_65535)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_long)
            assert(offset == -1)
            return true"#,
        );
        assert!(ok);
    }

    #[test]
    fn redis_circular_references() {
        let v: (String, bool, bool) = eval(
            "local a = {x=nil,y=5}
             local b = {x=a}
             a['x'] = b
             local encoded = cmsgpack.pack(a)
             local h = hex(encoded)
             local re = cmsgpack.unpack(encoded)
             assert(re)
             assert(re.x)
             assert(re.x.x.y == re.y)
             assert(re.x.x.x.x.y == re.y)
             assert(re.x.x.x.x.x.x.y == re.y)
             assert(re.x.x.x.x.x.x.x.x.x.x.y == re.y)
             assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y == re.y)
             assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x)
             assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil)
             return h, re.x.x.x.x.x.x.x.x.y == re.y, re.y == 5",
        );
        let h = "82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0";
        // Key order of `a` depends on the hash layout; Redis prints y first, and so does Lua 5.1 here.
        assert_eq!(v, (h.to_string(), true, true));
    }

    #[test]
    fn unpack_values_and_offsets() {
        let v: Vec<f64> =
            eval("return {cmsgpack.unpack(string.char(0xcf, 0xff,0xff,0xff,0xff,0xff,0xff,0xff,0xff, 0xd1, 0xff, 0x7f, 0xca, 0x3f, 0x00, 0x00, 0x00, 0xe0))}");
        assert_eq!(v, [-1.0, -129.0, 0.5, -32.0]);
        let v: Vec<i64> = eval("return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}");
        assert_eq!(v, [2, 2]);
        let v: Vec<i64> = eval("return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)}");
        assert_eq!(v, [-1, 2, 3]);
        let v: Vec<i64> = eval("return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 0)}");
        assert_eq!(v, [1, 2, 3]);
        let v: Vec<i64> = eval("return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1)}");
        assert_eq!(v, [1]);
    }

    #[test]
    fn errors_match_c() {
        let got: Vec<String> = eval(
            "local r = {}
             for _, f in ipairs({function() return cmsgpack.pack() end, function() return cmsgpack.unpack(string.char(0xcd, 1)) end,
                                 function() return cmsgpack.unpack(string.char(0xc1)) end, function() return cmsgpack.unpack_one('a', -1) end,
                                 function() return cmsgpack.unpack_one('a', 5) end, function() return cmsgpack.unpack() end,
                                 function() return cmsgpack.unpack_limit('a') end, function() return cmsgpack.unpack(string.char(0x81, 0xc0, 1)) end,
                                 function() return cmsgpack.unpack(string.rep(string.char(0x91), 10000)) end,
                                 function() return cmsgpack.unpack(string.rep('a', 8000)) end}) do
               local ok, e = pcall(f) r[#r + 1] = (string.gsub(e, '^%[string .-%]:%d+: ', ''))
             end
             return r",
        );
        assert_eq!(
            got,
            [
                "bad argument #0 to 'pack' (MessagePack pack needs input.)",
                "Missing bytes in input.",
                "Bad data format in input.",
                "Invalid request to unpack with offset of -1 and limit of 1.",
                "Start offset 5 greater than input length 1.",
                "bad argument #1 to 'unpack' (string expected, got no value)",
                "bad argument #2 to 'unpack_limit' (number expected, got no value)",
                "table index is nil",
                "stack overflow (in function mp_decode_to_lua_array)",
                "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)",
            ]
        );
    }
}
