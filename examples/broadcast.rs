//! Event broadcast: several subscribers each receive every event a publisher sends, in the
//! order it sent them.
//!
//! `cargo run --release --example broadcast` runs it in-process; `-- --tcp` runs the same
//! over TCP with the `redis` crate.

use std::time::Duration;

use shardis::embed::Engine;

const EVENTS: usize = 100;
const SUBSCRIBERS: usize = 3;

fn main() {
    let tcp = std::env::args().any(|a| a == "--tcp");
    let mut builder = Engine::builder().shards(2).unpinned();
    if tcp {
        builder = builder.serve_tcp(0);
    }
    let engine = builder.start().expect("engine starts");
    let received = if tcp { over_tcp(engine.port()) } else { in_process(&engine) };
    let want: Vec<String> = (0..EVENTS).map(|i| format!("event {i}")).collect();
    for (n, got) in received.iter().enumerate() {
        assert_eq!(got, &want, "subscriber {n} got every event in order");
    }
    println!("ok: {SUBSCRIBERS} subscribers each received {EVENTS} events in order ({})", if tcp { "tcp" } else { "in-process" });
    engine.stop();
}

fn in_process(engine: &Engine) -> Vec<Vec<String>> {
    let client = engine.client();
    let subs: Vec<_> = (0..SUBSCRIBERS)
        .map(|_| {
            let s = client.subscriber();
            s.subscribe(["events"]).unwrap();
            s
        })
        .collect();
    let readers: Vec<_> = subs
        .into_iter()
        .map(|s| {
            std::thread::spawn(move || s.iter().take(EVENTS).map(|m| String::from_utf8(m.payload.to_vec()).unwrap()).collect::<Vec<_>>())
        })
        .collect();
    for i in 0..EVENTS {
        assert_eq!(client.publish("events", format!("event {i}")).unwrap(), SUBSCRIBERS as i64);
    }
    readers.into_iter().map(|r| r.join().unwrap()).collect()
}

fn over_tcp(port: u16) -> Vec<Vec<String>> {
    let url = format!("redis://127.0.0.1:{port}/");
    let client = redis::Client::open(url).unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let readers: Vec<_> = (0..SUBSCRIBERS)
        .map(|_| {
            let mut con = client.get_connection().unwrap();
            let ready = ready_tx.clone();
            std::thread::spawn(move || {
                let mut ps = con.as_pubsub();
                ps.subscribe("events").unwrap();
                ps.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                ready.send(()).unwrap();
                (0..EVENTS).map(|_| ps.get_message().unwrap().get_payload::<String>().unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    (0..SUBSCRIBERS).for_each(|_| ready_rx.recv().unwrap());
    let mut con = client.get_connection().unwrap();
    for i in 0..EVENTS {
        let n: i64 = redis::cmd("PUBLISH").arg("events").arg(format!("event {i}")).query(&mut con).unwrap();
        assert_eq!(n, SUBSCRIBERS as i64);
    }
    readers.into_iter().map(|r| r.join().unwrap()).collect()
}
