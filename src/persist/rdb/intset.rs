//! Redis's intset, both ways: element width (2, 4 or 8 bytes), count, then the integers in
//! ascending order, all little-endian.

use super::{RdbError, Result};

const BAD: RdbError = RdbError::Corrupt("intset integrity check failed");

/// The intset of `ints` (ascending, distinct), in the narrowest width that holds them all.
pub fn encode(ints: &[i64]) -> Vec<u8> {
    let fits = |lo: i64, hi: i64| ints.iter().all(|v| (lo..=hi).contains(v));
    let width: usize = if fits(i16::MIN.into(), i16::MAX.into()) {
        2
    } else if fits(i32::MIN.into(), i32::MAX.into()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * ints.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(ints.len() as u32).to_le_bytes());
    for &v in ints {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// The integers of an intset, checked as `intsetValidateIntegrity` does in deep mode: a
/// known width, a size that matches the count, at least one element, strictly ascending.
pub fn decode(blob: &[u8]) -> Result<Vec<i64>> {
    let header = blob.get(..8).ok_or(BAD)?;
    let width = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let count = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    if ![2, 4, 8].contains(&width) || count == 0 || count.checked_mul(width).and_then(|n| n.checked_add(8)) != Some(blob.len()) {
        return Err(BAD);
    }
    let ints: Vec<i64> = blob[8..]
        .chunks_exact(width)
        .map(|c| match width {
            2 => i64::from(i16::from_le_bytes([c[0], c[1]])),
            4 => i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            _ => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
        })
        .collect();
    if ints.windows(2).any(|w| w[0] >= w[1]) {
        return Err(BAD);
    }
    Ok(ints)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_width_boundary_round_trips() {
        for (ints, width) in [
            (vec![-32768, 0, 32767], 2),
            (vec![-32769, 5], 4),
            (vec![1, 32768], 4),
            (vec![i64::from(i32::MIN), i64::from(i32::MAX)], 4),
            (vec![i64::from(i32::MIN) - 1], 8),
            (vec![i64::MIN, -1, i64::MAX], 8),
        ] {
            let blob = encode(&ints);
            assert_eq!(blob[0] as usize, width, "{ints:?}");
            assert_eq!(blob.len(), 8 + width * ints.len());
            assert_eq!(decode(&blob).unwrap(), ints);
        }
    }

    #[test]
    fn corrupt_intsets_are_refused() {
        let good = encode(&[1, 2, 3]);
        let mut unsorted = good.clone();
        unsorted[8] = 9;
        let mut width = good.clone();
        width[0] = 3;
        let mut count = good.clone();
        count[4] = 4;
        for bad in [&unsorted[..], &width, &count, &good[..9], &encode(&[])] {
            assert!(matches!(decode(bad), Err(RdbError::Corrupt(_))));
        }
        assert!(decode(&encode(&[5, 5])).is_err(), "duplicates");
    }
}
