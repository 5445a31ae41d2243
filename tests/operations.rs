//! Operating shardis like Redis, over TCP: CONFIG (compared with redis-server, rollback
//! included), INFO's field names (compared), SLOWLOG and LATENCY shapes, MONITOR across
//! shards, CLIENT REPLY, CLIENT TRACKING invalidations (compared message for message) and
//! CLIENT PAUSE, with 1, 2 and 4 shards.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{show, Frame, Raw};

/// Runs `script` (commands as words) on both servers and asserts equal replies.
fn same_replies(redis: &mut Raw, ours: &mut Raw, script: &[&[&str]]) {
    for cmd in script {
        let (r, o) = (redis.cmds(cmd), ours.cmds(cmd));
        assert_eq!(show(&o), show(&r), "{cmd:?}");
    }
}

#[test]
fn config_set_and_get_answer_as_redis_does() {
    let redis_srv = common::redis_server();
    let mut redis = redis_srv.raw();
    for shards in [1, 2] {
        let s = common::shardis(shards, &[]);
        let mut ours = s.raw();
        same_replies(
            &mut redis,
            &mut ours,
            &[
                &["CONFIG", "SET", "maxmemory-samples", "0"],
                &["CONFIG", "SET", "loglevel", "loud"],
                &["CONFIG", "SET", "appendfsync", "sometimes"],
                &["CONFIG", "SET", "hash-max-ziplist-entries", "21"],
                &["CONFIG", "GET", "hash-max-listpack-entries"],
                &["CONFIG", "GET", "hash-max-ziplist-entries"],
                &["CONFIG", "SET", "list-max-ziplist-size", "-3"],
                &["CONFIG", "GET", "list-max-listpack-size"],
                &["CONFIG", "SET", "maxmemory", "10000002"],
                // Rollback: the first failure is reported, and nothing changes.
                &["CONFIG", "SET", "maxmemory", "10000001", "maxmemory-clients", "200%", "client-query-buffer-limit", "x"],
                &["CONFIG", "GET", "maxmemory"],
                &["CONFIG", "SET", "maxmemory", "1", "maxmemory", "2"],
                &["CONFIG", "SET", "daemonize", "yes"],
                &["CONFIG", "SET", "no-such-parameter", "1"],
                &["CONFIG", "SET", "slowlog-log-slower-than", "-2"],
                &["CONFIG", "SET", "maxclients", "0"],
                &["CONFIG", "SET", "hz", "abc"],
                &["CONFIG", "SET", "maxmemory", "12mb"],
                &["CONFIG", "GET", "maxmemory"],
                &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
                &["CONFIG", "GET", "notify-keyspace-events"],
                &["CONFIG", "SET", "notify-keyspace-events", "Kx?"],
                &["CONFIG", "SET", "save", "100 10 20 5"],
                &["CONFIG", "GET", "save"],
                &["CONFIG", "SET", "save", "100"],
                &["CONFIG", "SET", "shutdown-on-sigterm", "nosave force now"],
                &["CONFIG", "GET", "shutdown-on-sigterm"],
                &["CONFIG", "SET", "shutdown-on-sigterm", "save nosave"],
                &["CONFIG", "SET", "maxmemory-clients", "10%"],
                &["CONFIG", "GET", "maxmemory-clients"],
                &["CONFIG", "SET", "latency-tracking-info-percentiles", "50 99.9 100"],
                &["CONFIG", "GET", "latency-tracking-info-percentiles"],
                &["CONFIG", "SET", "latency-tracking-info-percentiles", "50 101"],
                &["CONFIG", "GET", "lua-time-limit"],
                &["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 512kb 10"],
                &["CONFIG", "GET", "client-output-buffer-limit"],
                &["CONFIG", "SET", "client-output-buffer-limit", "nosuchclass 1 1 1"],
                &["CONFIG", "GET", "key-load-delay"],
                &["CONFIG", "SET", "maxmemory", "0", "maxmemory-clients", "0", "save", "", "notify-keyspace-events", ""],
                &["CONFIG", "SET", "client-output-buffer-limit", "pubsub 32mb 8mb 60"],
                &["CONFIG", "SET"],
                &["CONFIG", "SET", "maxmemory"],
            ],
        );
        // Several patterns, each parameter once, names and aliases both.
        let got = |c: &mut Raw| -> BTreeSet<String> {
            match c.cmds(&["CONFIG", "GET", "maxmemory", "maxmemory*", "*of", "hash-max-*"]) {
                Frame::Array(Some(v)) => v.iter().step_by(2).map(Frame::text).collect(),
                other => panic!("{}", show(&other)),
            }
        };
        assert_eq!(got(&mut ours), got(&mut redis), "{shards} shards");
        // Hidden parameters answer their exact name only.
        let all = ours.cmds(&["CONFIG", "GET", "*"]);
        assert!(!show(&all).contains("\"key-load-delay\""));
    }
}

