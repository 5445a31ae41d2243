//! loom models of two-phase locking across shards, on the server's own lock table and
//! inbox: each thread is a shard that owns a `LockTable` and a few counters and serves its
//! `Mailbox`, and coordinates one transaction the way `shard::txn::lock_all` does (locks
//! shard by shard in ascending order, each shard ordering its keys; then the writes; then
//! the releases). In every interleaving loom explores, no transaction waits forever (a
//! deadlock or a lost wake-up would show as loom's deadlock error), and the outcome is
//! serializable: readers see the total intact and the final state is what some serial
//! order of the transactions gives. A script's out-of-order lock extension (`try_extend`,
//! which never waits, with a restart under whole-shard locks when it is refused) is modelled
//! the same way.
#![cfg(loom)]

use std::collections::HashMap;

use loom::sync::Arc;
use loom::thread;
use shardis_loom_tests::locks::{LockTable, Owner, Want};
use shardis_loom_tests::mailbox::Mailbox;

/// A key: (shard, index on that shard).
type Key = (usize, u8);

#[derive(Debug)]
enum Msg {
    Lock { owner: Owner, want: Want<u8>, origin: usize },
    Granted,
    Add { key: u8, delta: i64 },
    Read { key: u8, origin: usize },
    Value(i64),
    Unlock(Owner),
    Finished,
    TryExtend { owner: Owner, key: u8, origin: usize },
    Extended(bool),
}

/// One transaction: what it locks, and what it does once it holds the locks.
#[derive(Clone, Debug)]
enum Txn {
    /// Moves `amount` from the first key to the second.
    Transfer(Key, Key, i64),
    /// Reads the keys and checks they sum to `total`.
    Audit(Vec<Key>, i64),
    /// Takes every listed shard whole, then reads each one's first key and checks the total.
    Whole(Vec<usize>, i64),
    /// A script that declared only the first key and moves `amount` to the second, which it
    /// adds to its locks out of the global order; refused, it releases and restarts with
    /// both shards whole.
    Script(Key, Key, i64),
}

impl Txn {
    /// The lock plan: per shard in ascending order, what to take there.
    fn plan(&self) -> Vec<(usize, Want<u8>)> {
        let keys: Vec<Key> = match self {
            Txn::Transfer(a, b, _) => vec![*a, *b],
            Txn::Audit(ks, _) => ks.clone(),
            Txn::Whole(shards, _) => return shards.iter().map(|&s| (s, Want::All)).collect(),
            Txn::Script(declared, _, _) => vec![*declared],
        };
        let mut per: std::collections::BTreeMap<usize, Vec<u8>> = Default::default();
        for (s, k) in keys {
            per.entry(s).or_default().push(k);
        }
        per.into_iter().map(|(s, ks)| (s, Want::Keys(ks))).collect()
    }
}

struct Shard {
    id: usize,
    boxes: Arc<Vec<Mailbox<Msg>>>,
    locks: LockTable<u8>,
    /// Where to send each waiting owner's grant.
    waiting: HashMap<Owner, usize>,
    data: Vec<i64>,
    finished: usize,
    txns: usize,
    /// Replies for this shard's own coordinator.
    inbox: std::collections::VecDeque<Msg>,
}

impl Shard {
    fn send(&self, to: usize, m: Msg) {
        self.boxes[to].push(m);
    }

    /// Waits for the next message meant for this shard's coordinator, serving the others.
    async fn next_reply(&mut self) -> Msg {
        loop {
            if let Some(m) = self.inbox.pop_front() {
                return m;
            }
            self.serve_once().await;
        }
    }

    async fn serve_once(&mut self) {
        self.boxes[self.id].ready().await;
        while let Some(m) = self.boxes[self.id].pop() {
            self.handle(m);
        }
    }

