//! A skiplist ordered by (score, member) whose links carry spans, as Redis's `zskiplist`:
//! the rank of an element, the element at a rank, and the number of elements before a bound
//! are all found in O(log n). Nodes live in an arena and link by index.

use std::cmp::Ordering;

const MAX_LEVEL: usize = 32;
const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;

#[derive(Debug, Clone, PartialEq)]
struct Level {
    forward: u32,
    /// Elements skipped by following `forward` (1 for the next node at level 0).
    span: usize,
}

#[derive(Debug, Clone, PartialEq)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    backward: u32,
    levels: Vec<Level>,
}

/// A skiplist of (score, member) pairs with distinct members.
#[derive(Debug, Clone, PartialEq)]
pub struct SkipList {
    nodes: Vec<Node>,
    free: Vec<u32>,
    tail: u32,
    len: usize,
    level: usize,
}

impl Default for SkipList {
    fn default() -> Self {
        Self::new()
    }
}

/// Order of (score, member) pairs: by score, then by member bytes.
pub fn cmp_entry(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> Ordering {
    a_score.partial_cmp(&b_score).unwrap_or(Ordering::Equal).then_with(|| a_member.cmp(b_member))
}

fn random_level() -> usize {
    // Each level is kept with probability 1/4, as in Redis.
    let mut level = 1;
    while level < MAX_LEVEL && fastrand::u32(..4) == 0 {
        level += 1;
    }
    level
}

impl SkipList {
    /// An empty list.
    pub fn new() -> Self {
        let head = Node { member: Box::default(), score: 0.0, backward: NIL, levels: vec![Level { forward: NIL, span: 0 }; MAX_LEVEL] };
        SkipList { nodes: vec![head], free: Vec::new(), tail: NIL, len: 0, level: 1 }
    }

    /// Heap bytes of the node arena, its free list and the head's levels (not what the other
    /// nodes point to).
    pub fn arena_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.free.capacity() * std::mem::size_of::<u32>()
            + self.nodes[HEAD as usize].levels.capacity() * std::mem::size_of::<Level>()
    }

    /// For each node of the arena but the head: the heap bytes of its levels and member.
    pub fn node_heap_bytes(&self) -> impl ExactSizeIterator<Item = usize> + '_ {
        self.nodes[1..].iter().map(|n| n.levels.capacity() * std::mem::size_of::<Level>() + n.member.len())
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn fwd(&self, x: u32, i: usize) -> u32 {
        self.nodes[x as usize].levels[i].forward
    }

    fn span(&self, x: u32, i: usize) -> usize {
        self.nodes[x as usize].levels[i].span
    }

    fn node(&self, x: u32) -> &Node {
        &self.nodes[x as usize]
    }

    fn lv(&mut self, x: u32, i: usize) -> &mut Level {
        &mut self.nodes[x as usize].levels[i]
    }

    /// For each level, the last node before (score, member), and its rank.
    fn path(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [usize; MAX_LEVEL]) {
        let (mut update, mut rank) = ([HEAD; MAX_LEVEL], [0usize; MAX_LEVEL]);
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let f = self.fwd(x, i);
                if f == NIL || cmp_entry(self.node(f).score, &self.node(f).member, score, member) != Ordering::Less {
                    break;
                }
                rank[i] += self.span(x, i);
                x = f;
            }
            update[i] = x;
        }
        (update, rank)
    }

    /// Inserts a member that is not in the list.
    pub fn insert(&mut self, score: f64, member: &[u8]) {
        let (mut update, mut rank) = self.path(score, member);
        let lvl = random_level();
        if lvl > self.level {
            for i in self.level..lvl {
                rank[i] = 0;
                update[i] = HEAD;
                self.lv(HEAD, i).span = self.len;
            }
            self.level = lvl;
        }
        let node = Node { member: member.into(), score, backward: NIL, levels: vec![Level { forward: NIL, span: 0 }; lvl] };
        let x = match self.free.pop() {
            Some(x) => {
                self.nodes[x as usize] = node;
                x
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        for i in 0..lvl {
            let (u, f) = (update[i], self.fwd(update[i], i));
            let uspan = self.span(u, i);
            *self.lv(x, i) = Level { forward: f, span: uspan - (rank[0] - rank[i]) };
            *self.lv(u, i) = Level { forward: x, span: rank[0] - rank[i] + 1 };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(lvl) {
            self.lv(u, i).span += 1;
        }
        self.nodes[x as usize].backward = if update[0] == HEAD { NIL } else { update[0] };
        match self.fwd(x, 0) {
            NIL => self.tail = x,
            f => self.nodes[f as usize].backward = x,
        }
        self.len += 1;
    }

    /// Removes (score, member); returns whether it was there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let (update, _) = self.path(score, member);
        let x = self.fwd(update[0], 0);
        if x == NIL || self.node(x).score != score || &*self.node(x).member != member {
            return false;
        }
        for (i, &u) in update.iter().enumerate().take(self.level) {
            if self.fwd(u, i) == x {
                let (xspan, xfwd) = (self.span(x, i), self.fwd(x, i));
                let l = self.lv(u, i);
                l.span = l.span + xspan - 1;
                l.forward = xfwd;
            } else {
                self.lv(u, i).span -= 1;
            }
        }
        let back = self.node(x).backward;
        match self.fwd(x, 0) {
            NIL => self.tail = back,
            f => self.nodes[f as usize].backward = back,
        }
        while self.level > 1 && self.fwd(HEAD, self.level - 1) == NIL {
            self.level -= 1;
        }
        self.nodes[x as usize].member = Box::default();
        self.nodes[x as usize].levels = Vec::new();
        self.free.push(x);
        self.len -= 1;
        true
    }

    /// How many elements, from the lowest, satisfy `below`, which must hold for a prefix of the
    /// order (an element below a range's start, say).
    pub fn count_while(&self, below: impl Fn(f64, &[u8]) -> bool) -> usize {
        let (mut x, mut rank) = (HEAD, 0);
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f == NIL || !below(self.node(f).score, &self.node(f).member) {
                    break;
                }
                rank += self.span(x, i);
                x = f;
            }
        }
        rank
    }

    /// 0-based rank of (score, member), if present.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let n = self.count_while(|s, m| cmp_entry(s, m, score, member) == Ordering::Less);
        let (s, m) = self.at(n)?;
        (s == score && m == member).then_some(n)
    }

    fn node_at(&self, rank: usize) -> Option<u32> {
        if rank >= self.len {
            return None;
        }
        let (mut x, mut traversed) = (HEAD, 0);
        let want = rank + 1;
        for i in (0..self.level).rev() {
            while self.fwd(x, i) != NIL && traversed + self.span(x, i) <= want {
                traversed += self.span(x, i);
                x = self.fwd(x, i);
            }
            if traversed == want {
                return Some(x);
            }
        }
        None
    }

    /// The element at 0-based `rank`.
    pub fn at(&self, rank: usize) -> Option<(f64, &[u8])> {
        self.node_at(rank).map(|x| (self.node(x).score, &*self.node(x).member))
    }

    /// Elements from 0-based `rank` towards the highest, or towards the lowest when `rev`.
    pub fn iter_from(&self, rank: usize, rev: bool) -> impl Iterator<Item = (f64, &[u8])> + '_ {
        let mut x = self.node_at(rank).unwrap_or(NIL);
        std::iter::from_fn(move || {
            if x == NIL {
                return None;
            }
            let n = self.node(x);
            x = if rev { n.backward } else { n.levels[0].forward };
            Some((n.score, &*n.member))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model ordered the same way: f64 scores as ordered bits of non-NaN values.
    fn key(score: f64, m: &[u8]) -> (i64, Vec<u8>) {
        let b = score.to_bits() as i64;
        (if b < 0 { b ^ i64::MAX } else { b }, m.to_vec())
    }

    #[test]
    fn matches_a_btreemap_model() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut sl = SkipList::new();
        let mut model: std::collections::BTreeMap<(i64, Vec<u8>), f64> = Default::default();
        let mut scores: std::collections::HashMap<Vec<u8>, f64> = Default::default();
        for step in 0..20_000 {
            let m = format!("m{}", rng.u32(..500)).into_bytes();
            let score = [f64::NEG_INFINITY, f64::INFINITY, -0.5, 0.0, 1.0, 2.5][rng.usize(..6)] + f64::from(rng.u8(..3));
            match scores.get(&m).copied() {
                Some(old) if rng.bool() => {
                    assert!(sl.remove(old, &m));
                    model.remove(&key(old, &m));
                    scores.remove(&m);
                }
                // Scores are halves or infinities, never 0.125: the wrong score finds nothing.
                Some(_) => assert!(!sl.remove(0.125, &m)),
                None => {
                    sl.insert(score, &m);
                    model.insert(key(score, &m), score);
                    scores.insert(m.clone(), score);
                }
            }
            assert_eq!(sl.len(), model.len());
            if step % 1000 == 0 || step == 19_999 {
                let want: Vec<(f64, Vec<u8>)> = model.iter().map(|((_, m), s)| (*s, m.clone())).collect();
                let got: Vec<(f64, Vec<u8>)> = sl.iter_from(0, false).map(|(s, m)| (s, m.to_vec())).collect();
                assert_eq!(got, want);
                let back: Vec<(f64, Vec<u8>)> = sl.iter_from(sl.len().saturating_sub(1), true).map(|(s, m)| (s, m.to_vec())).collect();
                assert_eq!(back, want.iter().rev().cloned().collect::<Vec<_>>());
                for (r, (s, m)) in want.iter().enumerate().step_by(7) {
                    assert_eq!(sl.rank(*s, m), Some(r));
                    assert_eq!(sl.at(r), Some((*s, &m[..])));
                }
                let below_one = want.iter().filter(|(s, _)| *s < 1.0).count();
                assert_eq!(sl.count_while(|s, _| s < 1.0), below_one);
            }
        }
    }
}
