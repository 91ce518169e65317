//! What a search term matches, the same on both engines: **words** for alphabetic
//! scripts and **characters** for Chinese, Japanese and Korean.
//!
//! A text is cut into units: a run of word characters (letters and digits of any
//! script but CJK, lower-cased) is one unit; every CJK character is a unit of its own,
//! *joined* to the one before it when nothing separates them; gaps (spaces,
//! punctuation, symbols) only separate. A term matches a text when the term's units
//! appear in the text one after the other, with CJK characters that are joined in the
//! term joined in the text too. So `printer` finds "Printer not reachable" but not
//! "printers"; `激活` finds "激活失败" but not "激 活"; `HRESULT:0xC002001B` finds
//! "hresult 0xc002001b"; `0x8007` does not find `0x80070005`.
//!
//! The inverted index (`index.rs`, SQLite) stores the units and the pairs of joined CJK
//! characters at their positions and answers a term as a phrase; PostgreSQL answers
//! it with the regular expression of `pg_regex` on the rows that hold the term's words
//! (`pg_words`, `pg_query`), or with the words alone where they say all;
//! `contains` decides it in Rust for the documents an index does not hold yet. The
//! three agree (tests below and `tests/app/search.rs`).

use compact_str::CompactString;

/// Longest unit kept, in characters: a longer run (a base64 line, a hex dump) is no
/// word anyone searches for, and a term is at most `MAX_TERM_CHARS` long.
pub const MAX_UNIT_CHARS: usize = super::MAX_TERM_CHARS;

/// Characters that only separate units (inclusive ranges of code points). The ASCII
/// characters other than letters and digits are gaps too (see `class`).
const GAPS: &[(u32, u32)] = &[
    (0x80, 0xBF),       // C1 controls, Latin-1 punctuation and symbols, NBSP
    (0xD7, 0xD7),       // ×
    (0xF7, 0xF7),       // ÷
    (0x2000, 0x2BFF),   // general punctuation, symbols, arrows, maths, box drawing
    (0x3000, 0x303F),   // CJK punctuation: 、。「」〈〉 and the ideographic space
    (0x30FB, 0x30FB),   // ・
    (0xFE30, 0xFE4F),   // CJK compatibility forms
    (0xFF00, 0xFF0F),   // fullwidth ！＂＃ … ／
    (0xFF1A, 0xFF20),   // fullwidth ：；＜＝＞？＠
    (0xFF3B, 0xFF40),   // fullwidth ［＼］＾＿｀
    (0xFF5B, 0xFF65),   // fullwidth ｛｜｝～ and halfwidth CJK punctuation
    (0xFFF0, 0xFFFF),   // specials
    (0x1F000, 0x1FAFF), // emoji, playing cards, pictographs
];

/// CJK characters: each one a unit.
const CJK: &[(u32, u32)] = &[
    (0x3040, 0x30FF),   // Hiragana, Katakana
    (0x3400, 0x4DBF),   // CJK Extension A
    (0x4E00, 0x9FFF),   // CJK Unified Ideographs
    (0xAC00, 0xD7AF),   // Hangul syllables
    (0xF900, 0xFAFF),   // CJK Compatibility Ideographs
    (0x20000, 0x3134F), // Extensions B–G
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Gap,
    Word,
    Cjk,
}

fn in_ranges(c: u32, ranges: &[(u32, u32)]) -> bool {
    ranges.iter().any(|&(a, b)| (a..=b).contains(&c))
}

pub fn class(c: char) -> Class {
    if c.is_ascii() {
        return if c.is_ascii_alphanumeric() {
            Class::Word
        } else {
            Class::Gap
        };
    }
    let u = c as u32;
    if in_ranges(u, GAPS) {
        Class::Gap
    } else if in_ranges(u, CJK) {
        Class::Cjk
    } else {
        Class::Word
    }
}

