//! Authentication: passwords (bcrypt), access tokens (JWT HS256), refresh tokens (opaque,
//! rotated, reuse revokes the session), API keys (`X-API-Key`, stored as SHA-256), and the
//! [`Caller`] extractor every protected handler takes.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dmarc_store::{ApiKeyInfo, NewAuditEntry, Refresh, Role, User};
use jsonwebtoken::{Algorithm, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::error::{AdminErrors, ApiError, ApiResult, ErrorBody};
use super::{AppState, ClientIp, now};
use crate::credentials::{REFRESH_PREFIX, random_token, sha256_hex, verify_password};

fn seconds(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// User id.
    sub: String,
    /// Session id: revoking the session ends the token.
    sid: String,
    iat: i64,
    exp: i64,
    typ: String,
}

/// How a caller authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    /// An access token of this session.
    Session(String),
    /// This API key.
    ApiKey(ApiKeyInfo),
}

/// An authenticated caller: the user (as stored now: role changes and disabling apply at
/// once) and how they authenticated.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user, or the API key's owner.
    pub user: User,
    /// Token or key.
    pub via: Via,
    /// Client address.
    pub ip: Option<String>,
}

impl Caller {
    /// 403 unless the caller's role is at least `role`.
    pub fn require(&self, role: Role) -> ApiResult<()> {
        if self.user.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {role} role; you are {}",
                self.user.role
            )))
        }
    }

    /// 403 for API keys: managing accounts and credentials needs a login.
    pub fn require_login(&self) -> ApiResult<()> {
        match self.via {
            Via::Session(_) => Ok(()),
            Via::ApiKey(_) => Err(ApiError::forbidden(
                "API keys cannot manage accounts or credentials; log in",
            )),
        }
    }

    /// How the audit log names the caller.
    pub fn actor(&self) -> String {
        match &self.via {
            Via::Session(_) => self.user.email.clone(),
            Via::ApiKey(key) => format!("api-key {} ({})", key.name, self.user.email),
        }
    }

    /// An audit entry by this caller.
    pub fn audit(
        &self,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
    ) -> NewAuditEntry {
        NewAuditEntry {
            user_id: Some(self.user.id),
            actor: self.actor(),
            action: action.to_owned(),
            target,
            ip: self.ip.clone(),
            detail,
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Caller> {
        let ip = ClientIp::of(parts, state).0;
        if let Some(key) = parts.headers.get("x-api-key") {
            let key = key
                .to_str()
                .map_err(|_| ApiError::unauthorized("invalid API key"))?;
            let found = state.store.api_key_user(&sha256_hex(key.trim())).await?;
            return match found {
                Some((key, user)) if key.revoked_at.is_none() && !user.disabled => Ok(Caller {
                    user,
                    via: Via::ApiKey(key),
                    ip,
                }),
                _ => Err(ApiError::unauthorized("invalid or revoked API key")),
            };
        }
        let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "log in: send `Authorization: Bearer <access token>` or `X-API-Key`",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or_else(|| ApiError::unauthorized("expected `Authorization: Bearer <token>`"))?;
        let claims = state.decode_access(token.trim())?;
        match state.store.session_user(&claims.sid).await? {
            Some((user, true)) if user.id.to_string() == claims.sub => Ok(Caller {
                user,
                via: Via::Session(claims.sid),
                ip,
            }),
            _ => Err(ApiError::unauthorized(
                "the session has ended; log in again",
            )),
        }
    }
}

impl AppState {
    /// A signed token of kind `typ` (`access`, `device`) for `user_id`, valid `ttl` s.
    fn issue(&self, user_id: i64, session_id: &str, typ: &str, ttl: i64) -> ApiResult<String> {
        let iat = now();
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session_id.to_owned(),
            iat,
            exp: iat.saturating_add(ttl),
            typ: typ.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.keys.encoding)
            .map_err(|e| ApiError::internal(&e))
    }

    fn issue_access(&self, user_id: i64, session_id: &str) -> ApiResult<(String, i64)> {
        let ttl = seconds(self.config.auth.access_token_ttl);
        Ok((self.issue(user_id, session_id, "access", ttl)?, ttl))
    }

    /// The claims of a valid, unexpired token of kind `typ`.
    fn decode(&self, token: &str, typ: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.keys.decoding, &validation)?;
        if data.claims.typ != typ {
            return Err(jsonwebtoken::errors::ErrorKind::InvalidToken.into());
        }
        Ok(data.claims)
    }

    fn decode_access(&self, token: &str) -> ApiResult<Claims> {
        self.decode(token, "access").map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                ApiError::unauthorized("the access token has expired; refresh it")
            }
            _ => ApiError::unauthorized("invalid access token"),
        })
    }

    /// True when `headers` carry a device cookie this server issued to `user_id` (the
    /// browser signed in to that account before).
    fn known_device(&self, headers: &HeaderMap, user_id: i64) -> bool {
        cookie(headers, DEVICE_COOKIE)
            .and_then(|token| self.decode(token, "device").ok())
            .is_some_and(|claims| claims.sub == user_id.to_string())
    }

    /// The `Set-Cookie` value of a new device cookie for `user_id`.
    fn device_cookie(&self, user_id: i64) -> ApiResult<HeaderValue> {
        let token = self.issue(user_id, "", "device", DEVICE_TTL)?;
        self.set_cookie(DEVICE_COOKIE, &token, DEVICE_TTL)
    }

    /// A `Set-Cookie` value for an auth cookie: sent to `/auth` only, never to scripts
    /// (`HttpOnly`), never on requests from other sites (`SameSite=Strict`), and only over
    /// TLS when TLS is in front. `max_age` 0 deletes it.
    fn set_cookie(&self, name: &str, value: &str, max_age: i64) -> ApiResult<HeaderValue> {
        let secure = if self.config.tls_in_front {
            "; Secure"
        } else {
            ""
        };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/auth; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
        ))
        .map_err(|e| ApiError::internal(&e))
    }

    /// A new access token and refresh token for a session (new or rotated).
    /// The answer of a login or refresh: the refresh token in the body, or, for a
    /// browser, in the refresh cookie with the body leaving it out.
    fn token_answer(
        &self,
        user_id: i64,
        session_id: &str,
        refresh: String,
        in_cookie: bool,
    ) -> ApiResult<(Option<HeaderValue>, Json<TokenPair>)> {
        let (access_token, expires_in) = self.issue_access(user_id, session_id)?;
        let (cookie, refresh_token) = if in_cookie {
            let ttl = seconds(self.config.auth.refresh_token_ttl);
            (Some(self.set_cookie(REFRESH_COOKIE, &refresh, ttl)?), None)
        } else {
            (None, Some(refresh))
        };
        Ok((
            cookie,
            Json(TokenPair {
                access_token,
                refresh_token,
                token_type: "bearer",
                expires_in,
            }),
        ))
    }

    fn refresh_expiry(&self) -> i64 {
        now().saturating_add(seconds(self.config.auth.refresh_token_ttl))
    }

    pub(crate) async fn audit(&self, entry: NewAuditEntry) {
        if let Err(e) = self.store.audit(&entry).await {
            tracing::error!(error = %e, action = %entry.action, "cannot write the audit log");
        }
    }
}

