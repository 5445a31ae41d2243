//! SORT and SORT_RO on lists, sets and sorted sets, with BY and GET patterns that may name
//! keys on any shard. The command coordinates: it fetches the source from its shard, looks up
//! pattern keys on their shards in one batch per shard, sorts, and stores the result on the
//! destination's shard. (Like other multi-shard writes, not yet atomic for other clients.)

use std::cmp::Ordering;
use std::rc::Rc;

use bytes::Bytes;
use futures::future::LocalBoxFuture;

use super::args::{eq_ic, parse_int};
use super::error::{CmdError, CmdResult};
use super::flags::{DENYOOM, READONLY, WRITE};
use super::{CommandSpec, Route};
use crate::protocol::Reply;
use crate::shard::route::key_shard;
use crate::shard::{call, Session, ShardLocal};
use crate::store::{Expiry, List, Value};

/// SORT and SORT_RO.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sort", -2, WRITE | DENYOOM, (1, 1, 1), "generic", Route::Coordinator(sort)).keys_fn(store_key).doc(
        "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
        "1.0.0",
        "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
        "key [BY pattern] [LIMIT offset:integer count:integer] [GET pattern...] [ASC|DESC] [ALPHA] [STORE destination:key]",
    ),
    CommandSpec::new("sort_ro", -2, READONLY, (1, 1, 1), "generic", Route::Coordinator(sort_ro)).doc(
        "Returns the sorted elements of a list, a set, or a sorted set.",
        "7.0.0",
        "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
        "key [BY pattern] [LIMIT offset:integer count:integer] [GET pattern...] [ASC|DESC] [ALPHA]",
    ),
];

/// The STORE destination's position, as Redis's `sortGetKeys` finds it (the last STORE wins;
/// LIMIT, GET and BY arguments are skipped).
fn store_key(a: &[Bytes]) -> Vec<usize> {
    let mut found = None;
    let mut i = 2;
    while i < a.len() {
        if eq_ic(&a[i], "limit") {
            i += 2;
        } else if eq_ic(&a[i], "get") || eq_ic(&a[i], "by") {
            i += 1;
        } else if eq_ic(&a[i], "store") && i + 1 < a.len() {
            found = Some(i + 1);
        }
        i += 1;
    }
    found.into_iter().collect()
}

fn sort(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(sort_generic(s, a, false))
}

fn sort_ro(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(sort_generic(s, a, true))
}

/// The elements of the value to sort, in its own order, and its type.
enum Source {
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<Vec<u8>>),
}

/// The key and optional hash field a pattern names for one element (Redis's
/// `lookupKeyByPattern`); `None` when the pattern has no `*`.
fn pattern_key(pattern: &[u8], elem: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    // Redis reads the pattern as a C string.
    let pattern = &pattern[..pattern.iter().position(|&b| b == 0).unwrap_or(pattern.len())];
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let (post, field) = match after.windows(2).position(|w| w == b"->") {
        Some(i) if i + 2 < after.len() => (&after[..i], Some(after[i + 2..].to_vec())),
        _ => (after, None),
    };
    let mut key = pattern[..star].to_vec();
    key.extend_from_slice(elem);
    key.extend_from_slice(post);
    Some((key, field))
}

/// One pattern lookup: the element's position, the key, and the hash field if any.
type Lookup = (usize, Vec<u8>, Option<Vec<u8>>);

