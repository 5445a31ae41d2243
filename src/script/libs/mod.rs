//! Rust re-implementations of the C libraries Redis 7.0 embeds in its Lua 5.1 interpreter:
//! `cjson`, `cmsgpack`, `bit` (Lua BitOp) and `struct`, following Redis 7.0.15's
//! `deps/lua/src/lua_*.c`.
//!
//! Each library function is a small C closure (see [`lib_fn`]) around an mlua function that runs
//! the Rust body and returns `(true, results...)` or `(false, message [, narg])`. The C closure then
//! returns the results, or raises the message as a plain Lua string with `luaL_error`'s position
//! prefix (or through `luaL_argerror`), so scripts see exactly the errors of the C libraries.
//!
//! Functions that must read numbers exactly (mlua turns numbers in `(-eps, eps)`, including
//! `-0.0`, into integer `0`) get their arguments packed in a table and re-read numbers as `f64`.

mod bit;
mod cjson;
mod cmsgpack;
mod structlib;

use std::ffi::c_int;

use mlua::{ffi, Function, IntoLuaMulti, Lua, MultiValue, Table, Value};

/// Emulated `LUAI_MAXCSTACK`: the most Lua stack slots a C function may use. It is kept below the
/// real 8000 because values held by the Rust code live in mlua's reference stack, which shares the
/// same 8000-slot ceiling with every other reference the host keeps.
pub(crate) const MAX_SLOTS: usize = 7000;

/// Error raised by a library function: a message for Lua, or an mlua error propagated as is.
#[derive(Debug)]
pub(crate) enum LibError {
    /// Plain Lua error message (bytes, as Lua strings may hold any byte), raised like `luaL_error`.
    Msg(Vec<u8>),
    /// Bad argument number and explanation, raised like `luaL_argerror`.
    Arg(usize, Vec<u8>),
    /// Any other mlua error.
    Lua(mlua::Error),
}

impl From<mlua::Error> for LibError {
    fn from(e: mlua::Error) -> Self {
        match e {
            mlua::Error::RuntimeError(m) | mlua::Error::MemoryError(m) => LibError::Msg(m.into_bytes()),
            e => LibError::Lua(e),
        }
    }
}

/// Result type of library function bodies.
pub(crate) type LResult<T> = std::result::Result<T, LibError>;

/// Builds a plain error message.
pub(crate) fn err<T>(msg: impl Into<Vec<u8>>) -> LResult<T> {
    Err(LibError::Msg(msg.into()))
}

/// `luaL_argerror` (the function name in the message comes from Lua's debug information).
pub(crate) fn arg_error<T>(narg: usize, msg: &str) -> LResult<T> {
    Err(LibError::Arg(narg, msg.as_bytes().to_vec()))
}

/// `luaL_typerror` text.
pub(crate) fn type_error<T>(narg: usize, expected: &str, got: Option<&Value>) -> LResult<T> {
    arg_error(narg, &format!("{expected} expected, got {}", type_name(got)))
}

/// Lua's `luaL_typename` of a value (`None` is an absent argument).
pub(crate) fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::Integer(_) | Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

/// Arguments of a library call, in order; numbers are exact when the function was registered
/// with packed arguments.
pub(crate) struct Args(pub(crate) Vec<Value>);

impl Args {
    /// The 1-based argument `i`, `None` when absent.
    pub(crate) fn get(&self, i: usize) -> Option<&Value> {
        i.checked_sub(1).and_then(|i| self.0.get(i))
    }

    /// Number of arguments (`lua_gettop`).
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// `lua_tonumber` of argument `i`: `None` when not a number nor a numeric string.
    pub(crate) fn to_number(&self, lua: &Lua, i: usize) -> LResult<Option<f64>> {
        to_number(lua, self.get(i))
    }

    /// `luaL_checknumber`.
    pub(crate) fn check_number(&self, lua: &Lua, i: usize) -> LResult<f64> {
        match self.to_number(lua, i)? {
            Some(n) => Ok(n),
            None => type_error(i, "number", self.get(i)),
        }
    }

    /// `luaL_checkinteger` (`lua_Integer` is 64-bit).
    pub(crate) fn check_integer(&self, lua: &Lua, i: usize) -> LResult<i64> {
        self.check_number(lua, i).map(number_to_integer)
    }