    fn handle(&mut self, m: Msg) {
        match m {
            Msg::Lock { owner, want, origin } => {
                if self.locks.acquire(owner, want) {
                    self.send(origin, Msg::Granted);
                } else {
                    self.waiting.insert(owner, origin);
                }
            }
            Msg::Unlock(owner) => {
                for g in self.locks.release(owner) {
                    let origin = self.waiting.remove(&g).expect("granted owner was waiting");
                    self.send(origin, Msg::Granted);
                }
            }
            Msg::Add { key, delta } => self.data[key as usize] += delta,
            Msg::Read { key, origin } => self.send(origin, Msg::Value(self.data[key as usize])),
            Msg::Finished => self.finished += 1,
            Msg::TryExtend { owner, key, origin } => {
                let ok = self.locks.try_extend(owner, key);
                self.send(origin, Msg::Extended(ok));
            }
            reply @ (Msg::Granted | Msg::Value(_) | Msg::Extended(_)) => self.inbox.push_back(reply),
        }
    }

    /// Coordinates `txn` as owner `owner`: phase one in shard order, then the work, then the
    /// releases; finally tells every shard it is done.
    async fn coordinate(&mut self, owner: Owner, txn: Txn) {
        let mut plan = txn.plan();
        self.lock_plan(owner, &plan).await;
        match &txn {
            Txn::Transfer(a, b, amount) => {
                self.send(a.0, Msg::Add { key: a.1, delta: -amount });
                self.send(b.0, Msg::Add { key: b.1, delta: *amount });
            }
            Txn::Audit(keys, total) => self.audit(keys, *total).await,
            Txn::Whole(shards, total) => {
                let keys: Vec<Key> = shards.iter().map(|&s| (s, 0)).collect();
                self.audit(&keys, *total).await;
            }
            Txn::Script(from, to, amount) => {
                self.send(to.0, Msg::TryExtend { owner, key: to.1, origin: self.id });
                let Msg::Extended(ok) = self.next_reply().await else { panic!("expected an answer") };
                if ok {
                    plan.push((to.0, Want::Keys(vec![to.1])));
                } else {
                    // Nothing written yet: release, then rerun under both shards whole.
                    for (shard, _) in &plan {
                        self.send(*shard, Msg::Unlock(owner));
                    }
                    let mut shards = vec![from.0, to.0];
                    shards.sort();
                    shards.dedup();
                    plan = shards.into_iter().map(|s| (s, Want::All)).collect();
                    self.lock_plan(owner, &plan).await;
                }
                self.send(from.0, Msg::Add { key: from.1, delta: -amount });
                self.send(to.0, Msg::Add { key: to.1, delta: *amount });
            }
        }
        for (shard, _) in &plan {
            self.send(*shard, Msg::Unlock(owner));
        }
        for s in 0..self.boxes.len() {
            self.send(s, Msg::Finished);
        }
    }

    /// Phase one: `plan` in shard order, each grant awaited before the next request.
    async fn lock_plan(&mut self, owner: Owner, plan: &[(usize, Want<u8>)]) {
        for (shard, want) in plan {
            self.send(*shard, Msg::Lock { owner, want: want.clone(), origin: self.id });
            let Msg::Granted = self.next_reply().await else { panic!("expected a grant") };
        }
    }

    async fn audit(&mut self, keys: &[Key], total: i64) {
        let mut sum = 0;
        for k in keys {
            self.send(k.0, Msg::Read { key: k.1, origin: self.id });
            let Msg::Value(v) = self.next_reply().await else { panic!("expected a value") };
            sum += v;
        }
        assert_eq!(sum, total, "a transaction saw another one half done");
    }

    /// Serves messages until every transaction has finished and nothing is left queued.
    async fn serve_until_all_finished(&mut self) {
        while self.finished < self.txns {
            self.serve_once().await;
        }
    }
}

