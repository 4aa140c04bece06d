//! Users, login sessions (refresh-token families), API keys, the audit log and settings.
//!
//! The store keeps what the server's authentication needs and nothing it computes: password
//! hashes arrive hashed (bcrypt) and tokens and keys as their SHA-256, so a database dump
//! reveals no credential.

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

const USER_COLUMNS: &str =
    "u.id, u.email, u.role, u.disabled, u.created_at, u.updated_at, u.last_login_at";
const KEY_COLUMNS: &str =
    "k.id, k.user_id, k.name, k.prefix, k.created_at, k.last_used_at, k.revoked_at";
/// How often the last use of an API key is written (seconds): not on every request.
const KEY_USE_RESOLUTION: i64 = 60;

fn user_at(row: &AnyRow, first: usize) -> Result<User> {
    let role: String = row.try_get(first + 2)?;
    Ok(User {
        id: row.try_get(first)?,
        email: row.try_get(first + 1)?,
        role: role.parse().map_err(StoreError::Corrupt)?,
        disabled: row.try_get::<i64, _>(first + 3)? != 0,
        created_at: row.try_get(first + 4)?,
        updated_at: row.try_get(first + 5)?,
        last_login_at: row.try_get(first + 6)?,
    })
}

fn key_at(row: &AnyRow, first: usize) -> Result<ApiKeyInfo> {
    Ok(ApiKeyInfo {
        id: row.try_get(first)?,
        user_id: row.try_get(first + 1)?,
        name: row.try_get(first + 2)?,
        prefix: row.try_get(first + 3)?,
        created_at: row.try_get(first + 4)?,
        last_used_at: row.try_get(first + 5)?,
        revoked_at: row.try_get(first + 6)?,
    })
}

/// Accounts, sessions, keys, audit and settings. One implementation for both backends, like
/// the report queries.
impl Store {
    async fn one_user(&self, sql: Sql) -> Result<Option<User>> {
        let rows = sql.fetch_all(self.backend(), self.pool()).await?;
        rows.first().map(|row| user_at(row, 0)).transpose()
    }

    /// Creates a user; `None` when the e-mail address is taken.
    pub async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<Option<User>> {
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
        match rows.first() {
            Some(row) => self.user(row.try_get(0)?).await,
            None => Ok(None),
        }
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
            .map(|row| Ok((user_at(row, 0)?, row.try_get(7)?)))
            .transpose()
    }

