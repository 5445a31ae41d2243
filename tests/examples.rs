//! Runs every program in `examples/`, in-process and with `--tcp` (the `redis` crate against
//! the engine's own port). Each example checks its own outcome and exits non-zero when wrong.

use std::path::PathBuf;
use std::process::Command;

const EXAMPLES: [&str; 5] = ["task_queue", "broadcast", "request_response", "cache", "chat"];

/// `target/<profile>/examples/<name>`, which `cargo test` builds before running tests.
fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    deps.parent().unwrap().join("examples").join(name)
}

fn run(name: &str, args: &[&str]) {
    let path = example(name);
    assert!(path.exists(), "{} was not built", path.display());
    let out = Command::new(&path).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{name} {args:?} failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("ok: "), "{name} {args:?} printed {stdout}");
}

#[test]
fn examples_run_in_process() {
    for name in EXAMPLES {
        run(name, &[]);
    }
}

#[test]
fn examples_run_over_tcp() {
    for name in EXAMPLES {
        run(name, &["--tcp"]);
    }
}

#[test]
fn every_example_is_listed() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut found: Vec<String> =
        std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()?.path().file_stem()?.to_str().map(String::from)).collect();
    found.sort();
    let mut listed: Vec<String> = EXAMPLES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed);
}
