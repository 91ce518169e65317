//! The zh-CN / en message catalog, language negotiation and the language cookie.

mod catalog;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

pub const COOKIE: &str = "cb_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        if s.starts_with("zh") {
            Some(Lang::Zh)
        } else if s.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

/// The user's explicit choice (the language cookie) first, then Accept-Language by quality.
pub fn negotiate(cookie: Option<&str>, accept_language: &str) -> Lang {
    cookie
        .and_then(Lang::parse)
        .unwrap_or_else(|| from_accept_language(accept_language))
}

pub fn from_accept_language(header: &str) -> Lang {
    let mut best: Option<(f32, Lang)> = None;
    for part in header.split(',') {
        let mut it = part.split(';');
        let tag = it.next().unwrap_or("").trim();
        let q = it
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|v| v.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        if let Some(l) = Lang::parse(tag) {
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, l));
            }
        }
    }
    best.map(|(_, l)| l).unwrap_or_default()
}

type Table = HashMap<&'static str, &'static str>;

fn tables() -> &'static (Table, Table) {
    static T: OnceLock<(Table, Table)> = OnceLock::new();
    T.get_or_init(|| {
        let zh = catalog::ENTRIES.iter().map(|(k, z, _)| (*k, *z)).collect();
        let en = catalog::ENTRIES.iter().map(|(k, _, e)| (*k, *e)).collect();
        (zh, en)
    })
}

/// The text of `key` in `lang`; the key itself when missing (a test keeps this from happening).
pub fn t(lang: Lang, key: &str) -> Cow<'static, str> {
    let (zh, en) = tables();
    let table = if lang == Lang::Zh { zh } else { en };
    match table.get(key) {
        Some(v) => Cow::Borrowed(*v),
        None => Cow::Owned(key.to_string()),
    }
}

pub fn has_key(key: &str) -> bool {
    tables().0.contains_key(key)
}

/// A message for a person: a catalog key and its named parameters, put into words
/// only when the reader's language is known (`{name}` in the text is replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub key: &'static str,
    pub params: Vec<(&'static str, String)>,
}

impl Msg {
    pub fn new(key: &'static str) -> Msg {
        Msg {
            key,
            params: Vec::new(),
        }
    }

    /// Adds the parameter `{name}`.
    pub fn with(mut self, name: &'static str, value: impl std::fmt::Display) -> Msg {
        self.params.push((name, value.to_string()));
        self
    }

    pub fn render(&self, lang: Lang) -> String {
        let mut text = t(lang, self.key).into_owned();
        for (name, value) in &self.params {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }
}

impl std::fmt::Display for Msg {
    /// English, for logs and the JSON API's `message`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_by_quality() {
        assert_eq!(from_accept_language("en-US,en;q=0.9,zh-CN;q=0.8"), Lang::En);
        assert_eq!(from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(from_accept_language("fr;q=1,en;q=0.5"), Lang::En);
        assert_eq!(from_accept_language(""), Lang::Zh);
    }

    #[test]
    fn catalog_has_no_duplicates_or_blanks() {
        let mut seen = std::collections::HashSet::new();
        for (k, z, e) in catalog::ENTRIES {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!z.is_empty() && !e.is_empty(), "blank text for {k}");
        }
    }

    #[test]
    fn messages_fill_their_parameters() {
        let m = Msg::new("error.invalid_json").with("detail", "EOF");
        assert!(m.render(Lang::En).contains("EOF"));
        assert!(m.render(Lang::Zh).contains("EOF"));
        assert!(!m.render(Lang::Zh).contains("{detail}"));
    }

    /// Every `Msg::new("…")` and `invalid("…")` in the code names a catalog key.
    #[test]
    fn code_uses_known_keys() {
        let re = regex::Regex::new(r#"(?:Msg::new|invalid|bad_request)\("([a-z0-9_.]+)"\)"#)
            .expect("regex");
        let mut missing = Vec::new();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut stack = vec![std::path::PathBuf::from(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("src dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(s) = std::fs::read_to_string(&p) {
                    for c in re.captures_iter(&s) {
                        if !has_key(&c[1]) {
                            missing.push(format!("{}: {}", p.display(), &c[1]));
                        }
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from the catalog: {missing:?}"
        );
    }

    /// Every `t("…")` used in a template exists in the catalog.
    #[test]
    fn templates_use_known_keys() {
        let re = regex::Regex::new(r#"\bt\("([a-z0-9_.]+)"\)"#).expect("regex");
        let mut missing = Vec::new();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut stack = vec![std::path::PathBuf::from(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("templates dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(s) = std::fs::read_to_string(&p) {
                    for c in re.captures_iter(&s) {
                        if !has_key(&c[1]) {
                            missing.push(format!("{}: {}", p.display(), &c[1]));
                        }
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from the catalog: {missing:?}"
        );
    }
}