    /// Every user, by id.
    pub async fn users(&self) -> Result<Vec<User>> {
        Sql::new(&format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.id"))
            .fetch_all(self.backend(), self.pool())
            .await?
            .iter()
            .map(|row| user_at(row, 0))
            .collect()
    }

    /// Enabled administrators.
    pub async fn active_admins(&self) -> Result<i64> {
        Sql::new("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0")
            .fetch_count(self.backend(), self.pool())
            .await
    }

    /// Changes a user; `None` when there is no such user. Disabling a user or changing
    /// their password revokes their sessions in the same transaction.
    pub async fn update_user(&self, id: i64, change: &UserChange) -> Result<Option<User>> {
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
            return Ok(None);
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
        self.user(id).await
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

    /// Starts a session with its first refresh token (given as its SHA-256).
    pub async fn start_session(
        &self,
        user_id: i64,
        session_id: &str,
        refresh_hash: &str,
        refresh_expires_at: i64,
    ) -> Result<()> {
        let backend = self.backend();
        let at = now();
        let mut tx = self.begin_write().await?;
        Sql::new("INSERT INTO sessions (id, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(Arg::Text(session_id.to_owned()))
            .bind(Arg::Int(user_id))
            .bind(Arg::Int(at))
            .execute(backend, &mut *tx)
            .await?;
        insert_refresh(
            backend,
            &mut tx,
            refresh_hash,
            session_id,
            at,
            refresh_expires_at,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Rotates a refresh token (given as its SHA-256): marks it used and stores its
    /// successor, or, when it was used before, revokes its whole session.
    pub async fn refresh(
        &self,
        presented_hash: &str,
        next_hash: &str,
        next_expires_at: i64,
    ) -> Result<Refresh> {
        let backend = self.backend();
        let at = now();
        let mut tx = self.begin_write().await?;
        let rows = Sql::new(&format!(
            "SELECT t.session_id, t.expires_at, t.used_at, s.revoked_at, {USER_COLUMNS} \
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id \
             JOIN users u ON u.id = s.user_id WHERE t.token_hash = $1"
        ))
        .bind(Arg::Text(presented_hash.to_owned()))
        .fetch_all(backend, &mut *tx)
        .await?;
        let Some(row) = rows.first() else {
            return Ok(Refresh::Unknown);
        };
        let session_id: String = row.try_get(0)?;
        let expires_at: i64 = row.try_get(1)?;
        let used_at: Option<i64> = row.try_get(2)?;
        let revoked_at: Option<i64> = row.try_get(3)?;
        let user = user_at(row, 4)?;
        // Marking it used is conditional, so of two concurrent presentations one wins and
        // the other is a reuse.
        let marked = if used_at.is_none() {
            Sql::new(
                "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
            )
            .bind(Arg::Int(at))
            .bind(Arg::Text(presented_hash.to_owned()))
            .execute(backend, &mut *tx)
            .await?
        } else {
            0
        };
        let outcome = if marked == 0 {
            revoke(backend, &mut tx, &session_id, "refresh token reused", at).await?;
            Refresh::Reused {
                session_id,
                user_id: user.id,
            }
        } else if revoked_at.is_some() || expires_at <= at || user.disabled {
            Refresh::Refused
        } else {
            insert_refresh(
                backend,
                &mut tx,
                next_hash,
                &session_id,
                at,
                next_expires_at,
            )
            .await?;
            Refresh::Rotated { user, session_id }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// The user of a session and whether it is still valid (not revoked, user enabled).
    pub async fn session_user(&self, session_id: &str) -> Result<Option<(User, bool)>> {
        let rows = Sql::new(&format!(
            "SELECT {USER_COLUMNS}, s.revoked_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1"
        ))
        .bind(Arg::Text(session_id.to_owned()))
        .fetch_all(self.backend(), self.pool())
        .await?;
        rows.first()
            .map(|row| {
                let user = user_at(row, 0)?;
                let revoked: Option<i64> = row.try_get(7)?;
                let valid = revoked.is_none() && !user.disabled;
                Ok((user, valid))
            })
            .transpose()
    }

    /// Revokes a session (logout); false when it was not active.
    pub async fn revoke_session(&self, session_id: &str, reason: &str) -> Result<bool> {
        let backend = self.backend();
        let mut tx = self.begin_write().await?;
        let changed = revoke(backend, &mut tx, session_id, reason, now()).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Stores a new API key (given as its SHA-256).
    pub async fn create_api_key(
        &self,
        user_id: i64,
        name: &str,
        prefix: &str,
        key_hash: &str,
    ) -> Result<ApiKeyInfo> {
        let rows = Sql::new(
            "INSERT INTO api_keys (user_id, name, prefix, key_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id, user_id, name, prefix, created_at, \
             last_used_at, revoked_at",
        )
        .bind(Arg::Int(user_id))
        .bind(Arg::Text(name.to_owned()))
        .bind(Arg::Text(prefix.to_owned()))
        .bind(Arg::Text(key_hash.to_owned()))
        .bind(Arg::Int(now()))
        .fetch_all(self.backend(), self.pool())
        .await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("INSERT returned no row".into()))?;
        key_at(row, 0)
    }

    /// API keys, newest first: a user's, or everyone's.
    pub async fn api_keys(&self, user_id: Option<i64>) -> Result<Vec<ApiKeyInfo>> {
        let mut sql = Sql::new(&format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE 1 = 1"));
        if let Some(user) = user_id {
            sql.push(" AND k.user_id = ").arg(Arg::Int(user));
        }
        sql.push(" ORDER BY k.id DESC");
        sql.fetch_all(self.backend(), self.pool())
            .await?
            .iter()
            .map(|row| key_at(row, 0))
            .collect()
    }

    /// One API key.
    pub async fn api_key(&self, id: i64) -> Result<Option<ApiKeyInfo>> {
        let rows = Sql::new(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = $1"
        ))
        .bind(Arg::Int(id))
        .fetch_all(self.backend(), self.pool())
        .await?;
        rows.first().map(|row| key_at(row, 0)).transpose()
    }

    /// Revokes an API key; false when it was not active.
    pub async fn revoke_api_key(&self, id: i64) -> Result<bool> {
        let changed =
            Sql::new("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(Arg::Int(now()))
                .bind(Arg::Int(id))
                .execute(self.backend(), self.pool())
                .await?;
        Ok(changed > 0)
    }

    /// The key and its owner for a presented key's SHA-256, revoked or not; records the use
    /// (to the minute) when the key is active.
    pub async fn api_key_user(&self, key_hash: &str) -> Result<Option<(ApiKeyInfo, User)>> {
        let backend = self.backend();
        let rows = Sql::new(&format!(
            "SELECT {KEY_COLUMNS}, {USER_COLUMNS} FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.key_hash = $1"
        ))
        .bind(Arg::Text(key_hash.to_owned()))
        .fetch_all(backend, self.pool())
        .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let key = key_at(row, 0)?;
        let user = user_at(row, 7)?;
        let at = now();
        if key.revoked_at.is_none()
            && key
                .last_used_at
                .is_none_or(|last| at - last >= KEY_USE_RESOLUTION)
        {
            Sql::new("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(Arg::Int(at))
                .bind(Arg::Int(key.id))
                .execute(backend, self.pool())
                .await?;
        }
        Ok(Some((key, user)))
    }

    /// Appends to the audit log.
    pub async fn audit(&self, entry: &NewAuditEntry) -> Result<()> {
        Sql::new(
            "INSERT INTO audit_log (at, user_id, actor, action, target, ip, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Arg::Int(now()))
        .bind(Arg::OptInt(entry.user_id))
        .bind(Arg::Text(entry.actor.clone()))
        .bind(Arg::Text(entry.action.clone()))
        .bind(Arg::OptText(entry.target.clone()))
        .bind(Arg::OptText(entry.ip.clone()))
        .bind(Arg::Text(entry.detail.to_string()))
        .execute(self.backend(), self.pool())
        .await?;
        Ok(())
    }

    /// The audit log, newest first, optionally one action (e.g. `login.failure`).
    pub async fn audit_entries(
        &self,
        action: Option<&str>,
        page: Page,
    ) -> Result<Paged<AuditEntry>> {
        let backend = self.backend();
        let (limit, offset) = page.clamped();
        let condition = |sql: &mut Sql| {
            if let Some(action) = action {
                sql.push(" WHERE action = ")
                    .arg(Arg::Text(action.to_owned()));
            }
        };
        let mut count = Sql::new("SELECT COUNT(*) FROM audit_log");
        condition(&mut count);
        let total = count.fetch_count(backend, self.pool()).await?;
        let mut sql =
            Sql::new("SELECT id, at, user_id, actor, action, target, ip, detail FROM audit_log");
        condition(&mut sql);
        sql.push(" ORDER BY id DESC LIMIT ")
            .arg(Arg::Int(limit))
            .push(" OFFSET ")
            .arg(Arg::Int(offset));
        let mut items = Vec::new();
        for row in sql.fetch_all(backend, self.pool()).await? {
            let detail: String = row.try_get(7)?;
            items.push(AuditEntry {
                id: row.try_get(0)?,
                at: row.try_get(1)?,
                user_id: row.try_get(2)?,
                actor: row.try_get(3)?,
                action: row.try_get(4)?,
                target: row.try_get(5)?,
                ip: row.try_get(6)?,
                detail: serde_json::from_str(&detail)
                    .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
            });
        }
        Ok(Paged {
            items,
            total: u64::try_from(total).unwrap_or_default(),
            limit: page.limit.clamp(1, Page::MAX_LIMIT),
            offset: page.offset,
        })
    }

    /// The stored value of a setting, storing `value` first when there is none (so several
    /// processes starting at once agree on one value).
    pub async fn setting_or_init(&self, key: &str, value: &str) -> Result<String> {
        let backend = self.backend();
        Sql::new("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(Arg::Text(key.to_owned()))
            .bind(Arg::Text(value.to_owned()))
            .execute(backend, self.pool())
            .await?;
        let rows = Sql::new("SELECT value FROM settings WHERE key = $1")
            .bind(Arg::Text(key.to_owned()))
            .fetch_all(backend, self.pool())
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt(format!("setting {key} vanished")))?;
        Ok(row.try_get(0)?)
    }
}

async fn insert_refresh(
    backend: crate::Backend,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    hash: &str,
    session_id: &str,
    at: i64,
    expires_at: i64,
) -> Result<()> {
    Sql::new(
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(Arg::Text(hash.to_owned()))
    .bind(Arg::Text(session_id.to_owned()))
    .bind(Arg::Int(at))
    .bind(Arg::Int(expires_at))
    .execute(backend, &mut **tx)
    .await?;
    Ok(())
}

async fn revoke(
    backend: crate::Backend,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    session_id: &str,
    reason: &str,
    at: i64,
) -> Result<bool> {
    let changed = Sql::new(
        "UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(Arg::Int(at))
    .bind(Arg::Text(reason.to_owned()))
    .bind(Arg::Text(session_id.to_owned()))
    .execute(backend, &mut **tx)
    .await?;
    Ok(changed > 0)
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