#[test]
fn config_rewrite_keeps_the_file_and_restarts_the_same() {
    let dir = std::env::temp_dir().join(format!("shardis-ops-rewrite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("shardis.conf");
    std::fs::write(&path, "# my comment\nhash-max-ziplist-entries 21\nmaxmemory 1mb\n").unwrap();
    let conf = path.to_string_lossy().into_owned();
    // The rewritten file names the working directory, so it must outlive the first server.
    let dir_arg = dir.to_string_lossy().into_owned();
    let s = common::shardis_with_config(&conf, 2, &["--dir", &dir_arg]);
    let mut c = s.raw();
    assert_eq!(
        c.cmds(&["CONFIG", "SET", "hash-max-listpack-entries", "100", "maxmemory-policy", "allkeys-lru"]),
        Frame::Simple(b"OK".to_vec())
    );
    assert_eq!(c.cmds(&["CONFIG", "REWRITE"]), Frame::Simple(b"OK".to_vec()));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# my comment\nhash-max-listpack-entries 100\nmaxmemory 1mb\n"), "{text}");
    assert!(text.contains("maxmemory-policy allkeys-lru"), "{text}");
    drop(s);
    let s = common::shardis_with_config(&conf, 2, &["--dir", &dir_arg]);
    let mut c = s.raw();
    let got = show(&c.cmds(&["CONFIG", "GET", "hash-max-listpack-entries", "maxmemory-policy"]));
    assert!(got.contains("\"100\"") && got.contains("\"allkeys-lru\""), "{got}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The field names of INFO's sections.
fn info_fields(c: &mut Raw, section: &str) -> BTreeSet<String> {
    c.cmds(&["INFO", section])
        .text()
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(':'))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

#[test]
fn info_has_every_field_redis_has() {
    let redis_srv = common::redis_server();
    let mut redis = redis_srv.raw();
    let s = common::shardis(2, &[]);
    let mut ours = s.raw();
    for section in ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "cluster"] {
        let missing: Vec<String> = info_fields(&mut redis, section).difference(&info_fields(&mut ours, section)).cloned().collect();
        // Fields of features Redis's build has and shardis has not (module forks, the
        // replication backlog of a replica...) are reported by neither when idle.
        let missing: Vec<&String> =
            missing.iter().filter(|f| !["mem_overhead_db_hashtable_rehashing", "executable"].contains(&f.as_str())).collect();
        assert!(missing.is_empty(), "INFO {section} lacks {missing:?}");
    }
    let everything = ours.cmds(&["INFO", "everything"]).text();
    for header in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# CPU",
        "# Modules",
        "# Commandstats",
        "# Errorstats",
        "# Latencystats",
        "# Cluster",
        "# Keyspace",
        "# Shards",
    ] {
        assert!(everything.contains(header), "INFO everything lacks {header}");
    }
    ours.cmds(&["SET", "k", "v"]);
    ours.cmds(&["LPUSH", "k", "x"]);
    let stats = ours.cmds(&["INFO", "commandstats", "errorstats", "latencystats"]).text();
    assert!(stats.contains("cmdstat_set:calls=1,"), "{stats}");
    assert!(stats.contains("cmdstat_lpush:calls=1,") && stats.contains("failed_calls=1"), "{stats}");
    assert!(stats.contains("errorstat_WRONGTYPE:count=1"), "{stats}");
    assert!(stats.contains("latency_percentiles_usec_set:p50="), "{stats}");
}

#[test]
fn slowlog_and_latency_keep_what_redis_keeps() {
    for shards in [1, 2, 4] {
        let s = common::shardis(shards, &[]);
        let mut c = s.raw();
        c.cmds(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        c.cmds(&["CONFIG", "SET", "slowlog-max-len", "5"]);
        c.cmds(&["CLIENT", "SETNAME", "me"]);
        for i in 0..10 {
            c.cmds(&["SET", &format!("key{i}"), "v"]);
        }
        assert_eq!(c.cmds(&["SLOWLOG", "LEN"]), Frame::Int(5), "{shards} shards");
        let Frame::Array(Some(entries)) = c.cmds(&["SLOWLOG", "GET", "2"]) else { panic!() };
        assert_eq!(entries.len(), 2);
        let Frame::Array(Some(e)) = &entries[0] else { panic!() };
        assert_eq!(e.len(), 6);
        assert_eq!(
            e[3],
            Frame::Array(Some(vec![Frame::Bulk(Some(b"SLOWLOG".to_vec())), Frame::Bulk(Some(b"LEN".to_vec()))])),
            "newest first"
        );
        assert_eq!(e[5], Frame::Bulk(Some(b"me".to_vec())));
        // Passwords never show.
        c.cmds(&["AUTH", "secret"]);
        let Frame::Array(Some(entries)) = c.cmds(&["SLOWLOG", "GET", "1"]) else { panic!() };
        assert!(show(&entries[0]).contains("(redacted)"), "{}", show(&entries[0]));
        assert_eq!(c.cmds(&["SLOWLOG", "RESET"]), Frame::Simple(b"OK".to_vec()));
        c.cmds(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
        assert_eq!(c.cmds(&["SLOWLOG", "LEN"]), Frame::Int(1), "RESET itself is logged");

        c.cmds(&["CONFIG", "SET", "latency-monitor-threshold", "5"]);
        c.cmds(&["DEBUG", "SLEEP", "0.02"]);
        let latest = show(&c.cmds(&["LATENCY", "LATEST"]));
        assert!(latest.contains("\"command\""), "{latest}");
        let Frame::Array(Some(hist)) = c.cmds(&["LATENCY", "HISTORY", "command"]) else { panic!() };
        assert_eq!(hist.len(), 1);
        let histo = show(&c.cmds(&["LATENCY", "HISTOGRAM", "set"]));
        assert!(histo.starts_with("[\"set\", [\"calls\", :10, \"histogram_usec\""), "{histo}");
        assert_eq!(c.cmds(&["LATENCY", "RESET"]), Frame::Int(1));
    }
}

#[test]
fn monitor_sees_the_commands_of_every_shard() {
    for shards in [1, 2, 4] {
        let s = common::shardis(shards, &[]);
        let mut mon = s.raw();
        assert_eq!(mon.cmds(&["MONITOR"]), Frame::Simple(b"OK".to_vec()));
        let mut clients: Vec<Raw> = (0..4).map(|_| s.raw()).collect();
        let mut expected = BTreeSet::new();
        for (i, c) in clients.iter_mut().enumerate() {
            for j in 0..8 {
                let key = format!("k{i}-{j}");
                c.cmds(&["SET", &key, "v a\"l"]);
                expected.insert(key);
            }
        }
        let mut seen = BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.len() < expected.len() && Instant::now() < deadline {
            let Some(Frame::Simple(line)) = mon.read_within(Duration::from_secs(2)) else { continue };
            let line = String::from_utf8(line).unwrap();
            // 1339518083.107412 [0 127.0.0.1:60866] "set" "k0-1" "v a\"l"
            let (time, rest) = line.split_once(' ').unwrap();
            assert!(time.contains('.') && time.split('.').nth(1).unwrap().len() == 6, "{line}");
            assert!(rest.starts_with("[0 127.0.0.1:"), "{line}");
            assert!(rest.ends_with("\"v a\\\"l\""), "{line}");
            let key = rest.split('"').nth(3).unwrap().to_string();
            seen.insert(key);
        }
        assert_eq!(seen, expected, "{shards} shards");
    }
}

#[test]
fn client_reply_off_and_skip_silence_replies() {
    let s = common::shardis(2, &[]);
    let mut c = s.raw();
    c.send_cmd(&["CLIENT", "REPLY", "OFF"]);
    c.send_cmd(&["SET", "a", "1"]);
    c.send_cmd(&["CLIENT", "REPLY", "ON"]);
    assert_eq!(c.read(), Frame::Simple(b"OK".to_vec()), "only ON's reply");
    c.send_cmd(&["CLIENT", "REPLY", "SKIP"]);
    c.send_cmd(&["GET", "a"]);
    c.send_cmd(&["GET", "a"]);
    assert_eq!(c.read(), Frame::Bulk(Some(b"1".to_vec())), "the second GET's reply only");
    assert!(c.read_within(Duration::from_millis(200)).is_none());
}

/// The invalidations a RESP3 tracking client gets, each as shown text, in order.
fn tracking_script(port: u16) -> Vec<String> {
    let mut t = Raw::connect(port);
    let mut w = Raw::connect(port);
    t.cmds(&["HELLO", "3"]);
    let mut out = Vec::new();
    let push = |t: &mut Raw, out: &mut Vec<String>| out.push(t.read_within(Duration::from_secs(5)).map_or("(none)".into(), |f| show(&f)));
    t.cmds(&["CLIENT", "TRACKING", "ON"]);
    t.cmds(&["MGET", "a{x}", "b{x}", "c"]);
    w.cmds(&["SET", "a{x}", "1"]);
    push(&mut t, &mut out);
    w.cmds(&["SET", "c", "1"]);
    push(&mut t, &mut out);
    w.cmds(&["SET", "c", "2"]); // no longer tracked: nothing
    t.cmds(&["GET", "b{x}"]);
    w.cmds(&["DEL", "b{x}"]);
    push(&mut t, &mut out);
    t.cmds(&["GET", "a{x}"]);
    w.cmds(&["FLUSHALL"]);
    push(&mut t, &mut out);
    out.push(show(&t.cmds(&["CLIENT", "TRACKINGINFO"])));
    t.cmds(&["CLIENT", "TRACKING", "OFF"]);
    t.cmds(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "NOLOOP"]);
    w.cmds(&["MSET", "user:1", "a", "user:2", "b", "other", "c"]);
    // One message from Redis; one per shard holding such keys from shardis (see README).
    let mut keys = BTreeSet::new();
    while keys.len() < 2 {
        let Some(Frame::Other(b'>', _, v)) = t.read_within(Duration::from_secs(5)) else { break };
        let Some(Frame::Array(Some(k))) = v.get(1) else { break };
        keys.extend(k.iter().map(Frame::text));
    }
    out.push(format!("{keys:?}"));
    t.cmds(&["SET", "user:3", "mine"]); // NOLOOP: not told
    w.cmds(&["SET", "user:4", "x"]);
    push(&mut t, &mut out);
    out.push(show(&t.cmds(&["CLIENT", "TRACKINGINFO"])));
    // RESP2 redirection to a client subscribed to __redis__:invalidate.
    let mut r = Raw::connect(port);
    let Frame::Int(rid) = r.cmds(&["CLIENT", "ID"]) else { panic!() };
    r.cmds(&["SUBSCRIBE", "__redis__:invalidate"]);
    let mut t2 = Raw::connect(port);
    t2.cmds(&["CLIENT", "TRACKING", "ON", "REDIRECT", &rid.to_string()]);
    t2.cmds(&["GET", "k"]);
    w.cmds(&["SET", "k", "1"]);
    out.push(r.read_within(Duration::from_secs(5)).map_or("(none)".into(), |f| show(&f)));
    out.push(show(&t2.cmds(&["CLIENT", "GETREDIR"])).replace(&rid.to_string(), "ID"));
    out.push(show(&t2.cmds(&["CLIENT", "TRACKING", "ON", "BCAST"])));
    out.push(show(&t2.cmds(&["CLIENT", "CACHING", "YES"])));
    out
}

#[test]
fn tracking_invalidations_match_redis() {
    let redis_srv = common::redis_server();
    let expected = tracking_script(redis_srv.port);
    for shards in [1, 2, 4] {
        let s = common::shardis(shards, &[]);
        assert_eq!(tracking_script(s.port), expected, "{shards} shards");
    }
}

#[test]
fn client_pause_write_holds_writes_until_unpause() {
    let s = common::shardis(2, &[]);
    let mut admin = s.raw();
    let mut w = s.raw();
    assert_eq!(admin.cmds(&["CLIENT", "PAUSE", "10000", "WRITE"]), Frame::Simple(b"OK".to_vec()));
    assert_eq!(w.cmds(&["GET", "k"]), Frame::Bulk(None), "reads go on");
    w.send_cmd(&["SET", "k", "v"]);
    assert!(w.read_within(Duration::from_millis(300)).is_none(), "a write waits");
    assert_eq!(admin.info_u64("blocked_clients"), 1);
    assert_eq!(admin.cmds(&["CLIENT", "UNPAUSE"]), Frame::Simple(b"OK".to_vec()));
    assert_eq!(w.read(), Frame::Simple(b"OK".to_vec()));
    assert_eq!(admin.cmds(&["CLIENT", "PAUSE", "abc"]), Frame::Error(b"ERR timeout is not an integer or out of range".to_vec()));
}

#[test]
fn client_kill_answers_when_the_client_is_gone() {
    for shards in [1, 2, 4] {
        let s = common::shardis(shards, &[]);
        let mut admin = s.raw();
        for _ in 0..20 {
            let mut victim = s.raw();
            let Frame::Int(id) = victim.cmds(&["CLIENT", "ID"]) else { panic!() };
            assert_eq!(admin.cmds(&["CLIENT", "KILL", "ID", &id.to_string()]), Frame::Int(1));
            let list = admin.cmds(&["CLIENT", "LIST"]).text();
            assert!(!list.contains(&format!("id={id} ")), "{shards} shards: killed client still listed");
        }
        assert_eq!(admin.cmds(&["CLIENT", "KILL", "TYPE", "wrong"]), Frame::Error(b"ERR Unknown client type 'wrong'".to_vec()));
        assert_eq!(admin.cmds(&["CLIENT", "KILL", "USER", "nobody"]), Frame::Error(b"ERR No such user 'nobody'".to_vec()));
    }
}

/// The error counters of INFO as comparable lines: every `errorstat_*`, `total_error_replies`,
/// and calls / rejected / failed of the `cmdstat_*` lines named in `cmds` (times left out).
fn error_counters(c: &mut Raw, cmds: &[&str]) -> Vec<String> {
    let text = c.cmds(&["INFO", "errorstats", "commandstats", "stats"]).text();
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("errorstat_") || line.starts_with("total_error_replies:") {
            out.push(line.to_string());
        }
        if let Some((name, fields)) = line.strip_prefix("cmdstat_").and_then(|l| l.split_once(':')) {
            if cmds.contains(&name) {
                let kept: Vec<&str> = fields
                    .split(',')
                    .filter(|f| f.starts_with("calls=") || f.starts_with("rejected_calls=") || f.starts_with("failed_calls="))
                    .collect();
                out.push(format!("{name}:{}", kept.join(",")));
            }
        }
    }
    out.sort();
    out
}

/// Errors are counted once, where Redis counts them: a command refused while queued in
/// MULTI (rejected, and EXEC's EXECABORT failed), a script failing with its command's error
/// or refusal (the command's count, not the script's again), a blocked command unblocked
/// with an error; and a script's error names the script and line even for `return
/// redis.call(...)`. Compared with redis-server, error texts included, on 1, 2 and 4 shards.
#[test]
fn error_counters_match_redis() {
    let redis_srv = common::redis_server();
    let mut redis = redis_srv.raw();
    for shards in [1, 2, 4] {
        let s = common::shardis(shards, &[]);
        let mut ours = s.raw();
        let cases: &[(&[&[&str]], &[&str])] = &[
            (&[&["MULTI"], &["SET"], &["EXEC"]], &["set", "multi", "exec"]),
            (&[&["EVAL", "return redis.call('select',99)", "0"]], &["select", "eval"]),
            (&[&["EVAL", "local t = redis.pcall('select',99) return t['err']", "0"]], &["select", "eval"]),
            (&[&["EVAL", "return redis.pcall('select',99)", "0"]], &["select", "eval"]),
            (&[&["SET", "s", "a"], &["EVAL", "return redis.call('incr','s')", "0"]], &["incr", "eval"]),
            (&[&["EVAL_RO", "return redis.call('publish','ch','m')", "0"]], &["publish", "eval_ro"]),
            (&[&["EVAL", "return redis.call('nosuchcommand')", "0"]], &["eval"]),
            (
                &[
                    &["CONFIG", "SET", "maxmemory", "1"],
                    &["EVAL", "return redis.call('set','x','y')", "1", "x"],
                    &["CONFIG", "SET", "maxmemory", "0"],
                ],
                &["set", "eval"],
            ),
        ];
        for (script, cmds) in cases {
            for c in [&mut redis, &mut ours] {
                c.cmds(&["CONFIG", "RESETSTAT"]);
            }
            same_replies(&mut redis, &mut ours, script);
            assert_eq!(error_counters(&mut ours, cmds), error_counters(&mut redis, cmds), "{shards} shards: {script:?}");
        }

        // BLPOP unblocked by CLIENT UNBLOCK ... ERROR.
        let mut counters = Vec::new();
        for port in [redis_srv.port, s.port] {
            let mut c = Raw::connect(port);
            let mut blocked = Raw::connect(port);
            c.cmds(&["CONFIG", "RESETSTAT"]);
            let Frame::Int(id) = blocked.cmds(&["CLIENT", "ID"]) else { panic!("CLIENT ID") };
            blocked.send_cmd(&["BLPOP", "nolist", "0"]);
            let deadline = Instant::now() + Duration::from_secs(10);
            let me = format!("id={id} ");
            while !c.cmds(&["CLIENT", "LIST"]).text().lines().any(|l| l.starts_with(&me) && l.contains(" flags=b")) {
                assert!(Instant::now() < deadline, "BLPOP did not block");
                std::thread::sleep(Duration::from_millis(5));
            }
            assert_eq!(c.cmds(&["CLIENT", "UNBLOCK", &id.to_string(), "ERROR"]), Frame::Int(1));
            assert_eq!(show(&blocked.read()), "-UNBLOCKED client unblocked via CLIENT UNBLOCK");
            counters.push(error_counters(&mut c, &["blpop"]));
        }
        assert_eq!(counters[1], counters[0], "{shards} shards: BLPOP unblocked with an error");
    }
}

/// DEBUG OBJECT and DBSIZE read the table as it is: a key whose time has passed, not yet
/// reclaimed (active expiry off), still answers and counts, as in Redis; a read reclaims it.
#[test]
fn debug_object_sees_a_key_whose_time_passed() {
    let redis_srv = common::redis_server_with(&["--enable-debug-command", "yes"]);
    let mut redis = redis_srv.raw();
    for shards in [1, 2, 4] {
        let s = common::shardis(shards, &["--enable-debug-command", "yes"]);
        let mut ours = s.raw();
        for c in [&mut redis, &mut ours] {
            c.cmds(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
            c.cmds(&["SET", "key", "value", "PX", "1"]);
        }
        std::thread::sleep(Duration::from_millis(5));
        for c in [&mut redis, &mut ours] {
            let f = c.cmds(&["DEBUG", "OBJECT", "key"]);
            assert!(matches!(&f, Frame::Simple(b) if b.starts_with(b"Value at:")), "{shards} shards: {}", show(&f));
        }
        same_replies(
            &mut redis,
            &mut ours,
            &[
                &["DBSIZE"],
                &["EVAL", "return redis.call('EXISTS', 'key')", "0"],
                &["EXISTS", "key"],
                &["DBSIZE"],
                &["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
            ],
        );
    }
}
