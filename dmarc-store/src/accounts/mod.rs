//! Users, login sessions (refresh-token families, `sessions.rs`), API keys, the audit log
//! and settings (`keys.rs`).
//!
//! The store keeps what the server's authentication needs and nothing it computes: password
//! hashes arrive hashed (bcrypt) and tokens and keys as their SHA-256, so a database dump
//! reveals no credential.

mod keys;
mod sessions;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use crate::backend::Backend;
use crate::query::{Arg, Sql};
use crate::store::Store;
use crate::store::now;
use crate::types::{Page, Paged};
use crate::{Result, StoreError};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read-only access to reports, rollups and their own API keys.
    Viewer,
    /// Viewer, plus uploads, exports, jobs, alerts and analytics.
    Analyst,
    /// Everything, including users and the audit log.
    Admin,
}

impl Role {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?}: use admin, analyst or viewer"
            )),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A user account (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// Database id.
    pub id: i64,
    /// Trimmed, lower-cased e-mail address; the login name.
    pub email: String,
    /// What the user may do.
    pub role: Role,
    /// A disabled user cannot log in, and their sessions and API keys stop working.
    pub disabled: bool,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds of the last change.
    pub updated_at: i64,
    /// Epoch seconds of the last successful login.
    pub last_login_at: Option<i64>,
}

/// A change to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    /// New role.
    pub role: Option<Role>,
    /// Disable or enable.
    pub disabled: Option<bool>,
    /// New bcrypt hash.
    pub password_hash: Option<String>,
}

/// An API key's description (the key itself is shown once, when created, and not stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyInfo {
    /// Database id.
    pub id: i64,
    /// The owner; the key acts with the owner's role.
    pub user_id: i64,
    /// Given by the owner.
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds of the last request made with it (to the minute).
    pub last_used_at: Option<i64>,
    /// Epoch seconds; a revoked key is refused.
    pub revoked_at: Option<i64>,
}

/// The result of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The token was valid; it is now used and the new one replaces it.
    Rotated {
        /// The session's user.
        user: User,
        /// The session (the family of refresh tokens).
        session_id: String,
    },
    /// The token had already been rotated: someone replays it. The whole session is now
    /// revoked.
    Reused {
        /// The revoked session.
        session_id: String,
        /// Its user.
        user_id: i64,
    },
    /// Expired, its session revoked, or its user disabled.
    Refused,
    /// No such token.
    Unknown,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Database id (increasing).
    pub id: i64,
    /// Epoch seconds.
    pub at: i64,
    /// Who acted, when known.
    pub user_id: Option<i64>,
    /// Who acted, as shown (e-mail, or the API key's name and owner).
    pub actor: String,
    /// What was done, e.g. `login.failure`, `user.create`, `api_key.revoke`.
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
    /// Further facts.
    pub detail: serde_json::Value,
}

/// An audit log entry to write.
#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    /// Who acted, when known.
    pub user_id: Option<i64>,
    /// Who acted, as shown.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
    /// Further facts.
    pub detail: serde_json::Value,
}

/// The e-mail form the store keys users by.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The columns of a user, named so that they can share a row with others' (read by
/// `user_from`).
const USER_COLUMNS: &str = "u.id AS user_id, u.email AS user_email, u.role AS user_role, \
    u.disabled AS user_disabled, u.created_at AS user_created_at, \
    u.updated_at AS user_updated_at, u.last_login_at AS user_last_login_at";
/// The columns of an API key (read by `key_from`).
const KEY_COLUMNS: &str = "k.id AS key_id, k.user_id AS key_user_id, k.name AS key_name, \
    k.prefix AS key_prefix, k.created_at AS key_created_at, \
    k.last_used_at AS key_last_used_at, k.revoked_at AS key_revoked_at";
/// How often the last use of an API key is written (seconds): not on every request.
const KEY_USE_RESOLUTION: i64 = 60;

/// The user in a row holding the [`USER_COLUMNS`].
fn user_from(row: &AnyRow) -> Result<User> {
    let role: String = row.try_get("user_role")?;
    Ok(User {
        id: row.try_get("user_id")?,
        email: row.try_get("user_email")?,
        role: role.parse().map_err(StoreError::Corrupt)?,
        disabled: row.try_get::<i64, _>("user_disabled")? != 0,
        created_at: row.try_get("user_created_at")?,
        updated_at: row.try_get("user_updated_at")?,
        last_login_at: row.try_get("user_last_login_at")?,
    })
}

/// The API key in a row holding the [`KEY_COLUMNS`].
fn key_from(row: &AnyRow) -> Result<ApiKeyInfo> {
    Ok(ApiKeyInfo {
        id: row.try_get("key_id")?,
        user_id: row.try_get("key_user_id")?,
        name: row.try_get("key_name")?,
        prefix: row.try_get("key_prefix")?,
        created_at: row.try_get("key_created_at")?,
        last_used_at: row.try_get("key_last_used_at")?,
        revoked_at: row.try_get("key_revoked_at")?,
    })
}

/// Accounts, sessions, keys, audit and settings. One implementation for both backends, like
/// the report queries.
impl Store {
    async fn one_user(&self, sql: Sql) -> Result<Option<User>> {
        let rows = sql.fetch_all(self.backend(), self.pool()).await?;
        rows.first().map(user_from).transpose()
    }

