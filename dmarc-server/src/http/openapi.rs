//! The OpenAPI 3.1 description served at `/openapi.json` (and by Swagger UI at `/docs`).
//!
//! Written as one table of endpoints rather than derived: the response types live in
//! dmarc-core and dmarc-store, which stay free of HTTP documentation dependencies. Tests
//! keep it true: every route of the router is described and every described route exists,
//! and real responses have exactly the documented properties.
//!
//! It stays whole in one file (the endpoint table, the schemas and the operation builder read
//! together) until the description is derived from the code, which the architecture issue
//! does; splitting a table that is about to go buys nothing.

use serde_json::{Map, Value, json};

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No authentication.
    Public,
    /// Any authenticated caller (token or API key).
    Any,
    /// Analyst or admin (token or API key).
    Analyst,
    /// Admin (token, or an admin's API key).
    Admin,
    /// A logged-in user (access token; API keys refused).
    Login,
    /// An admin with an access token.
    AdminLogin,
}

/// Which query parameters an endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// None.
    None,
    /// The filter set.
    Filters,
    /// The filter set, `limit` and `offset`.
    FiltersPaged,
    /// The filter set and `window`.
    FiltersWindow,
    /// `limit` and `offset`.
    Paged,
    /// `state`, `kind`, `limit` and `offset` of jobs.
    Tasks,
}

/// One documented operation.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// `get`, `post`, `patch`, `delete`.
    pub method: &'static str,
    /// Path with `{id}` parameters.
    pub path: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Query parameters.
    pub query: Query,
    /// Request body schema (a component name), if any; `upload` is multipart.
    pub body: Option<&'static str>,
    /// Success status.
    pub status: u16,
    /// Success body schema (a component name, `[Name]` for an array, `Page<Name>` for a
    /// page), `csv`, `pdf`, `text`, or `` for none.
    pub response: &'static str,
}

