//! SQLite: the inverted index of search, a tantivy index beside the database file
//! (`casebook.sqlite3.search/`). It holds every searchable text as the tokens of
//! `words::index_tokens` (words, CJK characters and their pairs, with positions)
//! under its document id (`key`: a message is `id * 8 + 1`, other documents keep their
//! `search_docs` id) and its source (`src`), and answers a term with the newest
//! matching keys of one source: the case, the filters and the ranking come from the
//! database (`sqlite.rs`, `mod.rs`), so merged or deleted cases drop out at once.
//!
//! It is derived data. Its commits carry the database positions they cover (`Marks`,
//! in tantivy's commit payload): what came after (messages above `messages`, changes
//! above `changes` in `search_changes`, documents above `docs` while a new index is
//! filled) is searched in the database until the indexer (`sqlite::catch_up_index`)
//! reaches it. A crash between a database commit and an index commit therefore loses
//! nothing: the indexer starts again from the index's own marks. A missing or
//! unreadable index is built again from the database; `casebook reindex` rebuilds it
//! on purpose. Backups leave it out.

use super::words;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED,
};
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::{
    Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument, Term,
};

/// Memory of the index writer (one thread): tantivy's minimum is 15 MB.
const WRITER_MEMORY: usize = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index: {0}")]
    Io(#[from] std::io::Error),
    #[error("search index is being written by another process")]
    Locked,
}

/// Which table a document comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    /// `search_docs`: subjects, notes, scopes, closures, findings.
    Doc = 0,
    Message = 1,
}

/// How far the index has read the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marks {
    /// The last message id indexed.
    pub messages: i64,
    /// The last `search_changes.seq` applied.
    pub changes: i64,
    /// While a new index is filled: the last `search_docs.id` indexed; `i64::MAX`
    /// once all are.
    pub docs: i64,
}

impl Marks {
    /// A new, empty index, filled from the start; changes up to `changes` are in what
    /// it reads.
    pub fn fresh(changes: i64) -> Marks {
        Marks {
            messages: 0,
            changes,
            docs: 0,
        }
    }
}

struct Fields {
    key: Field,
    src: Field,
    text: Field,
}

/// What one search reads: a searcher and the marks of the commit it sees.
#[derive(Clone)]
pub struct Snapshot {
    searcher: Searcher,
    pub marks: Option<Marks>,
}

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    current: RwLock<Snapshot>,
    writer: Mutex<Option<IndexWriter>>,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let key = b.add_u64_field("key", INDEXED | FAST);
    let src = b.add_u64_field("src", INDEXED);
    let text = b.add_text_field(
        "text",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        ),
    );
    (b.build(), Fields { key, src, text })
}

fn marks_of(index: &Index) -> Result<Option<Marks>, IndexError> {
    Ok(index
        .load_metas()?
        .payload
        .and_then(|p| serde_json::from_str(&p).ok()))
}

impl SearchIndex {
    /// Opens the index in `dir`, or makes a new one there when there is none or it
    /// cannot be read (it is derived data).
    pub fn open(dir: &Path) -> Result<SearchIndex, IndexError> {
        let (schema, fields) = schema();
        std::fs::create_dir_all(dir)?;
        let index = match Index::open_in_dir(dir) {
            Ok(i) if i.schema() == schema => i,
            Ok(_) | Err(_) if dir.join("meta.json").exists() => {
                tracing::warn!(dir = %dir.display(), "search index unreadable or of another shape: building it again");
                std::fs::remove_dir_all(dir)?;
                std::fs::create_dir_all(dir)?;
                Index::create_in_dir(dir, schema)?
            }
            _ => Index::create_in_dir(dir, schema)?,
        };
        Self::with_index(index, fields)
    }

    fn with_index(index: Index, fields: Fields) -> Result<SearchIndex, IndexError> {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let current = RwLock::new(Snapshot {
            searcher: reader.searcher(),
            marks: marks_of(&index)?,
        });
        Ok(SearchIndex {
            index,
            reader,
            fields,
            current,
            writer: Mutex::new(None),
        })
    }

