//! What the blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX,
//! BZMPOP) share: the timeout argument, the first attempt, and the per-key pop a shard runs
//! for a client blocked on that key when it comes into existence ([`BlockSpec`]). The
//! waiting itself is [`crate::shard::blocking`].

use bytes::Bytes;

use super::error::{CmdError, CmdResult};
use crate::protocol::Reply;
use crate::shard::ShardCtx;

/// Pops for a client from `key`, given the whole command; `Ok(None)` when `key` has nothing.
pub type ServeFn = fn(&mut ShardCtx<'_>, &[Bytes], &[u8]) -> Result<Option<Reply>, CmdError>;

/// A move split in commands: (pop from the source, push onto the destination, push back onto
/// the source); the element is appended to the last two.
pub type MoveHalves = (Vec<Bytes>, Vec<Bytes>, Vec<Bytes>);

/// How a blocking command is served and timed.
#[derive(Debug, Clone, Copy)]
pub struct BlockSpec {
    /// The pop for one key.
    pub serve: ServeFn,
    /// Position of the timeout argument; negative counts from the end.
    pub timeout_at: i32,
    /// Position of a destination key (BLMOVE); 0 when none.
    pub dest_at: usize,
    /// For moves: the pop and the push halves, as commands taking the popped element last,
    /// used when the destination lives on another shard.
    pub halves: Option<fn(&[Bytes]) -> MoveHalves>,
    /// The reply when it may not wait (inside MULTI): a null array, or a null bulk (moves).
    pub null_bulk: bool,
}

impl BlockSpec {
    /// The timeout argument of `args`.
    pub fn timeout_arg<'a>(&self, args: &'a [Bytes]) -> &'a Bytes {
        let i = if self.timeout_at < 0 { args.len() as i32 + self.timeout_at } else { self.timeout_at };
        &args[i as usize]
    }

    /// The reply when the command may not wait.
    pub fn no_wait_reply(&self) -> Reply {
        if self.null_bulk {
            Reply::Nil
        } else {
            Reply::NilArray
        }
    }
}

/// A timeout in seconds (a float; 0 waits forever) as milliseconds, with Redis's errors.
pub fn parse_timeout(arg: &[u8]) -> Result<u64, CmdError> {
    let secs = std::str::from_utf8(arg).ok().and_then(|s| s.parse::<f64>().ok()).filter(|v| !v.is_nan());
    let secs = secs.ok_or_else(|| CmdError::other("timeout is not a float or out of range"))?;
    let ms = secs * 1000.0;
    // Redis converts to a C long long: out-of-range values come out negative.
    if !(0.0..9.2e18).contains(&ms) {
        return Err(CmdError::other("timeout is negative"));
    }
    Ok(ms as u64)
}

/// The first attempt of a blocking command: the timeout is checked, then `keys` are tried
/// in order; [`Reply::Blocked`] when none has anything.
pub fn attempt(ctx: &mut ShardCtx<'_>, a: &[Bytes], spec: &BlockSpec, keys: &[Bytes]) -> CmdResult {
    parse_timeout(spec.timeout_arg(a))?;
    for k in keys {
        if let Some(r) = (spec.serve)(ctx, a, k)? {
            return Ok(r);
        }
    }
    Ok(Reply::Blocked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_as_redis() {
        assert_eq!(parse_timeout(b"0"), Ok(0));
        assert_eq!(parse_timeout(b"0.5"), Ok(500));
        assert_eq!(parse_timeout(b"x"), Err(CmdError::other("timeout is not a float or out of range")));
        assert_eq!(parse_timeout(b"-1"), Err(CmdError::other("timeout is negative")));
        assert_eq!(parse_timeout(b"inf"), Err(CmdError::other("timeout is negative")));
        assert_eq!(parse_timeout(b"nan"), Err(CmdError::other("timeout is not a float or out of range")));
    }
}
