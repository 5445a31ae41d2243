//! A packed sequence of byte strings, each stored as `varint length, bytes` in one buffer:
//! the compact encoding behind list chunks and small hashes (Redis's listpack).
//! Lookups walk the buffer, so it is meant for short sequences.

/// A packed sequence of byte strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packed {
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

impl Packed {
    /// An empty sequence.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the packed buffer in bytes.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.data.capacity()
    }

    /// The elements in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            (at < self.data.len()).then(|| {
                let (s, e) = element_at(&self.data, at);
                at = e;
                &self.data[s..e]
            })
        })
    }

    /// Byte range of the whole encoded element `i`.
    fn span(&self, i: usize) -> (usize, usize) {
        let mut at = 0;
        for _ in 0..i {
            at = element_at(&self.data, at).1;
        }
        (at, element_at(&self.data, at).1)
    }

    /// Element `i` (< len).
    pub fn get(&self, i: usize) -> &[u8] {
        let (at, end) = self.span(i);
        let (s, _) = element_at(&self.data, at);
        &self.data[s..end]
    }

    /// Appends an element.
    pub fn push(&mut self, v: &[u8]) {
        put_varint(&mut self.data, v.len());
        self.data.extend_from_slice(v);
        self.count += 1;
    }

    /// Inserts `v` as element `i` (`i == len` appends).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        if i == self.count {
            return self.push(v);
        }
        let at = self.span(i).0;
        self.data.splice(at..at, encoded(v));
        self.count += 1;
    }

    /// Removes and returns element `i` (< len).
    pub fn remove(&mut self, i: usize) -> Vec<u8> {
        let (at, end) = self.span(i);
        let (s, _) = element_at(&self.data, at);
        let v = self.data[s..end].to_vec();
        self.data.drain(at..end);
        self.count -= 1;
        v
    }

    /// Removes `n` elements starting at element `i`.
    pub fn remove_run(&mut self, i: usize, n: usize) {
        let start = self.span(i).0;
        let mut end = start;
        for _ in 0..n {
            end = element_at(&self.data, end).1;
        }
        self.data.drain(start..end);
        self.count -= n;
    }

    /// Replaces element `i` (< len).
    pub fn replace(&mut self, i: usize, v: &[u8]) {
        let (at, end) = self.span(i);
        self.data.splice(at..end, encoded(v));
    }

    /// Moves elements `i..` into a new sequence.
    pub fn split_off(&mut self, i: usize) -> Packed {
        let at = if i == self.count { self.data.len() } else { self.span(i).0 };
        let tail = Packed { data: self.data.split_off(at), count: self.count - i };
        self.count = i;
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_of_every_length_class_round_trip() {
        let mut p = Packed::new();
        let vals: Vec<Vec<u8>> = [0usize, 1, 127, 128, 300, 20_000].iter().map(|&n| vec![b'x'; n]).collect();
        for v in &vals {
            p.push(v);
        }
        assert_eq!(p.iter().collect::<Vec<_>>(), vals.iter().map(Vec::as_slice).collect::<Vec<_>>());
        p.insert(2, b"mid");
        assert_eq!(p.get(2), b"mid");
        p.replace(2, &[b'y'; 200]);
        assert_eq!(p.get(2), &[b'y'; 200][..]);
        assert_eq!(p.remove(2), vec![b'y'; 200]);
        p.remove_run(1, 3);
        assert_eq!(p.iter().map(<[u8]>::len).collect::<Vec<_>>(), vec![0, 300, 20_000]);
        let tail = p.split_off(1);
        assert_eq!((p.len(), tail.len(), tail.get(1).len()), (1, 2, 20_000));
    }
}