/// Runs one transaction per shard (`txns[i]` coordinated by shard `i`, `None` for none),
/// with two counters per shard starting at 10; returns the final counters per shard.
fn run(txns: Vec<Option<Txn>>) -> Vec<Vec<i64>> {
    let n = txns.len();
    let count = txns.iter().flatten().count();
    let boxes: Arc<Vec<Mailbox<Msg>>> = Arc::new((0..n).map(|_| Mailbox::new()).collect());
    let shard = |id: usize| Shard {
        id,
        boxes: boxes.clone(),
        locks: LockTable::new(),
        waiting: HashMap::new(),
        data: vec![10, 10],
        finished: 0,
        txns: count,
        inbox: Default::default(),
    };
    let body = |mut s: Shard, txn: Option<Txn>| {
        loom::future::block_on(async move {
            if let Some(t) = txn {
                let owner = s.id as Owner + 1;
                s.coordinate(owner, t).await;
            }
            s.serve_until_all_finished().await;
            assert!(s.locks.is_idle(), "shard {} still has locks", s.id);
            s.data
        })
    };
    let mut txns = txns.into_iter();
    let first = txns.next().unwrap();
    let handles: Vec<_> = txns
        .enumerate()
        .map(|(i, t)| {
            let s = shard(i + 1);
            thread::spawn(move || body(s, t))
        })
        .collect();
    let mut out = vec![body(shard(0), first)];
    out.extend(handles.into_iter().map(|h| h.join().unwrap()));
    out
}

fn model(bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = bound;
    b.check(f);
}

/// Opposite transfers over the same two keys on two shards: without one global lock order
/// each could hold one key and wait for the other forever.
#[test]
fn opposite_transfers_never_deadlock() {
    model(Some(3), || {
        let out = run(vec![Some(Txn::Transfer((0, 0), (1, 0), 3)), Some(Txn::Transfer((1, 0), (0, 0), 5))]);
        assert_eq!(out[0][0] + out[1][0], 20);
        assert_eq!((out[0][0], out[1][0]), (12, 8));
    });
}

/// A transfer and an audit of both keys: the audit sees the total, before or after.
#[test]
fn an_audit_never_sees_half_a_transfer() {
    model(Some(3), || {
        let out = run(vec![Some(Txn::Transfer((0, 1), (1, 1), 4)), Some(Txn::Audit(vec![(0, 1), (1, 1)], 20))]);
        assert_eq!((out[0][1], out[1][1]), (6, 14));
    });
}

/// Three shards, three transactions: two transfers chained over shards and one that takes
/// every shard whole (as FLUSHALL or KEYS inside MULTI do).
#[test]
fn three_shards_with_a_whole_keyspace_transaction() {
    model(Some(1), || {
        let out =
            run(vec![Some(Txn::Transfer((0, 0), (2, 0), 1)), Some(Txn::Transfer((2, 0), (1, 0), 2)), Some(Txn::Whole(vec![0, 1, 2], 30))]);
        assert_eq!(out.iter().flatten().sum::<i64>(), 60);
        assert_eq!((out[0][0], out[1][0], out[2][0]), (9, 12, 9));
    });
}

/// A script that declared a key on shard 1 adds a key of shard 0 to its locks (against the
/// global order) while a transfer takes both keys in order: the extension never waits, so
/// no deadlock; refused, the script restarts with both shards whole; either way both
/// transfers land once each.
#[test]
fn a_script_extending_its_locks_out_of_order_never_deadlocks() {
    model(Some(2), || {
        let out = run(vec![Some(Txn::Transfer((0, 0), (1, 0), 3)), Some(Txn::Script((1, 0), (0, 0), 5))]);
        assert_eq!((out[0][0], out[1][0]), (12, 8));
    });
}

/// The same script beside an audit of both keys: the audit never sees it half done.
#[test]
fn an_audit_never_sees_half_a_script() {
    model(Some(2), || {
        let out = run(vec![Some(Txn::Audit(vec![(0, 1), (1, 1)], 20)), Some(Txn::Script((1, 1), (0, 1), 4))]);
        assert_eq!((out[0][1], out[1][1]), (14, 6));
    });
}
