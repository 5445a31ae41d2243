//! A chained hash table with power-of-two buckets, in the manner of Redis's `dict`.
//!
//! Chaining (rather than open addressing) lets SCAN use Redis's reverse-binary cursor, which
//! returns every element present for the whole scan at least once even when the table grows
//! or shrinks between calls. The caller supplies hashes and equality, so the table stores no
//! hasher and can be searched by hash alone (the timer wheel does this).

#[derive(Clone)]
struct Node<T> {
    hash: u64,
    next: Option<Box<Node<T>>>,
    item: T,
}

/// Where an element sits: its bucket and its depth in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    bucket: usize,
    depth: usize,
}

/// A hash table of `T`, looked up by a caller-computed hash and predicate.
#[derive(Clone)]
pub struct Dict<T> {
    buckets: Vec<Option<Box<Node<T>>>>,
    len: usize,
}

const MIN_BUCKETS: usize = 4;

impl<T> Default for Dict<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Structural equality: the same elements in the same buckets and order. Tables holding the
/// same elements in another layout compare unequal, which callers treat as "changed".
impl<T: PartialEq> PartialEq for Dict<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.buckets.len() == other.buckets.len() && self.iter().eq(other.iter())
    }
}

impl<T: Eq> Eq for Dict<T> {}

impl<T> std::fmt::Debug for Dict<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dict").field("len", &self.len).field("buckets", &self.buckets.len()).finish()
    }
}

impl<T> Dict<T> {
    /// An empty table.
    pub fn new() -> Self {
        Dict { buckets: Vec::new(), len: 0 }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of buckets (a power of two, or zero).
    pub fn capacity(&self) -> usize {
        self.buckets.len()
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    /// Finds the position of the element with `hash` for which `eq` holds.
    pub fn find(&self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<Pos> {
        if self.buckets.is_empty() {
            return None;
        }
        let bucket = hash as usize & self.mask();
        let mut node = self.buckets[bucket].as_deref();
        let mut depth = 0;
        while let Some(n) = node {
            if n.hash == hash && eq(&n.item) {
                return Some(Pos { bucket, depth });
            }
            node = n.next.as_deref();
            depth += 1;
        }
        None
    }

    fn node_at(&self, pos: Pos) -> &Node<T> {
        let mut node = self.buckets[pos.bucket].as_deref().expect("valid position");
        for _ in 0..pos.depth {
            node = node.next.as_deref().expect("valid position");
        }
        node
    }

    /// The element at `pos` (from [`Dict::find`], with no change to the table since).
    pub fn at(&self, pos: Pos) -> &T {
        &self.node_at(pos).item
    }

    /// The element at `pos`, mutably.
    pub fn at_mut(&mut self, pos: Pos) -> &mut T {
        let mut node = self.buckets[pos.bucket].as_deref_mut().expect("valid position");
        for _ in 0..pos.depth {
            node = node.next.as_deref_mut().expect("valid position");
        }
        &mut node.item
    }

    /// Inserts an element known to be absent; returns its position.
    pub fn insert(&mut self, hash: u64, item: T) -> Pos {
        if self.len >= self.buckets.len() {
            self.resize((self.len + 1).next_power_of_two().max(MIN_BUCKETS));
        }
        let bucket = hash as usize & self.mask();
        let next = self.buckets[bucket].take();
        self.buckets[bucket] = Some(Box::new(Node { hash, next, item }));
        self.len += 1;
        Pos { bucket, depth: 0 }
    }

    /// Removes and returns the element at `pos`.
    pub fn remove_at(&mut self, pos: Pos) -> T {
        let mut link = &mut self.buckets[pos.bucket];
        for _ in 0..pos.depth {
            link = &mut link.as_mut().expect("valid position").next;
        }
        let mut node = link.take().expect("valid position");
        *link = node.next.take();
        self.len -= 1;
        if self.buckets.len() > MIN_BUCKETS && self.len * 8 < self.buckets.len() {
            self.resize((self.len.next_power_of_two() * 2).max(MIN_BUCKETS));
        }
        node.item
    }

    /// Removes every element.
    pub fn clear(&mut self) {
        // Unlink chains iteratively so long chains cannot overflow the stack on drop.
        for b in self.buckets.iter_mut() {
            let mut cur = b.take();
            while let Some(mut n) = cur {
                cur = n.next.take();
            }
        }
        self.buckets = Vec::new();
        self.len = 0;
    }

    fn resize(&mut self, size: usize) {
        let mut new: Vec<Option<Box<Node<T>>>> = Vec::with_capacity(size);
        new.resize_with(size, || None);
        let mask = size - 1;
        for b in self.buckets.iter_mut() {
            let mut cur = b.take();
            while let Some(mut n) = cur {
                cur = n.next.take();
                let slot = &mut new[n.hash as usize & mask];
                n.next = slot.take();
                *slot = Some(n);
            }
        }
        self.buckets = new;
    }

    /// Visits one bucket chosen by `cursor` and returns the next cursor (0 when the scan is
    /// complete). The reverse-binary increment is Redis's `dictScan`.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&T)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = self.mask() as u64;
        let mut node = self.buckets[(cursor & mask) as usize].as_deref();
        while let Some(n) = node {
            f(&n.item);
            node = n.next.as_deref();
        }
        let mut v = cursor | !mask;
        v = v.reverse_bits();
        v = v.wrapping_add(1);
        v.reverse_bits()
    }

    /// A uniformly chosen non-empty bucket's random element, or `None` when empty.
    pub fn random(&self, rng: &mut fastrand::Rng) -> Option<&T> {
        if self.len == 0 {
            return None;
        }
        loop {
            let b = rng.usize(..self.buckets.len());
            let mut chain = Vec::new();
            let mut node = self.buckets[b].as_deref();
            while let Some(n) = node {
                chain.push(&n.item);
                node = n.next.as_deref();
            }
            if !chain.is_empty() {
                return Some(chain[rng.usize(..chain.len())]);
            }
        }
    }

    /// Iterates over all elements.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.buckets.iter().flat_map(|b| {
            let mut node = b.as_deref();
            std::iter::from_fn(move || {
                let n = node?;
                node = n.next.as_deref();
                Some(&n.item)
            })
        })
    }
}

impl<T> Drop for Dict<T> {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn h(k: u64) -> u64 {
        k.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    #[test]
    fn insert_find_remove_against_model() {
        let mut d = Dict::new();
        let mut model = HashSet::new();
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let k = rng.u64(..2000);
            match d.find(h(k), |&x| x == k) {
                Some(p) => {
                    assert!(model.contains(&k));
                    if rng.bool() {
                        assert_eq!(d.remove_at(p), k);
                        model.remove(&k);
                    }
                }
                None => {
                    assert!(!model.contains(&k));
                    d.insert(h(k), k);
                    model.insert(k);
                }
            }
            assert_eq!(d.len(), model.len());
        }
        assert_eq!(d.iter().count(), model.len());
    }

    #[test]
    fn scan_returns_every_stable_element_across_resizes() {
        let mut d = Dict::new();
        for k in 0..1000u64 {
            d.insert(h(k), k);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0u64;
        loop {
            cursor = d.scan(cursor, |&k| {
                seen.insert(k);
            });
            // Grow and shrink the table while the scan is under way.
            step += 1;
            if step == 10 {
                for k in 1000..5000u64 {
                    d.insert(h(k), k);
                }
            }
            if step == 40 {
                for k in 1000..5000u64 {
                    let p = d.find(h(k), |&x| x == k).unwrap();
                    d.remove_at(p);
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for k in 0..1000u64 {
            assert!(seen.contains(&k), "key {k} missed");
        }
    }
}
