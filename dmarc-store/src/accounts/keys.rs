//! API keys (stored as their SHA-256), the audit log and settings.

use super::*;

impl Store {
    /// Stores a new API key (given as its SHA-256).
    pub async fn create_api_key(
        &self,
        user_id: i64,
        name: &str,
        prefix: &str,
        key_hash: &str,
    ) -> Result<ApiKeyInfo> {
        // RETURNING names the columns without the table's alias (SQLite refuses one).
        let rows = Sql::new(&format!(
            "INSERT INTO api_keys (user_id, name, prefix, key_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {}",
            KEY_COLUMNS.replace("k.", "")
        ))
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
        key_from(row)
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
            .map(key_from)
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
        rows.first().map(key_from).transpose()
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
        let key = key_from(row)?;
        let user = user_from(row)?;
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
        let condition = |sql: &mut Sql| {
            if let Some(action) = action {
                sql.push(" WHERE action = ")
                    .arg(Arg::Text(action.to_owned()));
            }
        };
        let entry = |row: &AnyRow| -> Result<AuditEntry> {
            let detail: String = row.try_get("detail")?;
            Ok(AuditEntry {
                id: row.try_get("id")?,
                at: row.try_get("at")?,
                user_id: row.try_get("user_id")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                target: row.try_get("target")?,
                ip: row.try_get("ip")?,
                detail: serde_json::from_str(&detail)
                    .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
            })
        };
        self.newest_first(
            "audit_log",
            "id, at, user_id, actor, action, target, ip, detail",
            condition,
            page,
            entry,
        )
        .await
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
        Ok(row.try_get("value")?)
    }
}
