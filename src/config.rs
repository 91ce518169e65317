//! Typed settings built from the command line (flags with env fallbacks).

use std::path::PathBuf;

#[derive(Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub secure_cookies: bool,
    /// Prefix of the tracking token we issue (`CMIT` gives `CMIT:0001234`).
    pub token_prefix: String,
    /// Prefixes recognised in incoming mail (always includes `token_prefix`).
    pub token_prefixes: Vec<String>,
    /// Regular expression for product serial numbers.
    pub serial_pattern: String,
    /// Mail domains whose senders are staff even without a user account.
    pub staff_domains: Vec<String>,
    /// A reply to a case closed longer ago than this opens a new, linked case.
    pub reopen_window_days: i64,
    /// Largest accepted raw message or upload, in bytes.
    pub max_message_bytes: usize,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The database URL may carry a password: never print it.
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field(
                "database",
                &if crate::db::is_postgres_url(&self.database_url) {
                    "postgres"
                } else {
                    "sqlite"
                },
            )
            .field("token_prefix", &self.token_prefix)
            .finish_non_exhaustive()
    }
}

impl Settings {
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        let db = data_dir.join("casebook.sqlite3");
        Settings {
            database_url: db.to_string_lossy().into_owned(),
            data_dir,
            secure_cookies: false,
            token_prefix: "CMIT".into(),
            token_prefixes: vec!["CMIT".into()],
            serial_pattern: DEFAULT_SERIAL_PATTERN.into(),
            staff_domains: Vec::new(),
            reopen_window_days: 30,
            max_message_bytes: 50 * 1024 * 1024,
        }
    }

    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }
}

/// The seed's serial `T102210000943`: one letter and twelve digits.
pub const DEFAULT_SERIAL_PATTERN: &str = r"\b[A-Z][0-9]{12}\b";
