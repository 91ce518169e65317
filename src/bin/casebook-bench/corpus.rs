//! The bench's generated, realistic corpus: zh and en, mixed charsets, threads with
//! In-Reply-To/References, error codes, serials, attachments (also fed to tests/robustness.rs).

use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ZH_LINES: &[&str] = &[
    "用户反馈激活失败，提示应用程序中发生了未经处理的异常。",
    "我们已经按照步骤收集了日志，请帮忙分析问题原因以及解决方案。",
    "离线激活也失败，提示：创建离线激活请求失败，请联系客服处理。",
    "请问这个问题有任何进展吗？用户比较着急。",
    "通过检查日志和现象判断：激活客户端调用WMI服务接口查询bios序列号失败。",
    "感谢回复，关于这个问题如果还需要收集其他的相关日志，也请告知。",
];
const EN_LINES: &[&str] = &[
    "Activation fails on several machines after the latest image was deployed.",
    "We collected the logs as requested; please find them attached to this message.",
    "The KMS host cannot be reached from the branch office network.",
    "Is there any progress on this case? The customer is waiting for an answer.",
    "According to the logs the licensing service could not read the BIOS serial number.",
    "Café déjà vu: the German and French installations show the same problem.",
];
const CODES: &[&str] = &[
    "0xC004F074",
    "0xC002001B",
    "0x8007232B",
    "0xC004C003",
    "0x80070005",
    "0x8007007B",
];
const DOMAINS: &[&str] = &[
    "bank.example",
    "insurer.example",
    "factory.example",
    "school.example",
    "city.example",
];

fn qp(s: &str) -> String {
    let mut out = String::new();
    let mut col = 0;
    for b in s.bytes() {
        let piece = if b == b'\n' {
            col = 0;
            out.push_str("\r\n");
            continue;
        } else if (33..=126).contains(&b) && b != b'=' || b == b' ' {
            (b as char).to_string()
        } else {
            format!("={b:02X}")
        };
        if col + piece.len() > 72 {
            out.push_str("=\r\n");
            col = 0;
        }
        col += piece.len();
        out.push_str(&piece);
    }
    out
}

fn b64_lines(bytes: &[u8]) -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(bytes);
    enc.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// Customers and their OEM channel, as the subject convention names them.
const CUSTOMERS_ZH: &[(&str, &str)] = &[
    ("联想", "中银金融科技有限公司"),
    ("戴尔", "华东电网"),
    ("惠普", "市第一人民医院"),
    ("联想", "实验中学"),
    ("华为", "城市商业银行"),
];
const CUSTOMERS_EN: &[(&str, &str)] = &[
    ("Lenovo", "Northwind Traders"),
    ("Dell", "Contoso Insurance"),
    ("HP", "Fabrikam School District"),
];

/// (OEM, customer) of thread `t`: Chinese-speaking customers write the even threads.
fn customer(t: usize) -> (&'static str, &'static str) {
    if t.is_multiple_of(2) {
        CUSTOMERS_ZH[(t / 2) % CUSTOMERS_ZH.len()]
    } else {
        CUSTOMERS_EN[(t / 2) % CUSTOMERS_EN.len()]
    }
}

/// A generated support mailbox: `threads` cases of `per_thread` messages each, in arrival
/// order (round by round, so every reply comes after its parent). Message `i` is built
/// on demand, so a million messages never sit in memory together.
///
/// Each thread is a case as the seed tells it: the customer's report (customer and OEM
/// in the subject, an error code and a serial number in half of them), support's scope
/// definition, a log bundle (zip) or a text log from the customer in one thread of five,
/// an escalation to R&D ("Hi Dev") in three of ten with R&D's answer, follow-ups, and a
/// closure summary (案例总结) that closes four cases of five. Dates spread over 2024.
pub struct Corpus {
    pub threads: usize,
    pub per_thread: usize,
    seed: u64,
    /// Every thread carries the same error code and none is closed (the data set where
    /// "similar closed cases" used to walk every case; see `adversarial`).
    same_code_none_closed: bool,
    /// Messages added to thread 0 after all the others (the adversarial set's long
    /// thread).
    long_extra: usize,
    /// Added to every Message-ID, so that a second corpus does not collide with one
    /// already ingested (the live-delivery bench posts into the bench's database).
    tag: String,
}

