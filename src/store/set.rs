//! Sets: a sorted vector of integers while every member is an integer and there are at most
//! `set-max-intset-entries` of them (Redis's intset), a hash table of members otherwise. Like
//! Redis, a set never converts back.

use std::borrow::Cow;

use super::dict::Dict;
use super::hash::hash_bytes;
use crate::num::parse_i64;

/// A set value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Set {
    /// Distinct integers in ascending order.
    Ints(Vec<i64>),
    /// A table of members.
    Table(Dict<Box<[u8]>>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(Vec::new())
    }
}

fn int_text(i: i64) -> Vec<u8> {
    itoa::Buffer::new().format(i).as_bytes().to_vec()
}

impl Set {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            Set::Ints(v) => v.len(),
            Set::Table(d) => d.len(),
        }
    }

    /// Whether the set has no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `m` is a member.
    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(v) => parse_i64(m).is_some_and(|i| v.binary_search(&i).is_ok()),
            Set::Table(d) => d.find(hash_bytes(m), |x| &**x == m).is_some(),
        }
    }

    /// Adds `m`; returns whether it is new. An intset that would hold a non-integer or more
    /// than `max_ints` members becomes a table first.
    pub fn insert(&mut self, m: &[u8], max_ints: usize) -> bool {
        if let Set::Ints(v) = self {
            if let Some(i) = parse_i64(m) {
                match v.binary_search(&i) {
                    Ok(_) => return false,
                    Err(at) => {
                        v.insert(at, i);
                        if v.len() > max_ints {
                            self.convert_to_table();
                        }
                        return true;
                    }
                }
            }
            self.convert_to_table();
        }
        let Set::Table(d) = self else { unreachable!("converted above") };
        let h = hash_bytes(m);
        if d.find(h, |x| &**x == m).is_some() {
            return false;
        }
        d.insert(h, m.into());
        true
    }

    /// Removes `m`; returns whether it was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(v) => match parse_i64(m).map(|i| v.binary_search(&i)) {
                Some(Ok(at)) => {
                    v.remove(at);
                    true
                }
                _ => false,
            },
            Set::Table(d) => d.find(hash_bytes(m), |x| &**x == m).map(|pos| d.remove_at(pos)).is_some(),
        }
    }

    fn convert_to_table(&mut self) {
        let mut d = Dict::new();
        for m in self.iter() {
            d.insert(hash_bytes(&m), m.into_owned().into_boxed_slice());
        }
        *self = Set::Table(d);
    }

    /// The members: ascending for an intset, table order otherwise.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Cow<'_, [u8]>> + '_> {
        match self {
            Set::Ints(v) => Box::new(v.iter().map(|&i| Cow::Owned(int_text(i)))),
            Set::Table(d) => Box::new(d.iter().map(|m| Cow::Borrowed(&**m))),
        }
    }

    /// One SSCAN step from `cursor`: an intset is returned whole with cursor 0, as Redis does;
    /// a table is walked with the reverse-binary cursor.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8])) -> u64 {
        match self {
            Set::Ints(_) => {
                self.iter().for_each(|m| f(&m));
                0
            }
            Set::Table(d) => {
                let (mut cursor, mut seen, mut steps) = (cursor, 0, count.saturating_mul(10));
                loop {
                    cursor = d.scan(cursor, |m| {
                        seen += 1;
                        f(m)
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
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_set_model_across_the_conversion() {
        let mut rng = fastrand::Rng::with_seed(5);
        let mut s = Set::new();
        let mut model = std::collections::BTreeSet::new();
        for step in 0..5000 {
            let m = if step < 2500 || rng.u8(..4) > 0 { rng.i64(-50..50).to_string() } else { format!("m{}", rng.u8(..20)) };
            let m = m.into_bytes();
            if rng.u8(..3) == 0 {
                assert_eq!(s.remove(&m), model.remove(&m));
            } else {
                assert_eq!(s.insert(&m, 64), model.insert(m.clone()));
            }
            assert_eq!(s.contains(&m), model.contains(&m));
            assert_eq!(s.len(), model.len());
        }
        assert_eq!(s.encoding(), "hashtable");
        let mut all: Vec<Vec<u8>> = s.iter().map(Cow::into_owned).collect();
        all.sort();
        assert_eq!(all, model.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn intset_stays_sorted_and_converts_past_its_limit() {
        let mut s = Set::new();
        for m in ["5", "-3", "10", "5"] {
            s.insert(m.as_bytes(), 4);
        }
        assert_eq!(s.iter().map(Cow::into_owned).collect::<Vec<_>>(), vec![b"-3".to_vec(), b"5".to_vec(), b"10".to_vec()]);
        assert!(!s.contains(b"05"), "only canonical integers are members of an intset");
        s.insert(b"1", 4);
        assert_eq!(s.encoding(), "intset");
        s.insert(b"2", 4);
        assert_eq!(s.encoding(), "hashtable");
    }
}