/// One unit of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Lower-cased word, or one CJK character. Inline up to 24 bytes: cutting a text
    /// into units allocated a `String` per unit, which was half of a search snippet's
    /// cost.
    pub text: CompactString,
    /// Byte range in the text.
    pub from: usize,
    pub to: usize,
    pub cjk: bool,
    /// A CJK character right after another one (nothing between them).
    pub joined: bool,
}

/// The units of `text`, in order; a word longer than `MAX_UNIT_CHARS` is left out
/// (its place still counts, so nothing around it becomes adjacent).
pub fn units(text: &str) -> Vec<Unit> {
    // A unit takes at least one byte and its gap another, a CJK character three.
    let mut out: Vec<Unit> = Vec::with_capacity(text.len() / 3 + 1);
    let mut word = CompactString::default();
    let mut word_chars = 0usize;
    let mut word_from = 0usize;
    let mut prev_cjk = false;
    let flush = |out: &mut Vec<Unit>,
                 word: &mut CompactString,
                 chars: &mut usize,
                 from: usize,
                 to: usize| {
        if !word.is_empty() {
            let text = if *chars > MAX_UNIT_CHARS {
                // Kept as a unit that no term equals: it still takes its place.
                CompactString::const_new("\u{0}")
            } else {
                std::mem::take(word)
            };
            out.push(Unit {
                text,
                from,
                to,
                cjk: false,
                joined: false,
            });
            word.clear();
            *chars = 0;
        }
    };
    for (i, c) in text.char_indices() {
        match class(c) {
            Class::Word => {
                if word.is_empty() {
                    word_from = i;
                }
                if c.is_ascii() {
                    word.push(c.to_ascii_lowercase());
                } else {
                    word.extend(c.to_lowercase());
                }
                word_chars += 1;
                prev_cjk = false;
            }
            Class::Cjk => {
                flush(&mut out, &mut word, &mut word_chars, word_from, i);
                let mut buf = [0u8; 4];
                out.push(Unit {
                    text: CompactString::new(c.encode_utf8(&mut buf)),
                    from: i,
                    to: i + c.len_utf8(),
                    cjk: true,
                    joined: prev_cjk,
                });
                prev_cjk = true;
            }
            Class::Gap => {
                flush(&mut out, &mut word, &mut word_chars, word_from, i);
                prev_cjk = false;
            }
        }
    }
    flush(&mut out, &mut word, &mut word_chars, word_from, text.len());
    out
}

/// Whether the units of `term` appear in `units` at `at`.
fn matches_at(text: &[Unit], term: &[Unit], at: usize) -> bool {
    term.iter().enumerate().all(|(k, t)| {
        text.get(at + k)
            .is_some_and(|u| u.text == t.text && (k == 0 || !t.joined || u.joined))
    })
}

/// Where `term` occurs in `text`: the byte ranges, in order, not overlapping.
pub fn find(text: &str, term: &str) -> Vec<(usize, usize)> {
    find_in(&units(text), &units(term))
}

/// Where any of `terms` occurs in `text`: `find` for each, the text cut into units
/// once.
pub fn find_all(text: &str, terms: &[String]) -> Vec<(usize, usize)> {
    let text_units = units(text);
    terms
        .iter()
        .flat_map(|t| find_in(&text_units, &units(t)))
        .collect()
}

fn find_in(text_units: &[Unit], term: &[Unit]) -> Vec<(usize, usize)> {
    if term.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut at = 0;
    while at + term.len() <= text_units.len() {
        if matches_at(text_units, term, at) {
            out.push((text_units[at].from, text_units[at + term.len() - 1].to));
            at += term.len();
        } else {
            at += 1;
        }
    }
    out
}

/// Whether `term` occurs in `text`.
pub fn contains(text: &str, term: &str) -> bool {
    let term_units = units(term);
    if term_units.is_empty() {
        return false;
    }
    // Most texts a search reads this way lack the term's longest literal: a byte
    // search rejects them without cutting the text into units.
    if let Some(lit) = longest_literal(term) {
        if !might_contain(text, &lit) {
            return false;
        }
    }
    let term = term_units;
    let text_units = units(text);
    (0..text_units.len()).any(|at| matches_at(&text_units, &term, at))
}

