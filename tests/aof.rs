//! The append-only file: Redis 7's multi-part layout read with shardis's codecs. A
//! redis-server started here with `appendonly yes` writes its directory; its manifest and
//! files are parsed and compared with what was sent.

mod common;

use std::io::BufReader;

use shardis::persist::aof::manifest::{FileKind, Manifest};
use shardis::persist::aof::reader::{is_rdb, CommandReader, End};

/// The commands of one AOF file of commands, as strings, and how its stream ended.
fn commands(path: &std::path::Path) -> (Vec<Vec<String>>, End) {
    let mut r = CommandReader::new(BufReader::new(std::fs::File::open(path).unwrap()));
    let mut out = Vec::new();
    loop {
        match r.next_command().unwrap() {
            Ok(argv) => out.push(argv.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect()),
            Err(end) => return (out, end),
        }
    }
}

#[test]
fn redis_servers_aof_directory_reads_back() {
    let dir = common::fresh_dir();
    let d = dir.display().to_string();
    let redis = common::redis_server_with(&["--dir", &d, "--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = redis.raw();
    // Wait for the first rewrite (the base file) to finish.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !c.cmds(&["INFO", "persistence"]).text().contains("aof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0") {
        assert!(std::time::Instant::now() < deadline, "the first AOF rewrite did not end");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    c.cmds(&["SET", "k", "v"]);
    c.cmds(&["RPUSH", "l", "a", "b c", "\r\n"]);
    c.cmds(&["SELECT", "3"]);
    c.cmds(&["MULTI"]);
    c.cmds(&["INCR", "n"]);
    c.cmds(&["HSET", "h", "f", ""]);
    c.cmds(&["EXEC"]);

    let aof_dir = dir.join("appendonlydir");
    let text = std::fs::read(aof_dir.join("appendonly.aof.manifest")).unwrap();
    let m = Manifest::parse(&text).unwrap();
    assert_eq!(m.to_bytes(), text, "written back byte for byte");
    let base = m.base.as_ref().expect("a base file");
    assert_eq!((base.kind, base.name.as_str()), (FileKind::Base, "appendonly.aof.1.base.rdb"));
    assert!(is_rdb(&std::fs::read(aof_dir.join(&base.name)).unwrap()));
    assert_eq!(m.incr.len(), 1);
    let (cmds, end) = commands(&aof_dir.join(&m.incr[0].name));
    assert_eq!(end, End::Complete);
    let want: Vec<Vec<&str>> = vec![
        vec!["SELECT", "0"],
        vec!["SET", "k", "v"],
        vec!["RPUSH", "l", "a", "b c", "\r\n"],
        vec!["SELECT", "3"],
        vec!["MULTI"],
        vec!["INCR", "n"],
        vec!["HSET", "h", "f", ""],
        vec!["EXEC"],
    ];
    let got: Vec<Vec<&str>> = cmds.iter().map(|c| c.iter().map(String::as_str).collect()).collect();
    assert_eq!(got, want);

    // Cut inside the transaction: loading would keep what came before its MULTI.
    let bytes = std::fs::read(aof_dir.join(&m.incr[0].name)).unwrap();
    let multi_at = bytes.windows(5).position(|w| w == b"MULTI").unwrap() - "*1\r\n$5\r\n".len();
    let cut = dir.join("cut.aof");
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
    assert_eq!(commands(&cut).1, End::Truncated { valid_up_to: multi_at as u64 });
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}
