//! Lists: a chain of packed chunks (Redis's quicklist), not one heap object per element.
//!
//! Each chunk holds up to [`CHUNK_BYTES`] of elements packed as `varint length, bytes`, like a
//! listpack node. Pushes and pops at either end touch one chunk; an index walks the chunk
//! counts and then one chunk.

use std::collections::VecDeque;

/// Bytes a chunk may grow to before a new one starts (Redis's list-max-listpack-size -2: 8 KiB).
pub const CHUNK_BYTES: usize = 8 * 1024;

/// A list of byte strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
}

/// One packed run of elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Chunk {
    data: Vec<u8>,
    count: usize,
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Decodes the element at byte offset `at`: (start of its bytes, end of its bytes).
fn element_at(data: &[u8], at: usize) -> (usize, usize) {
    let (mut n, mut shift, mut i) = (0usize, 0, at);
    loop {
        let b = data[i];
        n |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            return (i, i + n);
        }
        shift += 7;
    }
}

fn encoded(v: &[u8]) -> Vec<u8> {
    let mut e = Vec::with_capacity(v.len() + 2);
    put_varint(&mut e, v.len());
    e.extend_from_slice(v);
    e
}

impl Chunk {
    fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            (at < self.data.len()).then(|| {
                let (s, e) = element_at(&self.data, at);
                at = e;
                &self.data[s..e]
            })
        })
    }

    /// Byte range (whole encoded element) of element `i`.
    fn span(&self, i: usize) -> (usize, usize) {
        let mut at = 0;
        for _ in 0..i {
            at = element_at(&self.data, at).1;
        }
        (at, element_at(&self.data, at).1)
    }

    fn get(&self, i: usize) -> &[u8] {
        let (at, end) = self.span(i);
        let (s, _) = element_at(&self.data, at);
        &self.data[s..end]
    }

    fn insert(&mut self, i: usize, v: &[u8]) {
        let at = if i == self.count { self.data.len() } else { self.span(i).0 };
        self.data.splice(at..at, encoded(v));
        self.count += 1;
    }

    fn remove(&mut self, i: usize) -> Vec<u8> {
        let (at, end) = self.span(i);
        let (s, _) = element_at(&self.data, at);
        let v = self.data[s..end].to_vec();
        self.data.drain(at..end);
        self.count -= 1;
        v
    }

    fn replace(&mut self, i: usize, v: &[u8]) {
        let (at, end) = self.span(i);
        self.data.splice(at..end, encoded(v));
    }

    /// Splits off the second half when the chunk outgrew its size.
    fn split_if_big(&mut self) -> Option<Chunk> {
        if self.data.len() <= CHUNK_BYTES || self.count < 2 {
            return None;
        }
        let half = self.count / 2;
        let at = self.span(half).0;
        let tail = Chunk { data: self.data.split_off(at), count: self.count - half };
        self.count = half;
        Some(tail)
    }
}

impl List {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds an element at the head.
    pub fn push_front(&mut self, v: &[u8]) {
        if self.chunks.front().is_none_or(|c| c.data.len() + v.len() + 2 > CHUNK_BYTES) {
            self.chunks.push_front(Chunk::default());
        }
        self.chunks[0].insert(0, v);
        self.len += 1;
    }

    /// Adds an element at the tail.
    pub fn push_back(&mut self, v: &[u8]) {
        if self.chunks.back().is_none_or(|c| c.data.len() + v.len() + 2 > CHUNK_BYTES) {
            self.chunks.push_back(Chunk::default());
        }
        let last = self.chunks.len() - 1;
        let c = &mut self.chunks[last];
        c.insert(c.count, v);
        self.len += 1;
    }

