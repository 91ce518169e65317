//! Log bundles: zip archives (the CMGE_Log collector's output) inspected in memory,
//! never extracted to disk; text entries decoded and scanned for error codes, serial
//! numbers and timestamps, each finding with its file and line. Hostile archives are
//! refused with a clear reason: zip bombs, unsafe names, encrypted entries, truncation.

mod attachment;
pub mod stored;
mod upload;

pub use attachment::{record, store_attachment, File, NewAttachment};
pub use upload::{upload, UploadError, UploadedFile};

use crate::mail::extract;
use regex::Regex;
use std::io::{Cursor, Read};
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Uncompressed bytes over the whole bundle, nested archives included.
    pub max_total: u64,
    /// Uncompressed bytes of one entry.
    pub max_entry: u64,
    /// Uncompressed / compressed, per entry (only checked past 1 MiB).
    pub max_ratio: u64,
    pub max_entries: usize,
    /// Zip inside zip inside …
    pub max_depth: usize,
    pub max_findings: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total: 512 * 1024 * 1024,
            max_entry: 128 * 1024 * 1024,
            max_ratio: 200,
            max_entries: 20_000,
            max_depth: 3,
            max_findings: 2_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `inner.zip!/logs/activation.log` for nested archives.
    pub path: String,
    pub size: u64,
    pub compressed_size: u64,
    pub is_text: bool,
    pub depth: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub entry: String,
    pub line: usize,
    /// `code`, `serial` or `timestamp`.
    pub kind: &'static str,
    pub value: String,
}

#[derive(Debug, Default)]
pub struct Inspection {
    pub entries: Vec<Entry>,
    pub findings: Vec<Finding>,
}

pub fn is_zip(filename: &str, content_type: &str, bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
        || bytes.starts_with(b"PK\x05\x06")
        || filename.to_lowercase().ends_with(".zip")
        || content_type.contains("zip")
}

pub fn is_text_name(name: &str) -> bool {
    let n = name.to_lowercase();
    [
        ".log",
        ".txt",
        ".csv",
        ".xml",
        ".ini",
        ".json",
        ".inf",
        ".cfg",
        ".conf",
        ".reg",
        ".html",
        ".htm",
        ".evtx.txt",
    ]
    .iter()
    .any(|e| n.ends_with(e))
}

/// Text from bytes: BOMs (UTF-8, UTF-16 LE/BE, as Windows logs often are), UTF-8, else GB18030.
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        return enc
            .decode_without_bom_handling(&bytes[bom..])
            .0
            .into_owned();
    }
    // UTF-16 without BOM: many NULs at odd positions.
    let sample = &bytes[..bytes.len().min(4096)];
    let odd_nuls = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|b| **b == 0)
        .count();
    if sample.len() > 16 && odd_nuls * 3 > sample.len() / 2 {
        return encoding_rs::UTF_16LE
            .decode_without_bom_handling(bytes)
            .0
            .into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::GB18030
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

fn looks_binary(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(8192)];
    if encoding_rs::Encoding::for_bom(sample).is_some() {
        return false;
    }
    let nuls = sample.iter().filter(|b| **b == 0).count();
    nuls > 0 && nuls * 3 < sample.len() / 2
        || sample.iter().filter(|b| **b < 9).count() > sample.len() / 10
}

/// Why a bundle is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("not a readable zip archive (truncated or damaged): {0}")]
    Damaged(String),
    #[error("unsafe entry name {0:?} (absolute path or '..')")]
    UnsafeName(String),
    #[error("encrypted entry {0:?}: password-protected bundles cannot be inspected")]
    Encrypted(String),
    #[error("entry {0:?} expands more than {1}× (zip bomb?)")]
    Ratio(String, u64),
    #[error("bundle expands beyond {0} bytes (zip bomb?)")]
    TooLarge(u64),
    #[error("more than {0} entries")]
    TooManyEntries(usize),
}

fn unsafe_name(name: &str) -> bool {
    let n = name.replace('\\', "/");
    n.starts_with('/')
        || n.as_bytes().get(1) == Some(&b':')
        || n.split('/').any(|c| c == "..")
        || n.contains('\0')
}

/// Records the first line where a code or serial appears in a file (once per file).
fn push_first(out: &mut Vec<Finding>, entry: &str, line: usize, kind: &'static str, value: String) {
    if !out
        .iter()
        .any(|f| f.entry == entry && f.kind == kind && f.value == value)
    {
        out.push(Finding {
            entry: entry.to_string(),
            line,
            kind,
            value,
        });
    }
}

