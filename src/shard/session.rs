//! A client session: connection state that commands read and change (database, protocol,
//! authentication), and the shared record of it that CLIENT LIST and CLIENT KILL see.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::blocking::Waiter;
use super::push::Pushes;
use super::route::by_shard;
use super::{Msg, ShardLocal};
use crate::command::CommandSpec;
use crate::pubsub::Kind;
use crate::store::{now_ms, WatchFlag};

/// What other shards may see and change of a client (the CLIENT LIST row).
#[derive(Debug)]
pub struct ClientMeta {
    /// Client id.
    pub id: u64,
    /// Peer address (`ip:port`).
    pub addr: String,
    /// Local address (`ip:port`).
    pub laddr: String,
    /// Socket file descriptor (-1 when embedded).
    pub fd: i32,
    /// Shard the connection lives on.
    pub shard: usize,
    /// Connect time, Unix ms.
    pub created_ms: u64,
    /// Last command time, Unix ms.
    pub last_ms: AtomicU64,
    /// Selected database.
    pub db: AtomicUsize,
    /// Protocol version (2 or 3).
    pub resp: AtomicU8,
    /// Set by CLIENT KILL; the connection closes at its next chance.
    pub killed: AtomicBool,
    /// Last command run.
    pub last_cmd: AtomicPtr<CommandSpec>,
    /// Commands queued in an open MULTI, or -1 outside one.
    pub multi: AtomicI64,
    /// The blocked command's waiter while the client is blocked (CLIENT UNBLOCK).
    pub blocked: Mutex<Option<Arc<Waiter>>>,
    /// Channels, patterns and shard channels subscribed to (CLIENT LIST sub/psub/ssub).
    pub subs: [AtomicUsize; 3],
    /// CLIENT SETNAME.
    pub name: Mutex<Bytes>,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Mutex<Bytes>,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: Mutex<Bytes>,
    /// [`ClientMeta`] mode bits: MONITOR, tracking, NO-EVICT, NO-TOUCH ([`ClientMeta::MONITOR`]...).
    pub mode: AtomicU32,
    /// CLIENT TRACKING's REDIRECT target (-1: none).
    pub redir: AtomicI64,
    /// Bytes of pushed output waiting to be written (pub/sub, MONITOR, invalidations).
    pub omem: AtomicU64,
}

impl ClientMeta {
    /// Mode bit: in MONITOR mode.
    pub const MONITOR: u32 = 1;
    /// Mode bit: CLIENT TRACKING on.
    pub const TRACKING: u32 = 2;
    /// Mode bit: CLIENT NO-EVICT on.
    pub const NO_EVICT: u32 = 4;
    /// Mode bit: CLIENT NO-TOUCH on.
    pub const NO_TOUCH: u32 = 8;
    /// Mode bit: CLIENT TRACKING's target went away (invalidations are lost).
    pub const BROKEN_REDIR: u32 = 16;

    /// Sets or clears mode bit `bit`.
    pub fn set_mode(&self, bit: u32, on: bool) {
        if on {
            self.mode.fetch_or(bit, Relaxed);
        } else {
            self.mode.fetch_and(!bit, Relaxed);
        }
    }

