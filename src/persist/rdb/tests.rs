//! Round trips of every type and encoding through payloads and files, old encodings, and
//! damaged input.

use super::wire::write_len;
use super::*;
use crate::store::{Entry, Hash, List, Set, StrValue, Value, ZSet};

fn limits() -> Limits {
    Limits::default()
}

fn list(items: &[&[u8]]) -> Value {
    let mut l = List::new();
    items.iter().for_each(|i| l.push_back(i));
    Value::List(Box::new(l))
}

fn set(items: &[&[u8]]) -> Value {
    let mut s = Set::new();
    items.iter().for_each(|i| {
        s.insert(i, 512);
    });
    Value::Set(Box::new(s))
}

fn hash(pairs: &[(&[u8], &[u8])]) -> Value {
    let mut h = Hash::new();
    pairs.iter().for_each(|(f, v)| {
        h.set(f, v, limits().hash);
    });
    Value::Hash(Box::new(h))
}

fn zset(pairs: &[(&[u8], f64)]) -> Value {
    let mut z = ZSet::new();
    pairs.iter().for_each(|(m, s)| {
        z.insert(m, *s, limits().zset);
    });
    Value::ZSet(Box::new(z))
}

/// Contents in a canonical order, whatever the encoding.
fn contents(v: &Value) -> (String, Vec<Vec<u8>>) {
    let mut items: Vec<Vec<u8>> = match v {
        Value::Str(s) => vec![s.as_bytes().into_owned()],
        Value::List(l) => return ("list".into(), l.iter().map(<[u8]>::to_vec).collect()),
        Value::Set(s) => s.iter().map(|m| m.into_owned()).collect(),
        Value::Hash(h) => h.iter().map(|(f, v)| [f, b"=", v].concat()).collect(),
        Value::ZSet(z) => {
            return ("zset".into(), z.iter_from(0, false).map(|(s, m)| [&m[..], b"=", s.to_string().as_bytes()].concat()).collect())
        }
    };
    items.sort();
    (v.type_name().into(), items)
}

fn samples() -> Vec<Value> {
    let big: Vec<Vec<u8>> = (0..1000).map(|i| format!("element-{i}").into_bytes()).collect();
    let big_refs: Vec<&[u8]> = big.iter().map(Vec::as_slice).collect();
    let long = vec![b'x'; 100];
    let ints: Vec<Vec<u8>> = (0..600).map(|i: i64| (i * 1_000_003 - 300).to_string().into_bytes()).collect();
    let int_refs: Vec<&[u8]> = ints.iter().map(Vec::as_slice).collect();
    let pairs: Vec<(&[u8], &[u8])> = big_refs.iter().map(|m| (*m, &b"v"[..])).collect();
    let scored: Vec<(&[u8], f64)> = big_refs.iter().enumerate().map(|(i, m)| (*m, i as f64 / 3.0)).collect();
    vec![
        Value::Str(StrValue::from_input(b"12")),
        Value::Str(StrValue::from_input(b"-70000")),
        Value::Str(StrValue::from_input(b"9223372036854775807")),
        Value::Str(StrValue::from_input(b"hello")),
        Value::Str(StrValue::from_input(&long)),
        Value::Str(StrValue::from_input(b"")),
        list(&[b"a", b"1", b"-5000", b"", &long]),
        list(&big_refs),
        set(&[b"1", b"-2", b"300000", b"9223372036854775807"]),
        set(&[b"a", b"1"]),
        set(&int_refs),
        hash(&[(b"f", b"v"), (b"n", b"12")]),
        hash(&pairs),
        hash(&[(b"f", &long)]),
        zset(&[(b"a", 1.0), (b"b", -2.5), (b"c", f64::INFINITY), (b"d", 0.1), (b"e", 1e300)]),
        zset(&scored),
    ]
}