/// Whether `text` may hold `lit` (lower-case, from `longest_literal`): false only when
/// it certainly does not.
fn might_contain(text: &str, lit: &str) -> bool {
    candidates(text, lit).is_none_or(|mut c| c.next().is_some())
}

/// Where `lit` (lower-case, from `longest_literal`) may start in `text`, by a byte
/// search: every place it does start is among them. None when no byte search can
/// tell (a literal in a script whose letter case is more than ASCII's).
fn candidates<'a>(text: &'a str, lit: &'a str) -> Option<Box<dyn Iterator<Item = usize> + 'a>> {
    let (t, l) = (text.as_bytes(), lit.as_bytes());
    if !lit.is_ascii() {
        if lit.chars().all(|c| class(c) == Class::Cjk) {
            return Some(Box::new(memchr::memmem::find_iter(t, l)));
        }
        return None;
    }
    let (&first, rest) = l.split_first()?;
    Some(Box::new(
        memchr::memchr2_iter(first, first.to_ascii_uppercase(), t).filter(move |&i| {
            t.get(i + 1..i + 1 + rest.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(rest))
        }),
    ))
}

/// `from..to` of `text`, widened to character boundaries and then to the ends of the
/// words it cuts: units found inside are the text's own units there.
pub fn word_bounds(text: &str, from: usize, to: usize) -> (usize, usize) {
    let word = |c: Option<char>| c.is_some_and(|c| class(c) == Class::Word);
    let mut a = text.floor_char_boundary(from.min(text.len()));
    let mut b = text.ceil_char_boundary(to.min(text.len()).max(a));
    while a > 0 && word(text[a..].chars().next()) && word(text[..a].chars().next_back()) {
        a = text.floor_char_boundary(a - 1);
    }
    while b < text.len() && word(text[b..].chars().next()) && word(text[..b].chars().next_back()) {
        b = text.ceil_char_boundary(b + 1);
    }
    (a, b)
}

/// The byte offset `n` units before `at` (backward) or after it, gaps in between
/// skipped whatever their length: `at` is on a unit boundary.
fn walk_units(text: &str, at: usize, n: usize, backward: bool) -> usize {
    let mut i = at;
    let step = |i: usize| -> Option<(usize, char)> {
        if backward {
            text[..i].chars().next_back().map(|c| (i - c.len_utf8(), c))
        } else {
            text[i..].chars().next().map(|c| (i + c.len_utf8(), c))
        }
    };
    for _ in 0..n {
        // The gap, then one unit: a run of word characters or one CJK character.
        while let Some((j, _)) = step(i).filter(|(_, c)| class(*c) == Class::Gap) {
            i = j;
        }
        match step(i) {
            None => return i,
            Some((j, c)) if class(c) == Class::Cjk => i = j,
            Some(_) => {
                while let Some((j, _)) = step(i).filter(|(_, c)| class(*c) == Class::Word) {
                    i = j;
                }
            }
        }
    }
    i
}

/// The first place `term` occurs in `text` (as `find(text, term).first()`), without
/// cutting a whole long text into units: only the units around each place a byte
/// search finds the term's longest literal (every match holds it), as many before
/// and after as the term has.
pub fn first(text: &str, term: &str) -> Option<(usize, usize)> {
    let lit = longest_literal(term)?;
    let Some(places) = candidates(text, &lit) else {
        return find(text, term).first().copied();
    };
    let n = units(term).len();
    let mut done = 0;
    for i in places {
        if i < done {
            continue;
        }
        let (a, b) = word_bounds(text, i, i + lit.len());
        let (a, b) = (walk_units(text, a, n, true), walk_units(text, b, n, false));
        if let Some(&(x, y)) = find(&text[a..b], term).first() {
            return Some((a + x, a + y));
        }
        done = i + lit.len();
    }
    None
}

