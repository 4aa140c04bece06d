//! Login sessions: a family of refresh tokens each, rotated on use; a token used twice
//! revokes its family.

use super::*;

impl Store {
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
        let session_id: String = row.try_get("session_id")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let used_at: Option<i64> = row.try_get("used_at")?;
        let revoked_at: Option<i64> = row.try_get("revoked_at")?;
        let user = user_from(row)?;
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
                let user = user_from(row)?;
                let revoked: Option<i64> = row.try_get("revoked_at")?;
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