    /// The last command's full name, or `NULL`.
    pub fn last_command(&self) -> &'static str {
        let p = self.last_cmd.load(Relaxed);
        if p.is_null() {
            "NULL"
        } else {
            // SAFETY: only pointers to 'static command specs are ever stored.
            unsafe { (*p).name }
        }
    }

    /// CLIENT LIST flags: `O` monitor, `x` in MULTI, `b` blocked, `t` tracking, `R` broken
    /// redirect, `e` no-evict, `T` no-touch, `P` subscribed, `U` on the unix socket, else `N`.
    fn flags(&self) -> String {
        let mut f = String::new();
        let mode = self.mode.load(Relaxed);
        if mode & Self::MONITOR != 0 {
            f.push('O');
        }
        if self.multi.load(Relaxed) >= 0 {
            f.push('x');
        }
        if self.blocked.lock().expect("client meta lock").is_some() {
            f.push('b');
        }
        if mode & Self::TRACKING != 0 {
            f.push('t');
        }
        if mode & Self::BROKEN_REDIR != 0 {
            f.push('R');
        }
        if mode & Self::NO_EVICT != 0 {
            f.push('e');
        }
        if mode & Self::NO_TOUCH != 0 {
            f.push('T');
        }
        if self.subs.iter().any(|n| n.load(Relaxed) > 0) {
            f.push('P');
        }
        if self.addr.starts_with('/') {
            f.push('U');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// The CLIENT LIST / CLIENT INFO line for this client; `running` is the command it runs
    /// now, for the client that asks (its query buffer holds that command).
    pub fn info_line(&self, now: u64, running: Option<&[Bytes]>) -> String {
        let lock = |m: &Mutex<Bytes>| String::from_utf8_lossy(&m.lock().expect("client meta lock")).into_owned();
        let (qbuf, argv_mem) = running.map_or((0, 0), |a| (resp_size(a), a.iter().map(|x| x.len()).sum::<usize>()));
        let omem = self.omem.load(Relaxed) as usize;
        // The read buffer's free space, and a fixed estimate of the client's own structures.
        let qbuf_free = if qbuf > 0 { crate::net::READ_CHUNK.saturating_sub(qbuf) } else { 0 };
        let tot_mem = qbuf + qbuf_free + argv_mem + omem + CLIENT_OVERHEAD;
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={qbuf} qbuf-free={qbuf_free} argv-mem={argv_mem} multi-mem=0 rbs={} rbp={} obl=0 oll=0 omem={omem} tot-mem={tot_mem} events=r cmd={} user=default redir={} resp={} lib-name={} lib-ver={} shard={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            lock(&self.name),
            now.saturating_sub(self.created_ms) / 1000,
            now.saturating_sub(self.last_ms.load(Relaxed)) / 1000,
            self.flags(),
            self.db.load(Relaxed),
            self.subs[0].load(Relaxed),
            self.subs[1].load(Relaxed),
            self.subs[2].load(Relaxed),
            self.multi.load(Relaxed),
            crate::net::READ_CHUNK,
            crate::net::READ_CHUNK,
            self.last_command(),
            self.redir.load(Relaxed),
            self.resp.load(Relaxed),
            lock(&self.lib_name),
            lock(&self.lib_ver),
            self.shard,
        )
    }
}

/// Bytes of a client's own structures (session, buffers' headers), counted in `tot-mem`.
const CLIENT_OVERHEAD: usize = 1024;

/// The size of a command as the RESP array the client sent.
fn resp_size(args: &[Bytes]) -> usize {
    let digits = |n: usize| itoa::Buffer::new().format(n).len();
    3 + digits(args.len()) + args.iter().map(|a| 5 + digits(a.len()) + a.len()).sum::<usize>()
}

/// One client's session on the shard its connection lives on.
#[derive(Debug)]
pub struct Session {
    /// The shard the client's connection lives on.
    pub local: Rc<ShardLocal>,
    /// The record other shards see.
    pub meta: Arc<ClientMeta>,
    /// Selected database.
    pub db: usize,
    /// Whether replies are RESP3.
    pub resp3: bool,
    /// Whether the client has authenticated (or no password is set).
    pub authenticated: bool,
    /// Close the connection once the replies so far are written (QUIT, kill).
    pub close: bool,
    /// Commands queued since MULTI, if a transaction is open.
    pub multi: Option<MultiState>,
    /// Keys WATCHed since the last EXEC, DISCARD or UNWATCH.
    pub watch: Option<WatchState>,
    /// Pushed output and subscriptions.
    pub push: Rc<Pushes>,
    /// Set by the connection loop when the peer went away (ends a blocked wait).
    pub gone: Rc<Cell<bool>>,
    /// The reply slots of the last pipeline batch, kept for the next one.
    pub(crate) slots: super::dispatch::SlotBuf,
    /// In MONITOR mode.
    pub monitoring: bool,
    /// CLIENT TRACKING's mode while it is on.
    pub tracking: Option<crate::tracking::Mode>,
    /// For a script's session: the client running the script (its changes are that client's,
    /// for NOLOOP); 0 otherwise.
    pub on_behalf_of: u64,
    /// CLIENT CACHING yes/no, in force for the command running now.
    pub caching: Option<bool>,
    /// CLIENT CACHING yes/no just given, for the next command.
    pub caching_next: Option<bool>,
    /// CLIENT REPLY OFF: replies are not written.
    pub reply_off: bool,
    /// CLIENT REPLY SKIP: 1 while the SKIP command itself runs, 2 while the next command runs
    /// (its reply is not written), 0 otherwise.
    pub reply_skip: u8,
    /// Set while EXEC runs the queued commands (a script inside it runs under EXEC's locks).
    pub in_exec: bool,
    /// The session scripts run their commands on (SORT then orders a set's output).
    pub from_script: bool,
    /// The session that replays an append-only file at start-up: LOADING and MISCONF do
    /// not apply to it.
    pub replaying: bool,
    /// A frozen clock (Unix ms): commands run as at that time (a script's start, as in Redis
    /// 7, so a key cannot expire halfway through a script). `None`: the current time.
    pub clock: Option<u64>,
}

/// An open MULTI block.
#[derive(Debug, Default)]
pub struct MultiState {
    /// The queued commands, in order.
    pub queued: Vec<Vec<Bytes>>,
    /// A command was refused while queuing: EXEC will discard the transaction.
    pub failed: bool,
}

/// A client's WATCHed keys and the flag their shards set when one is modified.
#[derive(Debug)]
pub struct WatchState {
    /// Set by a shard when a watched key is modified.
    pub flag: WatchFlag,
    /// (database, key) pairs, in WATCH order.
    pub keys: Vec<(usize, Bytes)>,
}

impl Session {
    /// Registers a new client on `local`.
    pub fn new(local: Rc<ShardLocal>, addr: String, laddr: String, fd: i32) -> Session {
        Session::make(local, addr, laddr, fd, true)
    }

    /// A session of the server's own that no client list shows: the one scripts run their
    /// commands on.
    pub fn detached(local: Rc<ShardLocal>) -> Session {
        Session::make(local, String::new(), String::new(), -1, false)
    }

    fn make(local: Rc<ShardLocal>, addr: String, laddr: String, fd: i32, listed: bool) -> Session {
        let shared = &local.shared;
        let id = shared.next_client_id.fetch_add(1, Relaxed) + 1;
        let now = now_ms();
        let meta = Arc::new(ClientMeta {
            id,
            addr,
            laddr,
            fd,
            shard: local.id,
            created_ms: now,
            last_ms: AtomicU64::new(now),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            killed: AtomicBool::new(false),
            last_cmd: AtomicPtr::new(std::ptr::null_mut()),
            multi: AtomicI64::new(-1),
            blocked: Mutex::new(None),
            subs: Default::default(),
            name: Mutex::new(Bytes::new()),
            lib_name: Mutex::new(Bytes::new()),
            lib_ver: Mutex::new(Bytes::new()),
            mode: AtomicU32::new(0),
            redir: AtomicI64::new(-1),
            omem: AtomicU64::new(0),
        });
        let authenticated = !listed || shared.config.requirepass.read().expect("config lock").is_empty();
        let push = Rc::new(Pushes::new(id));
        if listed {
            shared.clients.insert(id, meta.clone());
            local.conns.borrow_mut().insert(id, push.clone());
        }
        Session {
            local,
            meta,
            db: 0,
            resp3: false,
            authenticated,
            close: false,
            multi: None,
            watch: None,
            push,
            gone: Rc::new(Cell::new(false)),
            slots: Default::default(),
            monitoring: false,
            tracking: None,
            on_behalf_of: 0,
            caching: None,
            caching_next: None,
            reply_off: false,
            reply_skip: 0,
            in_exec: false,
            replaying: false,
            from_script: !listed,
            clock: None,
        }
    }

    /// Selects database `db` (already validated).
    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.meta.db.store(db, Relaxed);
    }

    /// How the reply of the command that just ran is written, as CLIENT REPLY decides; moves
    /// a pending SKIP on to the next command.
    pub fn take_emit(&mut self) -> super::dispatch::Emit {
        use super::dispatch::Emit;
        let silent = self.reply_off || self.reply_skip == 2;
        self.reply_skip = if self.reply_skip == 1 { 2 } else { 0 };
        self.caching = self.caching_next.take();
        match (silent, self.resp3) {
            (true, resp3) => Emit::Silent(resp3),
            (false, true) => Emit::Resp3,
            (false, false) => Emit::Resp2,
        }
    }

    /// This client as the shards see it: its id, and whether its reads are tracked now
    /// (tracking on, not broadcast, and OPTIN / OPTOUT and CLIENT CACHING allowing it).
    pub fn caller(&self) -> super::Caller {
        let track = self
            .tracking
            .as_ref()
            .is_some_and(|m| !m.bcast && (if m.optin { self.caching == Some(true) } else { !(m.optout && self.caching == Some(false)) }));
        let id = if self.on_behalf_of != 0 { self.on_behalf_of } else { self.meta.id };
        super::Caller { id, track }
    }

    /// Turns CLIENT TRACKING off.
    pub fn stop_tracking(&mut self) {
        if self.tracking.take().is_some() {
            self.local.shared.tracking.disable(self.meta.id);
            self.meta.set_mode(ClientMeta::TRACKING | ClientMeta::BROKEN_REDIR, false);
            self.meta.redir.store(-1, Relaxed);
            self.local.shared.stats.tracking_clients.fetch_sub(1, Relaxed);
            self.local.shared.stats.tracking_prefixes.store(self.local.shared.tracking.prefixes() as u64, Relaxed);
        }
    }

    /// Sets the protocol version.
    pub fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
        self.push.set_resp3(resp3);
        self.meta.resp.store(if resp3 { 3 } else { 2 }, Relaxed);
    }

    /// Subscribes to `name` in `kind`'s namespace; returns the count the reply carries.
    pub fn subscribe(&mut self, kind: Kind, name: &Bytes) -> i64 {
        let mut subs = self.push.subs.borrow_mut();
        if subs.of(kind).insert(name.clone()) {
            self.local.shared.pubsub.add(kind, name, self.meta.id, self.local.id);
            self.meta.subs[kind as usize].fetch_add(1, Relaxed);
        }
        subs.count(kind)
    }

    /// Unsubscribes from `name`; returns the count the reply carries.
    pub fn unsubscribe(&mut self, kind: Kind, name: &Bytes) -> i64 {
        let mut subs = self.push.subs.borrow_mut();
        if subs.of(kind).remove(name) {
            self.local.shared.pubsub.remove(kind, name, self.meta.id);
            self.meta.subs[kind as usize].fetch_sub(1, Relaxed);
        }
        subs.count(kind)
    }

    /// The names subscribed to in `kind`'s namespace.
    pub fn subscriptions(&self, kind: Kind) -> Vec<Bytes> {
        self.push.subs.borrow_mut().of(kind).iter().cloned().collect()
    }

    /// Drops every subscription (RESET, disconnect).
    pub fn unsubscribe_all(&mut self) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for name in self.subscriptions(kind) {
                self.unsubscribe(kind, &name);
            }
        }
    }
}

