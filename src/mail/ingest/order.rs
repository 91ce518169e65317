//! Bulk imports in each thread's own order: the messages of many files are grouped by
//! their reference graph (a message, the ids it references and the messages that
//! reference it are one thread) and each thread is filed oldest first (its time, then
//! file order), so a case opens with its first message and its times (opened, first
//! response, closed) are the thread's own, whatever order the files are read in.

use crate::mail::extract;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// What ordering needs of one input: the ids it carries and references, and its date.
#[derive(Debug, Clone, Default)]
pub struct Head {
    pub ids: Vec<String>,
    /// Seconds since the epoch, when it was sent (`parse::sent_time`).
    pub date: Option<i64>,
    /// Whether `ids[0]` is the message's own Message-ID (the rest are references).
    pub has_own_id: bool,
}

impl Head {
    /// The head of one RFC 5322 message (only its headers are parsed); `None` for what
    /// is not one message (an mbox, a thread export: filed as a unit, in file order).
    pub fn of(raw: &[u8]) -> Option<Head> {
        let text_head = String::from_utf8_lossy(&raw[..raw.len().min(4096)]);
        if crate::mail::export::looks_like_export(&text_head)
            || crate::mail::mbox::looks_like_mbox(raw)
        {
            return None;
        }
        let msg = mail_parser::MessageParser::default().parse_headers(raw)?;
        let mut ids: Vec<String> = Vec::new();
        let push = |ids: &mut Vec<String>, id: &str| {
            let id = id.trim().trim_start_matches('<').trim_end_matches('>');
            if extract::plausible_message_id(id) && !ids.iter().any(|x| x == id) {
                ids.push(id.to_string());
            }
        };
        if let Some(id) = msg.message_id() {
            push(&mut ids, id);
        }
        let has_own_id = !ids.is_empty();
        for h in [msg.in_reply_to(), msg.references()] {
            match h {
                mail_parser::HeaderValue::Text(t) => push(&mut ids, t),
                mail_parser::HeaderValue::TextList(l) => l.iter().for_each(|t| push(&mut ids, t)),
                _ => {}
            }
        }
        Some(Head {
            ids,
            date: crate::mail::parse::sent_time(&msg).map(|t| t.and_utc().timestamp()),
            has_own_id,
        })
    }
}

/// The order to file `heads` in (indexes into `heads`): threads by their oldest
/// message, each thread oldest first; ties keep file order. An undated message goes
/// right after the newest dated message it references (first when it references
/// nothing: a thread's root).
pub fn thread_order(heads: &[Option<Head>]) -> Vec<usize> {
    let n = heads.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    // Ids as 64-bit hashes: a collision only joins two threads' ordering, never cases.
    let mut owner: HashMap<u64, usize> = HashMap::with_capacity(n * 2);
    for (i, h) in heads.iter().enumerate() {
        let Some(h) = h else { continue };
        for id in &h.ids {
            let mut s = DefaultHasher::new();
            id.hash(&mut s);
            let key = s.finish();
            match owner.get(&key) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    if a != b {
                        parent[a.max(b)] = a.min(b);
                    }
                }
                None => {
                    owner.insert(key, i);
                }
            }
        }
    }
    let hash = |id: &str| {
        let mut s = DefaultHasher::new();
        id.hash(&mut s);
        s.finish()
    };
    let own: HashMap<u64, usize> = heads
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let h = h.as_ref()?;
            h.has_own_id.then(|| (hash(&h.ids[0]), i))
        })
        .collect();
    let date = |i: usize| heads[i].as_ref().and_then(|h| h.date).unwrap_or(i64::MAX);
    // (when, after its parent) for sorting inside a thread.
    let when = |i: usize| -> (i64, u8) {
        let Some(h) = heads[i].as_ref() else {
            return (i64::MAX, 0);
        };
        if let Some(d) = h.date {
            return (d, 0);
        }
        let refs = &h.ids[usize::from(h.has_own_id)..];
        if refs.is_empty() {
            return (i64::MIN, 0);
        }
        refs.iter()
            .filter_map(|r| own.get(&hash(r)).and_then(|&j| heads[j].as_ref()?.date))
            .max()
            .map_or((i64::MAX, 0), |d| (d, 1))
    };
    let mut first: HashMap<usize, (i64, usize)> = HashMap::new();
    for i in 0..n {
        let r = root(&mut parent, i);
        let e = first.entry(r).or_insert((i64::MAX, i));
        *e = (*e).min((date(i), i));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| {
        let r = root(&mut parent, i);
        (first[&r], when(i), i)
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(ids: &[&str], date: i64) -> Option<Head> {
        Some(Head {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            date: Some(date),
            has_own_id: true,
        })
    }

    #[test]
    fn an_undated_reply_follows_its_parent_and_an_undated_root_comes_first() {
        let undated = |ids: &[&str]| {
            Some(Head {
                ids: ids.iter().map(|s| s.to_string()).collect(),
                date: None,
                has_own_id: true,
            })
        };
        let heads = vec![
            undated(&["r2@x", "r1@x"]),    // 0: answers r1, no Date
            head(&["r3@x", "r2@x"], 40),   // 1
            head(&["r1@x", "root@x"], 20), // 2
            undated(&["root@x"]),          // 3: the root, no Date
        ];
        assert_eq!(thread_order(&heads), vec![3, 2, 0, 1]);
    }

    #[test]
    fn threads_are_filed_oldest_first_whatever_the_file_order() {
        let heads = vec![
            head(&["r2@x", "r1@x", "root@x"], 30), // 0: a reply read first
            head(&["b@y"], 5),                     // 1: another thread, older
            None,                                  // 2: an export, a unit
            head(&["root@x"], 10),                 // 3: the root
            head(&["r1@x", "root@x"], 20),         // 4
            head(&["g2@z", "ghost@z"], 8),         // 5: two replies to a ghost
            head(&["g1@z", "ghost@z"], 7),         // 6
        ];
        let order = thread_order(&heads);
        assert_eq!(order, vec![1, 6, 5, 3, 4, 0, 2]);
    }

    #[test]
    fn the_head_of_a_message_and_of_an_export() {
        let raw = b"Message-ID: <a@b>\r\nIn-Reply-To: <p@b>\r\nReferences: <r@b> <p@b>\r\nDate: Mon, 01 Jul 2024 09:00:00 +0800\r\nSubject: x\r\n\r\nbody";
        let h = Head::of(raw).expect("head");
        assert_eq!(h.ids, vec!["a@b", "p@b", "r@b"]);
        assert_eq!(h.date, Some(1_719_795_600));
        assert!(Head::of("邮件主题：x\n\n====第1封邮件====\n".as_bytes()).is_none());
    }
}
