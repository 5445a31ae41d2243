//! Persistence: Redis's RDB format both ways ([`rdb`], a pure codec with no I/O beyond the
//! `Read`/`Write` it is handed), snapshots taken without fork while the shards keep serving
//! ([`snapshot`]; the store's half is `store/snap.rs`), and loading a file at start-up or for
//! DEBUG RELOAD ([`load`]); the append-only file's formats ([`aof`]).

pub mod aof;
pub mod load;
pub mod rdb;
pub mod snapshot;
