//! The `anomaly` rule kind: the sources a detection run found anomalous.

use dmarc_store::{AlertRule, Finding, Page, Store, StoreError};
use serde_json::json;

use super::{finding, start};

/// The sources detection found anomalous in the `window_hours` before `at` (the highest
/// score of each), for the rule's domain or over every domain.
pub(super) async fn findings(
    store: &Store,
    rule: &AlertRule,
    at: i64,
    window_hours: u64,
    min_score: f64,
) -> Result<Vec<Finding>, StoreError> {
    let filter = dmarc_store::PredictionFilter {
        domain: rule.domain.clone(),
        since: Some(start(at, window_hours)),
        min_score: Some(min_score),
        anomalous_only: true,
        source_ip: None,
    };
    // Highest scores first: the first of each address is its highest.
    let found = store
        .predictions(&filter, Page::first(Page::MAX_LIMIT))
        .await?;
    let mut seen = std::collections::HashSet::new();
    let mut by_score: Vec<_> = found.items;
    by_score.sort_by(|a, b| b.score.total_cmp(&a.score));
    let scope = rule.domain.clone().unwrap_or_else(|| "every domain".into());
    Ok(by_score
        .into_iter()
        .filter(|p| seen.insert(p.source_ip.clone()))
        .map(|p| {
            let reasons = if p.reasons.is_empty() {
                String::new()
            } else {
                format!(": {}", p.reasons.join(", "))
            };
            let mut found = finding(
                rule,
                format!("{scope} {}", p.source_ip),
                &scope,
                format!(
                    "{}: anomaly score {:.2} among the unauthenticated sources of {scope}{reasons}",
                    p.source_ip, p.score
                ),
                json!({ "source_ip": p.source_ip, "score": p.score, "reasons": p.reasons,
                        "messages": p.messages, "failing": p.dmarc_fail,
                        "model_version": p.model_version, "run_at": p.run_at }),
            );
            found.domain = rule.domain.clone();
            found
        })
        .collect())
}
