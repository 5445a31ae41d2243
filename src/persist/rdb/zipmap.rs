//! Redis 2.4's zipmap (hashes of the oldest files), read only: a count byte, then for each
//! pair a key length, the key, a value length, a count of free bytes, the value and the free
//! bytes, then 0xFF.

use super::{RdbError, Result};

const BIGLEN: u8 = 254;
const END: u8 = 0xFF;

const BAD: RdbError = RdbError::Corrupt("zipmap integrity check failed");

/// Reads a zipmap length at `*at`: `None` at the terminator.
fn len_at(zm: &[u8], at: &mut usize) -> Result<Option<usize>> {
    match *zm.get(*at).ok_or(BAD)? {
        END => Ok(None),
        BIGLEN => {
            let b = zm.get(*at + 1..*at + 5).ok_or(BAD)?;
            *at += 5;
            Ok(Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize))
        }
        n => {
            *at += 1;
            Ok(Some(usize::from(n)))
        }
    }
}

/// Every (field, value) pair of a zipmap, checked as `zipmapValidateIntegrity` does: bounds,
/// the count when it is known (below 254), the terminator as the last byte.
pub fn parse(zm: &[u8]) -> Result<Vec<(&[u8], &[u8])>> {
    let count = *zm.first().ok_or(BAD)?;
    let mut at = 1;
    let mut out = Vec::new();
    let take = |at: &mut usize, n: usize| -> Result<&[u8]> {
        let s = zm.get(*at..at.checked_add(n).ok_or(BAD)?).ok_or(BAD)?;
        *at += n;
        Ok(s)
    };
    while let Some(klen) = len_at(zm, &mut at)? {
        let key = take(&mut at, klen)?;
        let vlen = len_at(zm, &mut at)?.ok_or(BAD)?;
        let free = usize::from(take(&mut at, 1)?[0]);
        let value = take(&mut at, vlen)?;
        take(&mut at, free)?;
        out.push((key, value));
    }
    if at + 1 != zm.len() || (count < BIGLEN && usize::from(count) != out.len()) {
        return Err(BAD);
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A zipmap of `pairs` (for tests of old files), with a free byte after each value.
    pub(crate) fn encode(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut zm = vec![pairs.len().min(254) as u8];
        let put_len = |zm: &mut Vec<u8>, n: usize| {
            if n < usize::from(BIGLEN) {
                zm.push(n as u8);
            } else {
                zm.push(BIGLEN);
                zm.extend_from_slice(&(n as u32).to_le_bytes());
            }
        };
        for (k, v) in pairs {
            put_len(&mut zm, k.len());
            zm.extend_from_slice(k);
            put_len(&mut zm, v.len());
            zm.push(1);
            zm.extend_from_slice(v);
            zm.push(0);
        }
        zm.push(END);
        zm
    }

    #[test]
    fn pairs_are_read_and_damage_is_refused() {
        let big = vec![b'v'; 300];
        let pairs: Vec<(&[u8], &[u8])> = vec![(b"a", b"1"), (b"name", &big), (b"", b"")];
        let zm = encode(&pairs);
        assert_eq!(parse(&zm).unwrap(), pairs);
        let mut count = zm.clone();
        count[0] = 2;
        assert!(parse(&count).is_err());
        assert!(parse(&zm[..zm.len() - 1]).is_err());
        let mut extra = zm.clone();
        extra.push(0);
        assert!(parse(&extra).is_err());
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..3000 {
            let mut bad = zm.clone();
            let i = rng.usize(..bad.len());
            bad[i] = rng.u8(..);
            let _ = parse(&bad);
        }
    }
}
