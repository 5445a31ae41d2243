//! The server's own mailbox and lock table sources, compiled here against loom (run with
//! `RUSTFLAGS="--cfg loom" cargo test --release`).

#[path = "../../src/shard/mailbox.rs"]
pub mod mailbox;

/// The server's own lock table (`src/shard/locks.rs`), which has no dependencies beyond `std`.
#[path = "../../src/shard/locks.rs"]
pub mod locks;

/// The server's hand-over of a blocked wait's outcome (`src/shard/claim.rs`).
#[path = "../../src/shard/claim.rs"]
pub mod claim;