    /// `luaL_optinteger`.
    pub(crate) fn opt_integer(&self, lua: &Lua, i: usize, default: i64) -> LResult<i64> {
        match self.get(i) {
            None | Some(Value::Nil) => Ok(default),
            _ => self.check_integer(lua, i),
        }
    }

    /// `luaL_checklstring`: strings, or numbers converted to strings.
    pub(crate) fn check_string(&self, lua: &Lua, i: usize) -> LResult<mlua::String> {
        match self.get(i) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v @ (Value::Integer(_) | Value::Number(_))) => match lua.coerce_string(v.clone())? {
                Some(s) => Ok(s),
                None => type_error(i, "string", self.get(i)),
            },
            v => type_error(i, "string", v),
        }
    }
}

/// `lua_tonumber` of an optional value.
pub(crate) fn to_number(lua: &Lua, v: Option<&Value>) -> LResult<Option<f64>> {
    Ok(match v {
        Some(Value::Integer(i)) => Some(*i as f64),
        Some(Value::Number(n)) => Some(*n),
        Some(v @ Value::String(_)) => lua.coerce_number(v.clone())?,
        _ => None,
    })
}

/// The C cast `(lua_Integer)d` as x86-64 performs it (out of range and NaN give `i64::MIN`).
pub(crate) fn number_to_integer(d: f64) -> i64 {
    if (-9223372036854775808.0..9223372036854775808.0).contains(&d) {
        d as i64
    } else {
        i64::MIN
    }
}

/// The C cast `(int)d` as x86-64 performs it (out of range and NaN give `i32::MIN`).
pub(crate) fn number_to_int(d: f64) -> i32 {
    if d > -2147483649.0 && d < 2147483648.0 {
        d as i32
    } else {
        i32::MIN
    }
}

/// Re-reads `t[k]` as an exact number when mlua reported the value as integer `0`, which it also
/// does for `-0.0` and numbers closer to zero than `f64::EPSILON`.
pub(crate) fn exact_value(t: &Table, k: &Value, v: Value) -> mlua::Result<Value> {
    match v {
        Value::Integer(0) => Ok(Value::Number(t.raw_get::<f64>(k.clone())?)),
        v => Ok(v),
    }
}

/// Lua's `next(t, k)` (raw traversal): the following key and value, `None` at the end.
/// Unlike mlua's conversions, numeric keys and values are returned exactly.
pub(crate) fn table_next(lua: &Lua, t: &Table, k: Value) -> mlua::Result<Option<(Value, Value)>> {
    use mlua::ffi;
    // SAFETY: the closure runs in mlua's protected call with exactly `t` and `k` on the stack
    // (indices 1 and 2). `lua_next` pops the key and pushes the next key and value, or nothing at
    // the end. Numbers are pushed again (nil otherwise) so that they are read as `f64`, then `t`
    // is removed: the results are `k, v, k_number, v_number`, or nothing.
    let r: (Value, Value, Option<f64>, Option<f64>) = unsafe {
        lua.exec_raw((t, k), |state| {
            if ffi::lua_next(state, 1) != 0 {
                for idx in [2, 3] {
                    if ffi::lua_type(state, idx) == ffi::LUA_TNUMBER {
                        ffi::lua_pushvalue(state, idx);
                    } else {
                        ffi::lua_pushnil(state);
                    }
                }
            }
            ffi::lua_remove(state, 1);
        })?
    };
    Ok(match r {
        (Value::Nil, ..) => None,
        (k, v, kn, vn) => Some((kn.map_or(k, Value::Number), vn.map_or(v, Value::Number))),
    })
}

/// Ends a library call from the C entry point: with `(true, ...)` returns the values; with
/// `(false, msg, narg)` raises `luaL_argerror(narg, msg)`; with `(false, msg)` raises `msg`
/// prefixed with the caller's position, as `luaL_error` does.
///
/// # Safety
/// `state` must be the running state inside a C function with the results of the body on its
/// stack. No Rust value with a destructor may be alive in the caller, as Lua errors `longjmp`.
unsafe fn entry_finish(state: *mut ffi::lua_State) -> c_int {
    let n = ffi::lua_gettop(state);
    if n >= 1 && ffi::lua_toboolean(state, 1) != 0 {
        ffi::lua_remove(state, 1);
        return n - 1;
    }
    if n >= 3 && ffi::lua_type(state, 3) == ffi::LUA_TNUMBER {
        let narg = ffi::lua_tointeger(state, 3) as c_int;
        ffi::luaL_argerror(state, narg, ffi::lua_tolstring(state, 2, std::ptr::null_mut()));
        return 0;
    }
    ffi::luaL_where(state, 1);
    ffi::lua_pushvalue(state, 2);
    ffi::lua_concat(state, 2);
    ffi::lua_error(state)
}

