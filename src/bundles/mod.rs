//! Log bundles: zip archives (the CMGE_Log collector's output) inspected in memory,
//! never extracted to disk; text entries decoded and scanned for error codes, serial
//! numbers and timestamps, each finding with its file and line. Hostile archives are
//! refused with a clear reason: zip bombs, unsafe names, encrypted entries, truncation.

mod attachment;
pub mod stored;
pub mod thumbnail;
mod upload;

pub use attachment::{
    examine, link_copy, store_attachment, store_examined, Examined, File, NewAttachment,
};
pub use upload::{upload, UploadError, UploadedFile};

use crate::mail::extract;
use regex::Regex;
use std::io::{Cursor, Read};
use std::sync::OnceLock;

/// What inspecting one bundle may cost. Entries are inflated as a stream and never
/// held whole; a nested archive is held (it must be seekable), up to `max_entry`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Uncompressed bytes inflated over the whole bundle, nested archives included;
    /// past it the remaining entries are listed but not scanned (with a note).
    pub max_total: u64,
    /// Uncompressed bytes inflated for one entry; past it scanning of the entry stops
    /// (with a note), and a nested archive larger than this is not opened.
    pub max_entry: u64,
    pub max_entries: usize,
    /// Zip inside zip inside …
    pub max_depth: usize,
    pub max_findings: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total: 32 * 1024 * 1024,
            max_entry: 16 * 1024 * 1024,
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
    /// Where scanning stopped at a budget (the bundle is still accepted).
    pub notes: Vec<String>,
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
    #[error("entry larger than {0} bytes")]
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

/// Lines longer than this are scanned in pieces (a log without newlines, or a bomb of
/// zeros, never grows one line without bound).
const MAX_LINE: usize = 64 * 1024;

/// Scans text for findings line by line as it arrives (codes, serials, first and last
/// timestamp), holding at most one line.
struct LineScan<'a> {
    entry: &'a str,
    serial: &'a Regex,
    max: usize,
    line: usize,
    partial: String,
    first_ts: Option<(usize, String)>,
    last_ts: Option<(usize, String)>,
}

impl<'a> LineScan<'a> {
    fn new(entry: &'a str, serial: &'a Regex, max: usize) -> Self {
        LineScan {
            entry,
            serial,
            max,
            line: 1,
            partial: String::new(),
            first_ts: None,
            last_ts: None,
        }
    }

    fn feed(&mut self, text: &str, out: &mut Vec<Finding>) {
        let mut rest = text;
        while let Some(pos) = rest.find('\n') {
            self.partial.push_str(&rest[..pos]);
            let line = std::mem::take(&mut self.partial);
            self.scan_line(line.strip_suffix('\r').unwrap_or(&line), out);
            self.line += 1;
            rest = &rest[pos + 1..];
        }
        self.partial.push_str(rest);
        if self.partial.len() > MAX_LINE {
            let piece = std::mem::take(&mut self.partial);
            self.scan_line(&piece, out);
        }
    }

    fn scan_line(&mut self, line: &str, out: &mut Vec<Finding>) {
        static TS: OnceLock<Regex> = OnceLock::new();
        if out.len() >= self.max {
            return;
        }
        let ts = crate::mail::extract::re(&TS, r"\d{4}[-/]\d{2}[-/]\d{2}[ T]\d{2}:\d{2}:\d{2}");
        let (entry, n) = (self.entry, self.line);
        if line.contains("0x")
            || line.contains("0X")
            || line.to_lowercase().contains("error")
            || line.contains("错误")
        {
            for c in extract::error_codes(line) {
                push_first(out, entry, n, "code", c);
            }
        }
        for s in extract::serial_numbers(line, self.serial) {
            push_first(out, entry, n, "serial", s);
        }
        if let Some(m) = ts.find(line) {
            if self.first_ts.is_none() {
                self.first_ts = Some((n, m.as_str().to_string()));
            }
            self.last_ts = Some((n, m.as_str().to_string()));
        }
    }