    /// The searcher and marks of the last commit this process has loaded.
    pub fn snapshot(&self) -> Snapshot {
        match self.current.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Loads the last commit (this process's or another's): returns its marks.
    pub fn reload(&self) -> Result<Option<Marks>, IndexError> {
        self.reader.reload()?;
        let marks = marks_of(&self.index)?;
        let snap = Snapshot {
            searcher: self.reader.searcher(),
            marks,
        };
        match self.current.write() {
            Ok(mut s) => *s = snap,
            Err(p) => *p.into_inner() = snap,
        }
        Ok(marks)
    }

    /// The newest keys of `src` whose text holds `term` (see `words`), skipping the
    /// first `offset`; and whether there may be more.
    pub fn newest(
        &self,
        snap: &Snapshot,
        term: &str,
        src: Src,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<i64>, bool), IndexError> {
        let fields = &self.fields;
        let tokens = words::query_tokens(term);
        let text: Box<dyn Query> = match tokens.as_slice() {
            [] => return Ok((Vec::new(), false)),
            [(_, t)] => Box::new(TermQuery::new(
                Term::from_field_text(fields.text, t),
                IndexRecordOption::Basic,
            )),
            many => Box::new(PhraseQuery::new_with_offset(
                many.iter()
                    .map(|(o, t)| (*o, Term::from_field_text(fields.text, t)))
                    .collect(),
            )),
        };
        let query = BooleanQuery::new(vec![
            (Occur::Must, text),
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_u64(fields.src, src as u64),
                    IndexRecordOption::Basic,
                )),
            ),
        ]);
        let top = TopDocs::with_limit(limit)
            .and_offset(offset)
            .order_by_fast_field::<u64>("key", Order::Desc);
        let hits = snap.searcher.search(&query, &top)?;
        let more = hits.len() == limit;
        Ok((hits.into_iter().map(|(k, _)| k as i64).collect(), more))
    }

    fn document(&self, key: i64, src: Src, text: &str) -> TantivyDocument {
        let tokens = words::index_tokens(text)
            .into_iter()
            .map(|t| Token {
                offset_from: t.from,
                offset_to: t.to,
                position: t.position,
                text: t.text,
                position_length: 1,
            })
            .collect();
        let mut doc = TantivyDocument::new();
        doc.add_u64(self.fields.key, key as u64);
        doc.add_u64(self.fields.src, src as u64);
        doc.add_pre_tokenized_text(
            self.fields.text,
            PreTokenizedString {
                text: String::new(),
                tokens,
            },
        );
        doc
    }

    /// Applies one batch and commits it with `marks`: `replace` are documents whose
    /// earlier version (if any) goes first, `Some(text)` their text now (`None`:
    /// gone); `add` are documents the index cannot hold yet (new messages). Errors
    /// with `Locked` when another process writes the index.
    pub fn apply(
        &self,
        add: &[(i64, Src, String)],
        replace: &[(i64, Src, Option<String>)],
        marks: Marks,
        clear: bool,
    ) -> Result<(), IndexError> {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let w = self
                .index
                .writer_with_num_threads(1, WRITER_MEMORY)
                .map_err(|e| match e {
                    tantivy::TantivyError::LockFailure(..) => IndexError::Locked,
                    other => IndexError::Tantivy(other),
                })?;
            *guard = Some(w);
        }
        let Some(writer) = guard.as_mut() else {
            return Err(IndexError::Locked);
        };
        let run = |writer: &mut IndexWriter| -> Result<(), IndexError> {
            if clear {
                writer.delete_all_documents()?;
            }
            for (key, src, text) in add {
                writer.add_document(self.document(*key, *src, text))?;
            }
            for (key, src, text) in replace {
                writer.delete_term(Term::from_field_u64(self.fields.key, *key as u64));
                if let Some(text) = text {
                    writer.add_document(self.document(*key, *src, text))?;
                }
            }
            let payload = serde_json::to_string(&marks)
                .map_err(|e| IndexError::Io(std::io::Error::other(e)))?;
            let mut commit = writer.prepare_commit()?;
            commit.set_payload(&payload);
            commit.commit()?;
            Ok(())
        };
        if let Err(e) = run(writer) {
            // What was added since the last commit goes: the next batch starts again
            // from the committed marks.
            if let Err(r) = writer.rollback() {
                tracing::warn!(error = %r, "search index rollback failed");
                *guard = None;
            }
            return Err(e);
        }
        drop(guard);
        self.reload()?;
        Ok(())
    }

    /// Documents in the index (tests and `casebook reindex`).
    pub fn num_docs(&self) -> u64 {
        self.snapshot().searcher.num_docs()
    }

    /// Whether the index holds `key` (tests).
    pub fn holds(&self, key: i64) -> Result<bool, IndexError> {
        let snap = self.snapshot();
        let q = TermQuery::new(
            Term::from_field_u64(self.fields.key, key as u64),
            IndexRecordOption::Basic,
        );
        Ok(snap.searcher.search(&q, &tantivy::collector::Count)? > 0)
    }

    /// Segments of the index (tests).
    pub fn segments(&self) -> usize {
        self.snapshot().searcher.segment_readers().len()
    }
}

/// Where the index of the SQLite database in `db_file` lives.
pub fn dir_for(db_file: &Path) -> PathBuf {
    let mut name = db_file.as_os_str().to_owned();
    name.push(".search");
    PathBuf::from(name)
}

/// The open indexes of this process, by database file (one per database: the
/// server, the bench and the tests open several).
fn registry() -> &'static Mutex<HashMap<PathBuf, Arc<SearchIndex>>> {
    static R: OnceLock<Mutex<HashMap<PathBuf, Arc<SearchIndex>>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The index of the database in `db_file`, opened once per process.
pub fn for_database(db_file: &Path) -> Result<Arc<SearchIndex>, IndexError> {
    let mut r = registry().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(i) = r.get(db_file) {
        return Ok(i.clone());
    }
    let index = Arc::new(SearchIndex::open(&dir_for(db_file))?);
    r.insert(db_file.to_path_buf(), index.clone());
    Ok(index)
}

/// Forgets the open index of `db_file` (`casebook reindex` removes its files).
pub fn forget(db_file: &Path) {
    registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(db_file);
}