/// Looks up `pattern` for every element: `#` is the element itself; otherwise a string value
/// or a hash field, or `None`. One message per shard holding any of the keys.
async fn lookup_all(local: &Rc<ShardLocal>, db: usize, pattern: &[u8], elems: &[Vec<u8>]) -> Vec<Option<Vec<u8>>> {
    if pattern == b"#" {
        return elems.iter().map(|e| Some(e.clone())).collect();
    }
    let shards = local.shared.shards();
    let mut out: Vec<Option<Vec<u8>>> = vec![None; elems.len()];
    let mut by_shard: Vec<Vec<Lookup>> = vec![Vec::new(); shards];
    for (i, e) in elems.iter().enumerate() {
        if let Some((key, field)) = pattern_key(pattern, e) {
            by_shard[key_shard(&key, shards)].push((i, key, field));
        }
    }
    for (sh, wanted) in by_shard.into_iter().enumerate().filter(|(_, w)| !w.is_empty()) {
        let found = call(local, sh, move |s| {
            let mut st = s.store.borrow_mut();
            let now = crate::store::now_ms();
            let d = st.db(db);
            wanted
                .into_iter()
                .map(|(i, key, field)| {
                    let v = d.read(&key, now).and_then(|e| match (&e.value, &field) {
                        (Value::Str(v), None) => Some(v.as_bytes().into_owned()),
                        (Value::Hash(h), Some(f)) => h.get(f).map(<[u8]>::to_vec),
                        _ => None,
                    });
                    (i, v)
                })
                .collect::<Vec<_>>()
        })
        .await;
        for (i, v) in found {
            out[i] = v;
        }
    }
    out
}

