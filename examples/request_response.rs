//! Request/response over keys: callers push requests onto one list; a service pops them
//! (BLPOP), computes, and pushes each answer onto the caller's own reply list (which expires
//! if nobody collects it); each caller waits on its reply list with a timeout.
//!
//! `cargo run --release --example request_response` runs it in-process; `-- --tcp` runs the
//! same over TCP with the `redis` crate.

use std::time::Duration;

use shardis::embed::{Engine, Pipeline};

const CALLERS: usize = 4;
const CALLS: usize = 25;

fn main() {
    let tcp = std::env::args().any(|a| a == "--tcp");
    let mut builder = Engine::builder().shards(2).unpinned();
    if tcp {
        builder = builder.serve_tcp(0);
    }
    let engine = builder.start().expect("engine starts");
    let client = engine.client();
    // The service runs in-process in both variants; the callers differ.
    let service = {
        let c = client.clone();
        std::thread::spawn(move || {
            let mut served = 0;
            while let Some((_, req)) = c.blpop::<String>(["rpc:requests"], Duration::from_secs(5)).unwrap() {
                if req == "stop" {
                    break;
                }
                let (reply_to, n) = req.split_once('|').expect("reply-to|number");
                let n: i64 = n.parse().unwrap();
                Pipeline::new().rpush(reply_to, [n * n]).expire(reply_to, Duration::from_secs(10)).query(&c).unwrap();
                served += 1;
            }
            served
        })
    };
    let callers: Vec<_> = (0..CALLERS)
        .map(|id| {
            let c = client.clone();
            let port = engine.port();
            std::thread::spawn(move || {
                let reply_to = format!("rpc:reply:{id}");
                let mut tcp_con = tcp.then(|| redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap());
                for n in 0..CALLS as i64 {
                    let request = format!("{reply_to}|{n}");
                    let answer: i64 = match tcp_con.as_mut() {
                        None => {
                            c.rpush("rpc:requests", [request]).unwrap();
                            c.blpop::<i64>([&reply_to], Duration::from_secs(5)).unwrap().expect("an answer in time").1
                        }
                        Some(con) => {
                            redis::cmd("RPUSH").arg("rpc:requests").arg(request).query::<i64>(con).unwrap();
                            let (_, v): (String, i64) = redis::cmd("BLPOP").arg(&reply_to).arg(5).query(con).unwrap();
                            v
                        }
                    };
                    assert_eq!(answer, n * n);
                }
            })
        })
        .collect();
    callers.into_iter().for_each(|t| t.join().unwrap());
    client.rpush("rpc:requests", ["stop"]).unwrap();
    let served = service.join().unwrap();
    assert_eq!(served, CALLERS * CALLS);
    println!("ok: {served} requests answered to {CALLERS} callers ({})", if tcp { "tcp" } else { "in-process" });
    engine.stop();
}
