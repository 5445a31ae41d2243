//! Pub/sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE,
//! PUBLISH, SPUBLISH and PUBSUB's subcommands. The registry is [`crate::pubsub`]; delivery
//! is [`crate::shard::ShardLocal::publish`].

use bytes::Bytes;

use super::error::CmdResult;
use super::flags::{FAST, LOADING, NOSCRIPT, PUBSUB, RANDOM, STALE, SUBSCRIBED_OK};
use super::server::help_reply;
use super::{CommandSpec, Route};
use crate::protocol::Reply;
use crate::pubsub::Kind;
use crate::shard::Session;

const NOKEY: (i32, i32, i32) = (0, 0, 0);
const SUB: u32 = PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK;
const INFO: u32 = PUBSUB | LOADING | STALE | RANDOM;

/// The pub/sub commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("subscribe", -2, SUB | LOADING, NOKEY, "pubsub", Route::Session(subscribe)).doc(
        "Listens for messages published to channels.",
        "2.0.0",
        "O(N) where N is the number of channels to subscribe to.",
        "channel...",
    ),
    CommandSpec::new("unsubscribe", -1, SUB | LOADING, NOKEY, "pubsub", Route::Session(unsubscribe)).doc(
        "Stops listening to messages posted to channels.",
        "2.0.0",
        "O(N) where N is the number of channels to unsubscribe.",
        "[channel...]",
    ),
    CommandSpec::new("psubscribe", -2, SUB | LOADING, NOKEY, "pubsub", Route::Session(psubscribe)).doc(
        "Listens for messages published to channels that match one or more patterns.",
        "2.0.0",
        "O(N) where N is the number of patterns to subscribe to.",
        "pattern...",
    ),
    CommandSpec::new("punsubscribe", -1, SUB | LOADING, NOKEY, "pubsub", Route::Session(punsubscribe)).doc(
        "Stops listening to messages published to channels that match one or more patterns.",
        "2.0.0",
        "O(N) where N is the number of patterns to unsubscribe.",
        "[pattern...]",
    ),
    CommandSpec::new("ssubscribe", -2, SUB | LOADING, NOKEY, "pubsub", Route::Session(ssubscribe)).doc(
        "Listens for messages published to shard channels.",
        "7.0.0",
        "O(N) where N is the number of shard channels to subscribe to.",
        "shardchannel...",
    ),
    CommandSpec::new("sunsubscribe", -1, SUB | LOADING, NOKEY, "pubsub", Route::Session(sunsubscribe)).doc(
        "Stops listening to messages posted to shard channels.",
        "7.0.0",
        "O(N) where N is the number of shard channels to unsubscribe.",
        "[shardchannel...]",
    ),
    CommandSpec::new("publish", 3, PUBSUB | LOADING | STALE | FAST, NOKEY, "pubsub", Route::Session(publish)).doc(
        "Posts a message to a channel.",
        "2.0.0",
        "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
        "channel message",
    ),
    CommandSpec::new("spublish", 3, PUBSUB | LOADING | STALE | FAST, NOKEY, "pubsub", Route::Session(spublish)).doc(
        "Post a message to a shard channel",
        "7.0.0",
        "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        "shardchannel message",
    ),
    CommandSpec::new("pubsub", -2, 0, NOKEY, "pubsub", Route::Parent).subs(PUBSUB_SUBS).doc(
        "A container for Pub/Sub commands.",
        "2.8.0",
        "Depends on subcommand.",
        "",
    ),
];

static PUBSUB_SUBS: &[CommandSpec] = &[
    CommandSpec::new("pubsub|channels", -2, INFO | LOADING, NOKEY, "pubsub", Route::Session(channels)).doc(
        "Returns the active channels.",
        "2.8.0",
        "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
        "[pattern]",
    ),
    CommandSpec::new("pubsub|numsub", -2, INFO | LOADING, NOKEY, "pubsub", Route::Session(numsub)).doc(
        "Returns a count of subscribers to channels.",
        "2.8.0",
        "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
        "[channel...]",
    ),
    CommandSpec::new("pubsub|numpat", 2, INFO | LOADING, NOKEY, "pubsub", Route::Session(numpat)).doc(
        "Returns a count of unique pattern subscriptions.",
        "2.8.0",
        "O(1)",
        "",
    ),
    CommandSpec::new("pubsub|shardchannels", -2, INFO | LOADING, NOKEY, "pubsub", Route::Session(shardchannels)).doc(
        "Returns the active shard channels.",
        "7.0.0",
        "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
        "[pattern]",
    ),
    CommandSpec::new("pubsub|shardnumsub", -2, INFO | LOADING, NOKEY, "pubsub", Route::Session(shardnumsub)).doc(
        "Returns the count of subscribers of shard channels.",
        "7.0.0",
        "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
        "[shardchannel...]",
    ),
    CommandSpec::new("pubsub|help", 2, LOADING | STALE, NOKEY, "pubsub", Route::Session(help)).doc(
        "Returns helpful text about the different subcommands.",
        "6.2.0",
        "O(1)",
        "",
    ),
];