    fn finish(mut self, out: &mut Vec<Finding>) {
        if !self.partial.is_empty() {
            let last = std::mem::take(&mut self.partial);
            self.scan_line(last.strip_suffix('\r').unwrap_or(&last), out);
        }
        for (n, v) in self.first_ts.take().into_iter().chain(self.last_ts.take()) {
            if !out
                .iter()
                .any(|f| f.entry == self.entry && f.kind == "timestamp" && f.line == n)
            {
                out.push(Finding {
                    entry: self.entry.to_string(),
                    line: n,
                    kind: "timestamp",
                    value: v,
                });
            }
        }
    }
}

/// Scans one text for findings (codes, serials, first and last timestamp).
pub fn scan_text(entry: &str, text: &str, serial: &Regex, out: &mut Vec<Finding>, max: usize) {
    let mut scan = LineScan::new(entry, serial, max);
    scan.feed(text, out);
    scan.finish(out);
}

/// The encoding of a text whose first bytes are `sample`: a BOM, UTF-16 without BOM
/// (many NULs at odd positions), UTF-8, else GB18030 (as `decode_text` decides).
fn sniff_encoding(sample: &[u8]) -> &'static encoding_rs::Encoding {
    if let Some((enc, _)) = encoding_rs::Encoding::for_bom(sample) {
        return enc;
    }
    let sample = &sample[..sample.len().min(4096)];
    let odd_nuls = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|b| **b == 0)
        .count();
    if sample.len() > 16 && odd_nuls * 3 > sample.len() / 2 {
        return encoding_rs::UTF_16LE;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => encoding_rs::UTF_8,
        // Cut in the middle of a character at the end of the sample: still UTF-8.
        Err(e) if e.error_len().is_none() => encoding_rs::UTF_8,
        Err(_) => encoding_rs::GB18030,
    }
}

