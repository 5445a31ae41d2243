//! Hashes: packed field/value pairs while small (Redis's listpack encoding), a hash table of
//! fields once a hash outgrows `hash-max-listpack-entries` or holds a string longer than
//! `hash-max-listpack-value`. Like Redis, a hash never converts back.

use super::dict::Dict;
use super::packed::Packed;

/// One field of a hash-table-encoded hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name.
    pub name: Box<[u8]>,
    /// Its value.
    pub value: Box<[u8]>,
}

/// Size limits of the packed encoding, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct PackLimits {
    /// Most entries a packed collection may hold.
    pub entries: usize,
    /// Longest element a packed collection may hold, in bytes.
    pub value: usize,
}

/// A hash value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hash {
    /// Field, value, field, value... in insertion order.
    Packed(Packed),
    /// A table of fields.
    Table(Dict<Field>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Packed(Packed::new())
    }
}

/// Hash of a field name for the table encoding.
pub fn hash_bytes(b: &[u8]) -> u64 {
    static STATE: std::sync::LazyLock<ahash::RandomState> = std::sync::LazyLock::new(ahash::RandomState::new);
    STATE.hash_one(b)
}

/// Index of the pair whose field is `f` in a packed hash.
fn packed_pair(p: &Packed, f: &[u8]) -> Option<usize> {
    p.iter().step_by(2).position(|x| x == f)
}

impl Hash {
    /// An empty hash.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            Hash::Packed(p) => p.len() / 2,
            Hash::Table(d) => d.len(),
        }
    }

    /// Whether the hash has no fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of field `f`.
    pub fn get(&self, f: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Packed(p) => packed_pair(p, f).map(|i| p.get(2 * i + 1)),
            Hash::Table(d) => d.find(hash_bytes(f), |x| &*x.name == f).map(|pos| &*d.at(pos).value),
        }
    }

    /// Sets field `f` to `v`; returns whether the field is new. Converts to the table encoding
    /// when the hash outgrows `limits`.
    pub fn set(&mut self, f: &[u8], v: &[u8], limits: PackLimits) -> bool {
        if let Hash::Packed(p) = self {
            if f.len() > limits.value || v.len() > limits.value {
                self.convert_to_table();
            } else {
                let new = match packed_pair(p, f) {
                    Some(i) => {
                        p.replace(2 * i + 1, v);
                        false
                    }
                    None => {
                        p.push(f);
                        p.push(v);
                        true
                    }
                };
                if self.len() > limits.entries {
                    self.convert_to_table();
                }
                return new;
            }
        }
        let Hash::Table(d) = self else { unreachable!("converted above") };
        let h = hash_bytes(f);
        match d.find(h, |x| &*x.name == f) {
            Some(pos) => {
                d.at_mut(pos).value = v.into();
                false
            }
            None => {
                d.insert(h, Field { name: f.into(), value: v.into() });
                true
            }
        }
    }

    /// Removes field `f`; returns whether it was there.
    pub fn remove(&mut self, f: &[u8]) -> bool {
        match self {
            Hash::Packed(p) => packed_pair(p, f).map(|i| p.remove_run(2 * i, 2)).is_some(),
            Hash::Table(d) => d.find(hash_bytes(f), |x| &*x.name == f).map(|pos| d.remove_at(pos)).is_some(),
        }
    }

    fn convert_to_table(&mut self) {
        let mut d = Dict::new();
        for (f, v) in self.iter() {
            d.insert(hash_bytes(f), Field { name: f.into(), value: v.into() });
        }
        *self = Hash::Table(d);
    }

    /// Every (field, value) pair: insertion order when packed, table order otherwise.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            Hash::Packed(p) => {
                let mut it = p.iter();
                Box::new(std::iter::from_fn(move || Some((it.next()?, it.next()?))))
            }
            Hash::Table(d) => Box::new(d.iter().map(|x| (&*x.name, &*x.value))),
        }
    }

    /// One HSCAN step from `cursor`: a packed hash is returned whole with cursor 0, as Redis
    /// does; a table is walked with the reverse-binary cursor.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            Hash::Packed(_) => {
                self.iter().for_each(|(k, v)| f(k, v));
                0
            }
            Hash::Table(d) => {
                let (mut cursor, mut seen, mut steps) = (cursor, 0, count.saturating_mul(10));
                loop {
                    cursor = d.scan(cursor, |x| {
                        seen += 1;
                        f(&x.name, &x.value)
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
            Hash::Packed(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_map_model_across_the_conversion() {
        let limits = PackLimits { entries: 16, value: 20 };
        let mut rng = fastrand::Rng::with_seed(3);
        let mut h = Hash::new();
        let mut model = std::collections::HashMap::new();
        for step in 0..5000 {
            let f = format!("f{}", rng.u32(..40)).into_bytes();
            let v = vec![b'v'; if step > 3000 { rng.usize(..30) } else { rng.usize(..10) }];
            if rng.u8(..3) == 0 {
                assert_eq!(h.remove(&f), model.remove(&f).is_some());
            } else {
                assert_eq!(h.set(&f, &v, limits), model.insert(f.clone(), v.clone()).is_none());
            }
            assert_eq!(h.len(), model.len());
            assert_eq!(h.get(&f), model.get(&f).map(Vec::as_slice));
            if h.len() > 16 {
                assert_eq!(h.encoding(), "hashtable");
            }
        }
        let mut all: Vec<(Vec<u8>, Vec<u8>)> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        all.sort();
        let mut want: Vec<(Vec<u8>, Vec<u8>)> = model.into_iter().collect();
        want.sort();
        assert_eq!(all, want);
    }

    #[test]
    fn packed_hash_keeps_insertion_order_and_converts_on_long_values() {
        let limits = PackLimits { entries: 128, value: 64 };
        let mut h = Hash::new();
        for f in ["b", "a", "c"] {
            h.set(f.as_bytes(), b"1", limits);
        }
        h.remove(b"a");
        assert_eq!(h.iter().map(|(f, _)| f).collect::<Vec<_>>(), vec![&b"b"[..], b"c"]);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"long", &[b'x'; 65], limits);
        assert_eq!((h.encoding(), h.len()), ("hashtable", 3));
    }
}