impl Session {
    /// Opens a MULTI block (MULTI).
    pub fn begin_multi(&mut self) {
        self.multi = Some(MultiState::default());
        self.meta.multi.store(0, Relaxed);
    }

    /// Queues a command in the open MULTI block.
    pub fn queue(&mut self, args: Vec<Bytes>) {
        if let Some(m) = self.multi.as_mut() {
            m.queued.push(args);
            self.meta.multi.store(m.queued.len() as i64, Relaxed);
        }
    }

    /// Closes the MULTI block, if one is open, and returns it (EXEC, DISCARD, RESET).
    pub fn end_multi(&mut self) -> Option<MultiState> {
        self.meta.multi.store(-1, Relaxed);
        self.multi.take()
    }

    /// Forgets every WATCHed key: each shard holding one is told (without waiting).
    pub fn unwatch(&mut self) {
        let Some(w) = self.watch.take() else { return };
        for (sh, keys) in by_shard(w.keys, |(_, k)| k, self.local.shared.shards()) {
            let flag = w.flag.clone();
            let forget = move |l: &Rc<ShardLocal>| {
                let mut st = l.store.borrow_mut();
                for (db, k) in &keys {
                    st.db(*db).unwatch(k, &flag);
                }
            };
            if sh == self.local.id {
                forget(&self.local);
            } else {
                self.local.shared.mailboxes[sh].push(Msg::Call(Box::new(forget)));
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.unwatch();
        self.unsubscribe_all();
        self.local.conns.borrow_mut().remove(&self.meta.id);
        if self.monitoring {
            self.local.shared.remove_monitor(self.meta.id);
        }
        self.stop_tracking();
        let shared = &self.local.shared;
        if shared.active_expire_off_by.compare_exchange(self.meta.id, 0, Relaxed, Relaxed).is_ok() {
            shared.active_expire_resume_ms.store(crate::store::now_ms() + 1000, Relaxed);
        }
        self.local.shared.clients.remove(&self.meta.id);
    }
}
