//! MEMORY USAGE: the bytes a key holds, estimated as Redis's `objectComputeSize` does: exact
//! for strings and packed encodings; for tables, the fixed parts exactly and the elements'
//! own bytes from the first `samples` of them (0: all), scaled to the whole.

use std::mem::size_of;

use super::{Dict, Entry, Field, Hash, List, Set, StrValue, Value, ZSet};

/// The first `samples` (all when 0) items' `f`, averaged and scaled to `len` items.
fn sampled<I: Iterator>(items: I, len: usize, samples: usize, f: impl Fn(I::Item) -> usize) -> usize {
    let take = if samples == 0 { len } else { samples.min(len) };
    if take == 0 {
        return 0;
    }
    let sum: usize = items.take(take).map(f).sum();
    (sum as u128 * len as u128 / take as u128) as usize
}

impl Entry {
    /// Bytes held for this key: its table node (entry, link and hash), and whatever its key
    /// and value hold on the heap.
    pub fn memory_usage(&self, samples: usize) -> usize {
        Dict::<Entry>::node_bytes() + self.key.heap_bytes() + self.value.heap_bytes(samples)
    }
}

impl Value {
    /// Heap bytes held by the value beyond its inline part.
    pub fn heap_bytes(&self, samples: usize) -> usize {
        match self {
            Value::Str(s) => match s {
                StrValue::Int(_) | StrValue::IntOwn(_) | StrValue::Small(_) => 0,
                StrValue::Emb(b) => b.len(),
                StrValue::Raw(v) => v.capacity(),
            },
            Value::List(l) => size_of::<List>() + l.heap_bytes(),
            Value::Hash(h) => {
                size_of::<Hash>()
                    + match &**h {
                        Hash::Packed(p) => p.heap_bytes(),
                        Hash::Table(d) => d.table_bytes() + sampled(d.iter(), d.len(), samples, |f: &Field| f.name.len() + f.value.len()),
                    }
            }
            Value::Set(s) => {
                size_of::<Set>()
                    + match &**s {
                        Set::Ints(v) => v.capacity() * size_of::<i64>(),
                        Set::Table(d) => d.table_bytes() + sampled(d.iter(), d.len(), samples, |m| m.len()),
                    }
            }
            Value::ZSet(z) => {
                size_of::<ZSet>()
                    + match &**z {
                        ZSet::Packed(p) => p.heap_bytes(),
                        // Members are held twice: by the table and by the skiplist.
                        ZSet::Sorted { scores, list } => {
                            let nodes = list.node_heap_bytes();
                            let n = nodes.len();
                            scores.table_bytes()
                                + list.arena_bytes()
                                + sampled(nodes, n, samples, |b| b)
                                + sampled(scores.iter(), scores.len(), samples, |(m, _)| m.len())
                        }
                    }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PackLimits;

    #[test]
    fn usage_grows_with_what_a_key_holds() {
        let small = Entry::new(b"k", Value::Str(StrValue::from_input(b"v")), 0, 0);
        let big = Entry::new(b"k", Value::Str(StrValue::from_input(&[b'x'; 1000])), 0, 0);
        assert_eq!(small.memory_usage(5), 96, "a small key and value live in the 96-byte node");
        assert!(big.memory_usage(5) >= 96 + 1000);

        let limits = PackLimits { entries: 0, value: 0 };
        let mut z = ZSet::new_sorted();
        for i in 0..1000 {
            z.insert(format!("member:{i:06}").as_bytes(), f64::from(i), limits);
        }
        let zset = Entry::new(b"z", Value::ZSet(Box::new(z)), 0, 0);
        let (sampled, all) = (zset.memory_usage(5), zset.memory_usage(0));
        // Equal-length members; only the skiplist levels of the sample vary.
        assert!(sampled * 2 > all && sampled < all * 2, "{sampled} against {all}");
        assert!(all > 1000 * 2 * 13, "{all}");
    }
}
