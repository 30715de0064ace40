//! Moderators' feedback ("this was spam", "this was ham"), stored durably in an embedded SQLite
//! database: write-ahead log, synchronous commits, so a reply that says "stored" is never a lie, even
//! if the machine loses power right after. `saring train --feedback DB` learns from it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, ErrorCode, OpenFlags};
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
    /// SQLite could not read the database in place, and copying it to read the copy failed too.
    #[error("feedback database {path}: cannot copy it to read it: {source}")]
    Copy {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Another process holds the database (a backup, an `sqlite3` shell) for longer than
    /// [`BUSY_WAIT`]: worth trying again shortly.
    #[error("feedback database {path} is locked by another process")]
    Busy { path: PathBuf },
    /// The file was deleted or replaced since it was opened: writing on would store into a file no
    /// one will read again.
    #[error("feedback database {path} was deleted or replaced while in use; restart the service")]
    Gone { path: PathBuf },
    #[error("feedback database {path}: row {row} holds an unreadable comment: {reason}")]
    BadRow {
        path: PathBuf,
        row: i64,
        reason: String,
    },
}

/// The longest a write waits for the database, from when it is asked for (queueing behind other
/// writes included).
pub const BUSY_WAIT: Duration = Duration::from_secs(5);

/// SQLite could not read the database where it is (it could not make the files reading needs beside it).
fn needs_a_copy(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, _)
        if e.extended_code == rusqlite::ffi::SQLITE_READONLY_DIRECTORY
            || e.code == ErrorCode::CannotOpen)
}

/// The feedback database.
pub struct FeedbackStore {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// The file opened, to tell when the path no longer names it.
    identity: Option<FileIdentity>,
    /// Where a copy is read from, when the file could not be read in place.
    _copy: Option<tempfile::TempDir>,
}

/// A file's device and inode.
type FileIdentity = (u64, u64);

