//! DUMP / RESTORE payloads (`createDumpPayload`, `verifyDumpPayload`): a type byte and a
//! value as in a file, then the RDB version (2 bytes) and a CRC-64 of everything before it
//! (8 bytes), both little-endian. FUNCTION DUMP payloads are the same with one
//! `RDB_OPCODE_FUNCTION2` record per library in place of the value.

use super::decode::read_value;
use super::encode::{encode_value, value_type, EncodeOptions};
use super::wire::{write_string, Input};
use super::{opcodes, Limits, RdbError, Result, CRC64, RDB_VERSION};
use crate::store::Value;

/// Appends the footer: RDB version and the CRC-64 of all of `out` so far.
fn seal(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The body of a payload after checking its footer: [`RdbError::PayloadFooter`] when it is
/// shorter than a footer, its version is newer than ours or its checksum is wrong.
pub fn verify(payload: &[u8]) -> Result<&[u8]> {
    if payload.len() < 10 {
        return Err(RdbError::PayloadFooter);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..].try_into().map_err(|_| RdbError::PayloadFooter)?);
    if version > RDB_VERSION || CRC64.checksum(&payload[..payload.len() - 8]) != crc {
        return Err(RdbError::PayloadFooter);
    }
    Ok(body)
}

/// The DUMP payload of `v`.
pub fn dump(v: &Value, opts: &EncodeOptions) -> Vec<u8> {
    let mut out = vec![value_type(v)];
    encode_value(&mut out, v, opts);
    seal(out)
}

/// The value of a RESTORE payload, built under `limits`. [`RdbError::PayloadFooter`] for a
/// bad footer; any other error means a bad body (Redis's `Bad data format`).
pub fn restore(payload: &[u8], limits: &Limits) -> Result<Value> {
    let mut input = Input::new(verify(payload)?);
    let t = input.byte()?;
    read_value(&mut input, t, limits)
}

/// The FUNCTION DUMP payload of the libraries' codes.
pub fn dump_functions<'a>(codes: impl IntoIterator<Item = &'a [u8]>, compress: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(opcodes::FUNCTION2);
        write_string(&mut out, code, compress);
    }
    seal(out)
}

/// The library codes of a FUNCTION RESTORE payload. [`RdbError::PayloadFooter`] for a bad
/// footer, [`RdbError::UnsupportedType`] for a record that is not a function library.
pub fn restore_functions(payload: &[u8]) -> Result<Vec<Vec<u8>>> {
    let body = verify(payload)?;
    let mut input = Input::new(body);
    let mut codes = Vec::new();
    while !input_is_empty(&input) {
        match input.byte()? {
            opcodes::FUNCTION2 => codes.push(input.string()?),
            t => return Err(RdbError::UnsupportedType(t)),
        }
    }
    Ok(codes)
}

fn input_is_empty(input: &Input<&[u8]>) -> bool {
    input.remaining().is_empty()
}