    /// Creates a user; [`StoreError::Conflict`] when the e-mail address is taken.
    pub async fn create_user(&self, email: &str, password_hash: &str, role: Role) -> Result<User> {
        let at = now();
        let rows = Sql::new(
            "INSERT INTO users (email, password_hash, role, disabled, created_at, updated_at) \
             VALUES ($1, $2, $3, 0, $4, $5) ON CONFLICT (email) DO NOTHING RETURNING id",
        )
        .bind(Arg::Text(normalize_email(email)))
        .bind(Arg::Text(password_hash.to_owned()))
        .bind(Arg::Text(role.as_str().to_owned()))
        .bind(Arg::Int(at))
        .bind(Arg::Int(at))
        .fetch_all(self.backend(), self.pool())
        .await?;
        let Some(row) = rows.first() else {
            return Err(StoreError::Conflict(
                "a user with this e-mail address exists".into(),
            ));
        };
        let id = row.try_get("id")?;
        self.user(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))
    }

    /// A user by id.
    pub async fn user(&self, id: i64) -> Result<Option<User>> {
        self.one_user(
            Sql::new(&format!(
                "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"
            ))
            .bind(Arg::Int(id)),
        )
        .await
    }

    /// A user and their password hash, by e-mail (for a login).
    pub async fn credentials(&self, email: &str) -> Result<Option<(User, String)>> {
        let rows = Sql::new(&format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = $1"
        ))
        .bind(Arg::Text(normalize_email(email)))
        .fetch_all(self.backend(), self.pool())
        .await?;
        rows.first()
            .map(|row| Ok((user_from(row)?, row.try_get("password_hash")?)))
            .transpose()
    }

    /// Every user, by id.
    pub async fn users(&self) -> Result<Vec<User>> {
        Sql::new(&format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.id"))
            .fetch_all(self.backend(), self.pool())
            .await?
            .iter()
            .map(user_from)
            .collect()
    }

    /// Enabled administrators.
    pub async fn active_admins(&self) -> Result<i64> {
        Sql::new("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0")
            .fetch_count(self.backend(), self.pool())
            .await
    }

    /// Changes a user ([`StoreError::NotFound`] when there is no such user). Disabling a
    /// user or changing their password revokes their sessions in the same transaction.
    pub async fn update_user(&self, id: i64, change: &UserChange) -> Result<User> {
        let backend = self.backend();
        let at = now();
        let mut tx = self.begin_write().await?;
        let admins = lock_admins(backend, &mut tx).await?;
        let mut sql = Sql::new("UPDATE users SET updated_at = ");
        sql.arg(Arg::Int(at));
        if let Some(role) = change.role {
            sql.push(", role = ")
                .arg(Arg::Text(role.as_str().to_owned()));
        }
        if let Some(disabled) = change.disabled {
            sql.push(", disabled = ").arg(Arg::Int(i64::from(disabled)));
        }
        if let Some(hash) = &change.password_hash {
            sql.push(", password_hash = ").arg(Arg::Text(hash.clone()));
        }
        sql.push(" WHERE id = ").arg(Arg::Int(id));
        if sql.execute(backend, &mut *tx).await? == 0 {
            return Err(StoreError::NotFound(format!("user {id}")));
        }
        keep_an_admin(backend, &mut tx, admins).await?;
        if change.disabled == Some(true) {
            // A disabled user's keys die with them: enabling the user again does not bring
            // back keys that were issued before.
            Sql::new(
                "UPDATE api_keys SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            )
            .bind(Arg::Int(at))
            .bind(Arg::Int(id))
            .execute(backend, &mut *tx)
            .await?;
        }
        if change.disabled == Some(true) || change.password_hash.is_some() {
            let reason = if change.password_hash.is_some() {
                "password changed"
            } else {
                "user disabled"
            };
            Sql::new(
                "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 \
                 WHERE user_id = $3 AND revoked_at IS NULL",
            )
            .bind(Arg::Int(at))
            .bind(Arg::Text(reason.to_owned()))
            .bind(Arg::Int(id))
            .execute(backend, &mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.user(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))
    }

    /// Deletes a user with their sessions and API keys; false when there was none. Audit
    /// entries keep the actor's name.
    pub async fn delete_user(&self, id: i64) -> Result<bool> {
        let backend = self.backend();
        let mut tx = self.begin_write().await?;
        let admins = lock_admins(backend, &mut tx).await?;
        Sql::new("UPDATE audit_log SET user_id = NULL WHERE user_id = $1")
            .bind(Arg::Int(id))
            .execute(backend, &mut *tx)
            .await?;
        let deleted = Sql::new("DELETE FROM users WHERE id = $1")
            .bind(Arg::Int(id))
            .execute(backend, &mut *tx)
            .await?;
        keep_an_admin(backend, &mut tx, admins).await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Notes a successful login.
    pub async fn record_login(&self, user_id: i64) -> Result<()> {
        Sql::new("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(Arg::Int(now()))
            .bind(Arg::Int(user_id))
            .execute(self.backend(), self.pool())
            .await?;
        Ok(())
    }
}

/// Counts the enabled admins and takes their rows for the transaction (SQLite's write
/// transaction holds the whole database already), so two changes that each leave one
/// admin cannot both commit: the second sees the first.
async fn lock_admins(backend: Backend, tx: &mut Transaction<'static, Any>) -> Result<usize> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let admins = Sql::new(&format!(
        "SELECT id FROM users WHERE role = 'admin' AND disabled = 0{lock}"
    ))
    .fetch_all(backend, &mut **tx)
    .await?;
    Ok(admins.len())
}

/// Fails the transaction (dropped, so rolled back) when it took away the last enabled
/// admin (of `before`).
async fn keep_an_admin(
    backend: Backend,
    tx: &mut Transaction<'static, Any>,
    before: usize,
) -> Result<()> {
    let after = Sql::new("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0")
        .fetch_count(backend, &mut **tx)
        .await?;
    if before > 0 && after == 0 {
        return Err(StoreError::Conflict(
            "this is the last enabled admin; make another admin first".into(),
        ));
    }
    Ok(())
}
