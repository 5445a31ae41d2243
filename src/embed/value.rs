//! Arguments in and typed values out: [`ToArg`] turns Rust values into command arguments,
//! [`FromReply`] turns Redis's reply types into Rust values, and [`Error`] is what a call can
//! fail with.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::time::Duration;

use bytes::Bytes;
use thiserror::Error;

use crate::command::CmdError;
use crate::protocol::Reply;

/// What an in-process call can fail with.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// The command replied with one of Redis's errors (wrong type, not an integer, out of
    /// memory, syntax, arity...), as the server would have; its `Display` is Redis's text.
    #[error(transparent)]
    Command(#[from] CmdError),
    /// [`NsMap::watch`](super::NsMap::watch) needs keyspace notifications for generic, string
    /// and expiry events; the flags that are on are given.
    #[error("map events need notify-keyspace-events with K, g, $ and x (now '{0}')")]
    MapEventsOff(String),
    /// The reply does not convert to the type asked for.
    #[error("cannot read {reply} as {wanted}")]
    Unexpected {
        /// The reply, as Debug text.
        reply: String,
        /// The Rust type asked for.
        wanted: &'static str,
    },
    /// EXEC found that a WATCHed key changed: nothing ran.
    #[error("transaction aborted: a watched key was modified")]
    WatchedKeyChanged,
    /// The engine has stopped (or the subscriber was cut off for passing the pubsub output
    /// limit).
    #[error("the engine has stopped")]
    Stopped,
    /// A value could not be serialized or deserialized.
    #[error("cannot encode or decode a value: {0}")]
    Serde(String),
}

/// The result of an in-process call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    fn unexpected<T>(reply: &Reply) -> Error {
        Error::Unexpected { reply: format!("{reply:?}"), wanted: std::any::type_name::<T>() }
    }
}

/// A value that is one command argument.
pub trait ToArg {
    /// The argument's bytes.
    fn to_arg(&self) -> Bytes;
}