/// Scans one text for findings (codes, serials, first and last timestamp).
pub fn scan_text(entry: &str, text: &str, serial: &Regex, out: &mut Vec<Finding>, max: usize) {
    static TS: OnceLock<Regex> = OnceLock::new();
    let ts = crate::mail::extract::re(&TS, r"\d{4}[-/]\d{2}[-/]\d{2}[ T]\d{2}:\d{2}:\d{2}");
    let mut first_ts: Option<(usize, String)> = None;
    let mut last_ts: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        if out.len() >= max {
            break;
        }
        let n = i + 1;
        if line.contains("0x")
            || line.contains("0X")
            || line.to_lowercase().contains("error")
            || line.contains("错误")
        {
            for c in extract::error_codes(line) {
                push_first(out, entry, n, "code", c);
            }
        }
        for s in extract::serial_numbers(line, serial) {
            push_first(out, entry, n, "serial", s);
        }
        if let Some(m) = ts.find(line) {
            if first_ts.is_none() {
                first_ts = Some((n, m.as_str().to_string()));
            }
            last_ts = Some((n, m.as_str().to_string()));
        }
    }
    for (n, v) in first_ts.into_iter().chain(last_ts) {
        if !out
            .iter()
            .any(|f| f.entry == entry && f.kind == "timestamp" && f.line == n)
        {
            out.push(Finding {
                entry: entry.to_string(),
                line: n,
                kind: "timestamp",
                value: v,
            });
        }
    }
}

pub fn inspect(bytes: &[u8], limits: &Limits, serial: &Regex) -> Result<Inspection, Refusal> {
    let mut out = Inspection::default();
    let mut budget = limits.max_total;
    walk(bytes, "", 0, limits, serial, &mut budget, &mut out)?;
    Ok(out)
}

fn walk(
    bytes: &[u8],
    prefix: &str,
    depth: usize,
    limits: &Limits,
    serial: &Regex,
    budget: &mut u64,
    out: &mut Inspection,
) -> Result<(), Refusal> {
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| Refusal::Damaged(e.to_string()))?;
    for i in 0..zip.len() {
        if out.entries.len() >= limits.max_entries {
            return Err(Refusal::TooManyEntries(limits.max_entries));
        }
        let f = zip
            .by_index_raw(i)
            .map_err(|e| Refusal::Damaged(e.to_string()))?;
        let name = f.name().to_string();
        if unsafe_name(&name) {
            return Err(Refusal::UnsafeName(name));
        }
        if f.encrypted() {
            return Err(Refusal::Encrypted(name));
        }
        drop(f);
        let mut f = zip
            .by_index(i)
            .map_err(|e| Refusal::Damaged(format!("{name}: {e}")))?;
        if f.is_dir() {
            continue;
        }
        let compressed = f.compressed_size();
        let cap = limits.max_entry.min(*budget);
        let mut data = Vec::new();
        (&mut f)
            .take(cap + 1)
            .read_to_end(&mut data)
            .map_err(|e| Refusal::Damaged(format!("{name}: {e}")))?;
        let size = data.len() as u64;
        if size > cap {
            return Err(Refusal::TooLarge(limits.max_total.min(limits.max_entry)));
        }
        if size > 1024 * 1024 && size / compressed.max(1) > limits.max_ratio {
            return Err(Refusal::Ratio(name, limits.max_ratio));
        }
        *budget -= size;
        let path = format!("{prefix}{name}");
        let nested = name.to_lowercase().ends_with(".zip") && data.starts_with(b"PK");
        let is_text = !nested && (is_text_name(&name) || !looks_binary(&data));
        out.entries.push(Entry {
            path: path.clone(),
            size,
            compressed_size: compressed,
            is_text,
            depth,
        });
        if nested {
            if depth + 1 >= limits.max_depth {
                continue;
            }
            walk(
                &data,
                &format!("{path}!/"),
                depth + 1,
                limits,
                serial,
                budget,
                out,
            )?;
        } else if is_text && out.findings.len() < limits.max_findings {
            let text = decode_text(&data);
            scan_text(&path, &text, serial, &mut out.findings, limits.max_findings);
        }
    }
    Ok(())
}

