//! RESP2/RESP3 wire format: request parsing and reply encoding.
//!
//! This layer knows bytes and frames only; it knows no commands and no storage.

mod parse;
mod reply;
pub mod splitargs;

pub use parse::{Limits, ProtoError, RequestParser, INLINE_MAX_SIZE};
pub use reply::{encode, encode_command, Reply};
pub use splitargs::{repr_into, split_args};