/// Reads up to `n` bytes (fewer only at the end of `r`).
fn read_up_to(r: &mut impl Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n.min(1 << 20));
    r.take(n as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

const CHUNK: usize = 64 * 1024;
const SAMPLE: usize = 8 * 1024;

/// Scans a text entry as a stream: at most `cap` bytes inflated, one chunk and one
/// line held at a time. Returns the bytes read and whether more were left unread.
fn scan_stream(
    r: &mut impl Read,
    sample: &[u8],
    cap: u64,
    path: &str,
    serial: &Regex,
    out: &mut Vec<Finding>,
    max: usize,
) -> std::io::Result<(u64, bool)> {
    let mut decoder = sniff_encoding(sample).new_decoder_with_bom_removal();
    let mut scan = LineScan::new(path, serial, max);
    let mut text = String::new();
    let mut read = sample.len() as u64;
    let mut chunk = sample.to_vec();
    loop {
        let last = chunk.is_empty();
        text.clear();
        text.reserve(
            decoder
                .max_utf8_buffer_length(chunk.len())
                .unwrap_or(chunk.len() * 3 + 16),
        );
        let _ = decoder.decode_to_string(&chunk, &mut text, last);
        scan.feed(&text, out);
        if last {
            break;
        }
        let want = (cap.saturating_sub(read)).min(CHUNK as u64) as usize;
        if want == 0 {
            break;
        }
        chunk = read_up_to(r, want)?;
        read += chunk.len() as u64;
    }
    scan.finish(out);
    let mut probe = [0u8; 1];
    let more = read >= cap && r.read(&mut probe)? > 0;
    Ok((read, more))
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
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
    let mut unscanned = 0usize;
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
        let damaged = |e: std::io::Error| Refusal::Damaged(format!("{name}: {e}"));
        let compressed = f.compressed_size();
        let declared = f.size();
        let path = format!("{prefix}{name}");
        let cap = limits.max_entry.min(*budget);
        if cap == 0 {
            // The bundle's budget is spent: listed, not inflated.
            unscanned += 1;
            out.entries.push(Entry {
                path,
                size: declared,
                compressed_size: compressed,
                is_text: is_text_name(&name),
                depth,
            });
            continue;
        }
        let sample = read_up_to(&mut f, SAMPLE.min(cap as usize)).map_err(damaged)?;
        let nested = name.to_lowercase().ends_with(".zip") && sample.starts_with(b"PK");
        let is_text = !nested && (is_text_name(&name) || !looks_binary(&sample));
        let index = out.entries.len();
        out.entries.push(Entry {
            path: path.clone(),
            size: declared,
            compressed_size: compressed,
            is_text,
            depth,
        });
        let mut read = sample.len() as u64;
        if nested {
            let mut data = sample;
            data.extend(read_up_to(&mut f, (cap - read) as usize + 1).map_err(damaged)?);
            read = (data.len() as u64).min(cap);
            *budget -= read;
            if data.len() as u64 > cap {
                out.notes.push(format!(
                    "{path}: nested archive larger than {}, not opened",
                    mib(cap)
                ));
                continue;
            }
            out.entries[index].size = read;
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
            continue;
        }
        if is_text && out.findings.len() < limits.max_findings {
            let (n, more) = scan_stream(
                &mut f,
                &sample,
                cap,
                &path,
                serial,
                &mut out.findings,
                limits.max_findings,
            )
            .map_err(damaged)?;
            read = n;
            if more {
                out.notes.push(format!(
                    "{path}: scanning stopped after {} (limit per {})",
                    mib(n),
                    if cap < limits.max_entry {
                        "bundle"
                    } else {
                        "file"
                    }
                ));
            } else {
                out.entries[index].size = n;
            }
        }
        *budget -= read.min(*budget);
    }
    if unscanned > 0 {
        out.notes.push(format!(
            "{unscanned} entries not scanned: the bundle's limit of {} was reached",
            mib(limits.max_total)
        ));
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

/// One page of a text entry in the viewer.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryPage {
    pub text: String,
    /// The number of the page's first line in the whole entry.
    pub first_line: usize,
    /// Whether a further page follows.
    pub more: bool,
}

/// A buffered stream read forward, counting newlines.
struct Advance<R> {
    r: R,
    newlines: usize,
    last: Option<u8>,
    /// Bytes consumed so far.
    pos: u64,
}

impl<R: std::io::BufRead> Advance<R> {
    /// Consumes up to `n` bytes, into `keep` when given; stops early after a newline
    /// when `to_newline`. Returns the bytes consumed.
    fn advance(
        &mut self,
        n: u64,
        to_newline: bool,
        mut keep: Option<&mut Vec<u8>>,
    ) -> std::io::Result<u64> {
        let mut done = 0u64;
        while done < n {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let mut take = buf.len().min((n - done) as usize);
            if to_newline {
                if let Some(i) = buf[..take].iter().position(|b| *b == b'\n') {
                    take = i + 1;
                }
            }
            let part = &buf[..take];
            self.newlines += part.iter().filter(|b| **b == b'\n').count();
            self.last = part.last().copied();
            if let Some(k) = keep.as_deref_mut() {
                k.extend_from_slice(part);
            }
            self.r.consume(take);
            done += take as u64;
            self.pos += take as u64;
            if to_newline && self.last == Some(b'\n') {
                break;
            }
        }
        Ok(done)
    }
}

/// Page `page` (from 0) of a text stream, about `size` bytes: the stream is read and
/// skipped, never held beyond one page plus a line (at most `MAX_LINE` past the page
/// end). Pages end after a newline (UTF-16 pages at exactly `size` bytes), so a line is
/// never cut between two pages unless it is longer than `MAX_LINE`.
pub fn page_of(mut raw: impl Read, page: u64, size: u64) -> std::io::Result<EntryPage> {
    use std::io::BufRead;
    let size = size.max(2) & !1;
    let sample = read_up_to(&mut raw, SAMPLE)?;
    let enc = sniff_encoding(&sample);
    let ext = if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
        0
    } else {
        MAX_LINE as u64
    };
    let mut r = Advance {
        r: std::io::BufReader::with_capacity(CHUNK, Cursor::new(sample).chain(raw)),
        newlines: 0,
        last: None,
        pos: 0,
    };
    let start = page.saturating_mul(size);
    r.advance(start, false, None)?;
    if page > 0 && ext > 0 && r.last != Some(b'\n') {
        r.advance(ext, true, None)?;
    }
    let first_line = r.newlines + 1;
    let end = start.saturating_add(size);
    let mut buf = Vec::with_capacity(size as usize);
    r.advance(end.saturating_sub(r.pos), false, Some(&mut buf))?;
    if r.pos == end && ext > 0 && r.last != Some(b'\n') {
        r.advance(ext, true, Some(&mut buf))?;
    }
    let more = !r.r.fill_buf()?.is_empty();
    let text = if page == 0 {
        enc.decode_with_bom_removal(&buf).0.into_owned()
    } else {
        enc.decode_without_bom_handling(&buf).0.into_owned()
    };
    Ok(EntryPage {
        text,
        first_line,
        more,
    })
}

