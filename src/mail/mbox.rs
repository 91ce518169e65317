//! mbox files: messages separated by `From ` lines (mboxo/mboxrd quoting undone).

pub fn looks_like_mbox(raw: &[u8]) -> bool {
    let first = raw.split(|&b| b == b'\n').next().unwrap_or(&[]);
    is_from_line(first)
}

/// Splits an mbox into raw messages; a `From ` line starts a message only at the
/// start of the file or after an empty line.
pub fn split(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut prev_blank = true;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        let is_sep = prev_blank && is_from_line(line);
        if is_sep {
            if let Some(mut m) = current.take() {
                // The blank line before the separator belongs to the mbox, not the message.
                if m.ends_with(b"\r\n\r\n") {
                    m.truncate(m.len() - 2);
                } else if m.ends_with(b"\n\n") {
                    m.truncate(m.len() - 1);
                }
                out.push(m);
            }
            current = Some(Vec::new());
        } else if let Some(m) = current.as_mut() {
            let unquoted = unquote_from(line);
            m.extend_from_slice(unquoted);
        }
        let trimmed: &[u8] = line.strip_suffix(b"\n").unwrap_or(line);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        prev_blank = trimmed.is_empty();
    }
    if let Some(m) = current {
        out.push(m);
    }
    out
}

/// A separator looks like `From sender Mon Jul  1 00:00:00 2024`: a sender and a
/// date with a year, so body text such as "From the start" is not taken for one.
pub fn is_from_line(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.split_whitespace();
    let sender = parts.next().unwrap_or("");
    let date: Vec<&str> = parts.collect();
    !sender.is_empty()
        && date.len() >= 3
        && date
            .iter()
            .any(|p| p.len() == 4 && p.bytes().all(|b| b.is_ascii_digit()))
        && date.iter().any(|p| p.contains(':'))
}

/// `>From ` → `From `, `>>From ` → `>From ` (mboxrd).
fn unquote_from(line: &[u8]) -> &[u8] {
    let n = line.iter().take_while(|&&b| b == b'>').count();
    if n > 0 && line[n..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_and_unquotes() {
        let raw = b"From a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\n>From here\n\nFrom c@d Mon Jan  1 00:00:00 2024\nSubject: two\n\nFrom the start\nFrom inside body\n";
        let m = super::split(raw);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0], b"Subject: one\n\nbody\nFrom here\n");
        assert!(m[1].ends_with(b"From inside body\n"));
    }
}
