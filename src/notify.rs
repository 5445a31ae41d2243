//! Keyspace notifications: the `notify-keyspace-events` flag letters and the channel names
//! events are published on.
//!
//! Commands record events on their shard's store ([`crate::store::Store::notify`]); after
//! each command the shard publishes them as `PUBLISH __keyspace@<db>__:<key> <event>` and
//! `PUBLISH __keyevent@<db>__:<event> <key>` (see [`crate::shard::ShardLocal::publish_events`]).

/// `K`: publish on `__keyspace@<db>__:<key>`.
pub const KEYSPACE: u32 = 1 << 0;
/// `E`: publish on `__keyevent@<db>__:<event>`.
pub const KEYEVENT: u32 = 1 << 1;
/// `g`: generic commands (DEL, EXPIRE, RENAME...).
pub const GENERIC: u32 = 1 << 2;
/// `$`: string commands.
pub const STRING: u32 = 1 << 3;
/// `l`: list commands.
pub const LIST: u32 = 1 << 4;
/// `s`: set commands.
pub const SET: u32 = 1 << 5;
/// `h`: hash commands.
pub const HASH: u32 = 1 << 6;
/// `z`: sorted set commands.
pub const ZSET: u32 = 1 << 7;
/// `x`: a key's time passed (`expired`).
pub const EXPIRED: u32 = 1 << 8;
/// `e`: a key was evicted for maxmemory (`evicted`).
pub const EVICTED: u32 = 1 << 9;
/// `t`: stream commands (accepted; shardis has no streams).
pub const STREAM: u32 = 1 << 10;
/// `m`: key misses (accepted; not published, as in Redis's `A` it is excluded).
pub const KEY_MISS: u32 = 1 << 11;
/// `d`: module events (accepted; shardis has no modules).
pub const MODULE: u32 = 1 << 12;
/// `n`: a key was created (`new`).
pub const NEW: u32 = 1 << 13;
/// `A`: alias for `g$lshzxetd`.
pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

const LETTERS: [(char, u32); 13] = [
    ('g', GENERIC),
    ('$', STRING),
    ('l', LIST),
    ('s', SET),
    ('h', HASH),
    ('z', ZSET),
    ('x', EXPIRED),
    ('e', EVICTED),
    ('t', STREAM),
    ('d', MODULE),
    ('n', NEW),
    ('K', KEYSPACE),
    ('E', KEYEVENT),
];

/// Parses Redis's flag letters (`KEA`, `Kx`...); `None` on an unknown letter.
pub fn parse_flags(s: &str) -> Option<u32> {
    let mut f = 0;
    for c in s.chars() {
        f |= match c {
            'A' => ALL,
            'm' => KEY_MISS,
            c => LETTERS.iter().find(|(l, _)| *l == c)?.1,
        };
    }
    Some(f)
}

/// The flags as CONFIG GET shows them: `A` for the whole class set, then `K`, `E`, `m`.
pub fn flags_to_string(f: u32) -> String {
    let mut s = String::new();
    if f & ALL == ALL {
        s.push('A');
    } else {
        s.extend(LETTERS[..11].iter().filter(|(_, b)| f & b != 0).map(|(c, _)| *c));
    }
    s.extend(LETTERS[11..].iter().filter(|(_, b)| f & b != 0).map(|(c, _)| *c));
    if f & KEY_MISS != 0 {
        s.push('m');
    }
    s
}

/// Whether an event of `class` is published under `flags`: its class is on and so is `K`
/// or `E`.
pub fn wanted(flags: u32, class: u32) -> bool {
    flags & class != 0 && flags & (KEYSPACE | KEYEVENT) != 0
}

/// The keyspace channel `__keyspace@<db>__:<key>`.
pub fn keyspace_channel(db: usize, key: &[u8]) -> Vec<u8> {
    let mut c = format!("__keyspace@{db}__:").into_bytes();
    c.extend_from_slice(key);
    c
}

/// The keyevent channel `__keyevent@<db>__:<event>`.
pub fn keyevent_channel(db: usize, event: &str) -> Vec<u8> {
    format!("__keyevent@{db}__:{event}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_as_redis_prints_them() {
        assert_eq!(flags_to_string(parse_flags("KEA").unwrap()), "AKE");
        assert_eq!(flags_to_string(parse_flags("Elx").unwrap()), "lxE");
        assert_eq!(flags_to_string(parse_flags("").unwrap()), "");
        assert_eq!(flags_to_string(parse_flags("mKn").unwrap()), "nKm");
        assert!(parse_flags("Q").is_none());
        assert!(wanted(parse_flags("Kx").unwrap(), EXPIRED));
        assert!(!wanted(parse_flags("x").unwrap(), EXPIRED), "K or E is needed");
    }
}
