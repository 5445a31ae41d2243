//! Sorted sets: (member, score) pairs packed in order while small (Redis's listpack encoding),
//! otherwise a skiplist with spans for order and rank plus a member → score table.
//!
//! Every query is expressed through a few primitives (`count_while`, `iter_from`, `score`),
//! so range commands work the same on both encodings.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::dict::Dict;
use super::hash::{hash_bytes, PackLimits};
use super::packed::Packed;
use super::skiplist::{cmp_entry, SkipList};

/// A sorted set value.
#[derive(Debug, Clone, PartialEq)]
pub enum ZSet {
    /// member, score (8 bytes, little-endian f64), ... in (score, member) order.
    Packed(Packed),
    /// A skiplist for order and a table for member lookups.
    Sorted {
        /// member → score.
        scores: Dict<(Box<[u8]>, f64)>,
        /// (score, member) order with ranks.
        list: SkipList,
    },
}

impl Eq for ZSet {}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Packed(Packed::new())
    }
}

fn score_at(p: &Packed, pair: usize) -> f64 {
    f64::from_le_bytes(p.get(2 * pair + 1).try_into().expect("8-byte score"))
}

fn packed_pairs(p: &Packed) -> impl DoubleEndedIterator<Item = (f64, &[u8])> + '_ {
    let items: Vec<&[u8]> = p.iter().collect();
    items.chunks(2).map(|c| (f64::from_le_bytes(c[1].try_into().expect("8-byte score")), c[0])).collect::<Vec<_>>().into_iter()
}

