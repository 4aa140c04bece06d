//! Which database a URL names (SQLite or PostgreSQL), and each one's migrations.

use serde::Serialize;
use sqlx::AnyConnection;
use sqlx::migrate::Migrator;

use crate::{Result, StoreError};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// SQLite: one file, one node.
    Sqlite,
    /// PostgreSQL: several processes on one server.
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn of_url(url: &str) -> Result<Backend> {
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        match scheme {
            // An in-memory database is private to one connection; the store uses several.
            "sqlite" if url.contains(":memory:") || url.contains("mode=memory") => {
                Err(StoreError::UnsupportedUrl(redact(url)))
            }
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(StoreError::UnsupportedUrl(redact(url))),
        }
    }

    pub(crate) fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let userinfo = &url[start + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..start + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Which backend a connection talks to.
pub(crate) fn backend_of(conn: &AnyConnection) -> Backend {
    if conn.backend_name() == "SQLite" {
        Backend::Sqlite
    } else {
        Backend::Postgres
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_backends_and_hide_passwords() {
        assert_eq!(Backend::of_url("sqlite://x.db").ok(), Some(Backend::Sqlite));
        assert!(
            Backend::of_url("sqlite::memory:").is_err(),
            "one connection only"
        );
        assert_eq!(
            Backend::of_url("postgresql://h/db").ok(),
            Some(Backend::Postgres)
        );
        let err = Backend::of_url("mysql://u:secret@h/db")
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("secret") && err.contains("u:***@h/db"),
            "{err}"
        );
    }
}
