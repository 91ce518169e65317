//! Typed form input shared by the HTML handlers and their JSON twins.

use serde::{Deserialize, Deserializer};
use std::collections::HashMap;

/// A form posted from one of our pages: the CSRF token, the action's typed fields
/// (the same struct its JSON twin takes), and any other field (e.g. `att_ID` ticks).
#[derive(Deserialize)]
pub struct PageForm<T> {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(flatten)]
    pub fields: T,
    #[serde(flatten)]
    pub rest: HashMap<String, String>,
}

impl<T> PageForm<T> {
    /// The ids of the ticked `PREFIX<ID>` checkboxes (`att_7` → 7), in no set order.
    pub fn ticked<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = i64> + 'a {
        self.rest
            .keys()
            .filter_map(move |k| k.strip_prefix(prefix))
            .filter_map(|v| v.parse::<i64>().ok())
    }
}

/// A number that may be left blank: a JSON number or null, or a form's text ("" is none).
pub fn blank_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Num(i64),
        Text(String),
    }
    match Option::<N>::deserialize(d)? {
        None => Ok(None),
        Some(N::Num(n)) => Ok(Some(n)),
        Some(N::Text(t)) if t.trim().is_empty() => Ok(None),
        Some(N::Text(t)) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("expected a whole number")),
    }
}

/// A checkbox: `true`/`false` in JSON; `on`, `true` or `1` from a form.
pub fn checkbox<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a boolean or a checkbox value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_str<E>(self, v: &str) -> Result<bool, E> {
            Ok(matches!(v, "on" | "true" | "1"))
        }
        fn visit_unit<E>(self) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_none<E>(self) -> Result<bool, E> {
            Ok(false)
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct F {
        #[serde(default)]
        body: String,
        #[serde(default, deserialize_with = "checkbox")]
        send: bool,
        #[serde(default)]
        to: Option<String>,
    }

    #[test]
    fn the_same_struct_reads_a_form_and_json() {
        let f: PageForm<F> =
            serde_urlencoded::from_str("csrf_token=t&body=hi&send=on&att_7=on").expect("form");
        assert_eq!(f.csrf_token, "t");
        assert_eq!(f.fields.body, "hi");
        assert!(f.fields.send);
        assert_eq!(f.fields.to, None);
        assert_eq!(f.rest.get("att_7").map(String::as_str), Some("on"));
        let f: PageForm<F> =
            serde_urlencoded::from_str("body=hi&att_7=on&att_x=on&att_12=on&other_3=on")
                .expect("form");
        let mut ticked: Vec<i64> = f.ticked("att_").collect();
        ticked.sort_unstable();
        assert_eq!(ticked, vec![7, 12]);
        let j: F = serde_json::from_str(r#"{"body":"x","send":true,"to":"a@b.c"}"#).expect("json");
        assert!(j.send);
        assert_eq!(j.to.as_deref(), Some("a@b.c"));
        let j: F = serde_json::from_str(r#"{"body":"x","send":false}"#).expect("json");
        assert!(!j.send);
    }
}