#[test]
fn every_type_and_encoding_round_trips_through_a_payload() {
    for compress in [true, false] {
        let opts = EncodeOptions { compress, ..EncodeOptions::default() };
        for v in samples() {
            let p = payload::dump(&v, &opts);
            let back = payload::restore(&p, &limits()).unwrap();
            assert_eq!(contents(&back), contents(&v));
            assert_eq!(back.encoding(), v.encoding(), "{:?}", contents(&v).1.first());
            // Encoding again gives the same bytes (lists are cut alike, packed orders kept).
            if !matches!(v, Value::Set(ref s) if matches!(**s, Set::Table(_)))
                && !matches!(v, Value::Hash(ref h) if matches!(**h, Hash::Table(_)))
            {
                assert_eq!(payload::dump(&back, &opts), p);
            }
        }
    }
}

#[test]
fn payloads_match_redis_byte_for_byte() {
    // DUMP of redis-server 7.0.15 after SET k 12; RPUSH l a 1; SADD s 1 2; HSET h f v; ZADD z 1.5 a.
    let opts = EncodeOptions::default();
    let cases: [(Value, &[u8]); 4] = [
        (Value::Str(StrValue::from_input(b"12")), b"\x00\xc0\x0c"),
        (list(&[b"a", b"1"]), b"\x12\x01\x02\x0c\x0c\x00\x00\x00\x02\x00\x81a\x02\x01\x01\xff"),
        (set(&[b"1", b"2"]), b"\x0b\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x02\x00"),
        (hash(&[(b"f", b"v")]), b"\x10\x0d\x0d\x00\x00\x00\x02\x00\x81f\x02\x81v\x02\xff"),
    ];
    for (v, body) in cases {
        let p = payload::dump(&v, &opts);
        assert_eq!(&p[..p.len() - 10], body);
    }
    let z = payload::dump(&zset(&[(b"a", 1.5)]), &opts);
    assert_eq!(&z[..z.len() - 10], b"\x11\x0f\x0f\x00\x00\x00\x02\x00\x81a\x02\x831.5\x04\xff");
}

#[test]
fn loaded_values_take_the_encodings_redis_would() {
    let opts = EncodeOptions::default();
    let small =
        Limits { hash: PackLimits { entries: 1, value: 64 }, zset: PackLimits { entries: 1, value: 64 }, set_max_intset: 1, list_fill: -2 };
    for v in [hash(&[(b"a", b"1"), (b"b", b"2")]), zset(&[(b"a", 1.0), (b"b", 2.0)]), set(&[b"1", b"2"])] {
        let back = payload::restore(&payload::dump(&v, &opts), &small).unwrap();
        assert_eq!(contents(&back), contents(&v));
        assert!(["hashtable", "skiplist"].contains(&back.encoding()), "{}", back.encoding());
    }
    // A table-encoded zset that fits is packed after load; a table-encoded hash stays a table.
    let mut z = ZSet::new_sorted();
    z.insert(b"m", 1.0, limits().zset);
    let back = payload::restore(&payload::dump(&Value::ZSet(Box::new(z)), &opts), &limits()).unwrap();
    assert_eq!(back.encoding(), "listpack");
}

#[test]
fn long_lists_are_cut_into_nodes_as_redis_does() {
    // Node counts from DEBUG OBJECT's ql_nodes on redis-server 7.0.15 after the same RPUSH.
    let items: Vec<Vec<u8>> = (0..5000).map(|i| format!("item-{i:04}").into_bytes()).collect();
    let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
    let v = list(&refs);
    for (fill, nodes) in [(-2, 7), (-1, 14), (100, 50), (1, 5000)] {
        let opts = EncodeOptions { list_fill: fill, compress: false, ..EncodeOptions::default() };
        let p = payload::dump(&v, &opts);
        let mut input = wire::Input::new(&p[1..]);
        assert_eq!(input.len().unwrap(), nodes, "fill {fill}");
        assert_eq!(contents(&payload::restore(&p, &limits()).unwrap()), contents(&v));
    }
}

#[test]
fn payload_footers_are_checked() {
    let p = payload::dump(&Value::Str(StrValue::from_input(b"v")), &EncodeOptions::default());
    let mut bad_crc = p.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    let mut newer = p.clone();
    let n = newer.len();
    newer[n - 10] = 11;
    for bad in [&bad_crc[..], &newer, &p[..9]] {
        assert!(matches!(payload::restore(bad, &limits()), Err(RdbError::PayloadFooter)));
    }
}

