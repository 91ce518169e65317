//! Embedded tables (parsed once, on first use) and the decoding rules of README-error-codes.md.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{format_code, Decoded};

const WIN32: &str = "win32";
const HRESULT: &str = "hresult";
const NTSTATUS: &str = "ntstatus";
/// HRESULT N bit: set by `HRESULT_FROM_NT`.
const N_BIT: u32 = 0x1000_0000;
/// NTSTATUS / Win32 name prefixes that mark the same error (`RPC_NT_x` ~ `RPC_S_x`, `STATUS_x` ~ `ERROR_x`).
const STEMS: [(&str, &str); 4] = [
    ("RPC_NT_", "RPC_S_"),
    ("RPC_NT_", "RPC_X_"),
    ("EPT_NT_", "EPT_S_"),
    ("STATUS_", "ERROR_"),
];

struct Row {
    name: &'static str,
    facility: &'static str,
    message: &'static str,
}

struct Activation {
    kind: &'static str,
    name: &'static str,
    message: &'static str,
    cause: &'static str,
    applies_to: &'static str,
}

struct Tables {
    /// (kind, value) → rows, best name first (the generator orders them).
    codes: HashMap<(&'static str, u32), Vec<Row>>,
    /// name → (kind, value) of each code with that name.
    names: HashMap<&'static str, Vec<(&'static str, u32)>>,
    facilities: HashMap<(&'static str, u32), &'static str>,
    activation: HashMap<u32, Activation>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(Tables::load)
}

/// Number of rows in the embedded error-code table.
#[cfg(test)]
pub(super) fn row_count() -> usize {
    tables().codes.values().map(Vec::len).sum()
}

/// Data lines of an embedded TSV file (header skipped), split into exactly `N` fields.
fn records<const N: usize>(
    text: &'static str,
    file: &'static str,
) -> impl Iterator<Item = [&'static str; N]> {
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(move |line| {
            let mut fields = line.split('\t');
            let out = [(); N].map(|()| {
                fields
                    .next()
                    .unwrap_or_else(|| panic!("{file}: short line {line:?}"))
            });
            assert!(fields.next().is_none(), "{file}: long line {line:?}");
            out
        })
}

fn kind(s: &str) -> &'static str {
    match s {
        "win32" => WIN32,
        "hresult" => HRESULT,
        "ntstatus" => NTSTATUS,
        _ => panic!("embedded table: unknown kind {s:?}"),
    }
}

fn hex(s: &str) -> u32 {
    s.strip_prefix("0x")
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .unwrap_or_else(|| panic!("embedded table: bad code {s:?}"))
}

/// " NAME" or "".
fn opt(name: Option<&str>) -> String {
    name.map_or_else(String::new, |n| format!(" {n}"))
}

impl Tables {
    fn load() -> Self {
        let mut codes = HashMap::<_, Vec<Row>>::new();
        let mut names = HashMap::<_, Vec<_>>::new();
        for [k, code, name, facility, message] in
            records(include_str!("data/error-codes.tsv"), "error-codes.tsv")
        {
            let key = (kind(k), hex(code));
            names.entry(name).or_default().push(key);
            codes.entry(key).or_default().push(Row {
                name,
                facility,
                message,
            });
        }
        let facilities = records(include_str!("data/facilities.tsv"), "facilities.tsv")
            .map(|[k, n, names]| {
                let n = n
                    .parse()
                    .unwrap_or_else(|_| panic!("facilities.tsv: bad number {n:?}"));
                ((kind(k), n), names)
            })
            .collect();
        let activation = records(include_str!("data/activation.tsv"), "activation.tsv")
            .map(|[code, k, name, message, cause, applies_to]| {
                (
                    hex(code),
                    Activation {
                        kind: kind(k),
                        name,
                        message,
                        cause,
                        applies_to,
                    },
                )
            })
            .collect();
        Tables {
            codes,
            names,
            facilities,
            activation,
        }
    }

    fn rows(&self, kind: &'static str, value: u32) -> &[Row] {
        self.codes.get(&(kind, value)).map_or(&[], Vec::as_slice)
    }

    fn first_name(&self, kind: &'static str, value: u32) -> Option<&'static str> {
        self.rows(kind, value).first().map(|r| r.name)
    }

    /// First facility name of `kind` for `number`, or "".
    fn facility(&self, kind: &str, number: u32) -> &'static str {
        self.facilities
            .get(&(kind, number))
            .map_or("", |n| n.split(';').next().unwrap_or(n))
    }

