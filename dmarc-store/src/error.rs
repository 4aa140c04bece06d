//! The store's error type.

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL is not one the store understands.
    #[error("unsupported database URL {0:?}: use sqlite://PATH (a file) or postgres://...")]
    UnsupportedUrl(String),
    /// Connecting, or a query, failed.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The change would break a rule of the stored data (the message says which).
    #[error("{0}")]
    Conflict(String),
    /// What a change names does not exist (the message names it).
    #[error("{0} not found")]
    NotFound(String),
    /// A read ran longer than the store's time limit and was stopped.
    #[error("the query ran longer than the time limit and was stopped")]
    Timeout,
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The system refused something the store needs (a thread for parsing).
    #[error("system error: {0}")]
    Io(#[from] std::io::Error),
    /// Stored data could not be read back (a bug or a hand-edited database).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        // PostgreSQL's statement_timeout (57014, query_canceled) and SQLite's interrupt from
        // the read pool's progress handler (9, SQLITE_INTERRUPT).
        if let sqlx::Error::Database(db) = &e
            && matches!(db.code().as_deref(), Some("57014" | "9"))
        {
            return StoreError::Timeout;
        }
        StoreError::Database(e)
    }
}

impl StoreError {
    /// True for errors a retry of the same transaction may cure (deadlock, serialisation
    /// failure, SQLite busy).
    pub fn is_transient(&self) -> bool {
        let StoreError::Database(sqlx::Error::Database(db)) = self else {
            return false;
        };
        matches!(
            db.code().as_deref(),
            Some("40P01" | "40001" | "5" | "6" | "517")
        )
    }
}