/// A payload of type `t` with `body`, sealed with a good footer.
fn sealed(t: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![t];
    out.extend_from_slice(body);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn string_of(blob: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    wire::write_string(&mut out, blob, false);
    out
}

#[test]
fn old_encodings_are_read() {
    let l = limits();
    // A linked list, a plain set, a zset with text scores, a plain hash.
    let mut body = Vec::new();
    write_len(&mut body, 2);
    body.extend(string_of(b"a"));
    body.extend(string_of(b"b"));
    assert_eq!(contents(&payload::restore(&sealed(types::LIST, &body), &l).unwrap()), contents(&list(&[b"a", b"b"])));
    assert_eq!(payload::restore(&sealed(types::SET, &body), &l).unwrap().encoding(), "hashtable");
    let mut zbody = Vec::new();
    write_len(&mut zbody, 2);
    zbody.extend(string_of(b"a"));
    zbody.extend_from_slice(b"\x031.5");
    zbody.extend(string_of(b"b"));
    zbody.push(254);
    let z = payload::restore(&sealed(types::ZSET, &zbody), &l).unwrap();
    assert_eq!(contents(&z), contents(&zset(&[(b"a", 1.5), (b"b", f64::INFINITY)])));
    assert_eq!(z.encoding(), "listpack");
    // Ziplists and zipmaps.
    let zl = ziplist::tests::encode(&[b"f", b"1", b"g", b"hello"]);
    let h = payload::restore(&sealed(types::HASH_ZIPLIST, &string_of(&zl)), &l).unwrap();
    assert_eq!(contents(&h), contents(&hash(&[(b"f", b"1"), (b"g", b"hello")])));
    let zl = ziplist::tests::encode(&[b"m", b"2", b"n", b"1.25"]);
    let z = payload::restore(&sealed(types::ZSET_ZIPLIST, &string_of(&zl)), &l).unwrap();
    assert_eq!(contents(&z), contents(&zset(&[(b"m", 2.0), (b"n", 1.25)])));
    let zl = ziplist::tests::encode(&[b"x", b"7"]);
    let one = payload::restore(&sealed(types::LIST_ZIPLIST, &string_of(&zl)), &l).unwrap();
    assert_eq!(contents(&one), contents(&list(&[b"x", b"7"])));
    let mut ql = Vec::new();
    write_len(&mut ql, 2);
    ql.extend(string_of(&zl));
    ql.extend(string_of(&ziplist::tests::encode(&[b"y"])));
    let q = payload::restore(&sealed(types::LIST_QUICKLIST, &ql), &l).unwrap();
    assert_eq!(contents(&q), contents(&list(&[b"x", b"7", b"y"])));
    let zm = zipmap::tests::encode(&[(b"k", b"v"), (b"k2", b"v2")]);
    let h = payload::restore(&sealed(types::HASH_ZIPMAP, &string_of(&zm)), &l).unwrap();
    assert_eq!(contents(&h), contents(&hash(&[(b"k", b"v"), (b"k2", b"v2")])));
    // A plain quicklist node.
    let mut plain = Vec::new();
    write_len(&mut plain, 1);
    write_len(&mut plain, CONTAINER_PLAIN);
    plain.extend(string_of(b"big"));
    assert_eq!(contents(&payload::restore(&sealed(types::LIST_QUICKLIST_2, &plain), &l).unwrap()), contents(&list(&[b"big"])));
}

#[test]
fn bad_values_are_typed_errors() {
    let l = limits();
    let restore = |t: u8, body: &[u8]| payload::restore(&sealed(t, body), &l);
    let dup_lp = listpack::encode([&b"f"[..], b"1", b"f", b"2"]);
    assert!(matches!(restore(types::HASH_LISTPACK, &string_of(&dup_lp)), Err(RdbError::Corrupt(_))));
    assert!(matches!(restore(types::ZSET_LISTPACK, &string_of(&dup_lp)), Err(RdbError::Corrupt(_))));
    let odd = listpack::encode([&b"f"[..]]);
    assert!(matches!(restore(types::HASH_LISTPACK, &string_of(&odd)), Err(RdbError::Corrupt(_))));
    let nan = listpack::encode([&b"m"[..], b"nan"]);
    assert!(matches!(restore(types::ZSET_LISTPACK, &string_of(&nan)), Err(RdbError::Corrupt(_))));
    let mut dup_set = Vec::new();
    write_len(&mut dup_set, 2);
    dup_set.extend(string_of(b"a"));
    dup_set.extend(string_of(b"a"));
    assert!(matches!(restore(types::SET, &dup_set), Err(RdbError::Corrupt(_))));
    assert!(matches!(restore(types::SET, &[0]), Err(RdbError::EmptyKey)));
    let empty = listpack::encode([]);
    assert!(matches!(restore(types::HASH_LISTPACK, &string_of(&empty)), Err(RdbError::EmptyKey)));
    for t in [types::MODULE_2, types::STREAM_LISTPACKS, types::STREAM_LISTPACKS_2, 8, 20, 200] {
        assert!(matches!(restore(t, b"\x00"), Err(RdbError::UnsupportedType(x)) if x == t));
    }
    assert!(matches!(restore(types::STRING, b"\x05ab"), Err(RdbError::Truncated)));
}

fn entry(key: &str, v: Value, expire_at: u64) -> Entry {
    Entry::new(key.as_bytes(), v, expire_at, 1_000_000)
}

fn write_file(entries: &[(usize, Entry)], opts: &EncodeOptions, checksum: bool) -> Vec<u8> {
    let mut enc = FileEncoder::new(Vec::new(), checksum, opts.compress);
    let aux = AuxFields { ctime: 1_700_000_000, used_mem: 123_456_789_012, ..AuxFields::default() };
    enc.header(&aux, [&b"#!lua name=lib\nredis.register_function('f', function() return 1 end)"[..]]).unwrap();
    enc.select_db(0, Some((2, 1))).unwrap();
    for (db, e) in entries {
        enc.entry(*db, e, opts).unwrap();
    }
    enc.finish().unwrap()
}

fn read_file(bytes: &[u8], now_ms: u64) -> Result<Vec<Item>> {
    FileDecoder::new(bytes, LoadOptions { limits: limits(), now_ms })?.collect()
}

#[test]
fn files_round_trip_across_databases() {
    let mut entries = Vec::new();
    for (i, v) in samples().into_iter().enumerate() {
        // Databases back and forth: 0, 3, 0, 3...
        entries.push((i % 2 * 3, entry(&format!("key{i}"), v, if i % 3 == 0 { 2_000_000 + i as u64 } else { 0 })));
    }
    for (usage, checksum) in [(KeyUsage::None, true), (KeyUsage::Idle, false), (KeyUsage::Freq, true)] {
        let opts = EncodeOptions { usage, now_ms: 1_060_000, ..EncodeOptions::default() };
        let file = write_file(&entries, &opts, checksum);
        assert_eq!(&file[..9], b"REDIS0010");
        if !checksum {
            assert_eq!(&file[file.len() - 8..], &[0; 8]);
        }
        let items = read_file(&file, 2_000_000).unwrap();
        let aux: Vec<(Vec<u8>, Vec<u8>)> =
            items.iter().filter_map(|i| if let Item::Aux { key, value } = i { Some((key.clone(), value.clone())) } else { None }).collect();
        assert_eq!(aux[0], (b"redis-ver".to_vec(), b"7.0.15".to_vec()));
        assert!(aux.contains(&(b"used-mem".to_vec(), b"123456789012".to_vec())));
        assert!(aux.contains(&(b"aof-base".to_vec(), b"0".to_vec())));
        assert_eq!(items.iter().filter(|i| matches!(i, Item::Function(_))).count(), 1);
        assert!(items.iter().any(|i| matches!(i, Item::ResizeDb { db: 0, keys: 2, expires: 1 })));
        let got: Vec<(usize, &Entry)> =
            items.iter().filter_map(|i| if let Item::Entry { db, entry } = i { Some((*db, entry)) } else { None }).collect();
        assert_eq!(got.len(), entries.len());
        for ((db, want), (got_db, got)) in entries.iter().zip(got) {
            assert_eq!((*db, &want.key, want.expire_at), (got_db, &got.key, got.expire_at));
            assert_eq!(contents(&got.value), contents(&want.value));
            match usage {
                // Idle for 60 s at the save, loaded at 2,000,000: accessed at 1,940,000.
                KeyUsage::Idle => assert_eq!(got.access, crate::store::lru_clock(1_940_000)),
                KeyUsage::Freq => assert_eq!(got.lfu.decayed(2_000_000, crate::store::LfuMode::default()), 5),
                KeyUsage::None => assert_eq!(got.access, crate::store::lru_clock(2_000_000)),
            }
        }
    }
}

#[test]
fn producers_chunks_make_one_file() {
    let opts = EncodeOptions::default();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    encode_entry(&mut a, &entry("a", Value::Str(StrValue::from_input(b"1")), 0), &opts);
    encode_entry(&mut b, &entry("b", Value::Str(StrValue::from_input(b"2")), 0), &opts);
    let mut enc = FileEncoder::new(Vec::new(), true, true);
    enc.header(&AuxFields::default(), []).unwrap();
    enc.chunk(1, &a).unwrap();
    enc.chunk(1, &b).unwrap();
    enc.chunk(0, &a).unwrap();
    let file = enc.finish().unwrap();
    let dbs: Vec<(usize, Vec<u8>)> = read_file(&file, 0)
        .unwrap()
        .into_iter()
        .filter_map(|i| if let Item::Entry { db, entry } = i { Some((db, entry.key.to_vec())) } else { None })
        .collect();
    assert_eq!(dbs, vec![(1, b"a".to_vec()), (1, b"b".to_vec()), (0, b"a".to_vec())]);
    assert_eq!(file.iter().filter(|&&b| b == opcodes::SELECTDB).count(), 2);
}

#[test]
fn file_damage_is_an_error() {
    let file = write_file(&[(0, entry("k", Value::Str(StrValue::from_input(b"v")), 0))], &EncodeOptions::default(), true);
    let mut flipped = file.clone();
    let n = flipped.len();
    flipped[n - 12] ^= 1; // the value's byte
    assert!(matches!(read_file(&flipped, 0), Err(RdbError::Checksum { .. })));
    assert!(matches!(read_file(&file[..n - 3], 0), Err(RdbError::Truncated)));
    assert!(matches!(read_file(b"RUBBISH00", 0), Err(RdbError::BadMagic)));
    assert!(matches!(read_file(b"REDIS0011", 0), Err(RdbError::Version(11))));
    // Empty collections are skipped with their expiry.
    let mut skip = b"REDIS0010".to_vec();
    skip.extend_from_slice(&[opcodes::EXPIRETIME_MS, 1, 0, 0, 0, 0, 0, 0, 0, types::SET, 1, b'e', 0]);
    skip.extend_from_slice(&[types::STRING, 1, b'k', 1, b'v', opcodes::EOF, 0, 0, 0, 0, 0, 0, 0, 0]);
    let items = read_file(&skip, 0).unwrap();
    assert!(matches!(&items[..], [Item::Entry { entry, .. }] if entry.expire_at == 0 && &*entry.key == b"k"));
}

#[test]
fn random_damage_never_panics() {
    let mut rng = fastrand::Rng::with_seed(99);
    let opts = EncodeOptions::default();
    let payloads: Vec<Vec<u8>> = samples().iter().map(|v| payload::dump(v, &opts)).collect();
    let entries: Vec<(usize, Entry)> = samples().into_iter().enumerate().map(|(i, v)| (i % 3, entry(&format!("k{i}"), v, 0))).collect();
    let file = write_file(&entries, &opts, false);
    let l = limits();
    for round in 0..4000 {
        let (mut bad, is_file) = if round % 4 == 0 { (file.clone(), true) } else { (payloads[rng.usize(..payloads.len())].clone(), false) };
        for _ in 0..rng.usize(1..4) {
            let i = rng.usize(..bad.len());
            bad[i] = rng.u8(..);
        }
        if rng.bool() {
            bad.truncate(rng.usize(..=bad.len()));
        }
        if is_file {
            let _ = read_file(&bad, 0);
        } else {
            // Past the checksum, as a server with skip-checksum would see it.
            let body = &bad[..bad.len().saturating_sub(10)];
            if let Some((&t, rest)) = body.split_first() {
                let _ = decode_value(t, rest, &l);
            }
        }
    }
}