/// The longest unit of `term`, or its longest run of joined CJK characters: a literal
/// that every text containing the term contains too (case aside), to narrow with LIKE
/// before `contains` decides. None when the term has no unit.
pub fn longest_literal(term: &str) -> Option<String> {
    let us = units(term);
    let mut best = String::new();
    let mut i = 0;
    while i < us.len() {
        let mut run = us[i].text.to_string();
        let mut j = i + 1;
        while us[i].cjk && j < us.len() && us[j].joined {
            run.push_str(&us[j].text);
            j += 1;
        }
        if run.chars().count() > best.chars().count() {
            best = run;
        }
        i = j;
    }
    (!best.is_empty()).then_some(best)
}

/// A token of the inverted index: its text and position (units count positions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub position: usize,
    pub from: usize,
    pub to: usize,
}

/// What the index stores for `text`: each unit at its position, and each run of two
/// and of three joined CJK characters at the position of its first. The triples make a
/// Chinese word of three characters (序列号) one term, not a phrase of two pairs whose
/// positions are read for every document holding both; a longer word is a phrase of
/// overlapping triples (`query_tokens`).
pub fn index_tokens(text: &str) -> Vec<Token> {
    let us = units(text);
    let mut out = Vec::with_capacity(us.len() * 3);
    let joined = |parts: &[&Unit]| {
        let mut s = String::with_capacity(parts.iter().map(|u| u.text.len()).sum());
        for u in parts {
            s.push_str(&u.text);
        }
        s
    };
    for (p, u) in us.iter().enumerate() {
        if u.text == "\u{0}" {
            continue;
        }
        out.push(Token {
            text: u.text.to_string(),
            position: p,
            from: u.from,
            to: u.to,
        });
        let Some(next) = us.get(p + 1).filter(|n| n.joined) else {
            continue;
        };
        out.push(Token {
            text: joined(&[u, next]),
            position: p,
            from: u.from,
            to: next.to,
        });
        if let Some(third) = us.get(p + 2).filter(|n| n.joined) {
            out.push(Token {
                text: joined(&[u, next, third]),
                position: p,
                from: u.from,
                to: third.to,
            });
        }
    }
    out
}

/// What the index is asked for `term`, as (offset, token): words and lone CJK
/// characters as units; a run of two joined CJK characters as their pair, a longer run
/// as triples (`index_tokens`) that overlap by at least one character, so that every
/// joined pair of the run is inside one of them: 序列号 is one triple, 解决方案 two (at
/// 0 and 1), five characters two (at 0 and 2). Every offset must hold its token (a
/// phrase when there are several).
pub fn query_tokens(term: &str) -> Vec<(usize, String)> {
    let us = units(term);
    let mut out = Vec::new();
    let mut p = 0;
    while p < us.len() {
        // The run of joined characters starting at `p`: [p, end).
        let mut end = p + 1;
        while us.get(end).is_some_and(|n| n.joined) {
            end += 1;
        }
        let gram = |at: usize, n: usize| -> (usize, String) {
            (at, us[at..at + n].iter().map(|u| u.text.as_str()).collect())
        };
        match end - p {
            1 => out.push(gram(p, 1)),
            2 => out.push(gram(p, 2)),
            len => {
                let last = p + len - 3;
                let mut at = p;
                while at < last {
                    out.push(gram(at, 3));
                    at += 2;
                }
                out.push(gram(last, 3));
            }
        }
        p = end;
    }
    out
}

/// A bracket expression of PostgreSQL's regular expressions for `ranges`, with the
/// ASCII characters given first (`ascii`, already written for a bracket).
fn pg_ranges(ascii: &str, ranges: &[&[(u32, u32)]]) -> String {
    let mut s = String::from(ascii);
    for set in ranges {
        for &(a, b) in set.iter() {
            if a == b {
                s.push_str(&pg_char(a));
            } else {
                s.push_str(&format!("{}-{}", pg_char(a), pg_char(b)));
            }
        }
    }
    s
}

