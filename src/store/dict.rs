//! A chained hash table with power-of-two buckets and incremental rehashing, in the manner of
//! Redis's `dict`.
//!
//! Chaining (rather than open addressing) lets SCAN use Redis's reverse-binary cursor, which
//! returns every element present for the whole scan at least once even when the table grows
//! or shrinks between calls. The caller supplies hashes and equality, so the table stores no
//! hasher and can be searched by hash alone (the timer wheel does this).
//!
//! **No stalls while growing.** Bucket arrays are kept in chunks of [`CHUNK`] buckets, each
//! allocated zeroed when first written and freed as soon as a rehash has drained it, so no
//! operation allocates, zeroes or frees a whole table (freeing a 128 MB array at once stalled
//! a shard for 17 ms). A resize moves the old table's chains a few buckets per insert or
//! removal, as Redis's `_dictRehashStep` does, and in the owner's idle time
//! ([`Dict::rehash_steps`], Redis's `activerehashing`); lookups search both tables meanwhile.
//! Each insert moves at least one old bucket, so the rehash ends before the next doubling,
//! and no single operation walks the whole table. A key inserted during a rehash joins its
//! old bucket when that has not moved yet, so the new table's chunks are allocated in the
//! order the move reaches them and memory grows a chunk at a time.

type Link<T> = Option<Box<Node<T>>>;

#[derive(Clone)]
struct Node<T> {
    hash: u64,
    next: Link<T>,
    item: T,
}

/// Where an element sits: its table, its bucket and its depth in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    table: u8,
    bucket: usize,
    depth: usize,
}

/// log2 of [`CHUNK`].
const CHUNK_BITS: u32 = 13;
/// Buckets per chunk of a bucket array (64 KiB of links).
pub const CHUNK: usize = 1 << CHUNK_BITS;

/// A bucket array of a power-of-two length, in chunks allocated on first write.
#[derive(Clone)]
struct Buckets<T> {
    chunks: Vec<Option<Box<[Link<T>]>>>,
    len: usize,
}

impl<T> Buckets<T> {
    /// `len` empty buckets; nothing is allocated for them yet.
    fn new(len: usize) -> Self {
        let chunks = if len == 0 { 0 } else { len.div_ceil(CHUNK) };
        Buckets { chunks: (0..chunks).map(|_| None).collect(), len }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first node of bucket `b`'s chain.
    fn head(&self, b: usize) -> Option<&Node<T>> {
        self.chunks[b >> CHUNK_BITS].as_ref()?[b & (CHUNK - 1)].as_deref()
    }

    /// Bucket `b`'s link, allocating its chunk when it has none.
    fn slot(&mut self, b: usize) -> &mut Link<T> {
        let per = self.len.min(CHUNK);
        &mut self.chunks[b >> CHUNK_BITS].get_or_insert_with(|| zeroed(per))[b & (CHUNK - 1)]
    }

    /// Takes bucket `b`'s chain, leaving it empty.
    fn take(&mut self, b: usize) -> Link<T> {
        self.chunks[b >> CHUNK_BITS].as_mut().and_then(|c| c[b & (CHUNK - 1)].take())
    }

    /// Frees the chunk holding bucket `b` (all of whose chains were taken).
    fn release_chunk_of(&mut self, b: usize) {
        self.chunks[b >> CHUNK_BITS] = None;
    }

    /// Bytes of the chunks allocated.
    fn bytes(&self) -> usize {
        self.chunks.iter().flatten().map(|c| c.len() * std::mem::size_of::<Link<T>>()).sum()
    }

    /// Every bucket's first node, in order.
    fn heads(&self) -> impl Iterator<Item = Option<&Node<T>>> {
        (0..self.len).map(|b| self.head(b))
    }

    /// Unlinks every chain iteratively, so that long chains cannot overflow the stack on drop.
    fn clear(&mut self) {
        for chunk in self.chunks.iter_mut().flatten() {
            for b in chunk.iter_mut() {
                let mut cur = b.take();
                while let Some(mut n) = cur {
                    cur = n.next.take();
                }
            }
        }
        *self = Buckets::new(0);
    }
}

/// A hash table of `T`, looked up by a caller-computed hash and predicate.
#[derive(Clone)]
pub struct Dict<T> {
    /// The table; during a rehash, the old one being drained.
    main: Buckets<T>,
    /// During a rehash, the new table; empty otherwise.
    next: Buckets<T>,
    /// During a rehash, the first bucket of `main` not yet moved.
    moved: usize,
    len: usize,
}

const MIN_BUCKETS: usize = 4;
/// Non-empty old buckets moved per insert or removal while rehashing.
const STEP_BUCKETS: usize = 4;
/// Empty old buckets skipped per non-empty one a step may move (Redis's `empty_visits`).
const EMPTY_VISITS: usize = 10;

impl<T> Default for Dict<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Structural equality: the same elements in the same buckets and order. Tables holding the
/// same elements in another layout compare unequal, which callers treat as "changed".
impl<T: PartialEq> PartialEq for Dict<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.main.len() == other.main.len() && self.next.len() == other.next.len() && self.iter().eq(other.iter())
    }
}