/// C entry point of a library function: calls the Rust body (upvalue 1) with the arguments.
unsafe extern "C-unwind" fn entry_plain(state: *mut ffi::lua_State) -> c_int {
    let nargs = ffi::lua_gettop(state);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, nargs, ffi::LUA_MULTRET);
    entry_finish(state)
}

/// C entry point of a library function reading exact numbers: calls the Rust body (upvalue 1)
/// with the arguments packed in a table, and their count.
unsafe extern "C-unwind" fn entry_packed(state: *mut ffi::lua_State) -> c_int {
    let nargs = ffi::lua_gettop(state);
    ffi::lua_createtable(state, nargs, 0);
    for i in 1..=nargs {
        ffi::lua_pushvalue(state, i);
        ffi::lua_rawseti(state, -2, i as _);
    }
    ffi::lua_insert(state, 1);
    ffi::lua_settop(state, 1);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_pushinteger(state, nargs as _);
    ffi::lua_call(state, 2, ffi::LUA_MULTRET);
    entry_finish(state)
}

/// Creates a library function from `body`. With `packed`, numeric arguments are read exactly.
///
/// The body runs as an mlua function returning `(ok, ...)`; a C closure around it turns failures
/// into genuine Lua string errors positioned like the C libraries' `luaL_error`/`luaL_argerror`.
pub(crate) fn lib_fn<F>(lua: &Lua, packed: bool, body: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, Args) -> LResult<MultiValue> + 'static,
{
    let raw = if packed {
        lua.create_function(move |lua, (t, n): (Table, usize)| {
            let mut v = Vec::with_capacity(n.min(MAX_SLOTS));
            for i in 1..=n {
                let x = t.raw_get::<Value>(i)?;
                v.push(exact_value(&t, &Value::Integer(i as i64), x)?);
            }
            finish(lua, body(lua, Args(v)))
        })?
    } else {
        lua.create_function(move |lua, args: MultiValue| finish(lua, body(lua, Args(args.into_iter().collect()))))?
    };
    let entry: ffi::lua_CFunction = if packed { entry_packed } else { entry_plain };
    // SAFETY: `raw` is the only argument (index 1); it becomes the closure's upvalue and the
    // closure is left as the single result.
    unsafe { lua.exec_raw(raw, |state| ffi::lua_pushcclosure(state, entry, 1)) }
}

/// Converts a body result into the `(ok, ...)` protocol of the wrapper.
fn finish(lua: &Lua, r: LResult<MultiValue>) -> mlua::Result<MultiValue> {
    match r {
        Ok(mut v) => {
            v.push_front(Value::Boolean(true));
            Ok(v)
        }
        Err(LibError::Msg(m)) => (false, lua.create_string(&m)?).into_lua_multi(lua),
        Err(LibError::Arg(narg, m)) => (false, lua.create_string(&m)?, narg as i64).into_lua_multi(lua),
        Err(LibError::Lua(e)) => Err(e),
    }
}

/// Installs the globals `cjson`, `cmsgpack`, `bit` and `struct` (and their `package.loaded`
/// entries when a `package` table exists).
pub fn register(lua: &mlua::Lua) -> mlua::Result<()> {
    let libs = [
        ("cjson", cjson::create(lua)?),
        ("struct", structlib::create(lua)?),
        ("cmsgpack", cmsgpack::create(lua)?),
        ("bit", bit::create(lua)?),
    ];
    let g = lua.globals();
    let loaded = match g.raw_get::<Value>("package")? {
        Value::Table(p) => match p.raw_get::<Value>("loaded")? {
            Value::Table(l) => Some(l),
            _ => None,
        },
        _ => None,
    };
    for (name, t) in libs {
        if let Some(l) = &loaded {
            l.raw_set(name, t.clone())?;
        }
        g.raw_set(name, t)?;
    }
    Ok(())
}