fn pg_char(c: u32) -> String {
    if c <= 0xFFFF {
        format!("\\u{c:04X}")
    } else {
        format!("\\U{c:08X}")
    }
}

/// The regular expression (for PostgreSQL's `~*`) that matches what `term` matches,
/// or None when the term has no unit (it matches nothing).
pub fn pg_regex(term: &str) -> Option<String> {
    let us = units(term);
    if us.is_empty() {
        return None;
    }
    // ASCII gaps: everything but letters and digits, without NUL.
    let gap = format!("[{}]", pg_ranges("\\x01-/:-@\\[-`{-\\x7F", &[GAPS]));
    // Word characters: neither a gap nor CJK.
    let word = format!("[^{}]", pg_ranges("\\x01-/:-@\\[-`{-\\x7F", &[GAPS, CJK]));
    let mut re = String::new();
    for (k, u) in us.iter().enumerate() {
        if k == 0 {
            if !u.cjk {
                re.push_str(&format!("(?<!{word})"));
            }
        } else if !u.joined {
            let both_words = !u.cjk && !us[k - 1].cjk;
            re.push_str(&gap);
            re.push(if both_words { '+' } else { '*' });
        }
        re.push_str(&regex_escape(&u.text));
    }
    if us.last().is_some_and(|u| !u.cjk) {
        re.push_str(&format!("(?!{word})"));
    }
    Some(re)
}

/// PostgreSQL: the words of `text` for its `words` column (a `tsvector`, a GIN index;
/// see `pg_words_text`), which the search's `@@` narrows to before the regular
/// expression decides: every run
/// of word characters of at most `MAX_UNIT_CHARS` characters with its ASCII letters in
/// lower case, and every pair of CJK characters in a row. Sorted, without repeats.
/// Single CJK characters are left out: a few of them are in nearly every Chinese text,
/// and their postings made PostgreSQL ingest about half as fast (BENCHMARKS.md,
/// session 28); a term of one CJK character is the expression's alone. The database's `casebook_words` (the `search_words` migration)
/// gives the same set for what is written without it (see `pg_words_sql`).
pub fn pg_words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut word_chars = 0usize;
    let mut prev_cjk: Option<char> = None;
    let flush = |word: &mut String, chars: &mut usize, out: &mut Vec<String>| {
        if !word.is_empty() && *chars <= MAX_UNIT_CHARS {
            out.push(std::mem::take(word));
        }
        word.clear();
        *chars = 0;
    };
    for c in text.chars() {
        match class(c) {
            Class::Word => {
                word.push(c.to_ascii_lowercase());
                word_chars += 1;
                prev_cjk = None;
            }
            Class::Cjk => {
                flush(&mut word, &mut word_chars, &mut out);
                if let Some(p) = prev_cjk {
                    out.push([p, c].iter().collect());
                }
                prev_cjk = Some(c);
            }
            Class::Gap => {
                flush(&mut word, &mut word_chars, &mut out);
                prev_cjk = None;
            }
        }
    }
    flush(&mut word, &mut word_chars, &mut out);
    out.sort_unstable();
    out.dedup();
    out
}

/// Longest text whose words PostgreSQL keeps, in characters: a `tsvector` holds at
/// most 1 MB of words, and the words of 60,000 characters take at most about 540 KB.
/// A longer text keeps the one word `~` (no text's word: `~` is a gap), which every
/// search takes for a possible match and checks with the expression.
pub const PG_WORDS_MAX_CHARS: usize = 60_000;

/// `pg_words(text)` as the `words` column is written (`array_to_tsvector` of the text
/// split at spaces): the words joined by spaces, or `~` for a text longer than
/// `PG_WORDS_MAX_CHARS`.
pub fn pg_words_text(text: &str) -> String {
    if text.chars().nth(PG_WORDS_MAX_CHARS).is_some() {
        return "~".into();
    }
    pg_words(text).join(" ")
}