const fn ep(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    access: Access,
    query: Query,
    body: Option<&'static str>,
    (status, response): (u16, &'static str),
) -> Endpoint {
    Endpoint {
        method,
        path,
        summary,
        access,
        query,
        body,
        status,
        response,
    }
}

use Access as A;
use Query as Q;

/// Every endpoint of the API.
pub const ENDPOINTS: &[Endpoint] = &[
    ep(
        "post",
        "/auth/login",
        "Log in: an access token (15 min) and a refresh token (7 days)",
        A::Public,
        Q::None,
        Some("LoginRequest"),
        (200, "TokenPair"),
    ),
    ep(
        "post",
        "/auth/refresh",
        "Rotate a refresh token; reusing a rotated one revokes the session",
        A::Public,
        Q::None,
        Some("RefreshRequest"),
        (200, "TokenPair"),
    ),
    ep(
        "post",
        "/auth/logout",
        "End the session: its refresh and access tokens",
        A::Login,
        Q::None,
        None,
        (204, ""),
    ),
    ep(
        "get",
        "/users/me",
        "The caller's account",
        A::Any,
        Q::None,
        None,
        (200, "User"),
    ),
    ep(
        "post",
        "/users/me/password",
        "Change one's password (ends every session of the user)",
        A::Login,
        Q::None,
        Some("PasswordChange"),
        (204, ""),
    ),
    ep(
        "get",
        "/users",
        "Every user",
        A::AdminLogin,
        Q::None,
        None,
        (200, "[User]"),
    ),
    ep(
        "post",
        "/users",
        "Create a user (no self-registration)",
        A::AdminLogin,
        Q::None,
        Some("NewUser"),
        (201, "User"),
    ),
    ep(
        "patch",
        "/users/{id}",
        "Change a user's role, enable or disable, set a password",
        A::AdminLogin,
        Q::None,
        Some("UserPatch"),
        (200, "User"),
    ),
    ep(
        "delete",
        "/users/{id}",
        "Delete a user (not oneself, not the last admin)",
        A::AdminLogin,
        Q::None,
        None,
        (204, ""),
    ),
    ep(
        "get",
        "/users/api-keys",
        "The caller's API keys",
        A::Login,
        Q::None,
        None,
        (200, "[ApiKey]"),
    ),
    ep(
        "post",
        "/users/api-keys",
        "Create an API key: the key is in this answer only",
        A::Login,
        Q::None,
        Some("NewApiKey"),
        (201, "CreatedApiKey"),
    ),
    ep(
        "delete",
        "/users/api-keys/{id}",
        "Revoke an API key (its owner or an admin)",
        A::Login,
        Q::None,
        None,
        (204, ""),
    ),
    ep(
        "get",
        "/audit",
        "The audit log, newest first",
        A::AdminLogin,
        Q::Paged,
        None,
        (200, "Page<AuditEntry>"),
    ),
    ep(
        "get",
        "/api/domains",
        "Policy domains with report and message counts",
        A::Any,
        Q::None,
        None,
        (200, "[DomainInfo]"),
    ),
    ep(
        "get",
        "/api/reports",
        "Reports, newest period first",
        A::Any,
        Q::FiltersPaged,
        None,
        (200, "Page<ReportSummary>"),
    ),
    ep(
        "get",
        "/api/reports/{id}",
        "One report with its diagnostics and a page of its records (limit, default 1000, and offset)",
        A::Any,
        Q::Paged,
        None,
        (200, "StoredReport"),
    ),
    ep(
        "post",
        "/api/upload",
        "Upload 1 to 200 report files (multipart field `files`): one outcome per report found",
        A::Analyst,
        Q::None,
        Some("upload"),
        (200, "UploadResult"),
    ),
    ep(
        "get",
        "/api/rollup/summary",
        "Headline figures",
        A::Any,
        Q::Filters,
        None,
        (200, "Summary"),
    ),
    ep(
        "get",
        "/api/rollup/sources",
        "Messages per source address, most first",
        A::Any,
        Q::FiltersPaged,
        None,
        (200, "Page<SourceGroup>"),
    ),
    ep(
        "get",
        "/api/rollup/by-domain",
        "Messages per policy domain",
        A::Any,
        Q::Filters,
        None,
        (200, "[Group]"),
    ),
    ep(
        "get",
        "/api/rollup/organizations",
        "Messages per reporting organisation",
        A::Any,
        Q::Filters,
        None,
        (200, "[Group]"),
    ),
    ep(
        "get",
        "/api/rollup/disposition",
        "Messages by applied disposition",
        A::Any,
        Q::Filters,
        None,
        (200, "DispositionBreakdown"),
    ),
    ep(
        "get",
        "/api/rollup/alignment",
        "Messages by aligned DKIM x aligned SPF",
        A::Any,
        Q::Filters,
        None,
        (200, "AlignmentBreakdown"),
    ),
    ep(
        "get",
        "/api/rollup/compliance",
        "DMARC compliance and the treatment of failures",
        A::Any,
        Q::Filters,
        None,
        (200, "PolicyCompliance"),
    ),
    ep(
        "get",
        "/api/rollup/timeline",
        "Messages per UTC day of the selected period (every day when they span at most ten years, else the days with messages)",
        A::Any,
        Q::Filters,
        None,
        (200, "[DayBucket]"),
    ),
    ep(
        "get",
        "/api/rollup/failure-trend",
        "Daily failure rate with a moving average",
        A::Any,
        Q::FiltersWindow,
        None,
        (200, "[TrendPoint]"),
    ),
    ep(
        "get",
        "/api/export/reports/csv",
        "Reports as CSV (streamed; 10 per minute)",
        A::Analyst,
        Q::Filters,
        None,
        (200, "csv"),
    ),
    ep(
        "get",
        "/api/export/records/csv",
        "Records as CSV (streamed; 10 per minute)",
        A::Analyst,
        Q::Filters,
        None,
        (200, "csv"),
    ),
    ep(
        "get",
        "/api/export/sources/csv",
        "Source addresses as CSV (streamed; 10 per minute)",
        A::Analyst,
        Q::Filters,
        None,
        (200, "csv"),
    ),
    ep(
        "get",
        "/api/export/report/pdf",
        "PDF summary: headline figures, charts, top domains, organisations and sources (5 per minute)",
        A::Analyst,
        Q::Filters,
        None,
        (200, "pdf"),
    ),
    ep(
        "get",
        "/tasks",
        "Recent background jobs, newest first",
        A::Any,
        Q::Tasks,
        None,
        (200, "Page<Task>"),
    ),
    ep(
        "get",
        "/tasks/schedules",
        "The schedules (cron, UTC) with their next and last run",
        A::Any,
        Q::None,
        None,
        (200, "[Schedule]"),
    ),
    ep(
        "get",
        "/tasks/status/{id}",
        "A job's state, attempts, and result or error",
        A::Any,
        Q::None,
        None,
        (200, "Task"),
    ),
    ep(
        "post",
        "/tasks/trigger/email-ingestion",
        "Queue a fetch of the configured mailboxes now, or answer the one queued already (409 when none is configured)",
        A::Analyst,
        Q::None,
        None,
        (202, "Task"),
    ),
    ep(
        "post",
        "/tasks/trigger/process-reports",
        "Queue the parsing of stored, pending inputs now, or answer the job queued already",
        A::Analyst,
        Q::None,
        None,
        (202, "Task"),
    ),
    ep(
        "get",
        "/health",
        "200 when the database answers, else 503",
        A::Public,
        Q::None,
        None,
        (200, "Health"),
    ),
    ep(
        "get",
        "/metrics",
        "Prometheus metrics",
        A::Admin,
        Q::None,
        None,
        (200, "text"),
    ),
];

fn int() -> Value {
    json!({ "type": "integer" })
}
fn string() -> Value {
    json!({ "type": "string" })
}
fn boolean() -> Value {
    json!({ "type": "boolean" })
}
fn number() -> Value {
    json!({ "type": "number" })
}
fn nullable(kind: &str) -> Value {
    json!({ "type": [kind, "null"] })
}
fn any_object() -> Value {
    json!({ "type": "object" })
}
fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// An object schema; every property listed is present in answers.
fn object(properties: &[(&str, Value)]) -> Value {
    let props: Map<String, Value> = properties
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let required: Vec<&str> = properties.iter().map(|(k, _)| *k).collect();
    json!({ "type": "object", "properties": props, "required": required })
}

const TALLY: [&str; 5] = [
    "messages",
    "dmarc_pass",
    "dmarc_fail",
    "dkim_aligned_pass",
    "spf_aligned_pass",
];

fn with_tally(mut properties: Vec<(&'static str, Value)>) -> Value {
    properties.extend(TALLY.iter().map(|k| (*k, int())));
    object(&properties)
}

fn counts(names: &[&str]) -> Value {
    object(&names.iter().map(|n| (*n, int())).collect::<Vec<_>>())
}

fn page_of(item: &str) -> Value {
    object(&[
        (
            "items",
            json!({ "type": "array", "items": reference(item) }),
        ),
        ("total", int()),
        ("limit", int()),
        ("offset", int()),
    ])
}

/// The component schemas.
pub fn schemas() -> Map<String, Value> {
    let user = object(&[
        ("id", int()),
        ("email", string()),
        ("role", json!({ "enum": ["admin", "analyst", "viewer"] })),
        ("disabled", boolean()),
        ("created_at", int()),
        ("updated_at", int()),
        ("last_login_at", nullable("integer")),
    ]);
    let key_fields = vec![
        ("id", int()),
        ("user_id", int()),
        ("name", string()),
        ("prefix", string()),
        ("created_at", int()),
        ("last_used_at", nullable("integer")),
        ("revoked_at", nullable("integer")),
    ];
    let mut created_key = key_fields.clone();
    created_key.push(("key", string()));
    let report_summary = object(&[
        ("id", int()),
        ("reporter", string()),
        ("org_name", string()),
        ("report_id", string()),
        ("domain", string()),
        ("begin", int()),
        ("end", int()),
        ("records", int()),
        ("messages", int()),
        ("dmarc_pass", int()),
        ("diagnostics", int()),
        ("conflict_with", nullable("integer")),
        ("ingested_at", int()),
    ]);
    let mut out = Map::new();
    let mut add = |name: &str, schema: Value| {
        out.insert(name.to_owned(), schema);
    };
    add(
        "Error",
        object(&[(
            "error",
            object(&[("code", string()), ("message", string())]),
        )]),
    );
    add(
        "LoginRequest",
        object(&[("email", string()), ("password", string())]),
    );
    add("RefreshRequest", object(&[("refresh_token", string())]));
    add(
        "TokenPair",
        object(&[
            ("access_token", string()),
            ("refresh_token", string()),
            ("token_type", json!({ "const": "bearer" })),
            ("expires_in", int()),
        ]),
    );
    add(
        "PasswordChange",
        object(&[("current_password", string()), ("new_password", string())]),
    );
    add("User", user);
    add(
        "NewUser",
        object(&[
            ("email", string()),
            ("password", string()),
            ("role", json!({ "enum": ["admin", "analyst", "viewer"] })),
        ]),
    );
    add(
        "UserPatch",
        json!({ "type": "object", "properties": {
            "role": { "enum": ["admin", "analyst", "viewer"] },
            "disabled": { "type": "boolean" },
            "password": { "type": "string" } } }),
    );
    add("ApiKey", object(&key_fields));
    add("NewApiKey", object(&[("name", string())]));
    add("CreatedApiKey", object(&created_key));
    add(
        "AuditEntry",
        object(&[
            ("id", int()),
            ("at", int()),
            ("user_id", nullable("integer")),
            ("actor", string()),
            ("action", string()),
            ("target", nullable("string")),
            ("ip", nullable("string")),
            ("detail", any_object()),
        ]),
    );
    add(
        "DomainInfo",
        object(&[
            ("domain", string()),
            ("reports", int()),
            ("messages", int()),
            ("first_begin", int()),
            ("last_end", int()),
        ]),
    );
    add("ReportSummary", report_summary);
    add(
        "StoredReport",
        object(&[
            ("summary", reference("ReportSummary")),
            ("source", string()),
            (
                "records_page",
                object(&[("limit", int()), ("offset", int())]),
            ),
            ("report", any_object()),
        ]),
    );
    add(
        "UploadResult",
        object(&[
            (
                "files",
                json!({ "type": "array", "items": object(&[
                    ("file", string()),
                    ("size", int()),
                    ("outcomes", json!({ "type": "array", "items": any_object() })),
                ]) }),
            ),
            (
                "summary",
                counts(&[
                    "files",
                    "accepted",
                    "duplicate",
                    "rejected",
                    "records",
                    "messages",
                ]),
            ),
        ]),
    );
    add(
        "Summary",
        with_tally(vec![
            ("reports", int()),
            ("domains", int()),
            ("organizations", int()),
            ("first_begin", nullable("integer")),
            ("last_end", nullable("integer")),
        ]),
    );
    add("Group", with_tally(vec![("key", string())]));
    add(
        "SourceGroup",
        with_tally(vec![("source_ip", nullable("string"))]),
    );
    add(
        "DispositionBreakdown",
        counts(&["none", "quarantine", "reject", "pass", "other"]),
    );
    add(
        "AlignmentBreakdown",
        counts(&["both_pass", "dkim_only", "spf_only", "both_fail"]),
    );
    add(
        "PolicyCompliance",
        counts(&[
            "compliant",
            "failing_enforced",
            "failing_delivered",
            "policy_none",
            "policy_quarantine",
            "policy_reject",
        ]),
    );
    add(
        "DayBucket",
        with_tally(vec![("day", string()), ("day_start", int())]),
    );
    add(
        "TrendPoint",
        object(&[
            ("day", string()),
            ("messages", int()),
            ("failed", int()),
            ("failure_rate", number()),
            ("moving_average", number()),
        ]),
    );
    add(
        "Health",
        object(&[("status", string()), ("database", string())]),
    );
    add(
        "Task",
        object(&[
            ("task_id", int()),
            ("kind", string()),
            (
                "state",
                json!({ "enum": ["queued", "running", "succeeded", "failed"] }),
            ),
            ("attempts", int()),
            ("max_attempts", int()),
            ("result", json!({ "type": ["object", "null"] })),
            ("error", nullable("string")),
            ("created_by", nullable("string")),
            ("created_at", int()),
            ("run_at", int()),
            ("started_at", nullable("integer")),
            ("finished_at", nullable("integer")),
            ("worker", nullable("string")),
        ]),
    );
    add(
        "Schedule",
        object(&[
            ("kind", string()),
            ("expression", string()),
            ("next_run", nullable("integer")),
            ("last_run", nullable("integer")),
        ]),
    );
    for item in ["AuditEntry", "ReportSummary", "SourceGroup", "Task"] {
        add(&format!("{item}Page"), page_of(item));
    }
    out
}

/// The schema of a response name (`[X]`, `Page<X>`, `X`).
fn response_schema(name: &str) -> Value {
    if let Some(item) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        json!({ "type": "array", "items": reference(item) })
    } else if let Some(item) = name.strip_prefix("Page<").and_then(|n| n.strip_suffix('>')) {
        reference(&format!("{item}Page"))
    } else {
        reference(name)
    }
}

fn parameter(name: &str, description: &str, schema: Value) -> Value {
    let mut parameter =
        json!({ "name": name, "in": "query", "required": false, "description": description });
    parameter["schema"] = schema;
    parameter
}

fn query_parameters(query: Query) -> Vec<Value> {
    let filters = || {
        vec![
            parameter(
                "domain",
                "Policy domain; repeat or separate with commas",
                string(),
            ),
            parameter(
                "from",
                "Start: YYYY-MM-DD, RFC 3339 or epoch seconds",
                string(),
            ),
            parameter(
                "to",
                "End (a date includes its day): YYYY-MM-DD, RFC 3339 or epoch seconds",
                string(),
            ),
            parameter(
                "preset",
                "24h, 7d, 30d, 90d, 365d, today, yesterday or all",
                string(),
            ),
            parameter(
                "source_ip",
                "Address or CIDR network (IPv4 or IPv6)",
                string(),
            ),
            parameter(
                "dkim",
                "Aligned DKIM verdict",
                json!({ "enum": ["pass", "fail"] }),
            ),
            parameter(
                "spf",
                "Aligned SPF verdict",
                json!({ "enum": ["pass", "fail"] }),
            ),
            parameter(
                "disposition",
                "Applied disposition",
                json!({ "enum": ["none", "quarantine", "reject"] }),
            ),
            parameter("org", "Reporting organisation", string()),
        ]
    };
    let paged = || {
        vec![
            parameter("limit", "Items per page (1-1000, default 50)", int()),
            parameter("offset", "Items to skip", int()),
        ]
    };
    match query {
        Query::None => Vec::new(),
        Query::Filters => filters(),
        Query::FiltersPaged => [filters(), paged()].concat(),
        Query::FiltersWindow => {
            let mut all = filters();
            all.push(parameter(
                "window",
                "Moving-average days (1-90, default 7)",
                int(),
            ));
            all
        }
        Query::Paged => paged(),
        Query::Tasks => {
            let mut all = vec![
                parameter(
                    "state",
                    "Job state",
                    json!({ "enum": ["queued", "running", "succeeded", "failed"] }),
                ),
                parameter(
                    "kind",
                    "Job kind",
                    json!({ "enum": crate::jobs::JobKind::ALL.map(crate::jobs::JobKind::as_str) }),
                ),
            ];
            all.extend(paged());
            all
        }
    }
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": reference("Error") } } })
}

fn operation(endpoint: &Endpoint) -> Value {
    let mut responses = Map::new();
    let success = match endpoint.response {
        "" => json!({ "description": "Done" }),
        "csv" => {
            json!({ "description": "CSV, streamed", "content": { "text/csv": { "schema": string() } } })
        }
        "pdf" => {
            json!({ "description": "A PDF document", "content": { "application/pdf": { "schema": { "type": "string", "format": "binary" } } } })
        }
        "text" => {
            json!({ "description": "Prometheus text format", "content": { "text/plain": { "schema": string() } } })
        }
        name => {
            json!({ "description": "OK", "content": { "application/json": { "schema": response_schema(name) } } })
        }
    };
    responses.insert(endpoint.status.to_string(), success);
    let mut errors: Vec<(u16, &str)> = Vec::new();
    if endpoint.access != Access::Public {
        errors.push((401, "No valid access token or API key"));
    }
    if !matches!(endpoint.access, Access::Public | Access::Any) {
        errors.push((403, "The caller's role (or an API key) may not do this"));
    }
    if endpoint.path.contains("{id}") {
        errors.push((404, "No such item"));
    }
    if endpoint.query != Query::None || endpoint.body.is_some() {
        errors.push((
            400,
            "A parameter or the body is invalid (the message names it)",
        ));
    }
    if endpoint.body.is_some() {
        errors.push((413, "The body is larger than its limit"));
    }
    if endpoint.body.is_some_and(|b| b != "upload") {
        errors.push((415, "The body is not JSON (Content-Type: application/json)"));
    }
    // Lists, rollups, a report's records and exports: a time limit and reads in flight.
    let heavy = endpoint.path.starts_with("/api/rollup/")
        || endpoint.path.starts_with("/api/export/")
        || matches!(endpoint.path, "/api/reports" | "/api/reports/{id}");
    if heavy
        || matches!(endpoint.path, "/auth/login" | "/api/upload")
        || matches!(endpoint.response, "csv" | "pdf")
    {
        errors.push((
            429,
            "Rate limited, or too many expensive requests of this user at once; see Retry-After",
        ));
    }
    if heavy {
        errors.push((
            503,
            "The query ran longer than the time limit and was stopped",
        ));
    }
    // Taken addresses, the last admin, oneself, a key already revoked.
    if matches!(
        (endpoint.method, endpoint.path),
        ("post", "/users" | "/tasks/trigger/email-ingestion")
            | ("patch" | "delete", "/users/{id}")
            | ("delete", "/users/api-keys/{id}")
    ) {
        errors.push((409, "Conflicts with what is stored"));
    }
    if endpoint.path == "/health" {
        errors.push((503, "The database does not answer"));
    }
    for (status, description) in errors {
        responses.insert(status.to_string(), error_response(description));
    }
    let security = match endpoint.access {
        Access::Public => json!([]),
        Access::Login | Access::AdminLogin => json!([{ "bearer": [] }]),
        Access::Any | Access::Analyst | Access::Admin => {
            json!([{ "bearer": [] }, { "apiKey": [] }])
        }
    };
    let role = match endpoint.access {
        Access::Public => "No authentication.",
        Access::Any => "Any role; access token or API key.",
        Access::Analyst => "Analyst or admin; access token or API key.",
        Access::Admin => "Admin; access token or an admin's API key.",
        Access::Login => "Any role; access token only (API keys are refused).",
        Access::AdminLogin => "Admin; access token only (API keys are refused).",
    };
    let mut op = json!({
        "summary": endpoint.summary,
        "description": role,
        "security": security,
        "responses": responses,
    });
    let mut parameters = query_parameters(endpoint.query);
    if endpoint.path.contains("{id}") {
        parameters.push(json!({ "name": "id", "in": "path", "required": true, "schema": int() }));
    }
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    match endpoint.body {
        Some("upload") => {
            op["requestBody"] = json!({ "required": true, "content": { "multipart/form-data": { "schema": {
                "type": "object",
                "properties": { "files": { "type": "array", "items": { "type": "string", "format": "binary" } } },
                "required": ["files"] } } } });
        }
        Some(name) => {
            op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": reference(name) } } });
        }
        None => {}
    }
    op
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for endpoint in ENDPOINTS {
        let item = paths
            .entry(endpoint.path.to_owned())
            .or_insert_with(|| json!({}));
        item[endpoint.method] = operation(endpoint);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "dmarc",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "DMARC aggregate report analytics. Errors are JSON `{\"error\": {\"code\", \"message\"}}`. \
                            Log in at /auth/login and send `Authorization: Bearer <access_token>`, or send an API key as `X-API-Key`.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" },
                "apiKey": { "type": "apiKey", "in": "header", "name": "X-API-Key" },
            },
        },
    })
}
