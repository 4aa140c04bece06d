//! The OpenAPI 3.1 description served at `/openapi.json` (and by Swagger UI at `/docs`),
//! derived from the code: each handler carries its operation (`#[utoipa::path]`), the
//! types it reads and answers carry their schemas (`ToSchema`, in dmarc-core and
//! dmarc-store behind their `openapi` feature), and `build_app` registers each handler
//! with its operation in one step. What is here is what no handler owns: the title, the
//! security schemes and the tags.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Tag};

/// The description before the operations are added.
pub fn base() -> OpenApi {
    let components = ComponentsBuilder::new()
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        )
        .security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        )
        .build();
    let tags = [
        ("auth", "Log in, refresh, log out"),
        ("users", "Accounts, API keys and the audit log"),
        ("reports", "Domains, reports and uploads"),
        (
            "rollups",
            "Figures for dashboards, under the common filters",
        ),
        ("exports", "CSV and PDF"),
        ("tasks", "Background jobs: trigger, follow, schedules"),
        (
            "alerts",
            "Alert rules, the alerts they raised and their lifecycle, suppression windows",
        ),
        (
            "geolocation",
            "Where source addresses are: messages per country, one address's place and network",
        ),
        (
            "anomalies",
            "Anomaly detection of sending sources: models (train, deploy) and scored sources with their explanations",
        ),
        ("operations", "Health and metrics"),
    ]
    .map(|(name, description)| {
        let mut tag = Tag::new(name);
        tag.description = Some(description.to_owned());
        tag
    });
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("dmarc")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "DMARC aggregate report analytics. Errors are JSON \
                     `{\"error\": {\"code\", \"message\"}}`. Log in at /auth/login and send \
                     `Authorization: Bearer <access_token>`, or send an API key as `X-API-Key`.",
                ))
                .build(),
        )
        .components(Some(components))
        .tags(Some(tags))
        .build()
}
