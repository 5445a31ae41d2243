//! Lists: a chain of packed chunks (Redis's quicklist), not one heap object per element.
//!
//! Each chunk holds up to [`CHUNK_BYTES`] of elements packed as `varint length, bytes`, like a
//! listpack node. Pushes and pops at either end touch one chunk; an index walks the chunk
//! counts and then one chunk.

use std::collections::VecDeque;

use super::packed::Packed;

/// Bytes a chunk may grow to before a new one starts (Redis's list-max-listpack-size -2: 8 KiB).
pub const CHUNK_BYTES: usize = 8 * 1024;

/// A list of byte strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct List {
    chunks: VecDeque<Packed>,
    len: usize,
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
        if self.chunks.front().is_none_or(|c| c.bytes() + v.len() + 2 > CHUNK_BYTES) {
            self.chunks.push_front(Packed::default());
        }
        self.chunks[0].insert(0, v);
        self.len += 1;
    }

    /// Adds an element at the tail.
    pub fn push_back(&mut self, v: &[u8]) {
        if self.chunks.back().is_none_or(|c| c.bytes() + v.len() + 2 > CHUNK_BYTES) {
            self.chunks.push_back(Packed::default());
        }
        let last = self.chunks.len() - 1;
        self.chunks[last].push(v);
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
                if i < chunk.len() {
                    return (c, i);
                }
                i -= chunk.len();
            }
        } else {
            let mut from_end = self.len - 1 - i;
            for (c, chunk) in self.chunks.iter().enumerate().rev() {
                if from_end < chunk.len() {
                    return (c, chunk.len() - 1 - from_end);
                }
                from_end -= chunk.len();
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
        if self.chunks[c].is_empty() {
            self.chunks.remove(c);
        }
        self.len -= 1;
        v
    }

    fn split_chunk(&mut self, c: usize) {
        let chunk = &mut self.chunks[c];
        if chunk.bytes() > CHUNK_BYTES && chunk.len() > 1 {
            let tail = chunk.split_off(chunk.len() / 2);
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
            let count = self.chunks[0].len();
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
            let count = self.chunks[self.chunks.len() - 1].len();
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
        self.chunks.iter().map(|c| c.heap_bytes() + std::mem::size_of::<Packed>()).sum()
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
        assert!(l.chunks.iter().all(|c| !c.is_empty() && c.iter().count() == c.len()));
        assert_eq!(l.chunks.iter().map(Packed::len).sum::<usize>(), l.len());
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
