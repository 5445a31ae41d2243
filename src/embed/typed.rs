//! Typed methods for the everyday command families, written once and generated for every
//! handle: blocking on [`Client`] and [`Conn`], async on [`AsyncClient`], and queued on
//! [`Pipeline`]. Each has the arguments and reply of the Redis command of its name; the value
//! type of a reply is the caller's choice (`client.get::<String>("k")`).

use std::time::Duration;

use super::client::{AsyncClient, Client, Cmd};
use super::conn::{AsyncConn, Conn};
use super::pipeline::Pipeline;
use super::value::{FromReply, Result, ToArg};

/// When a key set by [`Client::set_with`] expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `PX`: after this long (millisecond precision).
    In(Duration),
    /// `PXAT`: at this Unix time in milliseconds.
    AtUnixMs(u64),
    /// `KEEPTTL`: keep the key's current time to live.
    KeepTtl,
}

/// Whether [`Client::set_with`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `NX`: only if the key does not exist.
    Absent,
    /// `XX`: only if it exists.
    Present,
}

/// SET's options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// EX/PX/EXAT/PXAT/KEEPTTL.
    pub expiry: Option<Expiry>,
    /// NX/XX.
    pub condition: Option<Condition>,
    /// GET: reply with the old value.
    pub get: bool,
}

impl SetOptions {
    /// Expires the key after `ttl`.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.expiry = Some(Expiry::In(ttl));
        self
    }

    /// Writes only if the key is absent (NX).
    pub fn if_absent(mut self) -> Self {
        self.condition = Some(Condition::Absent);
        self
    }

    /// Writes only if the key exists (XX).
    pub fn if_present(mut self) -> Self {
        self.condition = Some(Condition::Present);
        self
    }

    /// Replies with the old value (GET).
    pub fn get_old(mut self) -> Self {
        self.get = true;
        self
    }

    fn push(self, mut c: Cmd) -> Cmd {
        c = match self.expiry {
            Some(Expiry::In(d)) => c.arg("PX").arg(d.as_millis().max(1) as u64),
            Some(Expiry::AtUnixMs(t)) => c.arg("PXAT").arg(t),
            Some(Expiry::KeepTtl) => c.arg("KEEPTTL"),
            None => c,
        };
        c = match self.condition {
            Some(Condition::Absent) => c.arg("NX"),
            Some(Condition::Present) => c.arg("XX"),
            None => c,
        };
        if self.get {
            c = c.arg("GET");
        }
        c
    }
}

/// Which end of a list (LMOVE, BLMOVE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The head (LEFT).
    Left,
    /// The tail (RIGHT).
    Right,
}

impl ToArg for End {
    fn to_arg(&self) -> bytes::Bytes {
        bytes::Bytes::from_static(match self {
            End::Left => b"LEFT",
            End::Right => b"RIGHT",
        })
    }
}