/// Page `page` of one entry (`a.zip!/b.log` reaches into nested archives, each held
/// up to `limits.max_entry`), streamed as `page_of` does.
pub fn read_entry_page(
    bundle: impl Read + std::io::Seek,
    path: &str,
    limits: &Limits,
    page: u64,
    size: u64,
) -> Result<EntryPage, Refusal> {
    let (head, rest) = match path.split_once("!/") {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let mut zip = zip::ZipArchive::new(bundle).map_err(|e| Refusal::Damaged(e.to_string()))?;
    let mut f = zip
        .by_name(head)
        .map_err(|e| Refusal::Damaged(e.to_string()))?;
    if f.encrypted() {
        return Err(Refusal::Encrypted(head.to_string()));
    }
    match rest {
        Some(r) => {
            let data = read_up_to(&mut f, limits.max_entry as usize + 1)
                .map_err(|e| Refusal::Damaged(e.to_string()))?;
            if data.len() as u64 > limits.max_entry {
                return Err(Refusal::TooLarge(limits.max_entry));
            }
            drop(f);
            read_entry_page(Cursor::new(data), r, limits, page, size)
        }
        None => page_of(&mut f, page, size).map_err(|e| Refusal::Damaged(e.to_string())),
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
    fn streaming_scan_matches_whole_text_and_pages_align_to_lines() {
        let s = serial();
        let mut log = String::new();
        for i in 0..5000 {
            log.push_str(&format!(
                "2022-06-24 10:00:{:02} line {i} HRESULT 0x8007{:04X} T10221000{:04}\r\n",
                i % 60,
                i % 4096,
                i % 9999
            ));
        }
        let z = zip_of(&[("a.log", log.as_bytes())]);
        let r = inspect(&z, &Limits::default(), &s).expect("inspects");
        let mut whole = Vec::new();
        scan_text(
            "a.log",
            &log,
            &s,
            &mut whole,
            Limits::default().max_findings,
        );
        assert_eq!(r.findings, whole);
        assert!(r.notes.is_empty());
        // Pages of 4 KiB: together they are the text, each starts at a line.
        let mut all = String::new();
        let mut page = 0;
        let mut line = 1;
        loop {
            let p = read_entry_page(Cursor::new(&z), "a.log", &Limits::default(), page, 4096)
                .expect("page");
            assert_eq!(p.first_line, line, "page {page}");
            assert!(p.text.starts_with("2022-06-24"), "page {page}");
            line += p.text.matches('\n').count();
            all.push_str(&p.text);
            if !p.more {
                break;
            }
            page += 1;
        }
        assert!(page > 10);
        assert_eq!(all, log);
        let past = read_entry_page(Cursor::new(&z), "a.log", &Limits::default(), 10_000, 4096)
            .expect("page");
        assert!(past.text.is_empty() && !past.more);
    }

    #[test]
    fn hostile_bundles_are_refused() {
        let s = serial();
        // Zip bomb: 50 MiB of zeros compresses ~1000×; scanning stops at the budget.
        let bomb = zip_of(&[
            ("zeros.txt", &vec![0u8; 20 * 1024 * 1024]),
            ("more.txt", &vec![0u8; 20 * 1024 * 1024]),
            ("last.txt", b"late 0x80070005"),
        ]);
        let r = inspect(&bomb, &Limits::default(), &s).expect("accepted");
        assert_eq!(r.entries.len(), 3);
        assert_eq!(r.entries[0].size, 20 * 1024 * 1024, "declared size listed");
        assert_eq!(r.notes.len(), 3, "{:?}", r.notes);
        assert!(r.notes[0].contains("zeros.txt: scanning stopped after 16 MiB (limit per file)"));
        assert!(r.notes[1].contains("more.txt: scanning stopped after 16 MiB"));
        assert!(
            r.notes[2].contains("1 entries not scanned"),
            "{:?}",
            r.notes
        );
        let small_total = Limits {
            max_total: 1024,
            ..Limits::default()
        };
        let big = zip_of(&[("a.txt", &vec![b'a'; 4096])]);
        let r = inspect(&big, &small_total, &s).expect("accepted");
        assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
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