/// `POST /auth/login` body.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: String,
    /// `true` (browsers): the refresh token is set as an `HttpOnly` cookie scoped to
    /// `/auth` and left out of the answer, so page scripts never hold it.
    #[serde(default)]
    cookie: bool,
}

/// Tokens answered by login and refresh.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct TokenPair {
    access_token: String,
    /// Absent when the refresh token was set as a cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    token_type: &'static str,
    /// Seconds the access token is valid.
    expires_in: i64,
}

/// The cookie that marks a browser that signed in to an account before.
const DEVICE_COOKIE: &str = "dmarc_device";
/// How long a device stays known without signing in again: a year.
const DEVICE_TTL: i64 = 365 * 86_400;
/// The cookie holding a browser's refresh token.
const REFRESH_COOKIE: &str = "dmarc_refresh";
/// The header a cookie refresh must carry. A page of another site cannot add a custom
/// header to a request to us without a CORS preflight, which this server never grants;
/// with `SameSite=Strict` this makes refresh by cookie safe from cross-site requests.
pub const CSRF_HEADER: &str = "x-requested-with";

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// `POST /auth/login`. Guessing is throttled by failures only: per client address
/// (`login_attempts_per_minute`) and per account from all clients together
/// (`login_failures_per_hour_per_account`). The second does not apply to a browser that
/// carries the account's device cookie (set by a successful login), so failures caused by
/// a stranger never lock the owner out of a browser they used before, and failures from
/// one client never hold back another.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    summary = "Log in: an access token (15 min) and a refresh token (7 days)",
    description = "No authentication.",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "OK", body = TokenPair),
        (status = 401, description = "Wrong e-mail address or password, or the account is disabled", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 413, description = "The body is larger than its limit", body = ErrorBody),
        (status = 415, description = "The body is not JSON (Content-Type: application/json)", body = ErrorBody),
        (status = 429, description = "Rate limited, or too many expensive requests of this user at once; see Retry-After", body = ErrorBody),
    ),
)]
pub async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Json(request): Json<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    let email = dmarc_store::normalize_email(&request.email);
    let auth = &state.config.auth;
    let client_key = format!("login-ip:{}", ip.0.as_deref().unwrap_or_default());
    let account_key = format!("login-account:{email}");
    let per_client = (auth.login_attempts_per_minute, 60);
    let per_account = (auth.login_failures_per_hour_per_account, 3600);
    // A token is taken before the check and given back after a success: concurrent
    // guesses cannot slip past the limit while bcrypt runs.
    let limiter = &state.limiter;
    let mut refused = limiter.take(&client_key, per_client.0, per_client.1).err();
    let found = state.store.credentials(&email).await?;
    let known_device = found
        .as_ref()
        .is_some_and(|(user, _)| state.known_device(&headers, user.id));
    if refused.is_none() && !known_device {
        refused = limiter
            .take(&account_key, per_account.0, per_account.1)
            .err();
        if refused.is_some() {
            limiter.give_back(&client_key, per_client.0);
        }
    }
    if let Some(wait) = refused {
        state
            .audit(anonymous(&ip, "login.rate_limited", &email))
            .await;
        return Err(ApiError::rate_limited(wait));
    }
    // Unknown addresses cost a bcrypt check too, so timing does not tell which exist.
    let hash = found
        .as_ref()
        .map_or_else(|| state.dummy_hash.clone(), |(_, hash)| hash.clone());
    let matches = verify_password(request.password, hash).await?;
    let user = match found {
        Some((user, _)) if matches && !user.disabled => user,
        _ => {
            state.audit(anonymous(&ip, "login.failure", &email)).await;
            return Err(ApiError::unauthorized("invalid e-mail or password"));
        }
    };
    limiter.give_back(&client_key, per_client.0);
    if !known_device {
        limiter.give_back(&account_key, per_account.0);
    }
    let session_id = hex::encode({
        let mut id = [0u8; 16];
        rand::rng().fill_bytes(&mut id);
        id
    });
    let refresh = random_token(REFRESH_PREFIX);
    state
        .store
        .start_session(
            user.id,
            &session_id,
            &sha256_hex(&refresh),
            state.refresh_expiry(),
        )
        .await?;
    state.store.record_login(user.id).await?;
    state
        .audit(NewAuditEntry {
            user_id: Some(user.id),
            actor: user.email.clone(),
            action: "login.success".into(),
            target: None,
            ip: ip.0,
            detail: serde_json::json!({}),
        })
        .await;
    let mut cookies = HeaderMap::new();
    cookies.append(header::SET_COOKIE, state.device_cookie(user.id)?);
    let (refresh_cookie, tokens) =
        state.token_answer(user.id, &session_id, refresh, request.cookie)?;
    if let Some(value) = refresh_cookie {
        cookies.append(header::SET_COOKIE, value);
    }
    Ok((cookies, tokens))
}