    /// Removes and returns the head element.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        (self.len > 0).then(|| self.remove(0))
    }

    /// Removes and returns the tail element.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        (self.len > 0).then(|| self.remove(self.len - 1))
    }

    /// Chunk and position within it of element `i` (< len), walking from the nearer end.
    fn locate(&self, i: usize) -> (usize, usize) {
        if i < self.len / 2 {
            let mut i = i;
            for (c, chunk) in self.chunks.iter().enumerate() {
                if i < chunk.count {
                    return (c, i);
                }
                i -= chunk.count;
            }
        } else {
            let mut from_end = self.len - 1 - i;
            for (c, chunk) in self.chunks.iter().enumerate().rev() {
                if from_end < chunk.count {
                    return (c, chunk.count - 1 - from_end);
                }
                from_end -= chunk.count;
            }
        }
        unreachable!("index {i} within a list of {}", self.len)
    }

    /// Element `i` from the head, if there is one.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        (i < self.len).then(|| {
            let (c, p) = self.locate(i);
            self.chunks[c].get(p)
        })
    }

    /// Replaces element `i`; false when out of range.
    pub fn set(&mut self, i: usize, v: &[u8]) -> bool {
        if i >= self.len {
            return false;
        }
        let (c, p) = self.locate(i);
        self.chunks[c].replace(p, v);
        self.split_chunk(c);
        true
    }

    /// Inserts `v` so that it becomes element `i` (`i == len` appends).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        if i == self.len {
            return self.push_back(v);
        }
        let (c, p) = self.locate(i);
        self.chunks[c].insert(p, v);
        self.len += 1;
        self.split_chunk(c);
    }

    /// Removes and returns element `i` (< len).
    pub fn remove(&mut self, i: usize) -> Vec<u8> {
        let (c, p) = self.locate(i);
        let v = self.chunks[c].remove(p);
        if self.chunks[c].count == 0 {
            self.chunks.remove(c);
        }
        self.len -= 1;
        v
    }

    fn split_chunk(&mut self, c: usize) {
        if let Some(tail) = self.chunks[c].split_if_big() {
            self.chunks.insert(c + 1, tail);
        }
    }

    /// Elements from head to tail.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        // Chunks are small, so walking one backwards collects it first.
        self.chunks.iter().flat_map(|c| c.iter().collect::<Vec<_>>())
    }

    /// Keeps only the elements for which `keep` is true; returns how many were removed.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) -> usize {
        let before = self.len;
        let mut out = List::new();
        for v in self.iter() {
            if keep(v) {
                out.push_back(v);
            }
        }
        *self = out;
        before - self.len
    }

    /// Removes `n` elements from the head (or all there are).
    pub fn drop_front(&mut self, n: usize) {
        let mut n = n.min(self.len);
        while n > 0 {
            let count = self.chunks[0].count;
            if count <= n {
                self.chunks.pop_front();
                self.len -= count;
                n -= count;
            } else {
                self.remove(0);
                n -= 1;
            }
        }
    }

    /// Removes `n` elements from the tail (or all there are).
    pub fn drop_back(&mut self, n: usize) {
        let mut n = n.min(self.len);
        while n > 0 {
            let count = self.chunks[self.chunks.len() - 1].count;
            if count <= n {
                self.chunks.pop_back();
                self.len -= count;
                n -= count;
            } else {
                self.remove(self.len - 1);
                n -= 1;
            }
        }
    }

    /// Approximate heap bytes used (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.data.capacity() + std::mem::size_of::<Chunk>()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(l: &List, model: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), model.len());
        let got: Vec<&[u8]> = l.iter().collect();
        let want: Vec<&[u8]> = model.iter().map(Vec::as_slice).collect();
        assert_eq!(got, want);
        let back: Vec<&[u8]> = l.iter().rev().collect();
        assert_eq!(back, want.iter().rev().copied().collect::<Vec<_>>());
        assert!(l.chunks.iter().all(|c| c.count > 0 && c.iter().count() == c.count));
        assert_eq!(l.chunks.iter().map(|c| c.count).sum::<usize>(), l.len());
    }

    #[test]
    fn random_operations_match_a_vecdeque_model() {
        let mut rng = fastrand::Rng::with_seed(42);
        let mut l = List::new();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        for step in 0..20_000 {
            // Element sizes from empty to 300 bytes (varint lengths of 1 and 2 bytes), so
            // chunks fill, split and empty.
            let max = if rng.bool() { 8 } else { 300 };
            let n = rng.usize(..max);
            let v: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
            let i = if model.is_empty() { 0 } else { rng.usize(..model.len()) };
            match rng.u8(..10) {
                0 | 1 => {
                    l.push_front(&v);
                    model.push_front(v);
                }
                2 | 3 => {
                    l.push_back(&v);
                    model.push_back(v);
                }
                4 => assert_eq!(l.pop_front(), model.pop_front()),
                5 => assert_eq!(l.pop_back(), model.pop_back()),
                6 => {
                    let i = rng.usize(..=model.len());
                    l.insert(i, &v);
                    model.insert(i, v);
                }
                7 if !model.is_empty() => assert_eq!(l.remove(i), model.remove(i).unwrap()),
                8 if !model.is_empty() => {
                    assert!(l.set(i, &v));
                    model[i] = v;
                }
                _ => {
                    assert_eq!(l.get(i), model.get(i).map(Vec::as_slice));
                    assert_eq!(l.get(model.len()), None);
                }
            }
            if step % 500 == 0 {
                check(&l, &model);
            }
        }
        check(&l, &model);
        let n = model.len();
        l.drop_front(n / 3);
        model.drain(..n / 3);
        l.drop_back(n / 3);
        model.truncate(model.len() - n / 3);
        check(&l, &model);
        let removed = l.retain(|v| v.len() % 2 == 0);
        let before = model.len();
        model.retain(|v| v.len() % 2 == 0);
        assert_eq!(removed, before - model.len());
        check(&l, &model);
    }

    #[test]
    fn many_small_elements_share_chunks() {
        let mut l = List::new();
        for i in 0..100_000u32 {
            l.push_back(&i.to_le_bytes());
        }
        // 5 bytes per element packed: about 1,600 per 8 KiB chunk.
        assert!(l.chunks.len() < 70, "{} chunks", l.chunks.len());
        assert_eq!(l.get(54_321), Some(&54_321u32.to_le_bytes()[..]));
    }
}