    /// The bit fields of `value` read as `kind`, with no table data yet.
    fn blank(&self, value: u32, kind: &'static str) -> Decoded {
        let (facility_number, severity) = match kind {
            WIN32 => (0, if value == 0 { "success" } else { "error" }),
            NTSTATUS => {
                let sev = match value >> 30 {
                    0 => "success",
                    1 => "informational",
                    2 => "warning",
                    _ => "error",
                };
                ((value >> 16) & 0xFFF, sev)
            }
            _ => (
                (value >> 16) & 0x1FFF,
                if value >> 31 == 1 { "error" } else { "success" },
            ),
        };
        let bits = kind != WIN32;
        Decoded {
            code: format_code(value),
            value,
            kind,
            name: String::new(),
            aliases: Vec::new(),
            description: String::new(),
            plain: None,
            facility: if bits {
                self.facility(kind, facility_number).to_owned()
            } else {
                String::new()
            },
            facility_number,
            severity,
            customer: bits && value & 0x2000_0000 != 0,
            n_bit: bits && value & N_BIT != 0,
            code_field: value & 0xFFFF,
            known: false,
            related: Vec::new(),
        }
    }

    /// Adds the names and text of the `kind`/`value` rows to `d`: the first name becomes `name` when that is
    /// still empty, the rest aliases. Win32 codes that raserror.h/mprerror.h reuse go to `related`.
    /// Returns false when the table has no such row.
    fn apply(&self, d: &mut Decoded, kind: &'static str, value: u32) -> bool {
        let rows = self.rows(kind, value);
        let Some(first) = rows.first() else {
            return false;
        };
        for r in rows {
            if kind == WIN32 && r.facility != first.facility {
                let text = if r.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", r.message)
                };
                d.related.push(format!(
                    "{} (raserror.h/mprerror.h) error {value} is {}{text}",
                    r.facility, r.name
                ));
                continue;
            }
            if d.name.is_empty() {
                r.name.clone_into(&mut d.name);
            } else if d.name != r.name && !d.aliases.iter().any(|a| a == r.name) {
                d.aliases.push(r.name.to_owned());
            }
            if d.description.is_empty() {
                r.message.clone_into(&mut d.description);
            }
        }
        if kind == WIN32 && !first.facility.is_empty() {
            d.related.push(format!(
                "{} error (raserror.h/mprerror.h reuse 600-999)",
                first.facility
            ));
        }
        if kind == d.kind && kind != WIN32 && first.facility.starts_with("FACILITY_") {
            first.facility.clone_into(&mut d.facility);
        }
        true
    }

    /// A code of the other kind (NTSTATUS when `to_nt`, else Win32) whose name has the same stem as one of `d`'s.
    fn counterpart(&self, d: &Decoded, to_nt: bool) -> Option<(&'static str, u32)> {
        let names = std::iter::once(&d.name).chain(&d.aliases);
        names
            .flat_map(|n| STEMS.iter().map(move |&(nt, w)| (n, nt, w)))
            .find_map(|(n, nt, w)| {
                let (from, to, kind) = if to_nt {
                    (w, nt, NTSTATUS)
                } else {
                    (nt, w, WIN32)
                };
                let candidate = format!("{to}{}", n.strip_prefix(from)?);
                let (name, codes) = self.names.get_key_value(candidate.as_str())?;
                codes.iter().find(|c| c.0 == kind).map(|c| (*name, c.1))
            })
    }

    fn win32_notes(&self, d: &mut Decoded) {
        if d.value != 0 {
            let hr = 0x8007_0000 | d.value;
            let name = opt(self.first_name(HRESULT, hr));
            d.related.push(format!(
                "As an HRESULT (HRESULT_FROM_WIN32): {}{name}",
                format_code(hr)
            ));
        }
        if let Some((name, s)) = self.counterpart(d, true) {
            d.related.push(format!(
                "NTSTATUS with the same name stem: {name} ({})",
                format_code(s)
            ));
        }
    }

    /// Win32 reading of NTSTATUS `s`: facility 7 carries a Win32 code, `RPC_NT_x`/`STATUS_x` follow the name.
    fn nt_notes(&self, d: &mut Decoded, s: u32) {
        if (s >> 16) & 0xFFF == 7 {
            let w = s & 0xFFFF;
            if !d.known {
                d.known = self.apply(d, WIN32, w);
            }
            d.related.push(format!(
                "FACILITY_NTWIN32 carries Win32 error {w}{}",
                opt(self.first_name(WIN32, w))
            ));
        } else if let Some((name, w)) = self.counterpart(d, false) {
            d.related.push(format!("Win32 equivalent {name} ({w})"));
            if d.description.is_empty() {
                let text = self.rows(WIN32, w).first().map_or("", |r| r.message);
                text.clone_into(&mut d.description);
            }
        }
    }
}

