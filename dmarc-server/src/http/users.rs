//! Users (admins manage them; no self-registration), the caller's own account and
//! password, API keys, and the audit log.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use dmarc_store::{ApiKeyInfo, AuditEntry, Paged, Role, User, UserChange};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use super::auth::Caller;
use super::error::{AdminErrors, ApiError, ApiResult, ErrorBody};
use super::query::Params;
use crate::credentials::{
    check_email, check_password, hash_password, new_api_key, verify_password,
};

/// Longest e-mail address (RFC 5321 path limit).
/// Longest API key name.
const MAX_KEY_NAME: usize = 100;

/// `GET /users/me`.
#[utoipa::path(
    get,
    path = "/users/me",
    tag = "users",
    summary = "The caller's account",
    description = "Any role; access token or API key.",
    responses(
        (status = 200, description = "OK", body = User),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn me(caller: Caller) -> Json<User> {
    Json(caller.user)
}

/// `POST /users/me/password` body.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `POST /users/me/password`: needs the current password; ends every session of the user
/// (this one included).
#[utoipa::path(
    post,
    path = "/users/me/password",
    tag = "users",
    summary = "Change one's password (ends every session of the user)",
    description = "Any role; access token only (API keys are refused).",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Done"),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 403, description = "The caller's role (or an API key) may not do this", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 413, description = "The body is larger than its limit", body = ErrorBody),
        (status = 415, description = "The body is not JSON (Content-Type: application/json)", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn change_own_password(
    State(state): State<AppState>,
    caller: Caller,
    Json(change): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    caller.require_login()?;
    check_password(&change.new_password, state.config.auth.min_password_length)?;
    let (_, hash) = state
        .store
        .credentials(&caller.user.email)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
    if !verify_password(change.current_password, hash).await? {
        state
            .audit(caller.audit("password.change_failure", None, json!({})))
            .await;
        return Err(ApiError::forbidden("the current password is wrong"));
    }
    let hash = hash_password(change.new_password, state.config.auth.bcrypt_cost).await?;
    state
        .store
        .update_user(
            caller.user.id,
            &UserChange {
                password_hash: Some(hash),
                ..UserChange::default()
            },
        )
        .await?;
    state
        .audit(caller.audit("password.change", None, json!({})))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

fn admin(caller: &Caller) -> ApiResult<()> {
    caller.require(Role::Admin)?;
    caller.require_login()
}

/// `GET /users` (admin).
#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    summary = "Every user",
    description = "Admin; access token only (API keys are refused).",
    responses(
        (status = 200, description = "OK", body = [User]),
        AdminErrors,
    ),
    security(("bearer" = [])),
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<User>>> {
    admin(&caller)?;
    Ok(Json(state.store.users().await?))
}

/// `POST /users` body.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    email: String,
    password: String,
    role: Role,
}

/// `POST /users` (admin): 201 with the user, 409 when the address is taken.
#[utoipa::path(
    post,
    path = "/users",
    tag = "users",
    summary = "Create a user (no self-registration)",
    description = "Admin; access token only (API keys are refused).",
    request_body = NewUser,
    responses(
        (status = 201, description = "OK", body = User),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 403, description = "The caller's role (or an API key) may not do this", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 413, description = "The body is larger than its limit", body = ErrorBody),
        (status = 415, description = "The body is not JSON (Content-Type: application/json)", body = ErrorBody),
        (status = 409, description = "Conflicts with what is stored", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    admin(&caller)?;
    check_email(&new.email)?;
    check_password(&new.password, state.config.auth.min_password_length)?;
    let hash = hash_password(new.password, state.config.auth.bcrypt_cost).await?;
    let user = state.store.create_user(&new.email, &hash, new.role).await?;
    state
        .audit(caller.audit(
            "user.create",
            Some(user.email.clone()),
            json!({ "user_id": user.id, "role": user.role }),
        ))
        .await;
    Ok((StatusCode::CREATED, Json(user)))
}

/// `PATCH /users/{id}` body.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    role: Option<Role>,
    disabled: Option<bool>,
    password: Option<String>,
}

/// `PATCH /users/{id}` (admin): role, disabled, password. The last enabled admin cannot be
/// demoted or disabled.
#[utoipa::path(
    patch,
    path = "/users/{id}",
    tag = "users",
    summary = "Change a user's role, enable or disable, set a password",
    description = "Admin; access token only (API keys are refused).",
    params(("id" = i64, Path, description = "The item's id")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "OK", body = User),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 403, description = "The caller's role (or an API key) may not do this", body = ErrorBody),
        (status = 404, description = "No such item", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 413, description = "The body is larger than its limit", body = ErrorBody),
        (status = 415, description = "The body is not JSON (Content-Type: application/json)", body = ErrorBody),
        (status = 409, description = "Conflicts with what is stored", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(patch): Json<UserPatch>,
) -> ApiResult<Json<User>> {
    admin(&caller)?;
    let target = state
        .store
        .user(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    let loses_admin = target.role == Role::Admin
        && !target.disabled
        && (patch.role.is_some_and(|r| r != Role::Admin) || patch.disabled == Some(true));
    if loses_admin && state.store.active_admins().await? <= 1 {
        return Err(ApiError::conflict(
            "this is the last enabled admin; make another admin first",
        ));
    }
    let password_hash = match patch.password {
        Some(password) => {
            check_password(&password, state.config.auth.min_password_length)?;
            Some(hash_password(password, state.config.auth.bcrypt_cost).await?)
        }
        None => None,
    };
    let detail = json!({
        "role": patch.role,
        "disabled": patch.disabled,
        "password_changed": password_hash.is_some(),
    });
    let user = state
        .store
        .update_user(
            id,
            &UserChange {
                role: patch.role,
                disabled: patch.disabled,
                password_hash,
            },
        )
        .await?;
    state
        .audit(caller.audit("user.update", Some(user.email.clone()), detail))
        .await;
    Ok(Json(user))
}

/// `DELETE /users/{id}` (admin): not oneself, not the last enabled admin.
#[utoipa::path(
    delete,
    path = "/users/{id}",
    tag = "users",
    summary = "Delete a user (not oneself, not the last admin)",
    description = "Admin; access token only (API keys are refused).",
    params(("id" = i64, Path, description = "The item's id")),
    responses(
        (status = 204, description = "Done"),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 403, description = "The caller's role (or an API key) may not do this", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 404, description = "No such item", body = ErrorBody),
        (status = 409, description = "Conflicts with what is stored", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    admin(&caller)?;
    if id == caller.user.id {
        return Err(ApiError::conflict("you cannot delete your own account"));
    }
    let target = state
        .store
        .user(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    if target.role == Role::Admin && !target.disabled && state.store.active_admins().await? <= 1 {
        return Err(ApiError::conflict("this is the last enabled admin"));
    }
    state.store.delete_user(id).await?;
    state
        .audit(caller.audit("user.delete", Some(target.email), json!({ "user_id": id })))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /users/api-keys` body.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    name: String,
}

/// A new key: the only time the key itself is shown.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    info: ApiKeyInfo,
    key: String,
}

/// `POST /users/api-keys`: a key acting with the caller's role.
#[utoipa::path(
    post,
    path = "/users/api-keys",
    tag = "users",
    summary = "Create an API key: the key is in this answer only",
    description = "Any role; access token only (API keys are refused).",
    request_body = NewApiKey,
    responses(
        (status = 201, description = "OK", body = CreatedApiKey),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 403, description = "The caller's role (or an API key) may not do this", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 413, description = "The body is larger than its limit", body = ErrorBody),
        (status = 415, description = "The body is not JSON (Content-Type: application/json)", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewApiKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    caller.require_login()?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > MAX_KEY_NAME || name.chars().any(char::is_control)
    {
        return Err(ApiError::bad_request(format!(
            "the name must have 1 to {MAX_KEY_NAME} printable characters"
        )));
    }
    let (key, hash, prefix) = new_api_key();
    let info = state
        .store
        .create_api_key(caller.user.id, name, &prefix, &hash)
        .await?;
    state
        .audit(caller.audit(
            "api_key.create",
            Some(name.to_owned()),
            json!({ "key_id": info.id, "prefix": prefix }),
        ))
        .await;
    Ok((StatusCode::CREATED, Json(CreatedApiKey { info, key })))
}

/// `GET /users/api-keys`: the caller's own keys, newest first.
#[utoipa::path(
    get,
    path = "/users/api-keys",
    tag = "users",
    summary = "The caller's API keys",
    description = "Any role; access token only (API keys are refused).",
    responses(
        (status = 200, description = "OK", body = [dmarc_store::ApiKeyInfo]),
        AdminErrors,
    ),
    security(("bearer" = [])),
)]
pub async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ApiKeyInfo>>> {
    caller.require_login()?;
    Ok(Json(state.store.api_keys(Some(caller.user.id)).await?))
}

/// `DELETE /users/api-keys/{id}`: the owner, or an admin, revokes a key.
#[utoipa::path(
    delete,
    path = "/users/api-keys/{id}",
    tag = "users",
    summary = "Revoke an API key (its owner or an admin)",
    description = "Any role; access token only (API keys are refused).",
    params(("id" = i64, Path, description = "The item's id")),
    responses(
        (status = 204, description = "Done"),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 403, description = "The caller's role (or an API key) may not do this", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 404, description = "No such item", body = ErrorBody),
        (status = 409, description = "Conflicts with what is stored", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    caller.require_login()?;
    let key = state
        .store
        .api_key(id)
        .await?
        .filter(|k| k.user_id == caller.user.id || caller.user.role == Role::Admin)
        .ok_or_else(|| ApiError::not_found("no such API key"))?;
    if !state.store.revoke_api_key(id).await? {
        return Err(ApiError::conflict("the key is already revoked"));
    }
    state
        .audit(caller.audit(
            "api_key.revoke",
            Some(key.name),
            json!({ "key_id": id, "owner": key.user_id }),
        ))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /audit` (admin): newest first; `limit`, `offset`.
#[utoipa::path(
    get,
    path = "/audit",
    tag = "users",
    summary = "The audit log, newest first",
    description = "Admin; access token only (API keys are refused).",
    params(super::query::PageParams),
    responses(
        (status = 200, description = "OK", body = dmarc_store::Paged<AuditEntry>),
        (status = 401, description = "No valid access token or API key", body = ErrorBody),
        (status = 403, description = "The caller's role (or an API key) may not do this", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Json<Paged<AuditEntry>>> {
    admin(&caller)?;
    if params.filter != dmarc_core::Filter::default() {
        return Err(ApiError::bad_request(
            "the audit log takes only limit and offset",
        ));
    }
    Ok(Json(state.store.audit_entries(None, params.page).await?))
}