/// The bytes of one entry (`a.zip!/b.log` reaches into nested archives), bounded.
pub fn read_entry(bytes: &[u8], path: &str, limits: &Limits) -> Result<Vec<u8>, Refusal> {
    let (head, rest) = match path.split_once("!/") {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| Refusal::Damaged(e.to_string()))?;
    let mut f = zip
        .by_name(head)
        .map_err(|e| Refusal::Damaged(e.to_string()))?;
    if f.encrypted() {
        return Err(Refusal::Encrypted(head.to_string()));
    }
    let mut data = Vec::new();
    (&mut f)
        .take(limits.max_entry + 1)
        .read_to_end(&mut data)
        .map_err(|e| Refusal::Damaged(e.to_string()))?;
    if data.len() as u64 > limits.max_entry {
        return Err(Refusal::TooLarge(limits.max_entry));
    }
    match rest {
        Some(r) => read_entry(&data, r, limits),
        None => Ok(data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("start");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    fn serial() -> Regex {
        Regex::new(crate::config::DEFAULT_SERIAL_PATTERN).expect("re")
    }

    #[test]
    fn lists_scans_and_nests() {
        let log = "2022-06-24 10:00:00 start\nactivation failed HRESULT:0xC002001B\nserial T102210000943\n2022-06-24 10:05:00 end\n";
        let inner = zip_of(&[("act/activation.log", log.as_bytes())]);
        let (utf16, _, _) = encoding_rs::UTF_16LE.encode("x");
        let mut u16log = vec![0xFF, 0xFE];
        for c in "错误代码 0xC004F074\r\n".encode_utf16() {
            u16log.extend_from_slice(&c.to_le_bytes());
        }
        let _ = utf16;
        let outer = zip_of(&[
            ("CMGE_Log/sys.txt", &u16log),
            ("CMGE_Log/inner.zip", &inner),
            ("CMGE_Log/pic.bin", &[0u8, 1, 2, 0, 0, 9]),
        ]);
        let r = inspect(&outer, &Limits::default(), &serial()).expect("inspects");
        assert_eq!(r.entries.len(), 4, "{:?}", r.entries);
        assert!(r.findings.iter().any(|f| f.kind == "code"
            && f.value == "0xC004F074"
            && f.entry == "CMGE_Log/sys.txt"
            && f.line == 1));
        assert!(r.findings.iter().any(|f| f.kind == "code"
            && f.value == "0xC002001B"
            && f.entry == "CMGE_Log/inner.zip!/act/activation.log"
            && f.line == 2));
        assert!(r
            .findings
            .iter()
            .any(|f| f.kind == "serial" && f.value == "T102210000943" && f.line == 3));
        assert_eq!(
            r.findings.iter().filter(|f| f.kind == "timestamp").count(),
            2
        );
        let text = read_entry(
            &outer,
            "CMGE_Log/inner.zip!/act/activation.log",
            &Limits::default(),
        )
        .expect("entry");
        assert_eq!(text, log.as_bytes());
    }

    #[test]
    fn hostile_bundles_are_refused() {
        let s = serial();
        // Zip bomb: 50 MiB of zeros compresses ~1000×.
        let bomb = zip_of(&[("zeros.txt", &vec![0u8; 50 * 1024 * 1024])]);
        assert!(matches!(
            inspect(&bomb, &Limits::default(), &s),
            Err(Refusal::Ratio(..))
        ));
        let small_total = Limits {
            max_total: 1024,
            ..Limits::default()
        };
        let big = zip_of(&[("a.txt", &vec![b'a'; 4096])]);
        assert!(matches!(
            inspect(&big, &small_total, &s),
            Err(Refusal::TooLarge(_))
        ));
        let traversal = zip_of(&[("../../etc/passwd", b"x")]);
        assert!(matches!(
            inspect(&traversal, &Limits::default(), &s),
            Err(Refusal::UnsafeName(_))
        ));
        let absolute = zip_of(&[("/etc/passwd", b"x")]);
        assert!(matches!(
            inspect(&absolute, &Limits::default(), &s),
            Err(Refusal::UnsafeName(_))
        ));
        let ok = zip_of(&[("a.txt", b"hello world")]);
        assert!(matches!(
            inspect(&ok[..ok.len() / 2], &Limits::default(), &s),
            Err(Refusal::Damaged(_))
        ));
        // Encrypted: set the general-purpose "encrypted" flag bit in both headers.
        let mut enc = ok.clone();
        enc[6] |= 1;
        let cd = enc
            .windows(4)
            .position(|w| w == b"PK\x01\x02")
            .expect("central directory");
        enc[cd + 8] |= 1;
        assert!(matches!(
            inspect(&enc, &Limits::default(), &s),
            Err(Refusal::Encrypted(_)) | Err(Refusal::Damaged(_))
        ));
    }
}
