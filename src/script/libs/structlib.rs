//! Roberto Ierusalimschy's `struct` library as shipped with Redis (`deps/lua/src/lua_struct.c`):
//! `struct.pack`, `struct.unpack` and `struct.size` over binary strings, with the x86-64 layout
//! (little endian native order, `long` and `size_t` of 8 bytes, maximum alignment 8).

use mlua::{IntoLuaMulti, Lua, MultiValue, Table, Value};

use super::{arg_error, err, lib_fn, number_to_integer, Args, LResult, LibError, MAX_SLOTS};

/// Largest size of the `i`/`I` integer formats.
const MAXINTSIZE: i32 = 32;
/// Default of the `!` option (alignment of `double` on x86-64).
const MAXALIGN: i32 = 8;

/// Endianness and alignment state while walking a format.
struct Header {
    little: bool,
    align: usize,
}

impl Header {
    fn new() -> Self {
        Header { little: true, align: 1 }
    }
}

/// A format string being walked (truncated at the first NUL, as C sees it).
struct Fmt<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Fmt<'_> {
    fn peek(&self) -> u8 {
        self.s.get(self.pos).copied().unwrap_or(0)
    }

    /// Reads an optional decimal number, `df` when absent.
    fn getnum(&mut self, df: i32) -> LResult<i32> {
        if !self.peek().is_ascii_digit() {
            return Ok(df);
        }
        let mut a: i32 = 0;
        while self.peek().is_ascii_digit() {
            let d = (self.peek() - b'0') as i32;
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return err("integral size overflow");
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(a)
    }

    /// Size of option `opt`, reading its numeric suffix.
    fn optsize(&mut self, opt: u8) -> LResult<usize> {
        Ok(match opt {
            b'B' | b'b' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'x' => 1,
            b'c' => self.getnum(1)? as usize,
            b'i' | b'I' => {
                let sz = self.getnum(4)?;
                if sz > MAXINTSIZE {
                    return err(format!("integral size {sz} is larger than limit of {MAXINTSIZE}"));
                }
                sz as usize
            }
            _ => 0,
        })
    }

    /// Handles the control options (` `, `>`, `<`, `!n`); anything else is invalid.
    fn control(&mut self, opt: u8, h: &mut Header) -> LResult<()> {
        match opt {
            b' ' => {}
            b'>' => h.little = false,
            b'<' => h.little = true,
            b'!' => {
                let a = self.getnum(MAXALIGN)?;
                if !(a > 0 && a & (a - 1) == 0) {
                    return err(format!("alignment {a} is not a power of 2"));
                }
                h.align = a as usize;
            }
            _ => {
                let mut msg = b"invalid format option '".to_vec();
                msg.push(opt);
                msg.push(b'\'');
                return Err(LibError::Arg(1, msg));
            }
        }
        Ok(())
    }
}

/// Padding needed to align an item of `size` bytes at offset `len`.
fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    size.wrapping_sub(len & (size - 1)) & (size - 1)
}

/// The C conversion `(unsigned long)n` for `n >= 0` on x86-64.
fn to_u64(n: f64) -> u64 {
    if n < 9223372036854775808.0 {
        number_to_integer(n) as u64
    } else if n < 18446744073709551616.0 {
        n as u64
    } else {
        0
    }
}

/// The C conversion `(size_t)d` on x86-64.
fn to_size(d: f64) -> usize {
    if d >= 0.0 {
        to_u64(d) as usize
    } else {
        number_to_integer(d) as usize
    }
}

/// Appends `size` bytes of the integer `n` (only the low 8 bytes carry data).
fn put_integer(buf: &mut Vec<u8>, n: f64, little: bool, size: usize) {
    let mut value = if n < 0.0 { number_to_integer(n) as u64 } else { to_u64(n) };
    let start = buf.len();
    buf.resize(start + size, 0);
    let out = &mut buf[start..];
    for i in 0..size {
        let idx = if little { i } else { size - 1 - i };
        out[idx] = value as u8;
        value >>= 8;
    }
}

