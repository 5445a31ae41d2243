//! Key → hash slot → shard, as Redis Cluster maps keys (CRC16/XMODEM of the key or its
//! `{hash tag}`, modulo 16384), with slots split into contiguous ranges, one per shard.

/// Number of hash slots, as Redis Cluster.
pub const SLOTS: u16 = 16384;

const CRC16: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_XMODEM);

/// The part of a key that is hashed: the text inside the first non-empty `{...}`, else the key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// The cluster hash slot of a key (CLUSTER KEYSLOT).
pub fn key_slot(key: &[u8]) -> u16 {
    CRC16.checksum(hash_tag(key)) & (SLOTS - 1)
}

/// The shard owning `slot` when there are `shards` shards.
pub fn slot_shard(slot: u16, shards: usize) -> usize {
    usize::from(slot) * shards / usize::from(SLOTS)
}

/// The shard owning `key`.
pub fn key_shard(key: &[u8], shards: usize) -> usize {
    if shards == 1 {
        return 0;
    }
    slot_shard(key_slot(key), shards)
}

/// Groups `items` by the shard owning each one's key (`key` picks it), in ascending shard
/// order, leaving out shards with none.
pub fn by_shard<T>(items: impl IntoIterator<Item = T>, key: impl Fn(&T) -> &[u8], shards: usize) -> Vec<(usize, Vec<T>)> {
    let mut per: Vec<Vec<T>> = (0..shards).map(|_| Vec::new()).collect();
    for it in items {
        per[key_shard(key(&it), shards)].push(it);
    }
    per.into_iter().enumerate().filter(|(_, v)| !v.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis_cluster() {
        // Values from `CLUSTER KEYSLOT` on a Redis Cluster node.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
    }

    #[test]
    fn shards_cover_all_slots_evenly() {
        for n in 1..=8 {
            let mut counts = vec![0usize; n];
            for s in 0..SLOTS {
                counts[slot_shard(s, n)] += 1;
            }
            let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(max - min <= 1, "{n}: {counts:?}");
        }
    }
}
