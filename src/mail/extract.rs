//! Understanding a thread: case tags, tracking tokens, error codes, serial numbers,
//! product keys, customer and OEM, scope and closure sections, greetings, quoted
//! text and secrets. Pure functions over text; configurable parts come in `Rules`.

use regex::Regex;
use std::sync::OnceLock;

/// A built-in pattern, compiled once. Every pattern passed here is a literal of ours,
/// covered by the unit tests, so compiling it cannot fail at run time.
#[allow(clippy::expect_used)]
pub(crate) fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("built-in pattern compiles"))
}

/// Spaces as mail clients write them: any Unicode white space plus zero-width ones.
const SP: &str = r"[\s\u{200B}\u{FEFF}\u{3000}]";

/// Strips `Re:`, `Fwd:`, `回复:`, `答复:`, `转发:`, `自动回复:` … in any repetition.
pub fn normalize_subject(subject: &str) -> String {
    static R: OnceLock<Regex> = OnceLock::new();
    let r = re(
        &R,
        r"(?i)^(?:[\s\u{200B}\u{FEFF}\u{3000}]*(?:re|fw|fwd|aw|sv|antw|回复|回覆|答复|转发|轉寄|自动回复|自動回覆)[\s\u{3000}]*(?:\[\d+\])?[\s\u{3000}]*[:：])+",
    );
    r.replace(subject.trim(), "").trim().to_string()
}

/// `[案例号: CAS-06496-T2V9C6 ]`, `[Case: CAS-…]`, full-width colons and brackets, any spaces.
pub fn find_case_tag(text: &str) -> Option<String> {
    static R: OnceLock<Regex> = OnceLock::new();
    let r = re(
        &R,
        &format!(
            r"(?i)[\[【]{SP}*(?:案例号|案例編號|案例编号|case(?:{SP}*(?:no\.?|number|#))?){SP}*[:：#]?{SP}*(CAS-\d{{5}}-[A-Z0-9]{{6}}){SP}*[\]】]"
        ),
    );
    r.captures(text).map(|c| c[1].to_ascii_uppercase())
}

/// The subject for display: reply and forward prefixes (also after the case tag and
/// nested), our case tag, tracking tokens and the `% … %` markers of the subject
/// convention removed, secrets masked (`mask_secrets`); the raw mail keeps the original.
/// Compiles the token pattern; the ingest uses `display_subject_re` with the one in `Rules`.
pub fn display_subject(subject: &str, prefixes: &[String]) -> String {
    display_subject_re(subject, &token_regex(prefixes))
}

/// `display_subject` with a compiled token pattern (`token_regex`).
pub fn display_subject_re(subject: &str, token_re: &Regex) -> String {
    static TAG: OnceLock<Regex> = OnceLock::new();
    static MARKERS: OnceLock<Regex> = OnceLock::new();
    let tag = re(
        &TAG,
        &format!(
            r"(?i)[\[【]{SP}*(?:案例号|案例編號|案例编号|case(?:{SP}*(?:no\.?|number|#))?){SP}*[:：#]?{SP}*CAS-\d{{5}}-[A-Z0-9]{{6}}{SP}*[\]】]"
        ),
    );
    // `% 联想OEM用户-…问题 %`: a pair of markers standing apart from the words
    // (`50% to 60%` keeps its signs).
    let markers = re(
        &MARKERS,
        &format!(r"(^|{SP}|[\]】)])[%％]{SP}*([^%％]*?[^%％\s]){SP}*[%％]({SP}|$)"),
    );
    let normal = normalize_subject(subject);
    let s = tag.replace_all(&normal, " ");
    let s = token_re.replace_all(&s, " ");
    // `回复: [案例号: …] 回复: x`: prefixes the tag stood in front of.
    let s = normalize_subject(&s);
    let s = markers.replace_all(&s, "${1} ${2} ${3}");
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    mask_secrets(if s.is_empty() { &normal } else { &s })
}

/// The pattern for tracking tokens of the configured prefixes (compiled once, in `Rules`).
/// The prefixes are escaped, so the pattern always compiles.
#[allow(clippy::expect_used)]
pub fn token_regex(prefixes: &[String]) -> Regex {
    let alts = prefixes
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| regex::escape(p))
        .collect::<Vec<_>>()
        .join("|");
    let alts = if alts.is_empty() {
        "CMIT".to_string()
    } else {
        alts
    };
    Regex::new(&format!(
        r"(?i)(?-u:\b)({alts})[:：]{SP}?([0-9]{{4,10}})(?-u:\b)"
    ))
    .expect("escaped prefixes compile")
}

