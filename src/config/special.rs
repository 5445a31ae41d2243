//! Parameters with their own syntax or storage (`save`, `bind`, `client-output-buffer-limit`,
//! `dir`...): how each is read, set and written back.

use std::borrow::Cow;
use std::sync::atomic::Ordering::Relaxed;

use super::{parse_memory, parse_num, Config, NumFmt, OutputClass, Source, P};

type Res = Result<(), Cow<'static, str>>;

/// How a special parameter is read and set.
#[derive(Debug)]
pub struct Ops {
    /// Its value as CONFIG GET shows it.
    pub get: fn(&Config) -> String,
    /// Sets it from its words.
    pub set: fn(&Config, &[String], Source) -> Res,
    /// Its default, as CONFIG GET shows it (the value set at start).
    pub default: &'static str,
}

fn one(words: &[String]) -> Result<&str, Cow<'static, str>> {
    match words {
        [w] => Ok(w),
        _ => Err("wrong number of arguments".into()),
    }
}

/// `port`: set at start-up; at run time only to the port already in use.
pub static PORT: Ops = Ops {
    get: |c| c.num(P::Port).to_string(),
    set: |c, w, src| {
        let p = parse_num(one(w)?, NumFmt::Int)?;
        if !(0..=65535).contains(&p) {
            return Err("argument must be between 0 and 65535 inclusive".into());
        }
        if src == Source::Runtime && p != c.num(P::Port) {
            return Err("Unable to listen on this port: shardis cannot move its listeners while running".into());
        }
        c.store_num(P::Port, p);
        Ok(())
    },
    default: "6379",
};

/// `bind`: set at start-up; at run time only to the addresses already bound.
pub static BIND: Ops = Ops {
    get: |c| c.bind.read().expect("config lock").join(" "),
    set: |c, w, src| {
        if w.len() > 16 {
            return Err("Too many bind addresses specified.".into());
        }
        let addrs: Vec<String> = w.iter().filter(|a| !a.is_empty()).cloned().collect();
        if src == Source::Runtime && addrs != *c.bind.read().expect("config lock") {
            return Err("Failed to bind to specified addresses.".into());
        }
        *c.bind.write().expect("config lock") = addrs;
        Ok(())
    },
    default: "127.0.0.1 -::1",
};