/// Decodes any 32-bit value: Win32 error, HRESULT or NTSTATUS (see the module docs for the rules).
#[must_use]
pub fn decode(value: u32) -> Decoded {
    let t = tables();
    let act = t.activation.get(&value);
    let mut d;
    if value <= 0xFFFF {
        d = t.blank(value, WIN32);
        d.known = t.apply(&mut d, WIN32, value);
        t.win32_notes(&mut d);
    } else if value >> 16 == 0x8007 {
        // HRESULT_FROM_WIN32: the Win32 reading gives name and text; HRESULT names are aliases.
        let w = value & 0xFFFF;
        d = t.blank(value, HRESULT);
        let win = t.apply(&mut d, WIN32, w);
        let hr = t.apply(&mut d, HRESULT, value);
        d.known = win || hr;
        d.related.push(format!(
            "HRESULT_FROM_WIN32({w}){}",
            opt(t.first_name(WIN32, w))
        ));
        if let Some(r) = t
            .rows(HRESULT, value)
            .first()
            .filter(|r| win && !r.message.is_empty())
        {
            if r.message != d.description {
                d.related.push(format!("{} text: {}", r.name, r.message));
            }
        }
    } else if !t.rows(HRESULT, value).is_empty() {
        d = t.blank(value, HRESULT);
        d.known = t.apply(&mut d, HRESULT, value);
        if let Some(n) = t.first_name(NTSTATUS, value) {
            d.related
                .push(format!("The same value is also NTSTATUS {n}"));
        }
    } else if !t.rows(NTSTATUS, value).is_empty() {
        d = t.blank(value, NTSTATUS);
        d.known = t.apply(&mut d, NTSTATUS, value);
        t.nt_notes(&mut d, value);
        d.related.push(format!(
            "As an HRESULT (HRESULT_FROM_NT): {}",
            format_code(value | N_BIT)
        ));
    } else if value & N_BIT != 0 {
        // HRESULT_FROM_NT: the facility is that of the wrapped NTSTATUS.
        let s = value & !N_BIT;
        d = t.blank(value, HRESULT);
        d.facility_number = (s >> 16) & 0xFFF;
        t.facility(NTSTATUS, d.facility_number)
            .clone_into(&mut d.facility);
        d.known = t.apply(&mut d, NTSTATUS, s);
        d.related.push(format!(
            "HRESULT_FROM_NT of NTSTATUS {}{}",
            format_code(s),
            opt(t.first_name(NTSTATUS, s))
        ));
        t.nt_notes(&mut d, s);
    } else {
        let nt = matches!(value >> 28, 0xC | 0x4 | 0x8)
            && t.facilities
                .contains_key(&(NTSTATUS, (value >> 16) & 0xFFF));
        let kind = act.map_or(if nt { NTSTATUS } else { HRESULT }, |a| a.kind);
        d = t.blank(value, kind);
        if kind == NTSTATUS {
            t.nt_notes(&mut d, value);
        }
        if !d.known && act.is_none() {
            d.related
                .push(format!("Not in the tables; bit fields read as {kind}"));
        }
    }
    if let Some(a) = act {
        d.known = true;
        d.plain = Some(if a.cause.is_empty() {
            a.message.to_owned()
        } else {
            format!("{} {}", a.message, a.cause)
        });
        if d.description.is_empty() {
            a.message.clone_into(&mut d.description);
        }
        if d.name.is_empty() && !a.name.contains('(') {
            a.name.clone_into(&mut d.name);
        }
        if !a.applies_to.is_empty() {
            d.related.push(format!(
                "Windows activation error; seen with: {}",
                a.applies_to
            ));
        }
    }
    d
}