/// Products of the activation records.
const PRODUCTS: [&str; 3] = [
    "Windows 10 Pro",
    "Windows 11 Pro",
    "Windows 10 IoT Enterprise",
];

/// Messages of the adversarial set's long thread.
pub const LONG_THREAD: usize = 2_000;

pub const SUPPORT: (&str, &str) = ("Wang Binbin", "support@cmgos.example");
pub const RND: (&str, &str) = ("Liu Yu", "dev@cmgos.example");

impl Corpus {
    pub fn new(messages: usize, threads: usize, seed: u64) -> Corpus {
        let threads = threads.clamp(1, messages.max(1));
        Corpus {
            threads,
            per_thread: messages.div_ceil(threads).max(1),
            seed,
            same_code_none_closed: false,
            long_extra: 0,
            tag: String::new(),
        }
    }

    /// Message-IDs carrying `tag` (see the field).
    pub fn tagged(mut self, tag: &str) -> Corpus {
        self.tag = tag.to_string();
        self
    }

    /// The adversarial variant (issue 15, item 2): one error code on every case, no
    /// case closed, one customer for every case, and thread 0 grown to `LONG_THREAD`
    /// messages (its extra replies arrive after everything else).
    pub fn adversarial(mut self) -> Corpus {
        self.same_code_none_closed = true;
        self.long_extra = LONG_THREAD.saturating_sub(self.per_thread);
        self
    }

    pub fn len(&self) -> usize {
        self.threads * self.per_thread + self.long_extra
    }

    /// (round, thread) of message `i` in arrival order.
    fn place(&self, i: usize) -> (usize, usize) {
        let regular = self.threads * self.per_thread;
        if i >= regular {
            (self.per_thread + (i - regular), 0)
        } else {
            (i / self.threads, i % self.threads)
        }
    }

    /// The serial number thread `t` is about, when it names one.
    pub fn serial(&self, t: usize) -> Option<String> {
        t.is_multiple_of(2).then(|| format!("T1{:011}", t))
    }

    pub fn escalated(&self, t: usize) -> bool {
        t % 10 < 3 && self.per_thread > 4
    }

    pub fn closed(&self, t: usize) -> bool {
        !self.same_code_none_closed && !t.is_multiple_of(5) && self.per_thread > 2
    }