fn anonymous(ip: &ClientIp, action: &str, email: &str) -> NewAuditEntry {
    NewAuditEntry {
        user_id: None,
        actor: "anonymous".into(),
        action: action.into(),
        target: Some(email.to_owned()),
        ip: ip.0.clone(),
        detail: serde_json::json!({}),
    }
}

/// `POST /auth/refresh` body.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token; absent: the refresh cookie's (the request must then carry
    /// `X-Requested-With`, and the answer sets the next token as the cookie).
    #[serde(default)]
    refresh_token: Option<String>,
}

/// `POST /auth/refresh`: rotates the refresh token. Presenting one that was already
/// rotated revokes the whole session (someone replays a stolen token). A browser signed in
/// with `cookie: true` sends `{}` and its cookie.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "auth",
    summary = "Rotate a refresh token; reusing a rotated one revokes the session",
    description = "No authentication. Browsers: body `{}`, the `dmarc_refresh` cookie and an `X-Requested-With` header.",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "OK", body = TokenPair),
        (status = 401, description = "The refresh token is unknown, expired or revoked", body = ErrorBody),
        (status = 403, description = "A refresh by cookie without the `X-Requested-With` header", body = ErrorBody),
        (status = 400, description = "A parameter or the body is invalid (the message names it)", body = ErrorBody),
        (status = 413, description = "The body is larger than its limit", body = ErrorBody),
        (status = 415, description = "The body is not JSON (Content-Type: application/json)", body = ErrorBody),
    ),
)]
pub async fn refresh(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Json(request): Json<RefreshRequest>,
) -> ApiResult<Response> {
    let in_cookie = request.refresh_token.is_none();
    let presented = match &request.refresh_token {
        Some(token) => token.trim(),
        None => {
            if !headers.contains_key(CSRF_HEADER) {
                return Err(ApiError::forbidden(
                    "a refresh by cookie needs the `X-Requested-With` header",
                ));
            }
            cookie(&headers, REFRESH_COOKIE).ok_or_else(|| {
                ApiError::unauthorized("no refresh token: send `refresh_token` or log in")
            })?
        }
    };
    let next = random_token(REFRESH_PREFIX);
    let outcome = state
        .store
        .refresh(
            &sha256_hex(presented),
            &sha256_hex(&next),
            state.refresh_expiry(),
        )
        .await?;
    let refused = match outcome {
        Refresh::Rotated { user, session_id } => {
            let (set, tokens) = state.token_answer(user.id, &session_id, next, in_cookie)?;
            let mut cookies = HeaderMap::new();
            cookies.extend(set.map(|v| (header::SET_COOKIE, v)));
            return Ok((cookies, tokens).into_response());
        }
        Refresh::Reused {
            session_id,
            user_id,
        } => {
            state
                .audit(NewAuditEntry {
                    user_id: Some(user_id),
                    actor: "anonymous".into(),
                    action: "session.refresh_reuse".into(),
                    target: Some(session_id),
                    ip: ip.0,
                    detail: serde_json::json!({ "revoked": "session" }),
                })
                .await;
            ApiError::unauthorized(
                "this refresh token was already used; the session is revoked, log in again",
            )
        }
        Refresh::Refused | Refresh::Unknown => {
            ApiError::unauthorized("invalid or expired refresh token; log in again")
        }
    };
    if !in_cookie {
        return Err(refused);
    }
    // The browser's cookie is spent: delete it with the refusal.
    let forget = state.set_cookie(REFRESH_COOKIE, "", 0)?;
    Ok(([(header::SET_COOKIE, forget)], refused).into_response())
}

/// `POST /auth/logout`: ends the caller's session (its refresh and access tokens) and
/// deletes the refresh cookie.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    summary = "End the session: its refresh and access tokens",
    description = "Any role; access token only (API keys are refused).",
    responses(
        (status = 204, description = "Done"),
        AdminErrors,
    ),
    security(("bearer" = [])),
)]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    caller.require_login()?;
    let Via::Session(session_id) = &caller.via else {
        return Err(ApiError::forbidden("API keys have no session"));
    };
    state.store.revoke_session(session_id, "logout").await?;
    state
        .audit(caller.audit("logout", None, serde_json::json!({})))
        .await;
    let forget = state.set_cookie(REFRESH_COOKIE, "", 0)?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, forget)]))
}
