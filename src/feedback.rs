//! Moderators' feedback ("this was spam", "this was ham"), stored durably in an embedded SQLite
//! database: write-ahead log, synchronous commits, so a reply that says "stored" is never a lie, even
//! if the machine loses power right after. `saring train --feedback DB` learns from it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection};
use thiserror::Error;

use crate::engine::{Comment, Label};

#[derive(Debug, Error)]
pub enum FeedbackError {
    #[error("feedback database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("feedback database {path}: row {row} holds an unreadable comment: {reason}")]
    BadRow {
        path: PathBuf,
        row: i64,
        reason: String,
    },
}

/// The feedback database.
pub struct FeedbackStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl FeedbackStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, FeedbackError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| FeedbackError::Folder {
                path: dir.to_owned(),
                source,
            })?;
        }
        let err = |source| FeedbackError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        // FULL: every commit reaches the disk before it returns.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS feedback (
                id INTEGER PRIMARY KEY,
                received_at INTEGER NOT NULL,
                label TEXT NOT NULL CHECK (label IN ('spam', 'ham')),
                source TEXT NOT NULL,
                comment TEXT NOT NULL
            );",
        )
        .map_err(err)?;
        Ok(FeedbackStore {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores one piece of feedback; when this returns, it is on disk. Returns its row id.
    pub fn record(
        &self,
        comment: &Comment,
        label: Label,
        source: &str,
        now: u64,
    ) -> Result<i64, FeedbackError> {
        let mut stored = comment.clone();
        stored.label = None;
        let json = serde_json::to_string(&stored).unwrap_or_default();
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        conn.execute(
            "INSERT INTO feedback (received_at, label, source, comment) VALUES (?1, ?2, ?3, ?4)",
            params![now as i64, label.as_str(), source, json],
        )
        .map_err(|source| FeedbackError::Sqlite {
            path: self.path.clone(),
            source,
        })?;
        Ok(conn.last_insert_rowid())
    }

    /// How many pieces of feedback are stored.
    pub fn count(&self) -> Result<u64, FeedbackError> {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        conn.query_row("SELECT COUNT(*) FROM feedback", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|source| FeedbackError::Sqlite {
                path: self.path.clone(),
                source,
            })
    }

    /// Every stored comment with its label, oldest first.
    pub fn comments(&self) -> Result<Vec<Comment>, FeedbackError> {
        let err = |source| FeedbackError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut stmt = conn
            .prepare("SELECT id, label, comment FROM feedback ORDER BY id")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, label, json) = row.map_err(err)?;
            let bad = |reason: String| FeedbackError::BadRow {
                path: self.path.clone(),
                row: id,
                reason,
            };
            let mut comment: Comment =
                serde_json::from_str(&json).map_err(|e| bad(e.to_string()))?;
            comment.label = Some(label.parse().map_err(bad)?);
            out.push(comment);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_survives_reopening() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sub/feedback.sqlite");
        {
            let store = FeedbackStore::open(&path).expect("opens");
            store
                .record(&Comment::from_text("buy pills"), Label::Spam, "api", 1)
                .expect("stores");
            store
                .record(&Comment::from_text("nice post"), Label::Ham, "akismet", 2)
                .expect("stores");
        }
        let store = FeedbackStore::open(&path).expect("reopens");
        assert_eq!(store.count().expect("count"), 2);
        let comments = store.comments().expect("reads");
        assert_eq!(comments[0].content, "buy pills");
        assert_eq!(comments[0].label, Some(Label::Spam));
        assert_eq!(comments[1].label, Some(Label::Ham));
    }
}
