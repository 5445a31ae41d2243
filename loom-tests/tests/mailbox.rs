//! loom models of the shard inbox: every interleaving of producers and the consumer's
//! sleep/wake protocol delivers every message and never loses a wake-up (a lost wake-up shows
//! as a deadlock, which loom reports).
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use shardis_loom_tests::mailbox::Mailbox;

/// Runs a model: exhaustively (`None`), or with a preemption bound where three threads make
/// the full search too long for CI.
fn model(bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = bound;
    b.check(f);
}

#[test]
fn one_producer_wakes_the_sleeping_consumer() {
    model(None, || {
        let mb = Arc::new(Mailbox::new());
        let p = mb.clone();
        let t = thread::spawn(move || p.push(1u32));
        loom::future::block_on(async {
            mb.ready().await;
            assert_eq!(mb.pop(), Some(1));
        });
        t.join().unwrap();
    });
}

#[test]
fn two_producers_all_messages_arrive() {
    model(Some(3), || {
        let mb = Arc::new(Mailbox::new());
        let producers: Vec<_> = (0..2u32)
            .map(|i| {
                let p = mb.clone();
                thread::spawn(move || p.push(i))
            })
            .collect();
        let mut got = Vec::new();
        loom::future::block_on(async {
            while got.len() < 2 {
                mb.ready().await;
                while let Some(m) = mb.pop() {
                    got.push(m);
                }
            }
        });
        got.sort_unstable();
        assert_eq!(got, vec![0, 1]);
        for p in producers {
            p.join().unwrap();
        }
    });
}

#[test]
fn consumer_sleeping_twice_is_woken_twice() {
    model(None, || {
        let mb = Arc::new(Mailbox::new());
        let p = mb.clone();
        let t = thread::spawn(move || {
            p.push(1u32);
            p.push(2u32);
        });
        loom::future::block_on(async {
            let mut seen = 0;
            while seen < 2 {
                mb.ready().await;
                while mb.pop().is_some() {
                    seen += 1;
                }
            }
        });
        t.join().unwrap();
    });
}
