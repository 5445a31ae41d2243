//! The server's own mailbox source, compiled here against loom's atomics (run with
//! `RUSTFLAGS="--cfg loom" cargo test --release`).

#[path = "../../src/shard/mailbox.rs"]
pub mod mailbox;