/// Tracking tokens such as `CMIT:0001135`, normalised to upper-case prefixes.
pub fn find_tokens_re(text: &str, re: &Regex) -> Vec<String> {
    let mut out = Vec::new();
    for c in re.captures_iter(text) {
        let t = format!("{}:{}", c[1].to_ascii_uppercase(), &c[2]);
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Tracking tokens for the given prefixes (compiles the pattern; prefer `find_tokens_re`).
pub fn find_tokens(text: &str, prefixes: &[String]) -> Vec<String> {
    find_tokens_re(text, &token_regex(prefixes))
}

/// Customer organisation and OEM channel from the subject convention, in Chinese
/// (`% 联想OEM用户-中银金融科技有限公司用户反馈激活失败问题 %`) or English
/// (`% Lenovo OEM-Northwind Traders reports activation failure %`,
/// `% Lenovo OEM customer - Northwind Traders Ltd. activation issue %`). Without an
/// `OEM` part only the customer is read.
pub fn customer_oem_from_subject(subject: &str) -> (Option<String>, Option<String>) {
    static PCT: OnceLock<Regex> = OnceLock::new();
    static OEM: OnceLock<Regex> = OnceLock::new();
    static CUST: OnceLock<Regex> = OnceLock::new();
    static CUST_EN: OnceLock<Regex> = OnceLock::new();
    let Some(inner) = re(&PCT, r"[%％]\s*([^%％]+?)\s*[%％]")
        .captures(subject)
        .map(|c| c[1].to_string())
    else {
        return (None, None);
    };
    let (oem, rest) = match re(
        &OEM,
        r"(?i)^(.+?)\s*(?-i:OEM)\s*(?:用户|客户|(?:customer|user|client)s?(?-u:\b))?\s*[-－—–_:：]\s*(.+)$",
    )
    .captures(&inner)
    {
        Some(c) => (Some(c[1].trim().to_string()), c[2].to_string()),
        None => (None, inner.clone()),
    };
    let customer = re(&CUST, r"^(.+?)(?:用户|客户)?(?:反馈|报告|报障|咨询)")
        .captures(&rest)
        .or_else(|| {
            re(
                &CUST_EN,
                r"(?i)^(.+?)[\s,:;-]*(?:(?:customer|user|client)s?\s+)?(?-u:\b)(?:(?:is|has|have)\s+)?(?:reports?|reported|reporting|feedback|complains?|complained|activation|issues?|problems?|fail(?:s|ed|ure|ing)?|error|cannot|can't|unable)(?-u:\b)",
            )
            .captures(&rest)
        })
        .map(|c| {
            c[1].trim()
                .trim_end_matches(['-', '–', '—', ':', '：', ',', ';'])
                .trim()
                .to_string()
        });
    (
        customer.filter(|c| !c.is_empty()),
        oem.filter(|o| !o.is_empty()),
    )
}

/// Error codes in text, normalised to `0x` + 8 upper-case hex digits.
/// Bare 8-digit hex values count only when they are known codes or failure codes.
pub fn error_codes(text: &str) -> Vec<String> {
    static HEX: OnceLock<Regex> = OnceLock::new();
    static KEYWORD: OnceLock<Regex> = OnceLock::new();
    let mut out: Vec<String> = Vec::new();
    let mut push = |v: u32, strong: bool| {
        if strong || v >= 0x8000_0000 || (v > 0xFFFF && crate::codes::is_known(v)) {
            let c = crate::codes::format_code(v);
            if !out.contains(&c) {
                out.push(c);
            }
        }
    };
    for c in re(&HEX, r"(?i)(?:^|[^0-9a-z])0x([0-9a-f]{8})(?:[^0-9a-z]|$)").captures_iter(text) {
        if let Ok(v) = u32::from_str_radix(&c[1], 16) {
            push(v, false);
        }
    }
    // "HRESULT: C004F074", "错误代码 0x5", "error code: 0x80070005", "hr=0x…"
    for c in re(
        &KEYWORD,
        r"(?i)(?:hresult|(?-u:\b)hr|error\s*code|error|错误代码|错误码|錯誤代碼)\s*[:=：]?\s*(?:0x([0-9a-f]{1,8})|([0-9a-f]{8}))(?-u:\b)",
    )
    .captures_iter(text)
    {
        let hex = c.get(1).or(c.get(2)).map(|m| m.as_str()).unwrap_or("");
        if let Ok(v) = u32::from_str_radix(hex, 16) {
            push(v, v != 0);
        }
    }
    out
}

/// Serial numbers, in order of first appearance, each once: what the configured
/// pattern finds, plus the value after a label people write (`S/N: AB-12-34`,
/// `序列号：PF2XK9`, `Serial number is X1234`, `序列号 | T102210000999`, a label and
/// its value in consecutive table cells or lines), even when that value does not match
/// the pattern (`labelled_serials`).
pub fn serial_numbers(text: &str, pattern: &Regex) -> Vec<String> {
    let mut found: Vec<(usize, String)> = pattern
        .find_iter(text)
        .map(|m| (m.start(), m.as_str().to_string()))
        .collect();
    found.extend(labelled_serials(text));
    found.sort_by_key(|(at, _)| *at);
    let mut out: Vec<String> = Vec::new();
    for (_, s) in found {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// Labels that introduce a serial number. The Latin ones start on an ASCII word
/// boundary (so `ISSN` is no label); where they end is checked by `serial_after_label`
/// (so `snapshot` is none either).
const SERIAL_LABELS: &str = r"(?i)(?:主机序列号码?|机器序列号码?|主機序號|機器序號|序列号码?|序列號碼?|序號|(?-u:\b)(?:(?:machine|host|bios|device)[ \t_-]*)?serials?(?:[ \t_-]*(?:numbers?|nums?|no\.?|#))?|(?-u:\b)(?:s/n|sn)(?:码|碼|号|號)?)(?:信息)?(?:如下)?";

/// Placeholders written where a serial would be.
const NOT_A_SERIAL: &[&str] = &[
    "UNKNOWN",
    "UNAVAILABLE",
    "MISSING",
    "NUMBER",
    "SERIAL",
    "DEFAULT",
    "INVALID",
    "PENDING",
    "REQUIRED",
    "EMPTY",
];

/// How a label and its value are separated: nothing (`序列号T1022…`), spaces or `is`,
/// or a sign that the next thing is the value (`:`, `=`, `|`, a tab, a line break,
/// `为`, `是`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Separator {
    Glued,
    Space,
    Sign,
}

/// Values after serial-number labels (`SERIAL_LABELS`), with where each starts.
fn labelled_serials(text: &str) -> Vec<(usize, String)> {
    static LABEL: OnceLock<Regex> = OnceLock::new();
    re(&LABEL, SERIAL_LABELS)
        .find_iter(text)
        .filter_map(|m| serial_after_label(text, m.as_str(), m.end()))
        .collect()
}

/// The serial after a label that ends at `at`, if what follows is one: a run of ASCII
/// letters, digits, `-`, `_`, `/` and `.` (trailing punctuation trimmed), 4 to 40
/// characters, with a digit, or all capitals (at least 6, after a sign). A value on the
/// next line (a table row split by HTML-to-text) must fill its cell. Product keys and
/// error codes are never serials.
fn serial_after_label(text: &str, label: &str, at: usize) -> Option<(usize, String)> {
    let rest = &text[at..];
    let mut sep = Separator::Glued;
    let mut newlines = 0;
    let mut word = false;
    let mut i = 0;
    while let Some(c) = rest[i..].chars().next() {
        let next = &rest[i + c.len_utf8()..];
        match c {
            ' ' | '\u{A0}' | '\u{3000}' | '\u{200B}' | '\u{FEFF}' | '\r' => {
                sep = sep.max(Separator::Space);
            }
            '\n' => {
                newlines += 1;
                if newlines > 2 {
                    return None;
                }
                sep = Separator::Sign;
            }
            '\t' | ':' | '：' | '=' | '＝' | '#' | '|' | '｜' => sep = Separator::Sign,
            '是' | '为' | '為' if !word => {
                word = true;
                sep = Separator::Sign;
            }
            'i' | 'I'
                if !word
                    && sep == Separator::Space
                    && next.starts_with(['s', 'S'])
                    && !next[1..].starts_with(|c: char| c.is_ascii_alphanumeric()) =>
            {
                word = true;
                i += 2;
                continue;
            }
            '(' | '（' => {
                // `序列号（SN）：…`, `Serial number (S/N): …`: a short aside without digits.
                let Some(close) = next.find([')', '）']) else {
                    break;
                };
                let aside = &next[..close];
                if aside.chars().count() > 12
                    || aside.contains('\n')
                    || aside.chars().any(|c| c.is_ascii_digit())
                {
                    break;
                }
                let closer = next[close..].chars().next().map_or(1, char::len_utf8);
                i += c.len_utf8() + close + closer;
                continue;
            }
            _ => break,
        }
        i += c.len_utf8();
    }
    let mut start = at + i;
    if let Some(q) = text[start..]
        .chars()
        .next()
        .filter(|q| "\"'“‘「『【[<(（".contains(*q))
    {
        start += q.len_utf8();
    }
    let run_len = text[start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_./".contains(c)))
        .unwrap_or(text.len() - start);
    let run = &text[start..start + run_len];
    let after = &text[start + run_len..];
    let value = run.trim_end_matches(['-', '_', '.', '/']);
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !(4..=40).contains(&value.len())
        || after.starts_with('@')
    {
        return None;
    }
    if sep == Separator::Glued
        && label.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !label.to_ascii_lowercase().ends_with("number")
        && !label.to_ascii_lowercase().ends_with("serial")
    {
        return None; // `snapshot`, `SNMP`, `serial no` + `t`
    }
    if newlines > 0 {
        let line = after.split('\n').next().unwrap_or("");
        let cell = line.trim_start_matches([' ', '\u{A0}', '\u{3000}', '\r']);
        if !(cell.is_empty() || cell.starts_with(['\t', '|', '｜'])) {
            return None;
        }
    }
    let digit = value.chars().any(|c| c.is_ascii_digit());
    let lower = value.chars().any(|c| c.is_ascii_lowercase());
    let ok = if sep == Separator::Glued {
        digit && !lower
    } else if digit {
        true
    } else {
        sep == Separator::Sign
            && value.len() >= 6
            && value.chars().all(|c| c.is_ascii_uppercase())
            && !NOT_A_SERIAL.contains(&value)
    };
    let hex_code = value.len() > 2 && value[..2].eq_ignore_ascii_case("0x");
    let key = product_key_patterns().iter().any(|r| r.is_match(value));
    (ok && !hex_code && !key).then(|| (start, value.to_string()))
}

/// What a masked secret becomes.
const MASK: &str = "******";

/// Product keys: five groups of five, as printed (`VK7JG-NPHTM-…`, upper case with
/// dashes), or in lower case, without dashes or with spaces, when every character is
/// from the product-key alphabet (no vowels but the N of newer keys, no 0, 1 or 5), so
/// that words, hex codes and serial numbers are not taken for keys. The last group is
/// captured.
fn product_key_patterns() -> [&'static Regex; 2] {
    static DASHED: OnceLock<Regex> = OnceLock::new();
    static ANY: OnceLock<Regex> = OnceLock::new();
    [
        re(&DASHED, r"(?-u:\b)(?:[A-Z0-9]{5}-){4}([A-Z0-9]{5})(?-u:\b)"),
        re(
            &ANY,
            r"(?i)(?-u:\b)(?:[BCDFGHJKMNPQRTVWXY2346789]{5}[- ]?){4}([BCDFGHJKMNPQRTVWXY2346789]{5})(?-u:\b)",
        ),
    ]
}

fn masked_key(last: &str) -> String {
    format!("*****-*****-*****-*****-{}", last.to_ascii_uppercase())
}

/// Product keys, masked: only the last five characters stay readable.
pub fn product_keys(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.to_string();
    for r in product_key_patterns() {
        for c in r.captures_iter(&rest) {
            let masked = masked_key(&c[1]);
            if !out.contains(&masked) {
                out.push(masked);
            }
        }
        rest = r.replace_all(&rest, "").into_owned();
    }
    out
}

/// Labels that always introduce a secret when followed by `:`, `：` or `=`. The long
/// English words need no word boundary, so `clickpassword: x` (words glued together by
/// HTML-to-text) is caught too.
const LABELS: &str = r"用户名|用戶名|账号|帳號|帐号|登录名|登录账号|登錄名|密码|密碼|口令|验证码|驗證碼|password|passwd|passcode|passphrase|username|(?-u:\b)(?:user[ _-]?name|user[ _-]?id|login|pwd|pw|pass|pin|secret|api[_ -]?key|access[_ -]?key|secret[_ -]?key|client[_ -]?secret|token)";

/// Labels strong enough to introduce a secret without a colon: `密码 x`, `密码是x`,
/// `口令为 x`, `password x`, `password is x`, `密码（x）`. The value is checked by
/// `weak_value_is_secret` so that prose ("reset your password via the portal",
/// "密码是什么") stays.
const WEAK_LABELS: &str =
    r"用户名|用戶名|密码|密碼|口令|password|passwd|passcode|passphrase|(?-u:\b)pwd";

/// A value in quotes (masked whole, spaces included) or up to the next space. The
/// quotes are unbounded here and a quoted value of more than `QUOTED_MAX` characters
/// is cut to its first word by `split_value`: a bounded repetition (`{1,200}`) of a
/// Unicode class under `(?i)` compiled to an automaton of hundreds of thousands of
/// states, and every thread's regex cache was sized by it (25 MiB of the heap under
/// concurrent delivery).
const VALUE: &str = r#""[^"\r\n]+"|'[^'\r\n]+'|“[^”\r\n]+”|‘[^’\r\n]+’|「[^」\r\n]+」|[^\s<>&]+"#;

/// The longest quoted value masked whole, in characters between the quotes.
const QUOTED_MAX: usize = 200;

/// A matched value split into what is masked and what stays: a quoted value whole, an
/// overlong quoted value only up to its first space (as an unquoted one).
fn split_value(v: &str) -> (&str, &str) {
    if is_quoted(v) && v.chars().count() <= QUOTED_MAX + 2 {
        return (v, "");
    }
    let end = v
        .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '&'))
        .unwrap_or(v.len());
    v.split_at(end)
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{2E80}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{FE30}'..='\u{FE4F}' | '\u{FF00}'..='\u{FFEF}')
}

fn is_quoted(v: &str) -> bool {
    v.starts_with(['"', '\'', '“', '‘', '「'])
}

/// Whether the word after a label without a colon is a secret rather than prose.
fn weak_value_is_secret(label: &str, sep: &str, value: &str) -> bool {
    if is_quoted(value) {
        return true;
    }
    let v = value.trim_end_matches(|c: char| {
        matches!(c, '.' | ',' | ';' | '!' | '?' | ')' | ']' | '}') || is_cjk(c)
    });
    let Some(first) = v.chars().next() else {
        return false;
    };
    if is_cjk(first) {
        return false;
    }
    // A Chinese label or separator, or a colon after "is", is a label for sure.
    let labelled = !label.is_ascii() || !sep.is_ascii() || sep.contains(':');
    labelled || v.chars().any(|c| !c.is_alphabetic()) || v.chars().skip(1).any(char::is_uppercase)
}

/// Masks credentials, secrets in URLs and product keys, for display and the API:
/// `密码：x`, `密码 x`, `密码是x`, `口令为 x`, `密码（x）`, `用户名 x`, `password x`,
/// `password is x`, `pass: x`, `PW: x`, quoted values whole, `?pass=…` and `user:pw@`
/// in URLs, `Authorization:` headers, `Bearer …`/`Basic …` credentials and product keys
/// in any case, with or without dashes (the last group stays readable).
pub fn mask_secrets(text: &str) -> String {
    static AUTH: OnceLock<Regex> = OnceLock::new();
    static SCHEME: OnceLock<Regex> = OnceLock::new();
    static URLQ: OnceLock<Regex> = OnceLock::new();
    static USERINFO: OnceLock<Regex> = OnceLock::new();
    static CRED: OnceLock<Regex> = OnceLock::new();
    static WEAK: OnceLock<Regex> = OnceLock::new();
    static PAREN: OnceLock<Regex> = OnceLock::new();

    // `Authorization: Basic dXNlcjpwYXNz` (the rest of the header line).
    let auth = re(
        &AUTH,
        r"(?i)((?:proxy-)?authorization[ \t]*[:：=][ \t]*)(?:(basic|bearer|digest|negotiate|ntlm|token|apikey)[ \t]+)?[^\s<>][^\r\n<>]*",
    );
    let s = auth.replace_all(text, |c: &regex::Captures| match c.get(2) {
        Some(scheme) => format!("{}{} {MASK}", &c[1], scheme.as_str()),
        None => format!("{}{MASK}", &c[1]),
    });
    // `Bearer eyJhbGci…` and `Basic dXNlcjpwYXNz` anywhere else.
    let scheme = re(
        &SCHEME,
        r"(?i)(?-u:\b)(bearer|basic)([ \t]+)([A-Za-z0-9._~+/-]{8,}=*)",
    );
    let s = scheme.replace_all(&s, |c: &regex::Captures| {
        let v = &c[3];
        let upper = v.chars().skip(1).filter(char::is_ascii_uppercase).count();
        let digit = v.chars().any(|ch| ch.is_ascii_digit());
        let secret = if c[1].eq_ignore_ascii_case("basic") {
            v.len() >= 12
                && !v.contains(['.', '_', '~', '-'])
                && (digit || v.ends_with('=') || upper >= 3)
        } else {
            digit || upper > 0 || v.contains(['.', '_', '~', '+', '/', '=', '-'])
        };
        if secret {
            format!("{}{}{MASK}", &c[1], &c[2])
        } else {
            c[0].to_string()
        }
    });
    let urlq = re(
        &URLQ,
        r"(?i)([?&;](?:access_token|token|auth|key|api_key|apikey|sig|signature|sdata|password|passwd|pass|pwd|pw|passphrase|secret|client_secret|private_token|access_key|code|session|sid|pin)=)[^&\s<>#]+",
    );
    let s = urlq.replace_all(&s, "${1}***");
    let userinfo = re(
        &USERINFO,
        r"(?i)(?-u:\b)([a-z][a-z0-9+.-]*://)[^/\s:@<>]+:[^/\s@<>]+@",
    );
    let s = userinfo.replace_all(&s, "${1}***@");
    // `label: value`, `label = value`: always a secret.
    let cred = re(
        &CRED,
        &format!(r"(?i)({LABELS})([ \t\u{{3000}}]*[:：=][ \t\u{{3000}}]*)({VALUE})"),
    );
    let s = cred.replace_all(&s, |c: &regex::Captures| {
        let (_, rest) = split_value(&c[3]);
        format!("{}{}{MASK}{rest}", &c[1], &c[2])
    });
    // `密码是x`, `密码为 x`, `password is x`, `密码 x`, `password x`: when it looks like one.
    let weak = re(
        &WEAK,
        &format!(
            r"(?i)({WEAK_LABELS})([ \t\u{{3000}}]*(?:是|为|為)[ \t\u{{3000}}]*[:：]?[ \t\u{{3000}}]*|[ \t\u{{3000}}]+(?:is|was)(?-u:\b)[ \t\u{{3000}}]*[:：]?[ \t\u{{3000}}]*|[ \t\u{{3000}}]+)({VALUE})"
        ),
    );
    let s = weak.replace_all(&s, |c: &regex::Captures| {
        let (value, rest) = split_value(&c[3]);
        if weak_value_is_secret(&c[1], &c[2], value) {
            format!("{}{}{MASK}{rest}", &c[1], &c[2])
        } else {
            c[0].to_string()
        }
    });
    // `密码（x）`, `password (x)`.
    let paren = re(
        &PAREN,
        &format!(
            r"(?i)({WEAK_LABELS})([ \t\u{{3000}}]*[（(][ \t\u{{3000}}]*)([^\s）)]+)([ \t\u{{3000}}]*[）)])"
        ),
    );
    let s = paren.replace_all(&s, |c: &regex::Captures| {
        // At most 100 characters in the brackets (counted here, not by the pattern).
        if c[3].chars().count() <= 100 && weak_value_is_secret(&c[1], "(", &c[3]) {
            format!("{}{}{MASK}{}", &c[1], &c[2], &c[4])
        } else {
            c[0].to_string()
        }
    });
    let mut s = s.into_owned();
    for r in product_key_patterns() {
        s = r
            .replace_all(&s, |c: &regex::Captures| masked_key(&c[1]))
            .into_owned();
    }
    s
}

/// Splits a body into what the sender wrote and what is folded away by default:
/// quoted earlier mail and the signature. The whole text stays available.
pub fn split_folded(text: &str) -> (String, String) {
    static MARK: OnceLock<Regex> = OnceLock::new();
    let mark = re(
        &MARK,
        r"(?i)^(?:>|-{3,}\s*(?:original message|原始邮件|原始郵件)|-- ?$|-{6,}\s*$|_{10,}\s*$|on .{5,200} wrote:\s*$|在.{2,200}写道[:：]\s*$|(?:发件人|寄件者|from)\s*[:：].+$|sincerely,?\s*$|best regards,?\s*$|此致|祝好)",
    );
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, l)| mark.is_match(l.trim_end()))
        .map(|(i, _)| i);
    match cut {
        Some(i) => (
            lines[..i].join("\n").trim_end().to_string(),
            lines[i..].join("\n"),
        ),
        None => (text.trim_end().to_string(), String::new()),
    }
}

