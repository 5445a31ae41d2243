//! Persistence: the RDB format ([`rdb`]), and later the snapshots and the AOF built on it.
//!
//! [`rdb`] is a pure codec (values and files to bytes and back) with no I/O of its own beyond
//! the `std::io::Read`/`Write` it is handed; the store stays free of I/O.

pub mod rdb;