fn confirm(word: &'static str, name: Reply, count: i64) -> Reply {
    Reply::Push(vec![Reply::bulk(word.as_bytes()), name, Reply::Int(count)])
}

/// SUBSCRIBE-family: one confirmation per name, carrying the count after it.
fn subscribe_generic(s: &mut Session, a: &[Bytes], kind: Kind, word: &'static str) -> CmdResult {
    Ok(Reply::Seq(a[1..].iter().map(|n| confirm(word, Reply::Bulk(n.clone()), s.subscribe(kind, n))).collect()))
}

/// UNSUBSCRIBE-family: the named ones, or all when none is named; one confirmation each
/// (a null name when there was nothing to leave).
fn unsubscribe_generic(s: &mut Session, a: &[Bytes], kind: Kind, word: &'static str) -> CmdResult {
    let names = if a.len() > 1 { a[1..].to_vec() } else { s.subscriptions(kind) };
    if names.is_empty() {
        let count = s.push.subs.borrow().count(kind);
        return Ok(confirm(word, Reply::Nil, count));
    }
    Ok(Reply::Seq(names.into_iter().map(|n| confirm(word, Reply::Bulk(n.clone()), s.unsubscribe(kind, &n))).collect()))
}

fn subscribe(s: &mut Session, a: &[Bytes]) -> CmdResult {
    subscribe_generic(s, a, Kind::Channel, "subscribe")
}

fn unsubscribe(s: &mut Session, a: &[Bytes]) -> CmdResult {
    unsubscribe_generic(s, a, Kind::Channel, "unsubscribe")
}

fn psubscribe(s: &mut Session, a: &[Bytes]) -> CmdResult {
    subscribe_generic(s, a, Kind::Pattern, "psubscribe")
}

fn punsubscribe(s: &mut Session, a: &[Bytes]) -> CmdResult {
    unsubscribe_generic(s, a, Kind::Pattern, "punsubscribe")
}

fn ssubscribe(s: &mut Session, a: &[Bytes]) -> CmdResult {
    subscribe_generic(s, a, Kind::Shard, "ssubscribe")
}

fn sunsubscribe(s: &mut Session, a: &[Bytes]) -> CmdResult {
    unsubscribe_generic(s, a, Kind::Shard, "sunsubscribe")
}

fn publish(s: &mut Session, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(s.local.publish(Kind::Channel, &a[1], &a[2])))
}

fn spublish(s: &mut Session, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(s.local.publish(Kind::Shard, &a[1], &a[2])))
}

fn names(s: &Session, a: &[Bytes], kind: Kind) -> CmdResult {
    Ok(Reply::Array(s.local.shared.pubsub.names(kind, a.get(2).map(|p| &p[..])).into_iter().map(Reply::Bulk).collect()))
}

fn counts(s: &Session, a: &[Bytes], kind: Kind) -> CmdResult {
    let reg = &s.local.shared.pubsub;
    Ok(Reply::Array(a[2..].iter().flat_map(|c| [Reply::Bulk(c.clone()), Reply::Int(reg.count(kind, c) as i64)]).collect()))
}

fn channels(s: &mut Session, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(super::CmdError::Arity("pubsub|channels".into()));
    }
    names(s, a, Kind::Channel)
}

fn shardchannels(s: &mut Session, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(super::CmdError::Arity("pubsub|shardchannels".into()));
    }
    names(s, a, Kind::Shard)
}

fn numsub(s: &mut Session, a: &[Bytes]) -> CmdResult {
    counts(s, a, Kind::Channel)
}

fn shardnumsub(s: &mut Session, a: &[Bytes]) -> CmdResult {
    counts(s, a, Kind::Shard)
}

fn numpat(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(s.local.shared.pubsub.len(Kind::Pattern) as i64))
}

fn help(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    ))
}