impl ZSet {
    /// An empty sorted set.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty sorted set already in the skiplist encoding (for results known to be large).
    pub fn new_sorted() -> Self {
        ZSet::Sorted { scores: Dict::new(), list: SkipList::new() }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            ZSet::Packed(p) => p.len() / 2,
            ZSet::Sorted { list, .. } => list.len(),
        }
    }

    /// Whether the set has no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn packed_find(p: &Packed, m: &[u8]) -> Option<usize> {
        p.iter().step_by(2).position(|x| x == m)
    }

    /// The score of `m`.
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            ZSet::Packed(p) => Self::packed_find(p, m).map(|i| score_at(p, i)),
            ZSet::Sorted { scores, .. } => scores.find(hash_bytes(m), |x| &*x.0 == m).map(|pos| scores.at(pos).1),
        }
    }

    /// Sets the score of `m` (adding it when new); returns whether it was new. Converts to the
    /// skiplist encoding when the set outgrows `limits`.
    pub fn insert(&mut self, m: &[u8], score: f64, limits: PackLimits) -> bool {
        if let ZSet::Packed(p) = self {
            let existing = Self::packed_find(p, m);
            if existing.is_none() && (p.len() / 2 + 1 > limits.entries || m.len() > limits.value) {
                self.convert_to_sorted();
            } else {
                if let Some(i) = existing {
                    p.remove_run(2 * i, 2);
                }
                let at = packed_pairs(p).take_while(|&(s, x)| cmp_entry(s, x, score, m) == Ordering::Less).count();
                p.insert(2 * at, m);
                p.insert(2 * at + 1, &score.to_le_bytes());
                return existing.is_none();
            }
        }
        let ZSet::Sorted { scores, list } = self else { unreachable!("converted above") };
        let h = hash_bytes(m);
        match scores.find(h, |x| &*x.0 == m) {
            Some(pos) => {
                let old = scores.at(pos).1;
                if old != score {
                    list.remove(old, m);
                    list.insert(score, m);
                    scores.at_mut(pos).1 = score;
                }
                false
            }
            None => {
                scores.insert(h, (m.into(), score));
                list.insert(score, m);
                true
            }
        }
    }

    /// Removes `m`; returns whether it was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            ZSet::Packed(p) => Self::packed_find(p, m).map(|i| p.remove_run(2 * i, 2)).is_some(),
            ZSet::Sorted { scores, list } => match scores.find(hash_bytes(m), |x| &*x.0 == m) {
                Some(pos) => {
                    let (_, s) = scores.remove_at(pos);
                    list.remove(s, m);
                    true
                }
                None => false,
            },
        }
    }

    /// Converts to the skiplist encoding (a no-op when already there); Redis's SORT does this
    /// to the set it sorts.
    pub fn convert_to_sorted(&mut self) {
        if matches!(self, ZSet::Sorted { .. }) {
            return;
        }
        let mut out = Self::new_sorted();
        let unlimited = PackLimits { entries: usize::MAX, value: usize::MAX };
        for (s, m) in self.iter_from(0, false) {
            out.insert(&m, s, unlimited);
        }
        *self = out;
    }

    /// Converts a skiplist-encoded set back to the packed encoding if it fits `limits` (what
    /// Redis does for the results of ZUNIONSTORE and the other STORE commands).
    pub fn pack_if_fits(&mut self, limits: PackLimits) {
        if matches!(self, ZSet::Sorted { .. })
            && self.len() <= limits.entries
            && self.iter_from(0, false).all(|(_, m)| m.len() <= limits.value)
        {
            let mut p = Packed::new();
            for (s, m) in self.iter_from(0, false) {
                p.push(&m);
                p.push(&s.to_le_bytes());
            }
            *self = ZSet::Packed(p);
        }
    }

    /// How many members, from the lowest, satisfy `below`, which must hold for a prefix of the
    /// order.
    pub fn count_while(&self, below: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSet::Packed(p) => packed_pairs(p).take_while(|&(s, m)| below(s, m)).count(),
            ZSet::Sorted { list, .. } => list.count_while(below),
        }
    }

    /// 0-based rank of `m` from the lowest score.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        let score = self.score(m)?;
        match self {
            ZSet::Packed(p) => packed_pairs(p).position(|(_, x)| x == m),
            ZSet::Sorted { list, .. } => list.rank(score, m),
        }
    }

    /// (score, member) from 0-based `rank` towards the highest, or the lowest when `rev`.
    pub fn iter_from(&self, rank: usize, rev: bool) -> Box<dyn Iterator<Item = (f64, Cow<'_, [u8]>)> + '_> {
        match self {
            ZSet::Packed(p) => {
                let all: Vec<(f64, &[u8])> = packed_pairs(p).collect();
                let it: Vec<(f64, Cow<'_, [u8]>)> = if rank >= all.len() {
                    Vec::new()
                } else if rev {
                    all[..=rank].iter().rev().map(|&(s, m)| (s, Cow::Borrowed(m))).collect()
                } else {
                    all[rank..].iter().map(|&(s, m)| (s, Cow::Borrowed(m))).collect()
                };
                Box::new(it.into_iter())
            }
            ZSet::Sorted { list, .. } => Box::new(list.iter_from(rank, rev).map(|(s, m)| (s, Cow::Borrowed(m)))),
        }
    }

    /// One ZSCAN step from `cursor`: a packed set is returned whole with cursor 0, as Redis
    /// does; the member table is walked with the reverse-binary cursor otherwise.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSet::Packed(p) => {
                packed_pairs(p).for_each(|(s, m)| f(m, s));
                0
            }
            ZSet::Sorted { scores, .. } => {
                let (mut cursor, mut seen, mut steps) = (cursor, 0, count.saturating_mul(10));
                loop {
                    cursor = scores.scan(cursor, |x| {
                        seen += 1;
                        f(&x.0, x.1)
                    });
                    steps = steps.saturating_sub(1);
                    if cursor == 0 || steps == 0 || seen >= count {
                        return cursor;
                    }
                }
            }
        }
    }

    /// Redis's encoding name for OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Packed(_) => "listpack",
            ZSet::Sorted { .. } => "skiplist",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_encodings_answer_alike() {
        let small = PackLimits { entries: 128, value: 64 };
        let tiny = PackLimits { entries: 0, value: 0 };
        let mut rng = fastrand::Rng::with_seed(8);
        let (mut a, mut b) = (ZSet::new(), ZSet::new());
        for _ in 0..3000 {
            let m = format!("m{}", rng.u8(..100)).into_bytes();
            let s = f64::from(rng.i8(..)) / 4.0;
            if rng.u8(..4) == 0 {
                assert_eq!(a.remove(&m), b.remove(&m));
            } else {
                assert_eq!(a.insert(&m, s, small), b.insert(&m, s, tiny));
            }
            assert_eq!(a.len(), b.len());
            assert_eq!(a.score(&m), b.score(&m));
            assert_eq!(a.rank(&m), b.rank(&m));
        }
        assert_eq!((a.encoding(), b.encoding()), ("listpack", "skiplist"));
        let all = |z: &ZSet| z.iter_from(0, false).map(|(s, m)| (s, m.into_owned())).collect::<Vec<_>>();
        assert_eq!(all(&a), all(&b));
        let n = a.len();
        let back = |z: &ZSet| z.iter_from(n - 1, true).map(|(s, m)| (s, m.into_owned())).collect::<Vec<_>>();
        assert_eq!(back(&a), back(&b));
        assert_eq!(a.count_while(|s, _| s < 0.0), b.count_while(|s, _| s < 0.0));
        b.pack_if_fits(small);
        assert_eq!(b.encoding(), "listpack");
        assert_eq!(all(&a), all(&b));
    }
}