async fn sort_generic(s: &mut Session, a: Vec<Bytes>, readonly: bool) -> CmdResult {
    let (mut desc, mut alpha, mut limit, mut store, mut by, mut gets) = (false, false, None::<(i64, i64)>, None, None, Vec::new());
    let mut dontsort = false;
    let mut j = 2;
    while j < a.len() {
        let left = a.len() - j - 1;
        if eq_ic(&a[j], "asc") {
            desc = false;
        } else if eq_ic(&a[j], "desc") {
            desc = true;
        } else if eq_ic(&a[j], "alpha") {
            alpha = true;
        } else if eq_ic(&a[j], "limit") && left >= 2 {
            limit = Some((parse_int(&a[j + 1])?, parse_int(&a[j + 2])?));
            j += 2;
        } else if !readonly && eq_ic(&a[j], "store") && left >= 1 {
            store = Some(a[j + 1].clone());
            j += 1;
        } else if eq_ic(&a[j], "by") && left >= 1 {
            // A pattern without `*` means "do not sort".
            let p = &a[j + 1];
            dontsort = !p[..p.iter().position(|&b| b == 0).unwrap_or(p.len())].contains(&b'*');
            by = Some(a[j + 1].clone());
            j += 1;
        } else if eq_ic(&a[j], "get") && left >= 1 {
            gets.push(a[j + 1].clone());
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let (local, db) = (s.local.clone(), s.db);
    let key = a[1].clone();
    let source = call(&local, key_shard(&key, local.shared.shards()), move |sh| {
        let mut st = sh.store.borrow_mut();
        let now = crate::store::now_ms();
        match st.db(db).read(&key, now).map(|e| &mut e.value) {
            None => Ok(Source::List(Vec::new())),
            Some(Value::List(l)) => Ok(Source::List(l.iter().map(<[u8]>::to_vec).collect())),
            Some(Value::Set(set)) => Ok(Source::Set(set.iter().map(|m| m.into_owned()).collect())),
            Some(Value::ZSet(z)) => {
                // As Redis, sorting converts the sorted set to its skiplist encoding.
                z.convert_to_sorted();
                Ok(Source::ZSet(z.iter_from(0, false).map(|(_, m)| m.into_owned()).collect()))
            }
            Some(_) => Err(CmdError::WrongType),
        }
    })
    .await?;
    let is_set = matches!(source, Source::Set(_));
    if dontsort && is_set && (store.is_some() || s.from_script) {
        // A set's order is its table's: stored results and those a script sees are sorted so
        // they are reproducible.
        dontsort = false;
        alpha = true;
        by = None;
    }
    let ordered = !is_set;
    let mut elems = match source {
        Source::List(v) | Source::Set(v) | Source::ZSet(v) => v,
    };
    // Redis's LIMIT normalisation: [start, end] inclusive over the vector.
    let n = elems.len() as i64;
    let (lstart, lcount) = limit.unwrap_or((0, -1));
    let mut start = lstart.max(0).min(n);
    let count = lcount.max(-1).min(n);
    let mut end = if count < 0 { n } else { start + count - 1 };
    if start >= n {
        start = n - 1;
        end = n - 2;
    }
    if end >= n {
        end = n - 1;
    }
    if dontsort && ordered {
        // Native order (reversed by DESC), the range taken directly.
        if desc {
            elems.reverse();
        }
        if end >= start {
            elems = elems[start as usize..=end as usize].to_vec();
        } else {
            elems.clear();
        }
        end -= start;
        start = 0;
    } else if !dontsort {
        let mut keyed: Vec<(Vec<u8>, Option<Vec<u8>>)> = match &by {
            Some(p) => {
                let vals = lookup_all(&local, db, p, &elems).await;
                elems.iter().cloned().zip(vals).collect()
            }
            None => elems.iter().map(|e| (e.clone(), Some(e.clone()))).collect(),
        };
        if alpha {
            keyed.sort_by(|x, y| {
                let c = match (&x.1, &y.1) {
                    (None, None) => Ordering::Equal,
                    (None, _) => Ordering::Less,
                    (_, None) => Ordering::Greater,
                    (Some(p), Some(q)) => p.cmp(q),
                };
                if desc {
                    c.reverse()
                } else {
                    c
                }
            });
        } else {
            let mut scored = Vec::with_capacity(keyed.len());
            for (e, v) in keyed {
                let w = match &v {
                    None => 0.0,
                    Some(v) => {
                        crate::num::parse_f64_weight(v).ok_or(CmdError::other("One or more scores can't be converted into double"))?
                    }
                };
                scored.push((w, e));
            }
            scored.sort_by(|x, y| {
                let c = x.0.partial_cmp(&y.0).unwrap_or(Ordering::Equal).then_with(|| x.1.cmp(&y.1));
                if desc {
                    c.reverse()
                } else {
                    c
                }
            });
            keyed = scored.into_iter().map(|(_, e)| (e, None)).collect();
        }
        elems = keyed.into_iter().map(|(e, _)| e).collect();
    }
    let picked: Vec<Vec<u8>> = if end >= start && start >= 0 { elems[start as usize..=end as usize].to_vec() } else { Vec::new() };
    // Each element, or the values of its GET patterns in order.
    let mut out: Vec<Option<Vec<u8>>> = Vec::new();
    if gets.is_empty() {
        out.extend(picked.iter().cloned().map(Some));
    } else {
        let mut columns = Vec::with_capacity(gets.len());
        for g in &gets {
            columns.push(lookup_all(&local, db, g, &picked).await);
        }
        for i in 0..picked.len() {
            out.extend(columns.iter().map(|c| c[i].clone()));
        }
    }
    let Some(dst) = store else {
        return Ok(Reply::Array(out.into_iter().map(|v| v.map_or(Reply::Nil, |v| Reply::Bulk(v.into()))).collect()));
    };
    let len = out.len();
    let mut list = List::new();
    for v in &out {
        list.push_back(v.as_deref().unwrap_or_default());
    }
    call(&local, key_shard(&dst, local.shared.shards()), move |sh| {
        let mut st = sh.store.borrow_mut();
        let now = crate::store::now_ms();
        if list.is_empty() {
            if st.db(db).remove(&dst, now).is_some() {
                st.notify(db, crate::notify::GENERIC, "del", &dst);
            }
        } else {
            st.db(db).set(&dst, Value::List(Box::new(list)), Expiry::Clear, now);
            st.notify(db, crate::notify::LIST, "sortstore", &dst);
        }
    })
    .await;
    Ok(Reply::Int(len as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_substitute_the_first_star_and_split_hash_fields() {
        assert_eq!(pattern_key(b"w_*", b"3"), Some((b"w_3".to_vec(), None)));
        assert_eq!(pattern_key(b"h_*->f", b"a"), Some((b"h_a".to_vec(), Some(b"f".to_vec()))));
        assert_eq!(pattern_key(b"h_*->", b"a"), Some((b"h_a->".to_vec(), None)));
        assert_eq!(pattern_key(b"nostar", b"a"), None);
    }
}