impl<T: Eq> Eq for Dict<T> {}

impl<T> std::fmt::Debug for Dict<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dict").field("len", &self.len).field("buckets", &self.main.len()).field("rehashing_to", &self.next.len()).finish()
    }
}

/// `n` empty links, taken from the allocator as zeroed memory (no writes of ours).
fn zeroed<T>(n: usize) -> Box<[Link<T>]> {
    let zeroed = Box::<[Link<T>]>::new_zeroed_slice(n);
    // SAFETY: `Option<Box<_>>` is guaranteed to be represented as a nullable pointer, so the
    // all-zero bit pattern is `None`.
    unsafe { zeroed.assume_init() }
}

fn chain<T>(mut node: Option<&Node<T>>) -> impl Iterator<Item = &Node<T>> {
    std::iter::from_fn(move || {
        let n = node?;
        node = n.next.as_deref();
        Some(n)
    })
}

impl<T> Dict<T> {
    /// An empty table.
    pub fn new() -> Self {
        Dict { main: Buckets::new(0), next: Buckets::new(0), moved: 0, len: 0 }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of buckets (a power of two, or zero); during a rehash, of the new table.
    pub fn capacity(&self) -> usize {
        if self.rehashing() {
            self.next.len()
        } else {
            self.main.len()
        }
    }

    /// Whether a resize is moving chains from the old table to the new one.
    pub fn rehashing(&self) -> bool {
        !self.next.is_empty()
    }

    /// Bytes of one element's node: the element, its chain link and its hash.
    pub const fn node_bytes() -> usize {
        std::mem::size_of::<Node<T>>()
    }

    /// Bytes of the bucket arrays and element nodes, without what elements point to
    /// (MEMORY USAGE and STATS).
    pub fn table_bytes(&self) -> usize {
        self.main.bytes() + self.next.bytes() + self.len * Self::node_bytes()
    }

    fn table(&self, t: u8) -> &Buckets<T> {
        if t == 0 {
            &self.main
        } else {
            &self.next
        }
    }

    fn table_mut(&mut self, t: u8) -> &mut Buckets<T> {
        if t == 0 {
            &mut self.main
        } else {
            &mut self.next
        }
    }

    /// Finds the position of the element with `hash` for which `eq` holds.
    pub fn find(&self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<Pos> {
        for table in [0u8, 1] {
            let t = self.table(table);
            if t.is_empty() {
                continue;
            }
            let bucket = hash as usize & (t.len() - 1);
            if let Some(depth) = chain(t.head(bucket)).position(|n| n.hash == hash && eq(&n.item)) {
                return Some(Pos { table, bucket, depth });
            }
        }
        None
    }

    fn node_at(&self, pos: Pos) -> &Node<T> {
        chain(self.table(pos.table).head(pos.bucket)).nth(pos.depth).expect("valid position")
    }

    /// The element at `pos` (from [`Dict::find`], with no change to the table since).
    pub fn at(&self, pos: Pos) -> &T {
        &self.node_at(pos).item
    }

    /// The element at `pos`, mutably.
    pub fn at_mut(&mut self, pos: Pos) -> &mut T {
        let mut node = self.table_mut(pos.table).slot(pos.bucket).as_deref_mut().expect("valid position");
        for _ in 0..pos.depth {
            node = node.next.as_deref_mut().expect("valid position");
        }
        &mut node.item
    }

    /// Inserts an element known to be absent; returns its position.
    pub fn insert(&mut self, hash: u64, item: T) -> Pos {
        if self.rehashing() {
            self.step();
        } else if self.len >= self.main.len() {
            self.start_resize((self.len + 1).next_power_of_two().max(MIN_BUCKETS));
        }
        // While rehashing, a key whose old bucket has not moved yet joins it there (and moves
        // with it), so the new table's chunks fill in the order the move reaches them rather
        // than all at once: memory grows a chunk at a time (eviction keeps up with that).
        let table = u8::from(self.rehashing() && (hash as usize & (self.main.len() - 1)) < self.moved);
        let t = self.table_mut(table);
        let bucket = hash as usize & (t.len() - 1);
        let slot = t.slot(bucket);
        let next = slot.take();
        *slot = Some(Box::new(Node { hash, next, item }));
        self.len += 1;
        Pos { table, bucket, depth: 0 }
    }

    /// Removes and returns the element at `pos`.
    pub fn remove_at(&mut self, pos: Pos) -> T {
        let mut link = self.table_mut(pos.table).slot(pos.bucket);
        for _ in 0..pos.depth {
            link = &mut link.as_mut().expect("valid position").next;
        }
        let mut node = link.take().expect("valid position");
        *link = node.next.take();
        self.len -= 1;
        if self.rehashing() {
            self.step();
        } else if self.main.len() > MIN_BUCKETS && self.len * 8 < self.main.len() {
            self.start_resize((self.len.next_power_of_two() * 2).max(MIN_BUCKETS));
        }
        node.item
    }

    /// Removes every element.
    pub fn clear(&mut self) {
        self.main.clear();
        self.next.clear();
        self.moved = 0;
        self.len = 0;
    }

    /// Begins moving to a table of `size` buckets; an empty table is simply replaced.
    fn start_resize(&mut self, size: usize) {
        if self.len == 0 {
            self.main = Buckets::new(size);
            return;
        }
        self.next = Buckets::new(size);
        self.moved = 0;
        self.step();
    }

    /// Moves up to [`STEP_BUCKETS`] non-empty old buckets (skipping at most
    /// [`EMPTY_VISITS`] empty ones each) into the new table; swaps tables when done.
    fn step(&mut self) {
        let mask = self.next.len() - 1;
        let mut budget = STEP_BUCKETS;
        let mut empty = STEP_BUCKETS * EMPTY_VISITS;
        while budget > 0 && self.moved < self.main.len() {
            let mut cur = self.main.take(self.moved);
            self.moved += 1;
            if self.moved.is_multiple_of(CHUNK) {
                // A drained chunk is freed at once: the old table never goes all at once.
                self.main.release_chunk_of(self.moved - 1);
            }
            if cur.is_none() {
                empty -= 1;
                if empty == 0 {
                    break;
                }
                continue;
            }
            while let Some(mut n) = cur {
                cur = n.next.take();
                let slot = self.next.slot(n.hash as usize & mask);
                n.next = slot.take();
                *slot = Some(n);
            }
            budget -= 1;
        }
        if self.moved == self.main.len() {
            self.main = std::mem::replace(&mut self.next, Buckets::new(0));
            self.moved = 0;
        }
    }

    /// Runs up to `steps` rehash steps (as an insert would); returns whether a rehash is still
    /// under way.
    pub fn rehash_steps(&mut self, steps: usize) -> bool {
        for _ in 0..steps {
            if !self.rehashing() {
                break;
            }
            self.step();
        }
        self.rehashing()
    }

    /// Visits one bucket chosen by `cursor` (during a rehash, the bucket of the smaller
    /// table and its expansions in the larger) and returns the next cursor (0 when the scan
    /// is complete). The reverse-binary increment is Redis's `dictScan`.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&T)) -> u64 {
        let mut buckets = Vec::new();
        let next = self.scan_buckets(cursor, &mut buckets);
        for (table, b) in buckets {
            chain(self.table(table).head(b)).for_each(|n| f(&n.item));
        }
        next
    }

    /// [`Dict::scan`] with mutable access to the elements (not to their keys' hashes).
    pub fn scan_mut(&mut self, cursor: u64, mut f: impl FnMut(&mut T)) -> u64 {
        let mut buckets = Vec::new();
        let next = self.scan_buckets(cursor, &mut buckets);
        for (table, b) in buckets {
            let Some(chunk) = self.table_mut(table).chunks[b >> CHUNK_BITS].as_mut() else { continue };
            let mut node = chunk[b & (CHUNK - 1)].as_deref_mut();
            while let Some(n) = node {
                f(&mut n.item);
                node = n.next.as_deref_mut();
            }
        }
        next
    }

    /// The (table, bucket) pairs one scan step at `cursor` visits, and the next cursor.
    fn scan_buckets(&self, cursor: u64, out: &mut Vec<(u8, usize)>) -> u64 {
        if self.main.is_empty() {
            return 0;
        }
        let mut v = cursor;
        let next_cursor = |v: u64, mask: u64| (v | !mask).reverse_bits().wrapping_add(1).reverse_bits();
        if !self.rehashing() {
            let mask = (self.main.len() - 1) as u64;
            out.push((0, (v & mask) as usize));
            return next_cursor(v, mask);
        }
        let ((small, s), (large, l)) =
            if self.main.len() <= self.next.len() { ((0, &self.main), (1, &self.next)) } else { ((1, &self.next), (0, &self.main)) };
        let (m0, m1) = ((s.len() - 1) as u64, (l.len() - 1) as u64);
        out.push((small, (v & m0) as usize));
        loop {
            out.push((large, (v & m1) as usize));
            v = next_cursor(v, m1);
            if v & (m0 ^ m1) == 0 {
                break;
            }
        }
        v
    }

    /// A random element (of a uniformly chosen non-empty bucket), or `None` when empty.
    pub fn random(&self, rng: &mut fastrand::Rng) -> Option<&T> {
        if self.len == 0 {
            return None;
        }
        // Buckets of the old table below `moved` are empty: draw from the rest of both.
        let (s0, s1) = (self.main.len(), self.next.len());
        loop {
            let b = rng.usize(self.moved..s0 + s1);
            let head = if b < s0 { self.main.head(b) } else { self.next.head(b - s0) };
            let len = chain(head).count();
            if len > 0 {
                return chain(head).nth(rng.usize(..len)).map(|n| &n.item);
            }
        }
    }

    /// Iterates over all elements.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.main.heads().chain(self.next.heads()).flat_map(|h| chain(h).map(|n| &n.item))
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
    fn a_big_table_grows_a_few_buckets_per_insert_and_finishes_before_the_next_doubling() {
        let mut d = Dict::new();
        let mut rng = fastrand::Rng::with_seed(3);
        for k in 0..200_000u64 {
            let before = d.capacity();
            d.insert(h(k), k);
            if d.capacity() != before && before >= 1024 {
                assert!(d.rehashing(), "grew from {before} buckets in one insert");
                // Lookups and random draws see both tables while the move is under way.
                for j in (0..=k).step_by(97) {
                    assert!(d.find(h(j), |&x| x == j).is_some(), "{j} lost while rehashing");
                }
                for _ in 0..1000 {
                    assert!(*d.random(&mut rng).unwrap() <= k);
                }
            }
            if d.len() == d.capacity() {
                assert!(!d.rehashing(), "still rehashing when full again at {}", d.len());
            }
        }
        assert_eq!(d.iter().count(), 200_000);
        while d.rehash_steps(100) {}
        assert_eq!(d.table_bytes(), d.capacity() * 8 + 200_000 * Dict::<u64>::node_bytes());
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