/// C `printf("%.<prec>g", x)` (`prec` in 1..=17).
pub(crate) fn format_g(x: f64, prec: usize) -> String {
    let prec = prec.clamp(1, 17);
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan".into() } else { "nan".into() };
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf".into() } else { "inf".into() };
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0");
    }
    let e = format!("{:.*e}", prec - 1, x.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    if exp < -4 || exp >= prec as i32 {
        let frac = digits[1..].trim_end_matches('0');
        let dot = if frac.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{}{dot}{frac}e{esign}{:02}", &digits[..1], exp.abs())
    } else if exp >= 0 {
        let split = (exp as usize + 1).min(digits.len());
        let frac = digits[split..].trim_end_matches('0');
        let dot = if frac.is_empty() { "" } else { "." };
        format!("{sign}{}{dot}{frac}", &digits[..split])
    } else {
        let zeros = "0".repeat((-exp - 1) as usize);
        format!("{sign}0.{zeros}{}", digits.trim_end_matches('0'))
    }
}

/// C `strtod` on the start of `s` (glibc syntax: decimal, hexadecimal, `inf`, `infinity`,
/// `nan`, `nan(...)`). Returns the value and the number of bytes consumed, `None` if no number.
pub(crate) fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    while matches!(at(i), b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = at(i) == b'-';
    if matches!(at(i), b'-' | b'+') {
        i += 1;
    }
    let apply = |v: f64| if neg { -v } else { v };
    let starts = |i: usize, word: &[u8]| s.len() >= i + word.len() && s[i..i + word.len()].eq_ignore_ascii_case(word);
    if starts(i, b"inf") {
        let n = if starts(i, b"infinity") { 8 } else { 3 };
        return Some((apply(f64::INFINITY), i + n));
    }
    if starts(i, b"nan") {
        let mut end = i + 3;
        if at(end) == b'(' {
            let mut j = end + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                end = j + 1;
            }
        }
        return Some((apply(f64::NAN), end));
    }
    if at(i) == b'0' && (at(i + 1) | 0x20) == b'x' {
        if let Some((v, n)) = hex_float(&s[i + 2..]) {
            return Some((apply(v), i + 2 + n));
        }
        return Some((apply(0.0), i + 1));
    }
    let start = i;
    let mut ndigits = 0;
    while at(i).is_ascii_digit() {
        i += 1;
        ndigits += 1;
    }
    if at(i) == b'.' {
        i += 1;
        while at(i).is_ascii_digit() {
            i += 1;
            ndigits += 1;
        }
    }
    if ndigits == 0 {
        return None;
    }
    if (at(i) | 0x20) == b'e' {
        let mut j = i + 1;
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            while at(j).is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    let text = std::str::from_utf8(&s[start..i]).ok()?;
    let v: f64 = text.parse().ok()?;
    Some((apply(v), i))
}

