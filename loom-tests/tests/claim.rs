//! loom models of a blocked client's outcome hand-over (`src/shard/claim.rs`): a shard
//! serving the client, CLIENT UNBLOCK and the client's own timeout race; exactly one outcome
//! wins, the client gets that one (a served element is never lost), and no wake-up is lost
//! (a lost one shows as a deadlock, which loom reports).
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use shardis_loom_tests::claim::Claim;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Served,
    Unblocked,
    TimedOut,
}

/// Runs the client's wait with its timeout already passed; returns its outcome.
fn wait(c: &Claim<Outcome>) -> Outcome {
    loom::future::block_on(futures::future::poll_fn(|cx| c.poll_outcome(cx, |_| Some(Outcome::TimedOut))))
}

#[test]
fn serve_unblock_and_timeout_hand_over_exactly_one_outcome() {
    loom::model(|| {
        let c = Arc::new(Claim::default());
        let wins = Arc::new(AtomicUsize::new(0));
        let spawn = |o: Outcome| {
            let (c, wins) = (c.clone(), wins.clone());
            thread::spawn(move || {
                if c.claim() {
                    wins.fetch_add(1, Ordering::SeqCst);
                    c.finish(o);
                    Some(o)
                } else {
                    None
                }
            })
        };
        let server = spawn(Outcome::Served);
        let unblock = spawn(Outcome::Unblocked);
        let got = wait(&c);
        let s = server.join().unwrap();
        let u = unblock.join().unwrap();
        match got {
            Outcome::TimedOut => assert!(s.is_none() && u.is_none(), "a claimed outcome was dropped"),
            o => {
                assert_eq!(Some(o), s.or(u));
                assert_eq!(wins.load(Ordering::SeqCst), 1);
            }
        }
    });
}

#[test]
fn a_claim_given_back_lets_the_timeout_end_the_wait() {
    loom::model(|| {
        let c = Arc::new(Claim::<Outcome>::default());
        let server = {
            let c = c.clone();
            // A shard that claims, finds nothing to pop, and gives the claim back.
            thread::spawn(move || {
                if c.claim() {
                    c.release();
                }
            })
        };
        assert_eq!(wait(&c), Outcome::TimedOut);
        server.join().unwrap();
    });
}