/// A yes/no parameter whose `yes` shardis refuses with `refusal`.
fn only_no(w: &[String], refusal: &'static str) -> Res {
    match one(w)?.to_ascii_lowercase().as_str() {
        "no" => Ok(()),
        "yes" => Err(refusal.into()),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

/// `daemonize`: only `no` (run shardis in the foreground, under a supervisor).
pub static DAEMONIZE: Ops = Ops {
    get: |_| "no".into(),
    set: |_, w, _| only_no(w, "daemonize is not supported by shardis: run it in the foreground under a supervisor"),
    default: "no",
};

/// `hz`: kept between 1 and 500, as Redis clamps it.
pub static HZ: Ops = Ops {
    get: |c| c.num(P::Hz).to_string(),
    set: |c, w, _| {
        let n = parse_num(one(w)?, NumFmt::Int)?;
        if n < 0 {
            return Err("argument must be between 0 and 2147483647 inclusive".into());
        }
        c.store_num(P::Hz, n.clamp(1, 500));
        Ok(())
    },
    default: "10",
};

/// `requirepass`.
pub static REQUIREPASS: Ops = Ops {
    get: |c| String::from_utf8_lossy(&c.requirepass.read().expect("config lock")).into_owned(),
    set: |c, w, _| {
        *c.requirepass.write().expect("config lock") = one(w)?.as_bytes().to_vec();
        Ok(())
    },
    default: "",
};

/// `oom-score-adj-values`: three values between -2000 and 2000.
pub static OOM_VALUES: Ops = Ops {
    get: |c| c.oom_values.read().expect("config lock").map(|v| v.to_string()).join(" "),
    set: |c, w, _| {
        if w.len() != 3 {
            return Err("wrong number of arguments".into());
        }
        let mut vals = [0i64; 3];
        for (slot, v) in vals.iter_mut().zip(w) {
            *slot = v
                .parse::<i64>()
                .ok()
                .filter(|n| (-2000..=2000).contains(n))
                .ok_or("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")?;
        }
        *c.oom_values.write().expect("config lock") = vals;
        Ok(())
    },
    default: "0 200 800",
};

/// `client-output-buffer-limit`: `<class> <hard> <soft> <seconds>` groups; nothing changes
/// unless every group is valid.
pub static OUTPUT_LIMITS: Ops = Ops {
    get: |c| {
        let mut out = Vec::new();
        for (i, name) in OutputClass::NAMES.iter().enumerate() {
            let l = &c.output_limits[i];
            out.push(format!("{name} {} {} {}", l[0].load(Relaxed), l[1].load(Relaxed), l[2].load(Relaxed)));
        }
        out.join(" ")
    },
    set: |c, w, _| {
        if w.is_empty() || !w.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut parsed = Vec::new();
        for g in w.chunks(4) {
            let class = OutputClass::parse(&g[0]).ok_or("Invalid client class specified in buffer limit configuration.")?;
            let bad = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            let hard = parse_memory(&g[1]).filter(|n| *n >= 0).ok_or(bad)?;
            let soft = parse_memory(&g[2]).filter(|n| *n >= 0).ok_or(bad)?;
            let secs = g[3].parse::<i64>().ok().filter(|n| *n >= 0).ok_or(bad)?;
            parsed.push((class, [hard, soft, secs]));
        }
        for (class, vals) in parsed {
            for (slot, v) in c.output_limits[class as usize].iter().zip(vals) {
                slot.store(v, Relaxed);
            }
        }
        Ok(())
    },
    default: "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
};

/// `notify-keyspace-events`.
pub static NOTIFY: Ops = Ops {
    get: |c| crate::notify::flags_to_string(c.notify_keyspace_events.load(Relaxed)),
    set: |c, w, _| {
        let f = crate::notify::parse_flags(one(w)?).ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
        c.notify_keyspace_events.store(f, Relaxed);
        Ok(())
    },
    default: "",
};

/// `latency-tracking-info-percentiles`.
pub static PERCENTILES: Ops = Ops {
    get: |c| c.percentiles.read().expect("config lock").iter().map(|p| crate::num::format_f64_short(*p)).collect::<Vec<_>>().join(" "),
    set: |c, w, _| {
        let mut vals = Vec::new();
        for v in w.iter().filter(|v| !(w.len() == 1 && v.is_empty())) {
            let p: f64 = v.parse().ok().filter(|p: &f64| p.is_finite()).ok_or("Invalid latency-tracking-info-percentiles parameters")?;
            if !(0.0..=100.0).contains(&p) {
                return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
            }
            vals.push(p);
        }
        *c.percentiles.write().expect("config lock") = vals;
        Ok(())
    },
    default: "50 99 99.9",
};

/// `save`: (seconds, changes) pairs. In the configuration file the first `save` line
/// replaces the default schedule and later ones add to it; CONFIG SET replaces it.
pub static SAVE: Ops = Ops {
    get: |c| c.save.read().expect("config lock").iter().map(|(s, n)| format!("{s} {n}")).collect::<Vec<_>>().join(" "),
    set: |c, w, src| {
        // A single "" means no save points, and clears those read so far, even from a later
        // line of the file (`save 900 1` then `--save ""`), as Redis does.
        let reset = w.len() == 1 && w[0].is_empty();
        let w: &[String] = if reset { &[] } else { w };
        if !w.len().is_multiple_of(2) {
            return Err("Invalid save parameters".into());
        }
        let mut pairs = Vec::new();
        for p in w.chunks(2) {
            let secs = p[0].parse::<i64>().ok().filter(|n| *n >= 1).ok_or("Invalid save parameters")?;
            let changes = p[1].parse::<i64>().ok().filter(|n| *n >= 0).ok_or("Invalid save parameters")?;
            pairs.push((secs, changes));
        }
        let mut save = c.save.write().expect("config lock");
        let append = src == Source::Startup && c.save_from_file.swap(true, Relaxed);
        if !append || reset {
            save.clear();
        }
        save.extend(pairs);
        Ok(())
    },
    default: "3600 1 300 100 60 10000",
};

/// `dir`: the process's working directory.
pub static DIR: Ops = Ops {
    get: |_| std::env::current_dir().map(|d| d.to_string_lossy().into_owned()).unwrap_or_default(),
    set: |_, w, _| std::env::set_current_dir(one(w)?).map_err(|e| strerror(&e).into()),
    default: "",
};

/// An I/O error as C's `strerror` words it ("No such file or directory").
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `dbfilename`: a file name, never a path.
pub static DBFILENAME: Ops = Ops {
    get: |c| c.text(P::Dbfilename),
    set: |c, w, _| {
        let v = one(w)?;
        if v.contains('/') {
            return Err("dbfilename can't be a path, just a filename".into());
        }
        *c.texts[P::Dbfilename as usize].write().expect("config lock") = v.to_string();
        Ok(())
    },
    default: "dump.rdb",
};

/// `replicaof` / `slaveof`: only `no one` until replication exists.
pub static REPLICAOF: Ops = Ops {
    get: |_| String::new(),
    set: |_, w, _| {
        let [host, port] = w else { return Err("wrong number of arguments".into()) };
        if host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one") {
            return Ok(());
        }
        if !port.parse::<i64>().is_ok_and(|p| (0..=65535).contains(&p)) {
            return Err("Invalid master port".into());
        }
        Err("replication is not supported by shardis yet".into())
    },
    default: "",
};