/// Parses the digits of a hexadecimal float after `0x`: `h*[.h*][p[+-]d+]`.
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut mant: u128 = 0;
    let mut exp: i64 = 0;
    let mut sticky = false;
    let mut ndigits = 0;
    let mut i = 0;
    let mut seen_dot = false;
    loop {
        let c = at(i);
        if c == b'.' && !seen_dot {
            seen_dot = true;
            i += 1;
            continue;
        }
        let Some(d) = (c as char).to_digit(16) else { break };
        ndigits += 1;
        if mant >> 120 == 0 {
            mant = mant << 4 | d as u128;
            if seen_dot {
                exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !seen_dot {
                exp += 4;
            }
        }
        i += 1;
    }
    if ndigits == 0 {
        return None;
    }
    if (at(i) | 0x20) == b'p' {
        let mut j = i + 1;
        let eneg = at(j) == b'-';
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            let mut e: i64 = 0;
            while at(j).is_ascii_digit() {
                e = (e * 10 + (at(j) - b'0') as i64).min(100_000);
                j += 1;
            }
            exp += if eneg { -e } else { e };
            i = j;
        }
    }
    if sticky {
        mant |= 1;
    }
    let mut v = mant as f64;
    while exp > 0 && v.is_finite() && v != 0.0 {
        let step = exp.min(1000);
        v *= 2f64.powi(step as i32);
        exp -= step;
    }
    while exp < 0 && v != 0.0 {
        let step = (-exp).min(1000);
        v /= 2f64.powi(step as i32);
        exp += step;
    }
    Some((v, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Creates a Lua state with the libraries registered.
    pub(crate) fn lua() -> Lua {
        let lua = Lua::new();
        register(&lua).unwrap();
        lua
    }

    #[test]
    fn format_g_matches_lua_string_format() {
        let lua = lua();
        let values = [
            0.1,
            1.0,
            100.0,
            1e15,
            1e14,
            123456789012345.0,
            0.0001,
            0.00001,
            1.5e-7,
            2.5,
            0.125,
            1e21,
            1e100,
            1e-300,
            5e-324,
            1.7976931348623157e308,
            1.23456789012345,
            -2.5,
            1023.2,
            0.3e-3,
            99999999999999.5,
            999999999999999.0,
            0.5,
            1.25,
            12345.678,
            1e-5,
            9.9999999999999e-5,
        ];
        let f: Function = lua.load("return function(p, x) return string.format('%.' .. p .. 'g', x) end").eval().unwrap();
        for &x in &values {
            for p in [1usize, 2, 3, 6, 14, 17] {
                for x in [x, -x] {
                    let want: String = f.call((p, x)).unwrap();
                    assert_eq!(format_g(x, p), want, "%.{p}g of {x:e}");
                }
            }
        }
        assert_eq!(format_g(-0.0, 14), "-0");
        assert_eq!(format_g(f64::INFINITY, 14), "inf");
    }

    #[test]
    fn strtod_matches_lua_tonumber() {
        let lua = lua();
        let f: Function = lua.load("return function(s) return tonumber(s) end").eval().unwrap();
        for s in [
            "0",
            "1.5",
            "-5e3",
            "0.3e-3",
            "1e400",
            "1e-400",
            ".5",
            "5.",
            "0x10",
            "0x1p4",
            "0x.8",
            "1.7976931348623157e308",
            "123456789012345678901234567890",
        ] {
            let want: f64 = f.call(s).unwrap();
            let (got, n) = strtod(s.as_bytes()).unwrap();
            assert_eq!(n, s.len(), "{s}");
            assert_eq!(got.to_bits(), want.to_bits(), "{s}");
        }
        assert_eq!(strtod(b"1e+"), Some((1.0, 1)));
        assert_eq!(strtod(b"-"), None);
        assert_eq!(strtod(b"0xg"), Some((0.0, 1)));
        assert_eq!(strtod(b"Infinity!"), Some((f64::INFINITY, 8)));
        assert!(strtod(b"nan(12)x").is_some_and(|(v, n)| v.is_nan() && n == 7));
    }

    #[test]
    fn errors_are_plain_strings_and_globals_exist() {
        let lua = lua();
        let (ok, msg, ty): (bool, String, String) =
            lua.load("local ok, e = pcall(cjson.decode, 'x') return ok, e, type(e)").eval().unwrap();
        assert!(!ok);
        assert_eq!(msg, "Expected value but found invalid token at character 1");
        assert_eq!(ty, "string");
        // Raised from Lua code, errors carry the caller's position like `luaL_error`; argument
        // errors name the function as called.
        let v: Vec<String> = lua
            .load(
                "local r = {}
                 r[1] = select(2, pcall(function() return cjson.decode('x') end))
                 r[2] = select(2, pcall(function() local x = cmsgpack.unpack(string.char(0xc1)) end))
                 r[3] = select(2, pcall(function() local b = bit; return b.band({}) end))
                 r[4] = select(2, pcall(function() local p = struct.pack; p('q') end))
                 r[5] = select(2, pcall(bit.bnot))
                 return r",
            )
            .set_name("@user_script")
            .eval()
            .unwrap();
        assert_eq!(
            v,
            [
                "user_script:2: Expected value but found invalid token at character 1",
                "user_script:3: Bad data format in input.",
                "user_script:4: bad argument #1 to 'band' (number expected, got table)",
                "user_script:5: bad argument #1 to 'p' (invalid format option 'q')",
                "bad argument #1 to '?' (number expected, got no value)",
            ]
        );
        let ok: bool = lua
            .load("return type(cjson) == 'table' and type(cmsgpack) == 'table' and type(bit) == 'table' and type(struct) == 'table' and package.loaded.cjson == cjson")
            .eval()
            .unwrap();
        assert!(ok);
    }
}