    fn code(&self, t: usize) -> &'static str {
        if self.same_code_none_closed {
            CODES[0]
        } else {
            CODES[t % CODES.len()]
        }
    }

    /// Message `i` in arrival order.
    pub fn message(&self, i: usize) -> Vec<u8> {
        let (round, t) = self.place(i);
        let mut rng = StdRng::seed_from_u64(
            self.seed ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (round as u64) << 40,
        );
        let zh = t.is_multiple_of(2);
        // The adversarial set: one customer owns every case.
        let (oem, customer) = customer(if self.same_code_none_closed { 0 } else { t });
        let domain = DOMAINS[t % DOMAINS.len()];
        let customer_addr = (format!("Customer {t}"), format!("c{t}@{domain}"));
        let last = round + 1 == self.per_thread;
        let lines = if zh { ZH_LINES } else { EN_LINES };
        let filler = |n: std::ops::Range<usize>, rng: &mut StdRng| {
            let mut s = String::new();
            for _ in 0..rng.gen_range(n) {
                s.push_str(lines[rng.gen_range(0..lines.len())]);
                s.push('\n');
            }
            s
        };
        let code = self.code(t);
        let serial = self.serial(t);
        let evidence = match &serial {
            Some(s) if zh => format!("错误代码 {code}，序列号：{s}\n"),
            Some(s) => format!("Error code {code}, serial number {s}\n"),
            None => String::new(),
        };
        // Who writes, and what.
        let (from, body, bundle) = match round {
            0 => (
                customer_addr.clone(),
                format!("{}{evidence}", filler(6..20, &mut rng)),
                None,
            ),
            1 if zh => (
                (SUPPORT.0.to_string(), SUPPORT.1.to_string()),
                format!(
                    "您好：\n如刚刚电话沟通，我谨在此阐述问题涉及的范围定义：\n问题定义：\n用户反馈激活失败，异常来自HRESULT:{code}。\n问题范围：\n协助用户分析上述问题。\n日志收集：\n请按照附件步骤收集日志并上传。\n--------------\n{}\n",
                    SUPPORT.0
                ),
                None,
            ),
            1 => (
                (SUPPORT.0.to_string(), SUPPORT.1.to_string()),
                format!(
                    "Hello,\nProblem definition: activation fails with {code}.\nScope: help the customer find the cause of the failure.\nPlease collect the logs as described and send them to us.\n--\n{}\n",
                    SUPPORT.0
                ),
                None,
            ),
            2 => (
                customer_addr.clone(),
                format!("{}{evidence}", filler(3..10, &mut rng)),
                (t % 5 == 1).then(|| self.bundle(t, zh)),
            ),
            3 if self.escalated(t) => (
                (SUPPORT.0.to_string(), SUPPORT.1.to_string()),
                format!(
                    "Hi Dev,\n{}需要帮助：\n我们通过APS系统上未查到激活记录，还请帮忙确认激活失败的原因以及解决方案，谢谢！\n{evidence}",
                    filler(2..6, &mut rng)
                ),
                None,
            ),
            4 if self.escalated(t) => (
                (RND.0.to_string(), RND.1.to_string()),
                format!(
                    "Hi，\n通过检查日志和现象判断：激活客户端调用WMI服务接口查询bios序列号失败。\n{}Sincerely,\nJoy\nR&D\n",
                    filler(1..4, &mut rng)
                ),
                None,
            ),
            _ if last && self.closed(t) && zh => (
                (SUPPORT.0.to_string(), SUPPORT.1.to_string()),
                "您好：\n案例总结：\n问题定义：\n用户反馈激活失败。\n问题进展：\n用户已将系统重新安装，再次尝试激活，激活成功。\n".to_string(),
                None,
            ),
            _ if last && self.closed(t) => (
                (SUPPORT.0.to_string(), SUPPORT.1.to_string()),
                "Hello,\nCase summary:\nProblem definition: activation fails.\nResolution: the customer reinstalled Windows and activation succeeded.\n".to_string(),
                None,
            ),
            r if r % 2 == 1 => (
                (SUPPORT.0.to_string(), SUPPORT.1.to_string()),
                filler(2..12, &mut rng),
                None,
            ),
            _ => (customer_addr.clone(), filler(2..12, &mut rng), None),
        };
        let topic = if zh {
            format!("% {oem}OEM用户-{customer}用户反馈激活失败问题 % 编号 {t}")
        } else {
            format!("% {oem} OEM-{customer} reports activation failure % no. {t}")
        };
        let subject = match round {
            0 => topic,
            _ if zh => format!("回复: {topic}"),
            _ => format!("Re: {topic}"),
        };
        // Thread t starts at its share of the year; replies follow hours apart.
        let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
            .and_then(|d| d.and_hms_opt(1, 0, 0))
            .unwrap_or_default()
            + chrono::Duration::minutes((t as i64 * 525_000) / self.threads as i64);
        let sent = start + chrono::Duration::minutes(round as i64 * 190 + (t as i64 % 37));
        let tag = &self.tag;
        let mut h = format!(
            "From: {} <{}>\r\nTo: support@cmgos.example\r\nMessage-ID: <t{t}.m{round}{tag}@{domain}>\r\nDate: {}\r\nMIME-Version: 1.0\r\n",
            from.0,
            from.1,
            sent.and_utc().to_rfc2822(),
        );
        if round > 0 {
            // As mail programs trim a long thread's References: the first message and
            // the latest ones.
            let refs = (0..round)
                .filter(|r| *r == 0 || r + 20 >= round)
                .map(|r| format!("<t{t}.m{r}{tag}@{domain}>"))
                .collect::<Vec<_>>()
                .join(" ");
            h.push_str(&format!(
                "In-Reply-To: <t{t}.m{}{tag}@{domain}>\r\nReferences: {refs}\r\n",
                round - 1
            ));
        }
        h.push_str(&format!(
            "Subject: =?UTF-8?B?{}?=\r\n",
            base64::engine::general_purpose::STANDARD.encode(subject.as_bytes())
        ));
        let (ctype, cte, payload) = match (zh, rng.gen_range(0..4)) {
            (true, 0 | 1) => (
                "text/plain; charset=gb2312",
                "base64",
                b64_lines(&encoding_rs::GB18030.encode(&body).0),
            ),
            (true, _) => (
                "text/plain; charset=utf-8",
                "base64",
                b64_lines(body.as_bytes()),
            ),
            (false, 0) => (
                "text/plain; charset=iso-8859-1",
                "quoted-printable",
                qp(&String::from_utf8_lossy(
                    &encoding_rs::WINDOWS_1252.encode(&body).0,
                )),
            ),
            (false, 1) => ("text/plain; charset=utf-8", "quoted-printable", qp(&body)),
            (false, _) => (
                "text/plain; charset=utf-8",
                "8bit",
                body.replace('\n', "\r\n"),
            ),
        };
        // A plain text log in some other threads' first message.
        let bundle = bundle.or_else(|| {
            (round == 0 && t % 10 == 7).then(|| {
                let log = format!("2024-07-01 10:00:00 activation error {code}\n").repeat(20);
                ("activation.log", "text/plain", log.into_bytes())
            })
        });
        match bundle {
            Some((name, att_type, bytes)) => {
                h.push_str("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n");
                h.push_str(&format!("--b1\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{payload}\r\n"));
                h.push_str(&format!(
                    "--b1\r\nContent-Type: {att_type}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
                    b64_lines(&bytes)
                ));
            }
            None => h.push_str(&format!(
                "Content-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n{payload}\r\n"
            )),
        }
        h.into_bytes()
    }

    /// A log bundle as the log collector writes it: a zip of activation and system logs.
    fn bundle(&self, t: usize, zh: bool) -> (&'static str, &'static str, Vec<u8>) {
        use std::io::Write;
        let code = self.code(t);
        let serial = self.serial(t).unwrap_or_else(|| format!("T2{:011}", t));
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        let act = format!(
            "2024-06-24 17:39:09 [INFO] activation client start\n2024-06-24 17:39:10 [INFO] BIOS serial {serial}\n2024-06-24 17:39:12 [ERROR] online activation failed, HRESULT {code}\n2024-06-24 17:39:15 [ERROR] offline activation request failed\n"
        )
        .repeat(8);
        let sys = if zh {
            "2024-06-24 17:00:00 系统启动\n2024-06-24 17:30:00 WMI 服务查询失败\n".repeat(30)
        } else {
            "2024-06-24 17:00:00 system start\n2024-06-24 17:30:00 WMI query failed\n".repeat(30)
        };
        let parts: [(&str, &str); 2] = [
            ("CMGE_Log/activation.log", act.as_str()),
            ("CMGE_Log/system.log", sys.as_str()),
        ];
        for (name, text) in parts {
            if w.start_file(name, opts).is_err() || w.write_all(text.as_bytes()).is_err() {
                return ("CMGE_Log.zip", "application/zip", Vec::new());
            }
        }
        let bytes = w.finish().map(|c| c.into_inner()).unwrap_or_default();
        ("CMGE_Log.zip", "application/zip", bytes)
    }

    /// Activation records for half the serial numbers the corpus mentions (so half
    /// the cases with a serial show a record and the other half the "none" notice).
    /// Writes every message as `DIR/{i:07}.eml` (arrival order) and the activation
    /// records as `DIR/activation.csv`; the number of messages written.
    pub fn export(&self, dir: &std::path::Path) -> std::io::Result<usize> {
        std::fs::create_dir_all(dir)?;
        for i in 0..self.len() {
            std::fs::write(dir.join(format!("{i:07}.eml")), self.message(i))?;
        }
        let mut w = csv::Writer::from_path(dir.join("activation.csv"))?;
        w.write_record([
            "serial_number",
            "product_key",
            "machine_serial",
            "oem",
            "customer",
            "product",
            "activated_at",
            "method",
            "result",
            "error_code",
        ])?;
        for r in self.activation_records() {
            let o = |v: &Option<String>| v.clone().unwrap_or_default();
            w.write_record([
                r.serial_number.clone(),
                o(&r.product_key),
                o(&r.machine_serial),
                o(&r.oem),
                o(&r.customer),
                o(&r.product),
                o(&r.activated_at),
                o(&r.method),
                o(&r.result),
                o(&r.error_code),
            ])?;
        }
        w.flush()?;
        Ok(self.len())
    }

    pub fn activation_records(&self) -> Vec<casebook::activation::RecordInput> {
        (0..self.threads)
            .filter(|t| t % 4 == 0)
            .filter_map(|t| {
                let serial = self.serial(t)?;
                Some(casebook::activation::RecordInput {
                    serial_number: serial,
                    product_key: Some(format!("XXXXX-XXXXX-XXXXX-XXXXX-{:05}", t % 100_000)),
                    machine_serial: Some(format!("PF{:08}", t)),
                    oem: Some(customer(t).0.to_string()),
                    customer: Some(customer(t).1.to_string()),
                    product: Some(PRODUCTS[t % PRODUCTS.len()].into()),
                    activated_at: Some("2024-06-01 08:00:00".into()),
                    method: Some(if t % 8 == 0 { "online" } else { "offline" }.into()),
                    result: Some(if t % 8 == 0 { "success" } else { "failure" }.into()),
                    error_code: (t % 8 != 0).then(|| self.code(t).to_string()),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Corpus;

    #[test]
    fn generated_corpus_parses_and_threads() {
        let c = Corpus::new(100, 10, 1);
        assert_eq!(c.len(), 100);
        for i in 0..c.len() {
            let p = casebook::mail::parse::parse_message(&c.message(i)).expect("parses");
            assert!(!p.body_text.is_empty(), "message {i}");
        }
        let zh = casebook::mail::parse::parse_message(&c.message(0)).expect("parse");
        assert!(zh.subject.contains("激活失败"), "{}", zh.subject);
        // Thread 0, round 1 is support's scope definition, replying to round 0.
        let scope = casebook::mail::parse::parse_message(&c.message(10)).expect("parse");
        assert!(scope.body_text.contains("问题定义"), "{}", scope.body_text);
        assert!(casebook::mail::extract::extract_scope(&scope.body_text).is_some());
        // Thread 1 (English) carries a zip bundle in its third message.
        let with_zip = c.message(21);
        assert!(String::from_utf8_lossy(&with_zip).contains("CMGE_Log.zip"));
        // Thread 0 is escalated in round 3 and answered by R&D in round 4.
        let esc = casebook::mail::parse::parse_message(&c.message(30)).expect("parse");
        assert!(esc.body_text.starts_with("Hi Dev"), "{}", esc.body_text);
        let last = casebook::mail::parse::parse_message(&c.message(91)).expect("parse");
        assert!(casebook::mail::extract::extract_closure(&last.body_text).is_some());
        assert!(c.closed(1) && !c.closed(0));
        assert_eq!(c.activation_records().len(), 3);
    }
}
