//! Malformed and hostile input: each case gets Redis's exact error (and is closed where Redis
//! closes it), and the server keeps serving every other client.

mod common;

use common::{Frame, Raw};

fn err(s: &str) -> Frame {
    Frame::Error(s.as_bytes().to_vec())
}

/// Sends `input` on a fresh connection and returns the first reply and whether the server
/// then closed the connection; checks that a bystander connection still works.
fn probe(s: &common::Server, bystander: &mut Raw, input: &[u8]) -> (Frame, bool) {
    let mut c = s.raw();
    c.send(input);
    let reply = c.read();
    let closed = c.closed();
    assert_eq!(bystander.cmds(&["PING"]), Frame::Simple(b"PONG".to_vec()), "server stopped serving others after {input:?}");
    (reply, closed)
}

#[test]
fn protocol_errors_get_redis_text_and_close_only_that_client() {
    for shards in [1, 4] {
        let s = common::shardis(shards, &[]);
        let mut other = s.raw();
        let cases: &[(&[u8], &str)] = &[
            (b"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"),
            (b"*1\r\n$99999999999\r\n", "ERR Protocol error: invalid bulk length"),
            (b"*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length"),
            (b"*3000000000\r\n", "ERR Protocol error: invalid multibulk length"),
            (b"*x\r\n", "ERR Protocol error: invalid multibulk length"),
            (b"*1\r\n:1\r\n", "ERR Protocol error: expected '$', got ':'"),
            (b"GET \"abc\r\n", "ERR Protocol error: unbalanced quotes in request"),
        ];
        for (input, want) in cases {
            let (reply, closed) = probe(&s, &mut other, input);
            assert_eq!(reply, err(want), "input {input:?}");
            assert!(closed, "connection must be closed after {input:?}");
        }
        let big_inline = vec![b'a'; 70 * 1024];
        let (reply, closed) = probe(&s, &mut other, &big_inline);
        assert_eq!((reply, closed), (err("ERR Protocol error: too big inline request"), true));
        let mut big_count = b"*".to_vec();
        big_count.extend(vec![b'1'; 70 * 1024]);
        let (reply, _) = probe(&s, &mut other, &big_count);
        assert_eq!(reply, err("ERR Protocol error: too big mbulk count string"));
    }
}

#[test]
fn garbage_and_partial_frames_do_not_disturb_the_server() {
    let s = common::shardis(2, &[]);
    let mut other = s.raw();
    // Binary garbage on one line is an inline command with an odd name.
    let mut g = s.raw();
    g.send(b"\x01\x02\xfe\xff junk\r\n");
    match g.read() {
        Frame::Error(e) => assert!(e.starts_with(b"ERR unknown command"), "{}", String::from_utf8_lossy(&e)),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(g.cmds(&["PING"]), Frame::Simple(b"PONG".to_vec()), "the garbage client is still served");
    // An empty multibulk is skipped, as Redis does.
    g.send(b"*0\r\n*-1\r\n");
    assert_eq!(g.cmds(&["ECHO", "x"]), Frame::Bulk(Some(b"x".to_vec())));
    // Unterminated frames, then the client goes away.
    for partial in [&b"*2\r\n$3\r\nGET\r\n"[..], b"*1\r\n$1000\r\nabc", b"*5\r\n", b"$"] {
        let mut p = s.raw();
        p.send(partial);
        drop(p);
        assert_eq!(other.cmds(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    }
    // A frame split across many writes still parses.
    let mut slow = s.raw();
    for b in common::encode_cmd(&[b"SET", b"slow", b"value"]) {
        slow.send(&[b]);
    }
    assert_eq!(slow.read(), Frame::Simple(b"OK".to_vec()));
}

#[test]
fn wrong_arity_unknown_commands_and_bad_values_are_errors() {
    let s = common::shardis(2, &[]);
    let mut c = s.raw();
    assert_eq!(c.cmds(&["GET"]), err("ERR wrong number of arguments for 'get' command"));
    assert_eq!(c.cmds(&["SET", "k"]), err("ERR wrong number of arguments for 'set' command"));
    assert_eq!(c.cmds(&["CLIENT", "SETNAME"]), err("ERR wrong number of arguments for 'client|setname' command"));
    assert_eq!(c.cmds(&["FOO", "a", "b"]), err("ERR unknown command 'FOO', with args beginning with: 'a' 'b' "));
    assert_eq!(c.cmds(&["CONFIG", "FOO"]), err("ERR unknown subcommand 'FOO'. Try CONFIG HELP."));
    assert_eq!(c.cmds(&["SET", "s", "abc"]), Frame::Simple(b"OK".to_vec()));
    assert_eq!(c.cmds(&["INCR", "s"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.cmds(&["INCRBYFLOAT", "s", "1"]), err("ERR value is not a valid float"));
    assert_eq!(c.cmds(&["SET", "k", "v", "EX", "-1"]), err("ERR invalid expire time in 'set' command"));
    assert_eq!(c.cmds(&["SET", "k", "v", "BOGUS"]), err("ERR syntax error"));
    assert_eq!(c.cmds(&["EXPIRE", "s", "10", "NX", "XX"]), err("ERR NX and XX, GT or LT options at the same time are not compatible"));
    assert_eq!(c.cmds(&["SELECT", "99"]), err("ERR DB index is out of range"));
    assert_eq!(c.cmds(&["SETRANGE", "s", "-1", "x"]), err("ERR offset is out of range"));
    assert_eq!(c.cmds(&["SETRANGE", "s", "536870912", "x"]), err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
    assert_eq!(c.cmds(&["PING"]), Frame::Simple(b"PONG".to_vec()));
}

#[test]
fn limits_close_the_offender_and_spare_everyone_else() {
    let s = common::shardis(2, &[]);
    let mut admin = s.raw();
    assert_eq!(admin.cmds(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]), Frame::Simple(b"OK".to_vec()));
    let (reply, closed) = probe(&s, &mut admin, b"*1\r\n$2000000\r\n");
    assert_eq!((reply, closed), (err("ERR Protocol error: invalid bulk length"), true));

    assert_eq!(admin.cmds(&["CONFIG", "SET", "proto-max-bulk-len", "512mb"]), Frame::Simple(b"OK".to_vec()));
    assert_eq!(admin.cmds(&["CONFIG", "SET", "client-query-buffer-limit", "1mb"]), Frame::Simple(b"OK".to_vec()));
    let mut hog = s.raw();
    hog.send(b"*2\r\n$4\r\nECHO\r\n$3000000\r\n");
    // Redis closes a client over the query buffer limit without a reply; so does shardis.
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..40 {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hog.send(&chunk))).is_err() {
            break;
        }
    }
    assert!(hog.closed(), "client over client-query-buffer-limit must be closed");
    assert_eq!(admin.cmds(&["PING"]), Frame::Simple(b"PONG".to_vec()));
}

#[test]
fn unauthenticated_clients_get_small_limits() {
    let s = common::shardis(1, &["--requirepass", "pw"]);
    let mut other = s.raw();
    assert_eq!(other.cmds(&["AUTH", "pw"]), Frame::Simple(b"OK".to_vec()));
    let (reply, closed) = probe(&s, &mut other, b"*11\r\n");
    assert_eq!((reply, closed), (err("ERR Protocol error: unauthenticated multibulk length"), true));
    let (reply, closed) = probe(&s, &mut other, b"*1\r\n$20000\r\n");
    assert_eq!((reply, closed), (err("ERR Protocol error: unauthenticated bulk length"), true));
}