#[cfg(unix)]
fn identity(path: &Path) -> Option<FileIdentity> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_: &Path) -> Option<FileIdentity> {
    None
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
        conn.busy_timeout(BUSY_WAIT).map_err(err)?;
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
            identity: identity(path),
            _copy: None,
        })
    }

    /// Opens an existing database to read it (`saring train --feedback`): nothing in the file is
    /// changed, and a file that is not a feedback database is refused. A database that SQLite cannot
    /// read where it is is read from a copy: one closed cleanly has no `-shm` file, and reading it
    /// needs one, which SQLite cannot make in a folder the reader may not write to (a service's data
    /// folder read by the site owner's account).
    pub fn open_read_only(path: &Path) -> Result<Self, FeedbackError> {
        match Self::read_only_at(path, path, None) {
            Err(FeedbackError::Sqlite { source, .. }) if needs_a_copy(&source) => {
                Self::read_only_copy(path)
            }
            opened => opened,
        }
    }

    /// Opens `file` read-only as the database `path` names.
    fn read_only_at(
        path: &Path,
        file: &Path,
        copy: Option<tempfile::TempDir>,
    ) -> Result<Self, FeedbackError> {
        let err = |source| FeedbackError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(file, flags).map_err(err)?;
        conn.busy_timeout(BUSY_WAIT).map_err(err)?;
        conn.query_row("SELECT COUNT(*) FROM feedback", [], |_| Ok(()))
            .map_err(err)?;
        Ok(FeedbackStore {
            path: path.to_owned(),
            conn: Mutex::new(conn),
            identity: None,
            _copy: copy,
        })
    }

    /// Copies the database and its write-ahead log (feedback it holds that is not yet in the file
    /// itself) to a temporary folder, and opens the copy.
    fn read_only_copy(path: &Path) -> Result<Self, FeedbackError> {
        let folder = |source| FeedbackError::Folder {
            path: std::env::temp_dir(),
            source,
        };
        let copy = tempfile::tempdir().map_err(folder)?;
        let file = copy.path().join("feedback.sqlite");
        let read = |source| FeedbackError::Copy {
            path: path.to_owned(),
            source,
        };
        let mut log = path.as_os_str().to_owned();
        log.push("-wal");
        let log = PathBuf::from(log);
        // Copied without SQLite's lock (taking it needs the files SQLite cannot make): a database
        // that changes while it is copied (a service started meanwhile) is copied again.
        let state = |p: &Path| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.len(), m.modified().ok()))
        };
        for _ in 0..3 {
            let before = (state(path), state(&log));
            std::fs::copy(path, &file).map_err(read)?;
            let copied_log = copy.path().join("feedback.sqlite-wal");
            match std::fs::copy(&log, &copied_log) {
                Ok(_) => {}
                // None now (a try before may have copied one).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let _ = std::fs::remove_file(&copied_log);
                }
                Err(e) => return Err(read(e)),
            }
            if (state(path), state(&log)) == before {
                return Self::read_only_at(path, &file, Some(copy));
            }
        }
        Err(read(std::io::Error::other(
            "it kept changing while it was copied (stop the service, or try again)",
        )))
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
        let asked = Instant::now();
        let mut stored = comment.clone();
        stored.label = None;
        let json = serde_json::to_string(&stored).unwrap_or_default();
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let busy = || FeedbackError::Busy {
            path: self.path.clone(),
        };
        // Writes queue here one at a time: each waits for SQLite's lock only what is left of its own
        // BUSY_WAIT, so a locked database makes none wait longer than that.
        let left = BUSY_WAIT.saturating_sub(asked.elapsed());
        if left.is_zero() {
            return Err(busy());
        }
        if self.identity.is_some() && identity(&self.path) != self.identity {
            return Err(FeedbackError::Gone {
                path: self.path.clone(),
            });
        }
        let err = |source: rusqlite::Error| match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => busy(),
            _ => FeedbackError::Sqlite {
                path: self.path.clone(),
                source,
            },
        };
        conn.busy_timeout(left).map_err(err)?;
        conn.execute(
            "INSERT INTO feedback (received_at, label, source, comment) VALUES (?1, ?2, ?3, ?4)",
            params![now as i64, label.as_str(), source, json],
        )
        .map_err(err)?;
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

    #[test]
    fn a_copy_read_holds_what_is_still_only_in_the_write_ahead_log() {
        // The store stays open: its feedback is in the `-wal` file, not yet in the database file.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("feedback.sqlite");
        let store = FeedbackStore::open(&path).expect("opens");
        for (n, text) in ["buy pills", "nice post"].into_iter().enumerate() {
            store
                .record(&Comment::from_text(text), Label::Spam, "api", n as u64)
                .expect("stores");
        }
        let log = dir.path().join("feedback.sqlite-wal");
        assert!(std::fs::metadata(&log).expect("a log").len() > 0);
        let before = std::fs::read(&path).expect("reads");
        let copy = FeedbackStore::read_only_copy(&path).expect("reads a copy");
        let comments = copy.comments().expect("reads");
        assert_eq!(
            comments
                .iter()
                .map(|c| c.content.as_str())
                .collect::<Vec<_>>(),
            ["buy pills", "nice post"]
        );
        let folder = copy._copy.as_ref().map(|d| d.path().to_owned());
        drop(copy);
        assert!(folder.is_some_and(|f| !f.exists()), "the copy is removed");
        assert_eq!(
            std::fs::read(&path).expect("reads"),
            before,
            "left as it was"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_database_deleted_or_replaced_in_use_is_an_error_not_a_silent_loss() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("feedback.sqlite");
        let store = FeedbackStore::open(&path).expect("opens");
        let spam = Comment::from_text("buy pills");
        store.record(&spam, Label::Spam, "api", 1).expect("stores");
        std::fs::remove_file(&path).expect("deletes");
        let err = store
            .record(&spam, Label::Spam, "api", 2)
            .expect_err("gone");
        assert!(matches!(err, FeedbackError::Gone { .. }), "{err}");
        // Another file at the path is not the one opened either.
        std::fs::write(&path, b"").expect("writes");
        let err = store
            .record(&spam, Label::Spam, "api", 3)
            .expect_err("replaced");
        assert!(matches!(err, FeedbackError::Gone { .. }), "{err}");
    }

    #[test]
    fn a_locked_database_is_busy_within_the_wait_and_reading_changes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("feedback.sqlite");
        let store = FeedbackStore::open(&path).expect("opens");
        let other = Connection::open(&path).expect("opens");
        other.execute_batch("BEGIN EXCLUSIVE").expect("locks");
        let started = Instant::now();
        let err = store
            .record(&Comment::from_text("x"), Label::Ham, "api", 1)
            .expect_err("locked");
        assert!(matches!(err, FeedbackError::Busy { .. }), "{err}");
        assert!(started.elapsed() < BUSY_WAIT + Duration::from_secs(2));
        other.execute_batch("COMMIT").expect("unlocks");
        store
            .record(&Comment::from_text("x"), Label::Ham, "api", 2)
            .expect("stores once free");
        // Reading opens the file read-only: a file that is not a feedback database is refused and
        // left as it was.
        assert_eq!(
            FeedbackStore::open_read_only(&path)
                .expect("reads")
                .count()
                .expect("counts"),
            1
        );
        let not_ours = dir.path().join("other.db");
        Connection::open(&not_ours)
            .expect("opens")
            .execute_batch("CREATE TABLE notes (x)")
            .expect("creates");
        let before = std::fs::read(&not_ours).expect("reads");
        assert!(FeedbackStore::open_read_only(&not_ours).is_err());
        assert_eq!(std::fs::read(&not_ours).expect("reads"), before);
        assert!(!dir.path().join("other.db-wal").exists());
    }
}
