//! A chat room: each message is appended to the room's bounded history and published to the
//! room's channel in one transaction (MULTI/EXEC), so a member who joins late reads the
//! history and then follows live messages without a gap or a duplicate.
//!
//! `cargo run --release --example chat` runs it in-process; `-- --tcp` runs the same over TCP
//! with the `redis` crate.

use std::time::Duration;

use shardis::embed::{Client, Engine, Pipeline};

const HISTORY: i64 = 50;

fn say(client: &Client, room: &str, who: &str, text: &str) {
    let line = format!("{who}: {text}");
    Pipeline::new()
        .atomic()
        .rpush(format!("history:{room}"), [&line])
        .ltrim(format!("history:{room}"), -HISTORY, -1)
        .publish(format!("room:{room}"), &line)
        .query(client)
        .unwrap();
}

fn say_tcp(con: &mut redis::Connection, room: &str, who: &str, text: &str) {
    let line = format!("{who}: {text}");
    redis::pipe()
        .atomic()
        .cmd("RPUSH")
        .arg(format!("history:{room}"))
        .arg(&line)
        .cmd("LTRIM")
        .arg(format!("history:{room}"))
        .arg(-HISTORY)
        .arg(-1)
        .cmd("PUBLISH")
        .arg(format!("room:{room}"))
        .arg(&line)
        .query::<()>(con)
        .unwrap();
}

fn main() {
    let tcp = std::env::args().any(|a| a == "--tcp");
    let mut builder = Engine::builder().shards(2).unpinned();
    if tcp {
        builder = builder.serve_tcp(0);
    }
    let engine = builder.start().expect("engine starts");
    let client = engine.client();
    let mut con = tcp.then(|| redis::Client::open(format!("redis://127.0.0.1:{}/", engine.port())).unwrap().get_connection().unwrap());
    let mut speak = |who: &str, text: &str| match con.as_mut() {
        Some(con) => say_tcp(con, "lobby", who, text),
        None => say(&client, "lobby", who, text),
    };
    let alice = client.subscriber();
    alice.subscribe(["room:lobby"]).unwrap();
    for i in 0..60 {
        speak("bob", &format!("message {i}"));
    }
    // Carol joins late: the last 50 lines from the history, then live messages.
    let carol = client.subscriber();
    carol.subscribe(["room:lobby"]).unwrap();
    let history: Vec<String> = client.lrange("history:lobby", 0, -1).unwrap();
    assert_eq!(history.len(), HISTORY as usize, "history is bounded");
    assert_eq!(history.first().map(String::as_str), Some("bob: message 10"));
    speak("alice", "hi carol");
    let live = carol.recv_timeout(Duration::from_secs(5)).unwrap().expect("live message");
    assert_eq!(&live.payload[..], b"alice: hi carol");
    let seen: Vec<_> = alice.iter().take(61).map(|m| String::from_utf8(m.payload.to_vec()).unwrap()).collect();
    assert_eq!(seen.last().map(String::as_str), Some("alice: hi carol"));
    assert_eq!(seen[0], "bob: message 0", "alice saw everything from when she joined");
    println!("ok: 61 messages, history of {HISTORY}, a late joiner caught up ({})", if tcp { "tcp" } else { "in-process" });
    engine.stop();
}