/// Who a message greets on its first line: R&D as a team, a named person, or nobody.
#[derive(Debug, Clone, PartialEq)]
pub enum Greeting {
    Dev,
    Name(String),
    None,
}

pub fn greeting(text: &str) -> Greeting {
    static DEV: OnceLock<Regex> = OnceLock::new();
    static EN: OnceLock<Regex> = OnceLock::new();
    static ZH: OnceLock<Regex> = OnceLock::new();
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if re(&DEV, r"(?i)^(?:hi|hello|dear|hey|to)?[\s,，]*(?:dev|devs|developers?|r&d|rd|研发|研发同事|研发团队)(?:\s*team)?\s*(?:[,，:：!！]|$)").is_match(first) {
        return Greeting::Dev;
    }
    if let Some(c) = re(
        &EN,
        r"(?i)^(?:hi|hello|dear|hey)[\s,，]+([^,，:：!！]{1,40}?)\s*(?:[,，:：!！]|$)",
    )
    .captures(first)
    {
        return Greeting::Name(c[1].trim().to_string());
    }
    if let Some(c) = re(&ZH, r"^([^,，:：!！\s]{1,12}?)[,，\s]*(?:你好|您好)").captures(first)
    {
        return Greeting::Name(c[1].trim().to_string());
    }
    Greeting::None
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scope {
    pub problem_definition: String,
    pub problem_scope: String,
    pub log_instructions: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Closure {
    pub problem_definition: String,
    pub resolution: String,
    pub root_cause: Option<String>,
}

const HEADERS: &[(&str, &[&str])] = &[
    (
        "definition",
        &[
            "问题定义",
            "問題定義",
            "problem definition",
            "problem description",
            "issue definition",
        ],
    ),
    ("scope", &["问题范围", "問題範圍", "problem scope", "scope"]),
    (
        "logs",
        &["日志收集", "日誌收集", "log collection", "collecting logs"],
    ),
    (
        "progress",
        &[
            "问题进展",
            "問題進展",
            "解决方案",
            "处理结果",
            "resolution",
            "progress",
            "solution",
        ],
    ),
    (
        "root_cause",
        &["根本原因", "问题原因", "root cause", "cause"],
    ),
    (
        "summary",
        &["案例总结", "案例總結", "case summary", "summary"],
    ),
];

/// Which known section header a line is, and the text after the colon on that line.
fn section_header(line: &str) -> Option<(&'static str, String)> {
    let t = line.trim().trim_start_matches(['*', '#', '-', ' ']);
    for (name, labels) in HEADERS {
        for label in *labels {
            // The labels are lower-case ASCII or Chinese: matched on the line itself,
            // ASCII case ignored. (Lower-casing the whole line first and slicing the
            // line at the lower-cased text's offsets panicked on letters whose lower
            // case is longer or shorter in UTF-8: `Summary:KK` with Kelvin signs.)
            let rest = t
                .get(..label.len())
                .filter(|head| head.eq_ignore_ascii_case(label))
                .and_then(|_| t.get(label.len()..));
            if let Some(rest) = rest {
                let rest_trim = rest.trim_start();
                if let Some(after) = rest_trim.strip_prefix([':', '：']) {
                    return Some((name, after.trim().to_string()));
                }
                if rest_trim.is_empty() && *name == "summary" {
                    return Some((name, String::new()));
                }
            }
        }
    }
    None
}

/// Sections of a body by header; a section ends at a blank line, the next header,
/// a closing sentence or the signature.
fn sections(text: &str) -> Vec<(&'static str, String)> {
    static END: OnceLock<Regex> = OnceLock::new();
    let end = re(
        &END,
        r"(?i)^(?:接下来|如果您|如您|谢谢|感谢|此致|next,|if you|please let|thank|regards|best|sincerely|-{2,}|_{5,})",
    );
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let mut current: Option<(&'static str, Vec<String>)> = None;
    let flush = |cur: &mut Option<(&'static str, Vec<String>)>,
                 out: &mut Vec<(&'static str, String)>| {
        if let Some((n, lines)) = cur.take() {
            out.push((n, lines.join("\n").trim().to_string()));
        }
    };
    for line in text.lines() {
        if let Some((name, rest)) = section_header(line) {
            flush(&mut current, &mut out);
            let mut lines = Vec::new();
            if !rest.is_empty() {
                lines.push(rest);
            }
            current = Some((name, lines));
            continue;
        }
        let ends = line.trim().is_empty() || end.is_match(line.trim());
        if let Some((name, lines)) = current.as_mut() {
            // The log-collection section runs over numbered steps and blank lines.
            if *name == "logs" && !end.is_match(line.trim()) {
                lines.push(line.trim_end().to_string());
                continue;
            }
            if ends && !lines.is_empty() {
                flush(&mut current, &mut out);
            } else if !line.trim().is_empty() {
                lines.push(line.trim().to_string());
            }
        }
    }
    flush(&mut current, &mut out);
    out
}

fn first_section(secs: &[(&'static str, String)], name: &str) -> Option<String> {
    secs.iter()
        .find(|(n, v)| *n == name && !v.is_empty())
        .map(|(_, v)| v.clone())
}

/// 问题定义 / 问题范围 ("Problem definition" / "Scope"), unless the message is a closure.
pub fn extract_scope(text: &str) -> Option<Scope> {
    let secs = sections(text);
    if secs.iter().any(|(n, _)| *n == "summary") {
        return None;
    }
    let def = first_section(&secs, "definition")?;
    let scope = first_section(&secs, "scope")?;
    Some(Scope {
        problem_definition: def,
        problem_scope: scope,
        log_instructions: first_section(&secs, "logs"),
    })
}

/// 案例总结 with 问题定义 / 问题进展 ("Case summary" with "Problem definition" / "Resolution").
pub fn extract_closure(text: &str) -> Option<Closure> {
    let secs = sections(text);
    if !secs.iter().any(|(n, _)| *n == "summary") {
        return None;
    }
    let resolution = first_section(&secs, "progress")?;
    Some(Closure {
        problem_definition: first_section(&secs, "definition").unwrap_or_default(),
        resolution,
        root_cause: first_section(&secs, "root_cause"),
    })
}

/// Mail ids that cannot be real (no `@`, spaces, absurd length) are ignored for threading.
pub fn plausible_message_id(id: &str) -> bool {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    id.len() >= 3
        && id.len() <= 250
        && id.contains('@')
        && !id.starts_with('@')
        && !id.ends_with('@')
        && !id.contains(char::is_whitespace)
}

/// Out-of-office subjects in both languages.
pub fn auto_reply_subject(subject: &str) -> bool {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        r"(?i)^\s*(?:auto(?:matic)?[\s-]*(?:reply|response)|auto:|out of (?:the )?office|ooo\b|自动回复|自動回覆|休假|不在办公室|外出)",
    )
    .is_match(subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_SUBJECT: &str =
        "回复: [案例号:\u{2009}CAS-06496-T2V9C6 ] % 联想OEM用户-中银金融科技有限公司用户反馈激活失败问题 % 初次响应 CMIT:0001135";

    /// Letters whose lower case has another UTF-8 length after a header's colon (the
    /// Kelvin sign, a dotted capital I) are text like any other; headers match in any
    /// ASCII case.
    #[test]
    fn section_headers_take_any_text_after_the_colon() {
        assert_eq!(
            section_header("Summary:\u{212A}\u{212A}"),
            Some(("summary", "\u{212A}\u{212A}".to_string()))
        );
        assert_eq!(
            section_header("Summary:İİİİİİİİİİ"),
            Some(("summary", "İİİİİİİİİİ".to_string()))
        );
        assert_eq!(
            section_header("** ROOT CAUSE ： driver"),
            Some(("root_cause", "driver".to_string()))
        );
        assert_eq!(
            section_header("问题定义：激活失败"),
            Some(("definition", "激活失败".to_string()))
        );
        assert_eq!(section_header("Summarys: no"), None);
        for line in ["İİİİİİİİİİ", "\u{212A}", "Sİ", "案例"] {
            assert_eq!(section_header(line), None, "{line}");
        }
        // The whole reading of a body with them does not fail either.
        let body = "Hi,\n\nSummary:\u{212A}\u{212A}\n问题定义:İİİİİİİİİİ\n";
        let _ = (
            extract_closure(body),
            extract_scope(body),
            split_folded(body),
        );
    }

    #[test]
    fn subject_prefixes() {
        assert_eq!(normalize_subject("Re: RE: 回复：答复: Fwd: hello"), "hello");
        assert_eq!(normalize_subject("自动回复: 转发: FW: x"), "x");
        assert_eq!(normalize_subject("Rebuild failed"), "Rebuild failed");
    }

    #[test]
    fn case_tag_variants() {
        assert_eq!(
            find_case_tag(SEED_SUBJECT).as_deref(),
            Some("CAS-06496-T2V9C6")
        );
        assert_eq!(
            find_case_tag("x [Case: CAS-12345-ABCDEF] y").as_deref(),
            Some("CAS-12345-ABCDEF")
        );
        assert_eq!(
            find_case_tag("【案例号：\u{3000}CAS-12345-ABCDEF】").as_deref(),
            Some("CAS-12345-ABCDEF")
        );
        assert_eq!(find_case_tag("CAS-12345-ABCDEF alone"), None);
    }

    #[test]
    fn tokens_customer_and_display() {
        let p = vec!["CMIT".to_string()];
        assert_eq!(
            find_tokens(SEED_SUBJECT, &p),
            vec!["CMIT:0001135".to_string()]
        );
        let (c, o) = customer_oem_from_subject(SEED_SUBJECT);
        assert_eq!(c.as_deref(), Some("中银金融科技有限公司"));
        assert_eq!(o.as_deref(), Some("联想"));
        let d = display_subject(SEED_SUBJECT, &p);
        assert!(
            !d.contains("CAS-") && !d.contains("CMIT") && d.contains("激活失败"),
            "{d}"
        );
    }

    #[test]
    fn error_code_forms() {
        assert_eq!(
            error_codes("异常来自HRESULT:0xC002001B。"),
            vec!["0xC002001B"]
        );
        assert_eq!(
            error_codes("错误代码 0xc004f074 and error 0x8007232B"),
            vec!["0xC004F074", "0x8007232B"]
        );
        assert_eq!(error_codes("HRESULT: C004F074"), vec!["0xC004F074"]);
        assert!(error_codes("address 0x00401000 in memory").is_empty());
    }

    #[test]
    fn serials_and_keys() {
        let p = Regex::new(crate::config::DEFAULT_SERIAL_PATTERN).expect("pattern");
        assert_eq!(
            serial_numbers("序列号信息如下：T102210000943", &p),
            vec!["T102210000943"]
        );
        assert_eq!(
            serial_numbers("Serial number: PF2ABC12", &p),
            vec!["PF2ABC12"]
        );
        assert_eq!(
            product_keys("key VK7JG-NPHTM-C97JM-9MPGT-3V66T"),
            vec!["*****-*****-*****-*****-3V66T"]
        );
    }

    fn default_serial_pattern() -> Regex {
        Regex::new(crate::config::DEFAULT_SERIAL_PATTERN).expect("pattern")
    }

    /// Issue 13, item 8: the value after each label people write, whether or not the
    /// configured pattern (`T` + 12 digits by default) matches it, in order of first
    /// appearance and once each.
    #[test]
    fn serial_label_forms_table() {
        let p = default_serial_pattern();
        let cases: &[(&str, &[&str])] = &[
            ("S/N: AB-12-34", &["AB-12-34"]),
            ("s/n：ab-12-34x", &["ab-12-34x"]),
            ("SN: PF2XK9", &["PF2XK9"]),
            ("sn=PF2XK9", &["PF2XK9"]),
            ("SN is PF2XK9.", &["PF2XK9"]),
            ("SN 1234", &["1234"]),
            ("Serial: X1234/", &["X1234"]),
            ("Serial No. 12345.", &["12345"]),
            ("serial no.12345", &["12345"]),
            ("Serial #: 5CG1234XYZ", &["5CG1234XYZ"]),
            ("Serial Number: PF2ABC12", &["PF2ABC12"]),
            ("the serial number is 5CG1234XYZ.", &["5CG1234XYZ"]),
            ("Serial number is: R9-0001", &["R9-0001"]),
            ("Serial numbers: X1234", &["X1234"]),
            ("Machine serial: MXL-4521.B", &["MXL-4521.B"]),
            ("machine serial number = MXL_4521", &["MXL_4521"]),
            ("serialNumber=PF2XK9A", &["PF2XK9A"]),
            ("Serial NumberPF2XK9", &["PF2XK9"]),
            ("Serial number: \"PF2XK9\"", &["PF2XK9"]),
            ("Serial number (S/N): ZX-9981", &["ZX-9981"]),
            ("Serial (PF2XK9)", &["PF2XK9"]),
            ("序列号：PF2XK9", &["PF2XK9"]),
            ("序列号: PF2XK9，请查", &["PF2XK9"]),
            ("序列号为 PF2XK9", &["PF2XK9"]),
            ("序列号是PF2XK9，谢谢", &["PF2XK9"]),
            ("序列号（SN）：ZX9981", &["ZX9981"]),
            ("主机序列号：PC0ABCDE", &["PC0ABCDE"]),
            ("机器序列号: R90-12345", &["R90-12345"]),
            ("SN码：8CG9102XYZ", &["8CG9102XYZ"]),
            ("主机SN：8CG9102XYZ", &["8CG9102XYZ"]),
            ("序列号：PFXKABCD", &["PFXKABCD"]),
            ("Serial: ABCDEFG", &["ABCDEFG"]),
            ("序列号PF2XK9", &["PF2XK9"]),
            // The default pattern matches too: one result.
            ("序列号T102210000943", &["T102210000943"]),
            ("序列号信息如下：T102210000943", &["T102210000943"]),
            ("S/N: T102210000943.", &["T102210000943"]),
            // Pattern results stay; order of first appearance; each once.
            (
                "BIOS serial T102210000943 and S/N: AB-12-34",
                &["T102210000943", "AB-12-34"],
            ),
            (
                "S/N: AB-12-34, then T102210000943",
                &["AB-12-34", "T102210000943"],
            ),
            ("SN: PF2XK9 …\n序列号：PF2XK9 and sn PF2XK9", &["PF2XK9"]),
            ("T102210000943 alone", &["T102210000943"]),
        ];
        for (text, want) in cases {
            assert_eq!(serial_numbers(text, &p), *want, "{text:?}");
        }
    }

    /// Text from HTML tables: the label in one cell, the value in the next (`|`, tab,
    /// a line break, a blank line between).
    #[test]
    fn serial_label_table_cells() {
        let p = default_serial_pattern();
        let cases: &[(&str, &[&str])] = &[
            ("序列号 | PF2XK9", &["PF2XK9"]),
            ("| 序列号 | PF2XK9 | 型号 | X1 |", &["PF2XK9"]),
            ("序列号｜PF2XK9", &["PF2XK9"]),
            ("序列号 | T102210000999", &["T102210000999"]),
            ("Serial Number\tPF2XK9\tModel\tThinkPad X1", &["PF2XK9"]),
            ("序列号\nPF2XK9\n型号\nThinkPad", &["PF2XK9"]),
            ("Serial number\r\n\r\nAB-12-34\r\n", &["AB-12-34"]),
            ("| Serial No. |\n| AB-12-34 | ok |", &["AB-12-34"]),
            ("机器序列号\n  MXL4521ABC\t", &["MXL4521ABC"]),
            ("序列号\nPFXKABCD", &["PFXKABCD"]),
            // A line of prose after the label is not a cell.
            ("Please send the serial\n2024 is the year", &[]),
            // Too far away.
            ("序列号\n\n\n\nPF2XK9", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(serial_numbers(text, &p), *want, "{text:?}");
        }
    }

    /// What is not a serial after all: labels inside words, prose, placeholders, product
    /// keys, error codes, addresses, values too short or too long.
    #[test]
    fn serial_label_false_positives() {
        let p = default_serial_pattern();
        for text in [
            "ISSN 1234",
            "ISSN: 1234-5678",
            "snapshot 2024",
            "Snapshots 2024-06-24",
            "ASN: 12345",
            "PSN 1234",
            "the DNSN1234 record",
            "SNMP 1234 trap",
            "the serial number is unknown",
            "Serial number is required",
            "Serial numbers are printed on the label",
            "serial no issue",
            "serial not found 1234",
            "serial port COM3",
            "SN: UNKNOWN",
            "SN MISMATCH",
            "Serial: Number",
            "序列号是多少？",
            "序列号为空",
            "SN: VK7JG-NPHTM-C97JM-9MPGT-3V66T",
            "SN: 0xC004F074",
            "SN: ab1",
            "SN: A123456789012345678901234567890123456789X",
            "SN: john.doe1@example.com",
            "mail sn@example.com 1234",
            "S/N: -1234",
        ] {
            assert_eq!(serial_numbers(text, &p), Vec::<String>::new(), "{text:?}");
        }
    }

    /// The subject convention in both languages, with prefixes, tag and token around it.
    #[test]
    fn customer_and_oem_from_subject_table() {
        let cases: &[(&str, Option<&str>, Option<&str>)] = &[
            (SEED_SUBJECT, Some("中银金融科技有限公司"), Some("联想")),
            (
                "% 联想OEM用户-中银金融科技有限公司用户反馈激活失败问题 %",
                Some("中银金融科技有限公司"),
                Some("联想"),
            ),
            (
                "％ 戴尔OEM客户－某某银行报障 ％",
                Some("某某银行"),
                Some("戴尔"),
            ),
            (
                "% Lenovo OEM-Northwind Traders reports activation failure %",
                Some("Northwind Traders"),
                Some("Lenovo"),
            ),
            (
                "% Lenovo OEM customer - Northwind Traders Ltd. reports activation failure %",
                Some("Northwind Traders Ltd."),
                Some("Lenovo"),
            ),
            (
                "% Lenovo OEM - Northwind Traders reported activation failure %",
                Some("Northwind Traders"),
                Some("Lenovo"),
            ),
            (
                "% Lenovo OEM-Northwind Traders feedback: activation fails %",
                Some("Northwind Traders"),
                Some("Lenovo"),
            ),
            (
                "% Lenovo OEM customer-Northwind Traders Ltd. activation issue %",
                Some("Northwind Traders Ltd."),
                Some("Lenovo"),
            ),
            (
                "% Dell OEM user: Contoso Bank customer reports activation failure %",
                Some("Contoso Bank"),
                Some("Dell"),
            ),
            (
                "RE: FW: [Case: CAS-12345-ABCDEF] % Lenovo OEM-Northwind Traders reports activation failure % first response CMIT:0001136",
                Some("Northwind Traders"),
                Some("Lenovo"),
            ),
            (
                "回复: [案例号: CAS-12345-ABCDEF ] % Lenovo OEM-Northwind Traders reported activation issue % 初次响应 CMIT:0001136",
                Some("Northwind Traders"),
                Some("Lenovo"),
            ),
            (
                "% Northwind Traders reports activation failure %",
                Some("Northwind Traders"),
                None,
            ),
            ("Northwind Traders reports activation failure", None, None),
            ("activation down 50% since 20% of keys", None, None),
        ];
        for (subject, customer, oem) in cases {
            let (c, o) = customer_oem_from_subject(subject);
            assert_eq!(
                (c.as_deref(), o.as_deref()),
                (*customer, *oem),
                "{subject:?}"
            );
        }
    }

    /// The case's subject: no convention markers, prefixes (nested, also after the tag),
    /// case tag or tracking token.
    #[test]
    fn display_subject_cleanup_table() {
        let p = vec!["CMIT".to_string()];
        let cases: &[(&str, &str)] = &[
            (
                SEED_SUBJECT,
                "联想OEM用户-中银金融科技有限公司用户反馈激活失败问题 初次响应",
            ),
            (
                "RE: [Case: CAS-12345-ABCDEF] % Lenovo OEM-Northwind Traders reports activation failure % first response CMIT:0001136",
                "Lenovo OEM-Northwind Traders reports activation failure first response",
            ),
            ("Fwd: RE: 回复: 答复: 转发: FW: hello", "hello"),
            ("[案例号: CAS-12345-ABCDEF] 回复: RE: hello CMIT:0001135", "hello"),
            ("Re: [Case: CAS-12345-ABCDEF] Fwd: %x% CMIT:1234", "x"),
            ("答复: ％ 激活失败 ％", "激活失败"),
            ("Re: Rebuild failed", "Rebuild failed"),
            ("Price up 50% to 60% today", "Price up 50% to 60% today"),
            ("100% activation failure", "100% activation failure"),
        ];
        for (subject, want) in cases {
            assert_eq!(display_subject(subject, &p), *want, "{subject:?}");
        }
    }

    #[test]
    fn secrets_masked() {
        let m = mask_secrets("5.      用户名：userma\n6.      密码：ma123\npassword: hunter2\nhttps://x.com/a?token=abc&x=1");
        assert!(
            !m.contains("ma123")
                && !m.contains("userma")
                && !m.contains("hunter2")
                && !m.contains("abc&"),
            "{m}"
        );
        assert!(m.contains("x=1"));
        assert!(!mask_secrets("key VK7JG-NPHTM-C97JM-9MPGT-3V66T").contains("VK7JG"));
    }

    /// A quoted value is masked whole up to 200 characters; a longer one only up to
    /// its first space, as an unquoted value (the bound is counted in `split_value`,
    /// not by the pattern).
    #[test]
    fn quoted_values_masked_whole_up_to_their_bound() {
        let short = format!("password: \"{} tail\" after", "s3cret ".repeat(20));
        let m = mask_secrets(&short);
        assert!(!m.contains("s3cret") && !m.contains("tail"), "{m}");
        assert!(m.ends_with(" after"), "{m}");
        let long = format!("password: \"x{} end\" after", " word".repeat(60));
        let m = mask_secrets(&long);
        assert!(!m.contains("\"x"), "{m}");
        assert!(
            m.contains(" word word") && m.ends_with(" end\" after"),
            "{m}"
        );
        let weak = format!("密码是 \"{}\" 请查收", "Ab1 ".repeat(10));
        let m = mask_secrets(&weak);
        assert!(!m.contains("Ab1") && m.ends_with(" 请查收"), "{m}");
        let paren = format!("密码（{}）", "a1".repeat(51));
        assert_eq!(
            mask_secrets(&paren),
            paren,
            "over 100 characters in brackets stay"
        );
        assert!(!mask_secrets("密码（a1b2c3）").contains("a1b2c3"));
    }

    /// Security issue 14, finding 3: every form of secret the probe found, each with
    /// the parts that must disappear and a part that must stay.
    #[test]
    fn secret_forms_table() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("密码 Xy7pq9", &["Xy7pq9"], "密码"),
            ("密码 abcdef", &["abcdef"], "密码"),
            ("密码是ma018x", &["ma018x"], "密码是"),
            ("我的密码为 Qwerty", &["Qwerty"], "我的密码为"),
            ("口令是 s3cr3t!", &["s3cr3t"], "口令是"),
            ("用户名 userma 密码 pw1234", &["userma", "pw1234"], "用户名"),
            ("密码（Abc123）请查收", &["Abc123"], "请查收"),
            ("密码(abc123)", &["abc123"], "密码("),
            ("密码：ma123。", &["ma123"], "密码："),
            ("密码是：ma123", &["ma123"], "密码是："),
            ("password Hunter2", &["Hunter2"], "password"),
            ("my password is hunter2.", &["hunter2"], "my password is"),
            (
                "Password is: correcthorse",
                &["correcthorse"],
                "Password is:",
            ),
            ("pass: letmein", &["letmein"], "pass:"),
            ("PW: Zz9zz", &["Zz9zz"], "PW:"),
            ("pwd=abc123", &["abc123"], "pwd="),
            (
                "see https://portal.example.com/login?user=ma&pass=Sup3r#x",
                &["Sup3r"],
                "user=ma",
            ),
            (
                "https://portal.example.com/l?password=hunter2&lang=zh",
                &["hunter2"],
                "lang=zh",
            ),
            (
                "ftp://ma:Secr3t@files.example.com/x",
                &["Secr3t"],
                "files.example.com",
            ),
            (
                "Authorization: Basic dXNlcjpwYXNzd29yZA==\nnext line",
                &["dXNlcjpwYXNzd29yZA"],
                "next line",
            ),
            (
                "curl -H 'Authorization: Bearer abc.def.ghi'",
                &["abc.def.ghi"],
                "Authorization: Bearer",
            ),
            (
                "use Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig to call",
                &["eyJhbGciOiJIUzI1NiJ9"],
                "to call",
            ),
            ("Password: \"ma 018\"", &["ma 018", "018"], "Password:"),
            ("密码：“ma 018” 谢谢", &["ma 018", "018"], "谢谢"),
            (
                "password 'open sesame'",
                &["open sesame", "sesame"],
                "password",
            ),
            (
                "key vk7jg-nphtm-c97jm-9mpgt-3v66t ok",
                &["vk7jg", "nphtm"],
                "3V66T",
            ),
            (
                "key VK7JGNPHTMC97JM9MPGT3V66T",
                &["VK7JG", "NPHTM"],
                "3V66T",
            ),
            (
                "key VK7JG NPHTM C97JM 9MPGT 3V66T",
                &["VK7JG", "NPHTM"],
                "3V66T",
            ),
            (
                "Please clickpassword: hunter2 to log in",
                &["hunter2"],
                "to log in",
            ),
            ("yourusername:userma", &["userma"], "yourusername:"),
            ("api_key = sk-123456", &["sk-123456"], "api_key"),
        ];
        for (input, gone, kept) in cases {
            let m = mask_secrets(input);
            for g in *gone {
                assert!(!m.contains(g), "{input:?} → {m:?} still shows {g:?}");
            }
            assert!(m.contains(kept), "{input:?} → {m:?} lost {kept:?}");
            assert_eq!(mask_secrets(&m), m, "masking twice changes {input:?}");
        }
    }

    /// What must not be masked: prose about passwords, error codes, serials, plain URLs.
    #[test]
    fn secret_false_positives_table() {
        for text in [
            "please reset your password via the portal",
            "Your password is about to expire",
            "the password reset link did not arrive",
            "忘记密码怎么办",
            "密码是什么？",
            "请输入用户名和密码",
            "密码（区分大小写）",
            "error code 0xC004F074",
            "HRESULT: 0x8007232B",
            "序列号信息如下：T102210000943",
            "https://support.example.com/kb/12345?lang=zh-CN&page=2",
            "the bearer of this letter",
            "basic troubleshooting steps",
            "Basic Input/Output System",
            "CAS-06496-T2V9C6",
            "GUID 3F2504E0-4F89-11D3-9A0C-0305E82C3301",
            "hash d41d8cd98f00b204e9800998ecf8427e",
            "激活失败，错误代码 0xC004C003，请协助",
        ] {
            assert_eq!(mask_secrets(text), text, "{text:?} was masked");
        }
        assert!(product_keys("hash d41d8cd98f00b204e9800998ecf8427e").is_empty());
        assert_eq!(
            product_keys("vk7jgnphtmc97jm9mpgt3v66t and VK7JG-NPHTM-C97JM-9MPGT-3V66T"),
            vec!["*****-*****-*****-*****-3V66T"]
        );
    }

    #[test]
    fn subjects_are_masked_for_display() {
        let p = vec!["CMIT".to_string()];
        let d = display_subject(
            "Re: [Case: CAS-12345-ABCDEF] my password: Subj3ctPw key VK7JG-NPHTM-C97JM-9MPGT-3V66T CMIT:0001135",
            &p,
        );
        assert!(!d.contains("Subj3ctPw") && !d.contains("VK7JG"), "{d}");
        assert!(d.starts_with("my password:") && d.contains("3V66T"), "{d}");
    }

    #[test]
    fn greetings() {
        assert_eq!(greeting("Hi Dev,\n中银"), Greeting::Dev);
        assert_eq!(greeting("Hi DEV:\n从用户处"), Greeting::Dev);
        assert_eq!(greeting("Hi Joy:\n感谢"), Greeting::Name("Joy".into()));
        assert_eq!(
            greeting("马先生，您好：\n如刚刚"),
            Greeting::Name("马先生".into())
        );
        assert_eq!(greeting("Hi，\n通过"), Greeting::None);
    }

    #[test]
    fn scope_and_closure() {
        let scope = "马先生，您好：\n如刚刚电话沟通：\n问题定义：\n用户反馈激活失败。\n问题范围：\n协助用户分析上述问题。 \n接下来，我们将开始合作。\n日志收集：\n1. 下载\n2. 上传\n--------------\n王彬彬";
        let s = extract_scope(scope).expect("scope");
        assert_eq!(s.problem_definition, "用户反馈激活失败。");
        assert_eq!(s.problem_scope, "协助用户分析上述问题。");
        assert!(s
            .log_instructions
            .as_deref()
            .is_some_and(|l| l.contains("上传")));
        assert!(extract_closure(scope).is_none());
        let closure = "马先生，您好：\n案例总结： \n问题定义：\n用户反馈激活失败。\n问题进展：\n用户已将系统重新安装，再次尝试激活，激活成功。";
        let c = extract_closure(closure).expect("closure");
        assert!(c.resolution.contains("重新安装"));
        assert!(extract_scope(closure).is_none());
        let en = "Hello,\nCase summary:\nProblem definition: activation fails\nResolution: reinstalled Windows\n";
        assert_eq!(
            extract_closure(en).map(|c| c.resolution),
            Some("reinstalled Windows".into())
        );
    }

    #[test]
    fn folding_and_ids() {
        let (main, folded) = split_folded("Hi,\nthe answer\nSincerely,\nJoy\n");
        assert_eq!(main, "Hi,\nthe answer");
        assert!(folded.contains("Joy"));
        assert!(plausible_message_id("<abc@x.com>"));
        assert!(!plausible_message_id("<yes>"));
        assert!(auto_reply_subject("自动回复: 休假中"));
        assert!(auto_reply_subject("Out of Office: back monday"));
    }
}