/// Reads an integer of `size` bytes (only the last 8 significant bytes survive, as in C).
fn get_integer(b: &[u8], little: bool, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    for i in 0..size {
        let idx = if little { size - 1 - i } else { i };
        l = (l << 8) | b[idx] as u64;
    }
    if !signed {
        return l as f64;
    }
    let mask = (!0u64).wrapping_shl((size as u32).wrapping_mul(8).wrapping_sub(1));
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

/// The format argument: a string (or number) truncated at its first NUL byte.
fn format_arg(lua: &Lua, args: &Args) -> LResult<Vec<u8>> {
    let s = args.check_string(lua, 1)?;
    let b = s.as_bytes();
    Ok(b.split(|&c| c == 0).next().unwrap_or(&[]).to_vec())
}

/// `struct.pack(fmt, ...)`.
fn pack(lua: &Lua, args: Args) -> LResult<MultiValue> {
    let fmt = format_arg(lua, &args)?;
    let mut f = Fmt { s: &fmt, pos: 0 };
    let mut h = Header::new();
    let mut arg = 2;
    let mut buf = Vec::new();
    let mut total: usize = 0;
    while f.pos < f.s.len() {
        let opt = f.s[f.pos];
        f.pos += 1;
        let mut size = f.optsize(opt)?;
        let toalign = gettoalign(total, &h, opt, size);
        total = total.wrapping_add(toalign);
        buf.resize(buf.len() + toalign, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = args.check_number(lua, arg)?;
                arg += 1;
                put_integer(&mut buf, n, h.little, size);
            }
            b'x' => buf.push(0),
            b'f' => {
                let v = args.check_number(lua, arg)? as f32;
                arg += 1;
                buf.extend_from_slice(&if h.little { v.to_le_bytes() } else { v.to_be_bytes() });
            }
            b'd' => {
                let v = args.check_number(lua, arg)?;
                arg += 1;
                buf.extend_from_slice(&if h.little { v.to_le_bytes() } else { v.to_be_bytes() });
            }
            b'c' | b's' => {
                let s = args.check_string(lua, arg)?;
                arg += 1;
                let s = s.as_bytes();
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return arg_error(arg, "string too short");
                }
                buf.extend_from_slice(&s[..size]);
                if opt == b's' {
                    buf.push(0);
                    size += 1;
                }
            }
            _ => f.control(opt, &mut h)?,
        }
        total = total.wrapping_add(size);
    }
    Ok(lua.create_string(&buf)?.into_lua_multi(lua)?)
}

