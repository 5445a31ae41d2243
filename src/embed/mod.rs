//! The engine in-process: the same shards, commands and semantics as the server, without TCP.
//!
//! ```
//! use shardis::{config::Config, protocol::Reply, Engine};
//! let cfg = Config::default();
//! cfg.set("threads", "2", true).unwrap();
//! let engine = Engine::start(cfg).unwrap();
//! assert_eq!(engine.call(["SET", "k", "v"]), Reply::OK);
//! assert_eq!(engine.call(["GET", "k"]), Reply::Bulk("v".into()));
//! engine.stop();
//! ```

use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use bytes::Bytes;

use crate::config::Config;
use crate::protocol::Reply;
use crate::shard::{execute_one, Msg, Session, ShardLocal, ShardSet, StartError};

/// A running engine. Calls may come from any thread.
#[derive(Debug)]
pub struct Engine {
    shards: ShardSet,
    next: AtomicUsize,
}

impl Engine {
    /// Starts the shards described by `config` (no TCP listener).
    pub fn start(config: Config) -> Result<Engine, StartError> {
        Ok(Engine { shards: ShardSet::start(config, false)?, next: AtomicUsize::new(0) })
    }

    /// Starts the shards and also serves TCP on the configured port.
    pub fn start_serving(config: Config) -> Result<Engine, StartError> {
        Ok(Engine { shards: ShardSet::start(config, true)?, next: AtomicUsize::new(0) })
    }

    /// The TCP port served (0 when not serving).
    pub fn port(&self) -> u16 {
        self.shards.shared.tcp_port.load(Relaxed) as u16
    }

    /// Runs one command in database 0 and waits for its reply. Session commands (SELECT,
    /// HELLO) affect only this call.
    pub fn call<I, A>(&self, args: I) -> Reply
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let args: Vec<Bytes> = args.into_iter().map(|a| Bytes::copy_from_slice(a.as_ref())).collect();
        if args.is_empty() {
            return Reply::err("ERR empty command");
        }
        let shared = &self.shards.shared;
        let shard = self.next.fetch_add(1, Relaxed) % shared.shards();
        let (tx, rx) = futures::channel::oneshot::channel();
        shared.mailboxes[shard].push(Msg::Call(Box::new(move |local: &Rc<ShardLocal>| {
            let local = local.clone();
            glommio::spawn_local(async move {
                let mut s = Session::new(local, "embedded".into(), "embedded".into(), -1);
                let _ = tx.send(execute_one(&mut s, args).await);
            })
            .detach();
        })));
        futures::executor::block_on(rx).unwrap_or_else(|_| Reply::err("ERR engine stopped"))
    }

    /// Blocks until the engine stops (SHUTDOWN, a signal, or [`Engine::stop`] elsewhere).
    pub fn wait(self) {
        self.shards.join();
    }

    /// Stops every shard and joins their threads.
    pub fn stop(self) {
        self.shards.shared.shutdown();
        self.shards.join();
    }

    /// The state shared by the shards (for signal handlers and statistics).
    pub fn shared(&self) -> std::sync::Arc<crate::shard::Shared> {
        self.shards.shared.clone()
    }

    /// Asks the shards to stop without waiting.
    pub fn request_stop(&self) {
        self.shards.shared.shutdown();
    }
}
