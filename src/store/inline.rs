//! Short byte strings kept inside their owner instead of in a heap object of their own: keys
//! ([`Key`]) and small string values ([`Inline`], see [`super::StrValue`]).
//!
//! A 16-byte key and a 32-byte value then live in the table's entry itself, which is most of
//! what makes a small key cost less memory here than in Redis (see `perf/RESULTS.md`).

use std::fmt;

/// Up to `N` bytes stored inline, with their length.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Inline<const N: usize> {
    len: u8,
    buf: [u8; N],
}

impl<const N: usize> Inline<N> {
    /// `b` stored inline, or `None` when it is longer than `N`.
    pub fn new(b: &[u8]) -> Option<Self> {
        if b.len() > N {
            return None;
        }
        let mut buf = [0; N];
        buf[..b.len()].copy_from_slice(b);
        Some(Inline { len: b.len() as u8, buf })
    }

    /// The stored bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

impl<const N: usize> fmt::Debug for Inline<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

/// Longest key stored inline in a [`Key`] (the whole key is 24 bytes either way).
pub const INLINE_KEY: usize = 22;

/// A key: inline up to [`INLINE_KEY`] bytes, boxed beyond. Dereferences to its bytes.
#[derive(Clone, PartialEq, Eq)]
pub enum Key {
    /// A short key, in place.
    Inline(Inline<INLINE_KEY>),
    /// A longer key, on the heap.
    Heap(Box<[u8]>),
}

impl Key {
    /// Heap bytes this key owns besides itself (MEMORY USAGE).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Key::Inline(_) => 0,
            Key::Heap(b) => b.len(),
        }
    }
}

impl From<&[u8]> for Key {
    fn from(b: &[u8]) -> Self {
        Inline::new(b).map_or_else(|| Key::Heap(b.into()), Key::Inline)
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Key::Inline(i) => i.as_slice(),
            Key::Heap(b) => b,
        }
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_inline_up_to_the_limit_and_read_back_whole() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
        for len in [0, 1, 16, INLINE_KEY, INLINE_KEY + 1, 100] {
            let bytes: Vec<u8> = (0..len as u8).collect();
            let k = Key::from(&bytes[..]);
            assert_eq!(&*k, &bytes[..]);
            assert_eq!(matches!(k, Key::Inline(_)), len <= INLINE_KEY, "length {len}");
            assert_eq!(k.heap_bytes(), if len <= INLINE_KEY { 0 } else { len });
        }
    }
}