impl ToArg for str {
    fn to_arg(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}

impl ToArg for String {
    fn to_arg(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}

impl ToArg for [u8] {
    fn to_arg(&self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl<const N: usize> ToArg for [u8; N] {
    fn to_arg(&self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl ToArg for Vec<u8> {
    fn to_arg(&self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl ToArg for Bytes {
    fn to_arg(&self) -> Bytes {
        self.clone()
    }
}

impl<T: ToArg + ?Sized> ToArg for &T {
    fn to_arg(&self) -> Bytes {
        (**self).to_arg()
    }
}

macro_rules! int_args {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn to_arg(&self) -> Bytes {
                Bytes::copy_from_slice(itoa::Buffer::new().format(*self).as_bytes())
            }
        }
    )*};
}
int_args!(i32, i64, u32, u64, usize);

impl ToArg for f64 {
    fn to_arg(&self) -> Bytes {
        Bytes::from(crate::num::format_f64(*self))
    }
}

/// A timeout of a blocking command: seconds with millisecond precision.
impl ToArg for Duration {
    fn to_arg(&self) -> Bytes {
        Bytes::from(format!("{}.{:03}", self.as_secs(), self.subsec_millis()))
    }
}

/// Converts a reply into a Rust value. An error reply converts to its [`Error`] whatever the
/// type asked for; nil converts to `None` for `Option`s, and to an empty value or zero
/// otherwise only where Redis itself treats a missing key so (`Vec`, maps, sets).
pub trait FromReply: Sized {
    /// The value of `reply`.
    fn from_reply(reply: Reply) -> Result<Self>;
}

/// Fails on error replies; passes every other reply through.
pub fn check(reply: Reply) -> Result<Reply> {
    match reply {
        Reply::Error(e) => Err(Error::Command(*e)),
        r => Ok(r),
    }
}

impl FromReply for Reply {
    fn from_reply(reply: Reply) -> Result<Self> {
        check(reply)
    }
}

impl FromReply for () {
    fn from_reply(reply: Reply) -> Result<Self> {
        check(reply).map(drop)
    }
}

impl FromReply for Bytes {
    fn from_reply(reply: Reply) -> Result<Self> {
        match check(reply)? {
            Reply::Bulk(b) | Reply::Verbatim(b) | Reply::StatusOwned(b) => Ok(b),
            Reply::Status(s) => Ok(Bytes::from_static(s.as_bytes())),
            Reply::Int(i) => Ok(Bytes::from(i.to_string())),
            Reply::Double(d) => Ok(Bytes::from(crate::num::format_f64(d))),
            r => Err(Error::unexpected::<Self>(&r)),
        }
    }
}

impl FromReply for Vec<u8> {
    fn from_reply(reply: Reply) -> Result<Self> {
        Bytes::from_reply(reply).map(|b| b.to_vec())
    }
}

impl FromReply for String {
    fn from_reply(reply: Reply) -> Result<Self> {
        let b = Bytes::from_reply(reply)?;
        String::from_utf8(b.to_vec()).map_err(|e| Error::Unexpected { reply: format!("{:?}", e.as_bytes()), wanted: "String" })
    }
}

impl FromReply for i64 {
    fn from_reply(reply: Reply) -> Result<Self> {
        match check(reply)? {
            Reply::Int(i) => Ok(i),
            Reply::Bulk(ref b) if crate::num::parse_i64(b).is_some() => Ok(crate::num::parse_i64(b).unwrap_or_default()),
            r => Err(Error::unexpected::<Self>(&r)),
        }
    }
}

macro_rules! narrow_ints {
    ($($t:ty),*) => {$(
        impl FromReply for $t {
            fn from_reply(reply: Reply) -> Result<Self> {
                let i = i64::from_reply(reply)?;
                <$t>::try_from(i).map_err(|_| Error::unexpected::<Self>(&Reply::Int(i)))
            }
        }
    )*};
}
narrow_ints!(i32, u32, u64, usize);

impl FromReply for f64 {
    fn from_reply(reply: Reply) -> Result<Self> {
        match check(reply)? {
            Reply::Double(d) => Ok(d),
            Reply::Int(i) => Ok(i as f64),
            Reply::Bulk(ref b) if crate::num::parse_f64(b).is_some() => Ok(crate::num::parse_f64(b).unwrap_or_default()),
            r => Err(Error::unexpected::<Self>(&r)),
        }
    }
}

/// `1`/`0` integer replies, `OK`, and nil (false).
impl FromReply for bool {
    fn from_reply(reply: Reply) -> Result<Self> {
        match check(reply)? {
            Reply::Int(i) => Ok(i != 0),
            Reply::Status(_) | Reply::StatusOwned(_) => Ok(true),
            Reply::Nil | Reply::NilArray => Ok(false),
            r => Err(Error::unexpected::<Self>(&r)),
        }
    }
}

impl<T: FromReply> FromReply for Option<T> {
    fn from_reply(reply: Reply) -> Result<Self> {
        match check(reply)? {
            Reply::Nil | Reply::NilArray => Ok(None),
            r => T::from_reply(r).map(Some),
        }
    }
}

/// The elements of an aggregate reply (a map's keys and values alternate, as in RESP2).
fn elements(reply: Reply) -> Result<Vec<Reply>> {
    match check(reply)? {
        Reply::Array(v) | Reply::Set(v) | Reply::Push(v) | Reply::Seq(v) => Ok(v),
        Reply::Map(pairs) => Ok(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
        Reply::Nil | Reply::NilArray => Ok(Vec::new()),
        r => Err(Error::unexpected::<Vec<Reply>>(&r)),
    }
}

impl<T: FromReply> FromReply for Vec<T> {
    fn from_reply(reply: Reply) -> Result<Self> {
        elements(reply)?.into_iter().map(T::from_reply).collect()
    }
}

impl<T: FromReply + Eq + Hash> FromReply for HashSet<T> {
    fn from_reply(reply: Reply) -> Result<Self> {
        elements(reply)?.into_iter().map(T::from_reply).collect()
    }
}

impl<K: FromReply + Eq + Hash, V: FromReply> FromReply for HashMap<K, V> {
    fn from_reply(reply: Reply) -> Result<Self> {
        let mut it = elements(reply)?.into_iter();
        let mut out = HashMap::new();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            out.insert(K::from_reply(k)?, V::from_reply(v)?);
        }
        Ok(out)
    }
}

impl<A: FromReply, B: FromReply> FromReply for (A, B) {
    fn from_reply(reply: Reply) -> Result<Self> {
        let shown = format!("{reply:?}");
        let mut it = elements(reply)?.into_iter();
        match (it.next(), it.next(), it.next()) {
            (Some(a), Some(b), None) => Ok((A::from_reply(a)?, B::from_reply(b)?)),
            _ => Err(Error::Unexpected { reply: shown, wanted: std::any::type_name::<Self>() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_replies_become_typed_errors() {
        let wrong = Reply::from(CmdError::WrongType);
        assert_eq!(Bytes::from_reply(wrong), Err(Error::Command(CmdError::WrongType)));
        let other = Reply::err("NOGROUP No such key");
        assert_eq!(i64::from_reply(other), Err(Error::Command(CmdError::Line("NOGROUP No such key".into()))));
        let arity = Reply::from(CmdError::Arity("set".into()));
        assert_eq!(<()>::from_reply(arity), Err(Error::Command(CmdError::Arity("set".into()))));
    }

    #[test]
    fn nil_is_none_and_empty() {
        assert_eq!(Option::<Bytes>::from_reply(Reply::Nil), Ok(None));
        assert_eq!(Vec::<Bytes>::from_reply(Reply::NilArray), Ok(vec![]));
        assert!(Bytes::from_reply(Reply::Nil).is_err());
    }

    #[test]
    fn maps_read_from_resp3_maps_and_flat_arrays() {
        let m = Reply::Map(vec![(Reply::bulk(b"f"), Reply::bulk(b"1"))]);
        let flat = Reply::Array(vec![Reply::bulk(b"f"), Reply::bulk(b"1")]);
        let want: HashMap<String, i64> = [("f".to_string(), 1)].into();
        assert_eq!(HashMap::<String, i64>::from_reply(m), Ok(want.clone()));
        assert_eq!(HashMap::<String, i64>::from_reply(flat), Ok(want));
    }

    #[test]
    fn doubles_read_from_resp2_bulk_and_resp3_double() {
        assert_eq!(f64::from_reply(Reply::bulk(b"1.5")), Ok(1.5));
        assert_eq!(f64::from_reply(Reply::Double(2.5)), Ok(2.5));
        assert!(f64::from_reply(Reply::bulk(b"x")).is_err());
    }

    #[test]
    fn arguments_render_as_redis_reads_them() {
        assert_eq!(42i64.to_arg(), Bytes::from("42"));
        assert_eq!(1.5f64.to_arg(), Bytes::from("1.5"));
        assert_eq!(Duration::from_millis(2500).to_arg(), Bytes::from("2.500"));
        assert_eq!("k".to_arg(), Bytes::from("k"));
    }
}