/// One list of typed commands, expanded into methods of each handle.
macro_rules! typed_commands {
    ($( $(#[$doc:meta])* fn $name:ident $(<$g:ident>)? ( $($arg:ident : $ty:ty),* ) -> $ret:ty = $build:expr; )*) => {
        impl Client {
            $( $(#[$doc])* pub fn $name $(<$g: FromReply>)? (&self, $($arg: $ty),*) -> Result<$ret> { self.run($build.0) } )*
        }
        impl Conn {
            $( $(#[$doc])* pub fn $name $(<$g: FromReply>)? (&self, $($arg: $ty),*) -> Result<$ret> { self.run($build.0) } )*
        }
        impl AsyncClient {
            $( $(#[$doc])* pub fn $name $(<$g: FromReply + Send + 'static>)? (&self, $($arg: $ty),*) -> impl std::future::Future<Output = Result<$ret>> + Send + 'static { self.run($build.0) } )*
        }
        impl AsyncConn {
            $( $(#[$doc])* pub fn $name $(<$g: FromReply + Send + 'static>)? (&self, $($arg: $ty),*) -> impl std::future::Future<Output = Result<$ret>> + Send + 'static { self.run($build.0) } )*
        }
        impl Pipeline {
            $( $(#[$doc])* pub fn $name(&mut self, $($arg: $ty),*) -> &mut Self { self.cmd($build) } )*
        }
    };
}

typed_commands! {
    // Strings and counters.
    /// GET key.
    fn get<V>(key: impl ToArg) -> Option<V> = Cmd::new("GET").arg(key);
    /// SET key value.
    fn set(key: impl ToArg, value: impl ToArg) -> () = Cmd::new("SET").arg(key).arg(value);
    /// SET key value with options; the reply is Redis's: the old value with GET, else `OK`
    /// (as `Some`) or nil (`None`) when NX/XX prevented the write.
    fn set_with<V>(key: impl ToArg, value: impl ToArg, options: SetOptions) -> Option<V> = options.push(Cmd::new("SET").arg(key).arg(value));
    /// SET key value PX ttl.
    fn set_ex(key: impl ToArg, value: impl ToArg, ttl: Duration) -> () = SetOptions::default().ttl(ttl).push(Cmd::new("SET").arg(key).arg(value));
    /// SET key value NX: whether it was written.
    fn set_nx(key: impl ToArg, value: impl ToArg) -> bool = Cmd::new("SET").arg(key).arg(value).arg("NX");
    /// GETDEL key.
    fn getdel<V>(key: impl ToArg) -> Option<V> = Cmd::new("GETDEL").arg(key);
    /// MGET key [key ...].
    fn mget<V>(keys: impl IntoIterator<Item = impl ToArg>) -> Vec<Option<V>> = Cmd::new("MGET").args(keys);
    /// MSET key value [key value ...], atomically across shards.
    fn mset(pairs: impl IntoIterator<Item = (impl ToArg, impl ToArg)>) -> () = Cmd::new("MSET").args(pairs.into_iter().flat_map(|(k, v)| [k.to_arg(), v.to_arg()]));
    /// APPEND key value: the new length.
    fn append(key: impl ToArg, value: impl ToArg) -> i64 = Cmd::new("APPEND").arg(key).arg(value);
    /// STRLEN key.
    fn strlen(key: impl ToArg) -> i64 = Cmd::new("STRLEN").arg(key);
    /// INCR key.
    fn incr(key: impl ToArg) -> i64 = Cmd::new("INCR").arg(key);
    /// INCRBY key delta.
    fn incr_by(key: impl ToArg, delta: i64) -> i64 = Cmd::new("INCRBY").arg(key).arg(delta);
    /// DECR key.
    fn decr(key: impl ToArg) -> i64 = Cmd::new("DECR").arg(key);
    /// DECRBY key delta.
    fn decr_by(key: impl ToArg, delta: i64) -> i64 = Cmd::new("DECRBY").arg(key).arg(delta);
    /// INCRBYFLOAT key delta.
    fn incr_by_float(key: impl ToArg, delta: f64) -> f64 = Cmd::new("INCRBYFLOAT").arg(key).arg(delta);

    // Keys and expiry.
    /// DEL key [key ...]: how many existed.
    fn del(keys: impl IntoIterator<Item = impl ToArg>) -> i64 = Cmd::new("DEL").args(keys);
    /// EXISTS key [key ...]: how many exist.
    fn exists(keys: impl IntoIterator<Item = impl ToArg>) -> i64 = Cmd::new("EXISTS").args(keys);
    /// PEXPIRE key ttl: whether a time to live was set.
    fn expire(key: impl ToArg, ttl: Duration) -> bool = Cmd::new("PEXPIRE").arg(key).arg(ttl.as_millis() as u64);
    /// PERSIST key.
    fn persist(key: impl ToArg) -> bool = Cmd::new("PERSIST").arg(key);
    /// TTL key: seconds, -1 without a time to live, -2 when missing.
    fn ttl(key: impl ToArg) -> i64 = Cmd::new("TTL").arg(key);
    /// PTTL key: milliseconds, -1 without a time to live, -2 when missing.
    fn pttl(key: impl ToArg) -> i64 = Cmd::new("PTTL").arg(key);
    /// TYPE key.
    fn key_type(key: impl ToArg) -> String = Cmd::new("TYPE").arg(key);
    /// RENAME key newkey.
    fn rename(key: impl ToArg, new_key: impl ToArg) -> () = Cmd::new("RENAME").arg(key).arg(new_key);
    /// DBSIZE.
    fn dbsize() -> i64 = Cmd::new("DBSIZE");
    /// FLUSHDB.
    fn flushdb() -> () = Cmd::new("FLUSHDB");

    // Lists.
    /// LPUSH key value [value ...]: the new length.
    fn lpush(key: impl ToArg, values: impl IntoIterator<Item = impl ToArg>) -> i64 = Cmd::new("LPUSH").arg(key).args(values);
    /// RPUSH key value [value ...]: the new length.
    fn rpush(key: impl ToArg, values: impl IntoIterator<Item = impl ToArg>) -> i64 = Cmd::new("RPUSH").arg(key).args(values);
    /// LPOP key.
    fn lpop<V>(key: impl ToArg) -> Option<V> = Cmd::new("LPOP").arg(key);
    /// RPOP key.
    fn rpop<V>(key: impl ToArg) -> Option<V> = Cmd::new("RPOP").arg(key);
    /// LLEN key.
    fn llen(key: impl ToArg) -> i64 = Cmd::new("LLEN").arg(key);
    /// LRANGE key start stop.
    fn lrange<V>(key: impl ToArg, start: i64, stop: i64) -> Vec<V> = Cmd::new("LRANGE").arg(key).arg(start).arg(stop);
    /// LREM key count element: how many were removed.
    fn lrem(key: impl ToArg, count: i64, element: impl ToArg) -> i64 = Cmd::new("LREM").arg(key).arg(count).arg(element);
    /// LTRIM key start stop.
    fn ltrim(key: impl ToArg, start: i64, stop: i64) -> () = Cmd::new("LTRIM").arg(key).arg(start).arg(stop);
    /// LMOVE source destination from to.
    fn lmove<V>(source: impl ToArg, destination: impl ToArg, from: End, to: End) -> Option<V> = Cmd::new("LMOVE").arg(source).arg(destination).arg(from).arg(to);
    /// BLPOP key [key ...] timeout: the key and the element, or `None` at the timeout (zero
    /// waits for ever).
    fn blpop<V>(keys: impl IntoIterator<Item = impl ToArg>, timeout: Duration) -> Option<(String, V)> = Cmd::new("BLPOP").args(keys).arg(timeout);
    /// BRPOP key [key ...] timeout.
    fn brpop<V>(keys: impl IntoIterator<Item = impl ToArg>, timeout: Duration) -> Option<(String, V)> = Cmd::new("BRPOP").args(keys).arg(timeout);
    /// BLMOVE source destination from to timeout: the element moved, or `None` at the timeout.
    fn blmove<V>(source: impl ToArg, destination: impl ToArg, from: End, to: End, timeout: Duration) -> Option<V> = Cmd::new("BLMOVE").arg(source).arg(destination).arg(from).arg(to).arg(timeout);

    // Hashes.
    /// HSET key field value: 1 if the field is new.
    fn hset(key: impl ToArg, field: impl ToArg, value: impl ToArg) -> i64 = Cmd::new("HSET").arg(key).arg(field).arg(value);
    /// HSET key field value [field value ...]: how many fields are new.
    fn hset_multiple(key: impl ToArg, pairs: impl IntoIterator<Item = (impl ToArg, impl ToArg)>) -> i64 = Cmd::new("HSET").arg(key).args(pairs.into_iter().flat_map(|(f, v)| [f.to_arg(), v.to_arg()]));
    /// HGET key field.
    fn hget<V>(key: impl ToArg, field: impl ToArg) -> Option<V> = Cmd::new("HGET").arg(key).arg(field);
    /// HGETALL key, as a map.
    fn hgetall<V>(key: impl ToArg) -> std::collections::HashMap<String, V> = Cmd::new("HGETALL").arg(key);
    /// HDEL key field [field ...].
    fn hdel(key: impl ToArg, fields: impl IntoIterator<Item = impl ToArg>) -> i64 = Cmd::new("HDEL").arg(key).args(fields);
    /// HEXISTS key field.
    fn hexists(key: impl ToArg, field: impl ToArg) -> bool = Cmd::new("HEXISTS").arg(key).arg(field);
    /// HINCRBY key field delta.
    fn hincr_by(key: impl ToArg, field: impl ToArg, delta: i64) -> i64 = Cmd::new("HINCRBY").arg(key).arg(field).arg(delta);
    /// HLEN key.
    fn hlen(key: impl ToArg) -> i64 = Cmd::new("HLEN").arg(key);

    // Sets.
    /// SADD key member [member ...]: how many are new.
    fn sadd(key: impl ToArg, members: impl IntoIterator<Item = impl ToArg>) -> i64 = Cmd::new("SADD").arg(key).args(members);
    /// SREM key member [member ...].
    fn srem(key: impl ToArg, members: impl IntoIterator<Item = impl ToArg>) -> i64 = Cmd::new("SREM").arg(key).args(members);
    /// SISMEMBER key member.
    fn sismember(key: impl ToArg, member: impl ToArg) -> bool = Cmd::new("SISMEMBER").arg(key).arg(member);
    /// SMEMBERS key.
    fn smembers<V>(key: impl ToArg) -> Vec<V> = Cmd::new("SMEMBERS").arg(key);
    /// SCARD key.
    fn scard(key: impl ToArg) -> i64 = Cmd::new("SCARD").arg(key);

    // Sorted sets.
    /// ZADD key score member: 1 if the member is new.
    fn zadd(key: impl ToArg, score: f64, member: impl ToArg) -> i64 = Cmd::new("ZADD").arg(key).arg(score).arg(member);
    /// ZADD key score member [score member ...].
    fn zadd_multiple(key: impl ToArg, items: impl IntoIterator<Item = (f64, impl ToArg)>) -> i64 = Cmd::new("ZADD").arg(key).args(items.into_iter().flat_map(|(s, m)| [s.to_arg(), m.to_arg()]));
    /// ZSCORE key member.
    fn zscore(key: impl ToArg, member: impl ToArg) -> Option<f64> = Cmd::new("ZSCORE").arg(key).arg(member);
    /// ZINCRBY key delta member: the new score.
    fn zincr_by(key: impl ToArg, delta: f64, member: impl ToArg) -> f64 = Cmd::new("ZINCRBY").arg(key).arg(delta).arg(member);
    /// ZRANK key member.
    fn zrank(key: impl ToArg, member: impl ToArg) -> Option<i64> = Cmd::new("ZRANK").arg(key).arg(member);
    /// ZRANGE key start stop (by rank).
    fn zrange<V>(key: impl ToArg, start: i64, stop: i64) -> Vec<V> = Cmd::new("ZRANGE").arg(key).arg(start).arg(stop);
    /// ZRANGE key start stop WITHSCORES, as (member, score) pairs.
    fn zrange_with_scores<V>(key: impl ToArg, start: i64, stop: i64) -> Vec<(V, f64)> = Cmd::new("ZRANGE").arg(key).arg(start).arg(stop).arg("WITHSCORES");
    /// ZREM key member [member ...].
    fn zrem(key: impl ToArg, members: impl IntoIterator<Item = impl ToArg>) -> i64 = Cmd::new("ZREM").arg(key).args(members);
    /// ZCARD key.
    fn zcard(key: impl ToArg) -> i64 = Cmd::new("ZCARD").arg(key);

    // Pub/sub.
    /// PUBLISH channel message: how many subscribers received it.
    fn publish(channel: impl ToArg, message: impl ToArg) -> i64 = Cmd::new("PUBLISH").arg(channel).arg(message);
}
