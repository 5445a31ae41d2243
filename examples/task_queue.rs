//! A reliable task queue with competing workers: each worker takes a task with BLMOVE from
//! `tasks` into its own `processing:<worker>` list and acknowledges it (LREM) once done, so a
//! worker that dies holding a task leaves it where a reaper can put it back.
//!
//! `cargo run --release --example task_queue` runs it in-process; `-- --tcp` runs the same
//! queue over TCP with the `redis` crate against the engine's own port.

use std::time::Duration;

use shardis::embed::{Client, End, Engine};

const TASKS: usize = 200;
const WORKERS: usize = 4;
const IDLE: Duration = Duration::from_secs(1);

fn main() {
    let tcp = std::env::args().any(|a| a == "--tcp");
    let mut builder = Engine::builder().shards(2).unpinned();
    if tcp {
        builder = builder.serve_tcp(0);
    }
    let engine = builder.start().expect("engine starts");
    let client = engine.client();
    if tcp {
        over_tcp(engine.port());
    } else {
        in_process(&client);
    }
    // Every task was done exactly once, and nothing is left in flight.
    assert_eq!(client.scard("done").unwrap(), TASKS as i64, "every task done");
    assert_eq!(client.get::<i64>("done:count").unwrap(), Some(TASKS as i64), "each task done once");
    assert_eq!(client.exists(["tasks"]).unwrap(), 0);
    for w in 0..=WORKERS {
        assert_eq!(client.llen(format!("processing:{w}")).unwrap(), 0, "worker {w} acknowledged everything");
    }
    println!(
        "ok: {TASKS} tasks done once each by {WORKERS} workers, one task recovered from a crashed worker ({})",
        if tcp { "tcp" } else { "in-process" }
    );
    engine.stop();
}

fn in_process(client: &Client) {
    client.rpush("tasks", (0..TASKS).map(|i| format!("task-{i}"))).unwrap();
    // A worker that takes a task and dies before acknowledging it.
    let crashed = WORKERS;
    let lost = client.blmove::<String>("tasks", format!("processing:{crashed}"), End::Left, End::Right, IDLE).unwrap();
    assert!(lost.is_some());
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let c = client.clone();
            std::thread::spawn(move || {
                let mine = format!("processing:{w}");
                while let Some(task) = c.blmove::<String>("tasks", &mine, End::Left, End::Right, IDLE).unwrap() {
                    c.sadd("done", [&task]).unwrap();
                    c.incr("done:count").unwrap();
                    c.lrem(&mine, 1, &task).unwrap();
                }
            })
        })
        .collect();
    // The reaper returns the dead worker's tasks to the queue.
    while client.lmove::<String>(format!("processing:{crashed}"), "tasks", End::Right, End::Left).unwrap().is_some() {}
    workers.into_iter().for_each(|t| t.join().unwrap());
}

fn over_tcp(port: u16) {
    let url = format!("redis://127.0.0.1:{port}/");
    let connect = || redis::Client::open(url.as_str()).unwrap().get_connection().unwrap();
    let mut con = connect();
    let tasks: Vec<String> = (0..TASKS).map(|i| format!("task-{i}")).collect();
    redis::cmd("RPUSH").arg("tasks").arg(&tasks).query::<i64>(&mut con).unwrap();
    let crashed = WORKERS;
    let blmove = |con: &mut redis::Connection, dst: &str| -> Option<String> {
        redis::cmd("BLMOVE").arg("tasks").arg(dst).arg("LEFT").arg("RIGHT").arg(IDLE.as_secs_f64()).query(con).unwrap()
    };
    assert!(blmove(&mut con, &format!("processing:{crashed}")).is_some());
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let mut con = connect();
            std::thread::spawn(move || {
                let mine = format!("processing:{w}");
                while let Some(task) = blmove(&mut con, &mine) {
                    redis::cmd("SADD").arg("done").arg(&task).query::<i64>(&mut con).unwrap();
                    redis::cmd("INCR").arg("done:count").query::<i64>(&mut con).unwrap();
                    redis::cmd("LREM").arg(&mine).arg(1).arg(&task).query::<i64>(&mut con).unwrap();
                }
            })
        })
        .collect();
    let dead = format!("processing:{crashed}");
    while redis::cmd("LMOVE").arg(&dead).arg("tasks").arg("RIGHT").arg("LEFT").query::<Option<String>>(&mut con).unwrap().is_some() {}
    workers.into_iter().for_each(|t| t.join().unwrap());
}