/// The `tsquery` that a row's words satisfy when they hold all of `words` or are a long
/// text's `~` (see `PG_WORDS_MAX_CHARS`). Words hold no quote or backslash (both are
/// gaps), so quoting each is enough.
pub fn pg_tsquery(words: &[String]) -> String {
    let all = words
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" & ");
    format!("({all}) | '~'")
}

/// PostgreSQL: the words (`pg_words`) that every text `term` matches holds, its ASCII
/// words and its pairs of joined CJK characters (empty when the term gives none; a
/// word with other letters is left to the regular expression, whose case folding is
/// not ASCII's); and whether a text holding those words is a text `term` matches (the
/// expression then has nothing to add): a term of one ASCII word or of two joined CJK
/// characters.
pub fn pg_query(term: &str) -> (Vec<String>, bool) {
    let us = units(term);
    let exact = match us.as_slice() {
        [u] => !u.cjk && u.text.bytes().all(|b| b.is_ascii_alphanumeric()),
        [a, b] => a.cjk && b.cjk && b.joined,
        _ => false,
    };
    let mut out = Vec::new();
    for (k, u) in us.iter().enumerate() {
        if !u.cjk {
            if u.text.bytes().all(|b| b.is_ascii_alphanumeric()) && !u.text.is_empty() {
                out.push(u.text.to_string());
            }
            continue;
        }
        if u.joined && k > 0 && us[k - 1].cjk {
            out.push(format!("{}{}", us[k - 1].text, u.text));
        }
    }
    out.sort_unstable();
    out.dedup();
    let exact = exact && !out.is_empty();
    (out, exact)
}

