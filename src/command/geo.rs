//! Geospatial indexes: sorted sets whose scores are 52-bit geohashes of (longitude,
//! latitude), as Redis encodes them (GEOADD).

use bytes::Bytes;

use super::error::{CmdError, CmdResult};
use super::flags::{DENYOOM, WRITE};
use super::{eq_ic, CommandSpec, Route};
use crate::shard::ShardCtx;

/// The geo commands.
pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("geoadd", -5, WRITE | DENYOOM, (1, 1, 1), "geo", Route::Shard(geoadd)).doc(
    "Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
    "3.2.0",
    "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
    "key [NX|XX] [CH] (longitude:double latitude:double member)...",
)];

/// Redis's geohash limits (EPSG:900913 latitude bounds).
const LAT_MIN: f64 = -85.051_128_78;
const LAT_MAX: f64 = 85.051_128_78;
const LON_MIN: f64 = -180.0;
const LON_MAX: f64 = 180.0;
/// Bits per coordinate.
const STEP: u32 = 26;

/// Spreads the low 32 bits of `x` to the even bit positions.
fn spread(x: u32) -> u64 {
    let mut v = u64::from(x);
    v = (v | (v << 16)) & 0x0000_FFFF_0000_FFFF;
    v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
    v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    v = (v | (v << 2)) & 0x3333_3333_3333_3333;
    (v | (v << 1)) & 0x5555_5555_5555_5555
}

/// The 52-bit geohash of a position, as Redis's `geohashEncodeWGS84` (latitude bits even,
/// longitude bits odd).
pub fn geohash(lon: f64, lat: f64) -> u64 {
    let scale = f64::from(1u32 << STEP);
    let lat_off = ((lat - LAT_MIN) / (LAT_MAX - LAT_MIN) * scale) as u32;
    let lon_off = ((lon - LON_MIN) / (LON_MAX - LON_MIN) * scale) as u32;
    spread(lat_off) | (spread(lon_off) << 1)
}

fn geoadd(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let mut j = 2;
    let mut opts: Vec<Bytes> = Vec::new();
    while j < a.len() && (eq_ic(&a[j], "nx") || eq_ic(&a[j], "xx") || eq_ic(&a[j], "ch")) {
        opts.push(a[j].clone());
        j += 1;
    }
    let nx = opts.iter().any(|o| eq_ic(o, "nx"));
    let xx = opts.iter().any(|o| eq_ic(o, "xx"));
    if nx && xx {
        return Err(CmdError::other("XX and NX options at the same time are not compatible"));
    }
    let triples = &a[j..];
    if triples.is_empty() || !triples.len().is_multiple_of(3) {
        return Err(CmdError::Syntax);
    }
    // The same as ZADD key [NX|XX] [CH] score member ... with each position's geohash.
    let mut zadd = vec![Bytes::from_static(b"zadd"), a[1].clone()];
    zadd.extend(opts);
    for t in triples.chunks(3) {
        let coord = |b: &Bytes| crate::num::parse_f64(b).ok_or(CmdError::NotFloat);
        let (lon, lat) = (coord(&t[0])?, coord(&t[1])?);
        if !(LON_MIN..=LON_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
            return Err(CmdError::Other(format!("invalid longitude,latitude pair {lon:.6},{lat:.6}").into()));
        }
        zadd.push(Bytes::from(geohash(lon, lat).to_string()));
        zadd.push(t[2].clone());
    }
    super::zsets::zadd(ctx, &zadd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geohashes_match_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" scores 3479099956230698 in Redis.
        assert_eq!(geohash(13.361389, 38.115556), 3479099956230698);
        assert_eq!(geohash(15.087269, 37.502669), 3479447370796909);
    }
}
