//! Command errors: one variant per Redis error, whose `Display` is Redis's exact text.

use std::borrow::Cow;

use bytes::Bytes;
use thiserror::Error;

/// The result of a command handler.
pub type CmdResult = Result<crate::protocol::Reply, CmdError>;

/// An error reply.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CmdError {
    /// Operation on a key of another type.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    /// Not an integer, or out of range.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// Not a float.
    #[error("ERR value is not a valid float")]
    NotFloat,
    /// Bad option or option combination.
    #[error("ERR syntax error")]
    Syntax,
    /// Wrong number of arguments for the named command.
    #[error("ERR wrong number of arguments for '{0}' command")]
    Arity(String),
    /// No such command.
    #[error("ERR unknown command '{name}', with args beginning with: {args}")]
    UnknownCommand {
        /// The name as sent (truncated).
        name: String,
        /// The first arguments, quoted.
        args: String,
    },
    /// No such subcommand.
    #[error("ERR unknown subcommand '{sub}'. Try {cmd} HELP.")]
    UnknownSubcommand {
        /// The subcommand as sent.
        sub: String,
        /// The container command, upper case.
        cmd: String,
    },
    /// Integer overflow in INCR and friends.
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    /// DECRBY of i64::MIN.
    #[error("ERR decrement would overflow")]
    DecrementOverflow,
    /// INCRBYFLOAT produced NaN or infinity.
    #[error("ERR increment would produce NaN or Infinity")]
    NanOrInfinity,
    /// RENAME of a missing key.
    #[error("ERR no such key")]
    NoSuchKey,
    /// A command that may grow memory while over maxmemory with nothing to evict.
    #[error("OOM command not allowed when used memory > 'maxmemory'.")]
    OutOfMemory,
    /// A command refused while the data set loads at start-up.
    #[error("LOADING Redis is loading the dataset in memory")]
    Loading,
    /// A write refused because the last snapshot failed (`stop-writes-on-bgsave-error`).
    #[error("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.")]
    Misconf,
    /// SELECT / MOVE / COPY to a database that does not exist.
    #[error("ERR DB index is out of range")]
    DbOutOfRange,
    /// Bad expire time for the named command.
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpire(&'static str),
    /// Source and destination are the same.
    #[error("ERR source and destination objects are the same")]
    SameObject,
    /// A string would exceed proto-max-bulk-len.
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    StringTooLong,
    /// Negative SETRANGE offset.
    #[error("ERR offset is out of range")]
    OffsetOutOfRange,
    /// Bad SCAN cursor.
    #[error("ERR invalid cursor")]
    InvalidCursor,
    /// Command needs authentication first.
    #[error("NOAUTH Authentication required.")]
    NoAuth,
    /// Wrong password.
    #[error("WRONGPASS invalid username-password pair or user is disabled.")]
    WrongPass,
    /// HELLO with a protocol version we do not speak.
    #[error("NOPROTO unsupported protocol version")]
    NoProto,
    /// EXEC after a command was refused while queuing.
    #[error("EXECABORT Transaction discarded because of previous errors.")]
    ExecAbort,
    /// Any other `ERR` message, worded as Redis words it.
    #[error("ERR {0}")]
    Other(Cow<'static, str>),
    /// Any other error line, its code included (`UNBLOCKED ...`, a protocol error).
    #[error("{0}")]
    Line(Cow<'static, str>),
}

impl From<CmdError> for crate::protocol::Reply {
    fn from(e: CmdError) -> Self {
        crate::protocol::Reply::Error(Box::new(e))
    }
}

impl CmdError {
    /// Redis's unknown-command error, quoting up to 128 bytes of the first arguments.
    pub fn unknown_command(args: &[Bytes]) -> CmdError {
        let mut list = String::new();
        for a in &args[1..] {
            if list.len() >= 128 {
                break;
            }
            let room = 128 - list.len();
            list.push('\'');
            list.push_str(&super::args::printable(a, room));
            list.push_str("' ");
        }
        CmdError::UnknownCommand { name: super::args::printable(&args[0], 128), args: list }
    }

    /// An `ERR` error with static text.
    pub fn other(s: &'static str) -> CmdError {
        CmdError::Other(Cow::Borrowed(s))
    }
}
