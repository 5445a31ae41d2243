//! Lua BitOp 1.0.2 (`bit` library): bitwise operations on numbers normalised to signed 32-bit
//! integers, as in Redis's `deps/lua/src/lua_bit.c`.

use mlua::{IntoLuaMulti, Lua, MultiValue, Table, Value};

use super::{lib_fn, type_error, Args, LResult};

/// Converts argument `i` to 32 bits as BitOp's `barg` does: adds 2^52+2^51 to the number and
/// keeps the low word of the double, i.e. rounds to nearest and wraps modulo 2^32.
fn barg(lua: &Lua, args: &Args, i: usize) -> LResult<u32> {
    let n = args.to_number(lua, i)?;
    let b = (n.unwrap_or(0.0) + 6755399441055744.0).to_bits() as u32;
    if b == 0 && n.is_none() {
        return type_error(i, "number", args.get(i));
    }
    Ok(b)
}

/// BitOp's return convention: the 32-bit result as a signed Lua number.
fn ret(lua: &Lua, b: u32) -> LResult<MultiValue> {
    Ok(Value::Integer(b as i32 as i64).into_lua_multi(lua)?)
}

/// Creates the `bit` module table.
pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    type Unary = fn(u32) -> u32;
    let unary: [(&'static str, Unary); 3] = [("tobit", |b| b), ("bnot", |b| !b), ("bswap", |b| b.swap_bytes())];
    for (name, op) in unary {
        t.raw_set(name, lib_fn(lua, false, move |lua, args| ret(lua, op(barg(lua, &args, 1)?)))?)?;
    }
    type Binary = fn(u32, u32) -> u32;
    let folds: [(&'static str, Binary); 3] = [("band", |a, b| a & b), ("bor", |a, b| a | b), ("bxor", |a, b| a ^ b)];
    for (name, op) in folds {
        let f = lib_fn(lua, false, move |lua, args| {
            let mut b = barg(lua, &args, 1)?;
            for i in (2..=args.len()).rev() {
                b = op(b, barg(lua, &args, i)?);
            }
            ret(lua, b)
        })?;
        t.raw_set(name, f)?;
    }
    let shifts: [(&'static str, Binary); 5] = [
        ("lshift", |b, n| b << n),
        ("rshift", |b, n| b >> n),
        ("arshift", |b, n| ((b as i32) >> n) as u32),
        ("rol", |b, n| b.rotate_left(n)),
        ("ror", |b, n| b.rotate_right(n)),
    ];
    for (name, op) in shifts {
        let f = lib_fn(lua, false, move |lua, args| {
            let b = barg(lua, &args, 1)?;
            let n = barg(lua, &args, 2)? & 31;
            ret(lua, op(b, n))
        })?;
        t.raw_set(name, f)?;
    }
    let tohex = lib_fn(lua, false, |lua, args| {
        let mut b = barg(lua, &args, 1)?;
        let mut n = if args.len() < 2 { 8 } else { barg(lua, &args, 2)? as i32 };
        let mut digits: &[u8; 16] = b"0123456789abcdef";
        if n < 0 {
            n = n.checked_neg().unwrap_or(i32::MAX);
            digits = b"0123456789ABCDEF";
        }
        let n = n.min(8) as usize;
        let mut buf = [0u8; 8];
        for c in buf[..n].iter_mut().rev() {
            *c = digits[(b & 15) as usize];
            b >>= 4;
        }
        Ok(lua.create_string(&buf[..n])?.into_lua_multi(lua)?)
    })?;
    t.raw_set("tohex", tohex)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::tests::lua;

    fn eval<T: mlua::FromLuaMulti>(code: &str) -> T {
        lua().load(code).eval().unwrap()
    }

    #[test]
    fn redis_minimal_bitop_functionality() {
        let ok: bool = eval(
            "assert(bit.tobit(1) == 1); assert(bit.band(1) == 1); assert(bit.bxor(1,2) == 3);
             assert(bit.bor(1,2,4,8,16,32,64,128) == 255) return true",
        );
        assert!(ok);
        let v: Vec<i64> = eval(
            "local version = 0x070010
             return {bit.band(bit.rshift(version, 16), 0x000000ff), bit.band(bit.rshift(version, 8), 0x000000ff), bit.band(version, 0x000000ff)}",
        );
        assert_eq!(v, vec![7, 0, 16]);
    }

    #[test]
    fn bitop_test_vectors() {
        // Values from BitOp's own test suite (bittest.lua) and doc examples.
        let v: Vec<f64> = eval(
            "return {bit.tobit(0xffffffff), bit.tobit(0xffffffff + 1), bit.tobit(2^40 + 1234), bit.bnot(0), bit.band(0x12345678, 0xff),
                     bit.bor(1, 2, 4), bit.bxor(0xff, 0x0f), bit.lshift(1, 0), bit.lshift(1, 8), bit.lshift(1, 40),
                     bit.rshift(256, 8), bit.rshift(-256, 8), bit.arshift(-256, 8), bit.rol(0x12345678, 12), bit.ror(0x12345678, 12),
                     bit.bswap(0x12345678), bit.lshift(0x87654321, 12), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5), bit.tobit('10'),
                     bit.lshift(1, 31), bit.tobit(-2^31), bit.tobit(2^31)}",
        );
        let want = [
            -1.0,
            0.0,
            1234.0,
            -1.0,
            0x78 as f64,
            7.0,
            0xf0 as f64,
            1.0,
            256.0,
            256.0,
            1.0,
            16777215.0,
            -1.0,
            0x45678123 as f64,
            0x67812345 as f64,
            0x78563412 as f64,
            0x54321000 as f64,
            2.0,
            2.0,
            -2.0,
            10.0,
            -2147483648.0,
            -2147483648.0,
            -2147483648.0,
        ];
        assert_eq!(v, want);
    }

    #[test]
    fn tohex() {
        let v: Vec<String> = eval(
            "return {bit.tohex(1), bit.tohex(-1), bit.tohex(-1, -8), bit.tohex(0x87654321, -8), bit.tohex(0x87654321, 4),
                     bit.tohex(0x87654321, 0), bit.tohex(255, 20), bit.tohex(255, -20), bit.tohex(1, -2^31)}",
        );
        assert_eq!(v, ["00000001", "ffffffff", "FFFFFFFF", "87654321", "4321", "", "000000ff", "000000FF", "00000001"]);
    }

    #[test]
    fn argument_errors() {
        let v: Vec<String> = eval(
            "local r = {}
             for _, f in ipairs({function() return bit.band() end, function() return bit.band(1, 'x') end,
                                 function() return bit.tohex(1, nil) end, function() return bit.bor(1, {}, 2) end,
                                 function() return bit.lshift(1) end}) do
               local ok, e = pcall(f) r[#r + 1] = (string.gsub(e, '^%[string .-%]:%d+: ', ''))
             end
             return r",
        );
        assert_eq!(
            v,
            [
                "bad argument #1 to 'band' (number expected, got no value)",
                "bad argument #2 to 'band' (number expected, got string)",
                "bad argument #2 to 'tohex' (number expected, got nil)",
                "bad argument #2 to 'bor' (number expected, got table)",
                "bad argument #2 to 'lshift' (number expected, got no value)",
            ]
        );
    }
}