/// The body of the database's `casebook_words(text)` (see `pg_words`), as the
/// `search_words` migration defines it: its character classes are this module's. A
/// test holds the two equal.
pub fn pg_words_sql() -> String {
    let gap_or_cjk = pg_ranges("\\x01-/:-@\\[-`{-\\x7F", &[GAPS, CJK]);
    // `・` (U+30FB) is a gap inside the Katakana block.
    let cjk = pg_ranges("", &[CJK]).replace("\\u3040-\\u30FF", "\\u3040-\\u30FA\\u30FC-\\u30FF");
    format!(
        "array_remove(\
           regexp_split_to_array(translate(regexp_replace(t, '[^{gap_or_cjk}]{{101,}}', ' ', 'g'), \
             'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), '[{gap_or_cjk}]+') \
           || regexp_split_to_array(regexp_replace(regexp_replace(regexp_replace(t, \
             '[^{cjk}]+', ' ', 'g'), '([{cjk}])(?=[{cjk}])', '\\1 \\1', 'g'), \
             '(^| )[{cjk}](?= |$)', '\\1', 'g'), ' '), '')"
    )
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || !c.is_ascii() {
            out.push(c);
        } else {
            out.push('\\');
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `first` (a byte search, then the words around) finds what `find` finds first,
    /// for words cut anywhere, letter case, CJK runs, and units spread far apart.
    #[test]
    fn first_is_the_first_of_find() {
        let far = format!("remote{}call and remote call", " ".repeat(200));
        let texts = [
            "Printers, the PRINTER and a printer",
            "xprinter printerx printer",
            "激 活，激活失败，离线激活",
            "hresult:0xC002001B then 0xc002001b",
            "Ünïcode wörds and ÜNÏCODE",
            far.as_str(),
            "",
        ];
        let terms = [
            "printer",
            "激活",
            "离线激活",
            "0xC002001B",
            "hresult 0xc002001b",
            "ünïcode",
            "remote call",
            "missing",
        ];
        for text in texts {
            for term in terms {
                assert_eq!(
                    first(text, term),
                    find(text, term).first().copied(),
                    "{term:?} in {text:?}"
                );
            }
        }
        assert_eq!(word_bounds("alpha beta", 7, 8), (6, 10));
        assert_eq!(word_bounds("激活失败", 3, 4), (3, 6));
    }

    #[test]
    fn words_and_characters() {
        assert!(contains("Printer not reachable", "printer"));
        assert!(!contains("printers are down", "printer"));
        assert!(contains("激活失败，错误 0xC002001B", "激活"));
        assert!(contains("激活失败，错误 0xC002001B", "激活失败"));
        assert!(!contains("激 活", "激活"));
        assert!(contains("激 活", "激"));
        assert!(contains("HRESULT: 0xC002001B", "hresult:0xc002001b"));
        assert!(!contains("0x80070005", "0x8007"));
        assert!(contains("测试printer打印", "printer"));
        assert!(contains("测试printer打印", "printer打印"));
        assert!(contains("the 激活 失败", "\"激活 失败\"".trim_matches('"')));
        assert!(!contains("anything", "%_"));
        assert!(contains("Ärger mit Café", "café"));
        assert!(contains("ÄRGER MIT CAFÉ", "café"));
        assert!(contains("Printer", "PRINTER") && contains("the PRINTER.", "printer"));
        assert!(!contains("print er", "printer") && !contains("", "printer"));
        assert_eq!(
            find("a printer, the Printer.", "printer"),
            vec![(2, 9), (15, 22)]
        );
    }

    #[test]
    fn index_and_query_tokens_agree_with_contains() {
        let toks = index_tokens("激活失败 0xC002001B");
        let texts: Vec<(&str, usize)> =
            toks.iter().map(|t| (t.text.as_str(), t.position)).collect();
        assert_eq!(
            texts,
            vec![
                ("激", 0),
                ("激活", 0),
                ("激活失", 0),
                ("活", 1),
                ("活失", 1),
                ("活失败", 1),
                ("失", 2),
                ("失败", 2),
                ("败", 3),
                ("0xc002001b", 4)
            ]
        );
        assert_eq!(
            query_tokens("激活失败"),
            vec![(0, "激活失".into()), (1, "活失败".into())]
        );
        assert_eq!(query_tokens("序列号"), vec![(0, "序列号".into())]);
        assert_eq!(
            query_tokens("激活失败了"),
            vec![(0, "激活失".into()), (2, "失败了".into())]
        );
        assert_eq!(
            query_tokens("激活失败了吗"),
            vec![
                (0, "激活失".into()),
                (2, "失败了".into()),
                (3, "败了吗".into())
            ]
        );
        assert_eq!(
            query_tokens("bios序列号 激活"),
            vec![(0, "bios".into()), (1, "序列号".into()), (4, "激活".into())]
        );
        assert_eq!(
            query_tokens("激 活"),
            vec![(0, "激".into()), (1, "活".into())]
        );
        assert_eq!(query_tokens("激"), vec![(0, "激".into())]);
        assert_eq!(
            query_tokens("HRESULT:0x1 激活"),
            vec![(0, "hresult".into()), (1, "0x1".into()), (2, "激活".into())]
        );
        assert_eq!(
            longest_literal("HRESULT:0xC002001B 激活失败"),
            Some("0xc002001b".into())
        );
        assert_eq!(longest_literal("激活失败码"), Some("激活失败码".into()));
        assert_eq!(longest_literal("--"), None);
    }

    #[test]
    fn the_postgres_expression() {
        assert_eq!(pg_regex("%_"), None);
        let re = pg_regex("Printer").unwrap();
        assert!(re.starts_with("(?<![^") && re.contains("printer(?![^"));
        let re = pg_regex("激活 失败").unwrap();
        assert!(re.starts_with("激活[") && re.ends_with("]*失败"), "{re}");
        let re = pg_regex("a.b").unwrap();
        assert!(re.contains("a[") && re.contains("]+b"), "{re}");
    }
}
#[cfg(test)]
mod pg_words_tests {
    use super::*;

    const TEXTS: &[&str] = &[
        "客户的电脑激活失败，错误码 0xC004F074，KMS 主机无法访问。序列号 T102210000943。",
        "The licensing service stops with -1073418124 (0xC004F074) on boot.",
        "HRESULT:0xC002001B · Printer NOT reachable; branch-office KMS_host",
        "激 活 and 激活失败 and カタ・カナ and 한국어 텍스트",
        "Café MÜLLER straße naïve ÆSIR 0x8007232B",
        "日志bundle蓝屏 x激活y",
    ];

    /// Every text a term matches (`contains`) holds every word the term asks of it:
    /// the words only narrow, the expression decides.
    #[test]
    fn a_text_a_term_matches_holds_the_terms_words() {
        let long = format!("{} tail", "y".repeat(150));
        let mut texts: Vec<String> = TEXTS.iter().map(|t| t.to_string()).collect();
        texts.push(long);
        let mut checked = 0;
        for text in &texts {
            let words = pg_words(text);
            for unit in units(text) {
                for term in [
                    unit.text.to_string(),
                    unit.text.as_str().to_ascii_uppercase(),
                ] {
                    assert!(
                        contains(text, &term) || unit.text == "\u{0}",
                        "{term} in {text}"
                    );
                    for w in pg_query(&term).0 {
                        assert!(words.contains(&w), "{w} of {term} not in {words:?}");
                        checked += 1;
                    }
                }
            }
            for term in [
                "激活失败",
                "KMS host",
                "branch office",
                "0xc004f074",
                "序列号 T102210000943",
                "蓝屏",
                "激",
            ] {
                if contains(text, term) {
                    for w in pg_query(term).0 {
                        assert!(words.contains(&w), "{w} of {term} not in {words:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 50, "{checked}");
    }

    #[test]
    fn words_of_a_text_and_of_a_term() {
        assert_eq!(
            pg_words("Hello WORLD, 激活失败 x 蓝"),
            ["hello", "world", "x", "失败", "活失", "激活"]
        );
        // A run over 100 characters is no word; what stands beside it still is.
        assert_eq!(pg_words(&format!("{} ok", "z".repeat(101))), ["ok"]);
        assert_eq!(pg_words(&format!("{} ok", "z".repeat(100))).len(), 2);
        // Letters beyond ASCII keep their case (the database's ASCII-only folding).
        assert_eq!(pg_words("MÜLLER"), ["mÜller"]);
        assert_eq!(pg_query("激活 失败").0, ["失败", "激活"]);
        assert_eq!(pg_query("激").0, Vec::<String>::new());
        assert_eq!(pg_query("离线激活").0, ["激活", "离线", "线激"]);
        assert_eq!(pg_query("HRESULT:0xC002001B").0, ["0xc002001b", "hresult"]);
        // A word with other letters is the expression's alone.
        assert_eq!(pg_query("Müller").0, Vec::<String>::new());
        assert_eq!(pg_query("Müller KMS").0, ["kms"]);
        assert_eq!(
            pg_tsquery(&pg_query("激活 KMS").0),
            "('kms' & '激活') | '~'"
        );
        assert_eq!(pg_words_text("a B"), "a b");
        assert_eq!(pg_words_text(&"x ".repeat(PG_WORDS_MAX_CHARS / 2)), "x");
        assert_eq!(pg_words_text(&"x ".repeat(PG_WORDS_MAX_CHARS / 2 + 1)), "~");
        // Where the words say all the expression would.
        for (term, exact) in [
            ("KMS", true),
            ("激", false),
            ("激活", true),
            ("0xC004F074", true),
            ("HRESULT:0xC002001B", false),
            ("序列号", false),
            ("bios序列号", false),
            ("\"KMS host\"", false),
            ("Müller", false),
        ] {
            assert_eq!(pg_query(term).1, exact, "{term}");
        }
    }

    /// The migration defines `casebook_words` with this module's classes (the PostgreSQL
    /// suite compares its results with `pg_words`).
    #[test]
    fn the_migration_defines_casebook_words_from_these_classes() {
        let up = include_str!("../../migrations/postgres/2026-12-07-000300_search_words/up.sql");
        assert!(up.contains(&pg_words_sql()), "regenerate the expression");
    }
}