/// `struct.unpack(fmt, s [, pos])`: the values, then the position after them.
fn unpack(lua: &Lua, args: Args) -> LResult<MultiValue> {
    let fmt = format_arg(lua, &args)?;
    let data = args.check_string(lua, 2)?;
    let data = data.as_bytes();
    let ld = data.len();
    let mut pos = args.opt_integer(lua, 3, 1)? as usize;
    if pos == 0 {
        return arg_error(3, "offset must be 1 or greater");
    }
    pos -= 1;
    let mut f = Fmt { s: &fmt, pos: 0 };
    let mut h = Header::new();
    let mut out: Vec<Value> = Vec::new();
    let fits = |pos: usize, size: usize| size <= ld && pos <= ld - size;
    while f.pos < f.s.len() {
        let opt = f.s[f.pos];
        f.pos += 1;
        let mut size = f.optsize(opt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if !fits(pos, size) {
            return arg_error(2, "data string too short");
        }
        if args.len() + out.len() + 2 > MAX_SLOTS {
            return err("stack overflow (too many results)");
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let v = get_integer(&data[pos..pos + size], h.little, opt.is_ascii_lowercase(), size);
                out.push(Value::Number(v));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().unwrap_or_default();
                let v = if h.little { f32::from_le_bytes(b) } else { f32::from_be_bytes(b) };
                out.push(Value::Number(v as f64));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().unwrap_or_default();
                let v = if h.little { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) };
                out.push(Value::Number(v));
            }
            b'c' => {
                if size == 0 {
                    let prev = match out.last() {
                        Some(v) => super::to_number(lua, Some(v))?,
                        None => None,
                    };
                    let Some(n) = prev else {
                        return err("format 'c0' needs a previous size");
                    };
                    out.pop();
                    size = to_size(n);
                    if !fits(pos, size) {
                        return arg_error(2, "data string too short");
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(e) = data[pos..].iter().position(|&c| c == 0) else {
                    return err("unfinished string in data");
                };
                out.push(Value::String(lua.create_string(&data[pos..pos + e])?));
                size = e + 1;
            }
            _ => f.control(opt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    out.push(Value::Integer(pos.wrapping_add(1) as i64));
    Ok(MultiValue::from_iter(out))
}

/// `struct.size(fmt)`.
fn size(lua: &Lua, args: Args) -> LResult<MultiValue> {
    let fmt = format_arg(lua, &args)?;
    let mut f = Fmt { s: &fmt, pos: 0 };
    let mut h = Header::new();
    let mut pos: usize = 0;
    while f.pos < f.s.len() {
        let opt = f.s[f.pos];
        f.pos += 1;
        let size = f.optsize(opt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if opt == b's' {
            return arg_error(1, "option 's' has no fixed size");
        } else if opt == b'c' && size == 0 {
            return arg_error(1, "option 'c0' has no fixed size");
        }
        if !opt.is_ascii_alphanumeric() {
            f.control(opt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(Value::Integer(pos as i64).into_lua_multi(lua)?)
}

/// Creates the `struct` module table.
pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lib_fn(lua, true, pack)?)?;
    t.raw_set("unpack", lib_fn(lua, false, unpack)?)?;
    t.raw_set("size", lib_fn(lua, false, size)?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::tests::lua;

    fn hex(code: &str) -> String {
        let lua = lua();
        let s: mlua::String = lua.load(code).eval().unwrap();
        s.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn errors(code: &str) -> Vec<String> {
        let wrapped =
            format!("local r = {{}} for _, f in ipairs({{{code}}}) do local ok, e = pcall(f) r[#r + 1] = ok and 'ok' or (string.gsub(e, '^%[string .-%]:%d+: ', '')) end return r");
        lua().load(&wrapped).eval().unwrap()
    }

    #[test]
    fn pack_formats() {
        assert_eq!(hex("return struct.pack('>i', 1)"), "00000001");
        assert_eq!(hex("return struct.pack('<i', -2)"), "feffffff");
        assert_eq!(
            hex("return struct.pack('bBhHlL', -1, 255, -2, 65535, -3, 4)"),
            "ffff feff ffff fdffffffffffffff 0400000000000000".replace(' ', "")
        );
        assert_eq!(hex("return struct.pack('>I3', 0x010203)"), "010203");
        assert_eq!(hex("return struct.pack('<i10', -1)"), "ffffffffffffffff0000");
        assert_eq!(hex("return struct.pack('>d', 0.1)"), "3fb999999999999a");
        assert_eq!(hex("return struct.pack('>f', 0.5)"), "3f000000");
        assert_eq!(hex("return struct.pack('>d', -0.0)"), "8000000000000000");
        assert_eq!(hex("return struct.pack('<d', 1e-300)"), "59f3f8c21f6ea501");
        assert_eq!(hex("return struct.pack('c3', 'abcdef')"), "616263");
        assert_eq!(hex("return struct.pack('c0s', 'ab', 'cd')"), "6162636400");
        assert_eq!(hex("return struct.pack('!4 b i', 1, 2)"), "0100000002000000");
        assert_eq!(hex("return struct.pack('!b d', 1, 0)"), format!("01{}", "0".repeat(30)));
        assert_eq!(hex("return struct.pack('bxh', 1, 2)"), "01000200");
        assert_eq!(hex("return struct.pack('>i', '0x10')"), "00000010");
    }

    #[test]
    fn unpack_and_size() {
        let lua = lua();
        let v: Vec<mlua::Value> =
            lua.load("return {struct.unpack('>i<Hbc2s', string.char(0,0,1,0, 2,0, 255) .. 'xyz\\0rest')}").eval().unwrap();
        let nums: Vec<String> = v.iter().map(|x| x.to_string().unwrap()).collect();
        assert_eq!(nums, ["256", "2", "-1", "xy", "z", "12"]);
        let v: Vec<f64> = lua.load("return {struct.unpack('>d>f', struct.pack('>d>f', 0.1, 0.5))}").eval().unwrap();
        assert_eq!(v, [0.1, 0.5, 13.0]);
        let v: Vec<mlua::Value> = lua.load("return {struct.unpack('bc0', string.char(3) .. 'abcd')}").eval().unwrap();
        assert_eq!(v[0].to_string().unwrap(), "abc");
        assert_eq!(v[1].to_string().unwrap(), "5");
        let v: Vec<f64> = lua.load("return {struct.unpack('i', struct.pack('i', 7), 1), struct.unpack('b', 'ab', 2)}").eval().unwrap();
        assert_eq!(v, [7.0, 98.0, 3.0]);
        let v: Vec<f64> = lua
            .load("return {struct.unpack('<I8', string.rep(string.char(255), 8)), struct.unpack('<i16', string.rep(string.char(255), 16))}")
            .eval()
            .unwrap();
        assert_eq!(v, [18446744073709551615.0, -1.0, 17.0]);
        let v: Vec<i64> = lua
            .load("return {struct.size('bhilTfd'), struct.size('!bd'), struct.size('!4bd'), struct.size('c10x'), struct.size('zz')}")
            .eval()
            .unwrap();
        assert_eq!(v, [35, 16, 12, 11, 0]);
    }

    #[test]
    fn errors_match_c() {
        let got = errors(
            "function() return struct.pack('i', 'x') end, function() return struct.pack('c5', 'ab') end,
             function() return struct.pack('y', 1) end, function() return struct.pack('!3') end,
             function() return struct.pack('i33', 1) end, function() return struct.pack('i99999999999', 1) end,
             function() return struct.unpack('i', 'ab') end, function() return struct.unpack('b', 'a', 0) end,
             function() return struct.unpack('c0', 'abc') end, function() return struct.unpack('s', 'abc') end,
             function() return struct.size('s') end, function() return struct.size('c0') end, function() return struct.size('?') end,
             function() return struct.pack() end, function() return struct.unpack('b') end",
        );
        assert_eq!(
            got,
            [
                "bad argument #2 to 'pack' (number expected, got string)",
                "bad argument #3 to 'pack' (string too short)",
                "bad argument #1 to 'pack' (invalid format option 'y')",
                "alignment 3 is not a power of 2",
                "integral size 33 is larger than limit of 32",
                "integral size overflow",
                "bad argument #2 to 'unpack' (data string too short)",
                "bad argument #3 to 'unpack' (offset must be 1 or greater)",
                "format 'c0' needs a previous size",
                "unfinished string in data",
                "bad argument #1 to 'size' (option 's' has no fixed size)",
                "bad argument #1 to 'size' (option 'c0' has no fixed size)",
                "bad argument #1 to 'size' (invalid format option '?')",
                "bad argument #1 to 'pack' (string expected, got no value)",
                "bad argument #2 to 'unpack' (string expected, got no value)",
            ]
        );
    }
}
