//! Alerting's storage on SQLite and PostgreSQL: rules, the lifecycle of alerts, one open
//! alert per fingerprint, the cooldown, suppression windows and auto-resolve. Times are
//! passed in, so nothing waits.

use dmarc_store::testing;
use dmarc_store::{
    AlertFilter, AlertState, Finding, NewSuppression, Page, RuleSettings, StoreError,
};
use serde_json::json;

fn settings(name: &str) -> RuleSettings {
    RuleSettings {
        name: name.to_owned(),
        kind: "failure_rate".to_owned(),
        domain: None,
        severity: "critical".to_owned(),
        params: json!({ "threshold": 0.05, "window_hours": 24, "min_messages": 100 }),
        cooldown_minutes: 60,
        auto_resolve_minutes: 120,
        channels: vec!["teams".to_owned(), "email".to_owned()],
        enabled: true,
    }
}

fn finding(subject: &str) -> Finding {
    Finding {
        fingerprint: format!("fp-{subject}"),
        subject: subject.to_owned(),
        domain: Some(subject.to_owned()),
        summary: format!("{subject} fails"),
        detail: json!({ "rate": 0.5 }),
    }
}

#[tokio::test]
async fn rules_are_created_replaced_and_deleted() {
    for (_db, store) in testing::stores().await {
        let rule = store
            .create_alert_rule(&settings("failures"), "admin@example.com")
            .await
            .unwrap();
        assert_eq!(rule.name, "failures");
        assert_eq!(rule.channels, ["teams", "email"]);
        assert_eq!(rule.params["min_messages"], 100);
        assert!(rule.enabled);
        let taken = store
            .create_alert_rule(&settings("failures"), "x")
            .await
            .unwrap_err();
        assert!(
            matches!(&taken, StoreError::Conflict(m) if m.contains("failures")),
            "{taken}"
        );
        let mut changed = settings("failures, quieter");
        changed.enabled = false;
        changed.domain = Some("example.com".into());
        let updated = store
            .update_alert_rule(rule.id, &changed)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (updated.name.as_str(), updated.enabled),
            ("failures, quieter", false)
        );
        assert_eq!(updated.domain.as_deref(), Some("example.com"));
        assert!(
            store
                .update_alert_rule(999, &changed)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.alert_rules().await.unwrap(), vec![updated.clone()]);

        // Its alerts outlive it, with its name.
        store
            .record_findings(&updated, &[finding("a.example")], 1_000)
            .await
            .unwrap();
        assert!(store.delete_alert_rule(rule.id).await.unwrap());
        assert!(!store.delete_alert_rule(rule.id).await.unwrap());
        let kept = store
            .alerts(&AlertFilter::default(), Page::first(10))
            .await
            .unwrap();
        assert_eq!(kept.items.len(), 1);
        assert_eq!(kept.items[0].rule_id, None);
        assert_eq!(kept.items[0].rule_name, "failures, quieter");
    }
}

#[tokio::test]
async fn one_open_alert_per_fingerprint_the_cooldown_suppressions_and_auto_resolve() {
    for (_db, store) in testing::stores().await {
        let rule = store
            .create_alert_rule(&settings("failures"), "admin")
            .await
            .unwrap();
        let t0 = 1_700_000_000;
        let first = store
            .record_findings(&rule, &[finding("a.example"), finding("b.example")], t0)
            .await
            .unwrap();
        assert_eq!(first.created.len(), 2);
        assert_eq!(first.created[0].state, AlertState::Created);
        assert_eq!(first.created[0].severity, "critical");
        assert_eq!(first.created[0].detail["rate"], 0.5);

        // Found again while open: refreshed, not raised again.
        let again = store
            .record_findings(&rule, &[finding("a.example")], t0 + 600)
            .await
            .unwrap();
        assert_eq!((again.created.len(), again.repeated), (0, 1));

        // Acknowledge, then resolve, with who and when; moves out of order are refused.
        let a = &first.created[0];
        let acked = store
            .move_alert(a.id, AlertState::Acknowledged, "ana", t0 + 700)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (acked.acknowledged_by.as_deref(), acked.acknowledged_at),
            (Some("ana"), Some(t0 + 700))
        );
        let refused = store
            .move_alert(a.id, AlertState::Acknowledged, "ana", t0 + 701)
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");
        let resolved = store
            .move_alert(a.id, AlertState::Resolved, "bo", t0 + 800)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(resolved.state, AlertState::Resolved);
        assert_eq!(resolved.resolved_by.as_deref(), Some("bo"));
        assert!(
            store
                .move_alert(999_999, AlertState::Resolved, "bo", t0)
                .await
                .unwrap()
                .is_none()
        );

        // Within the cooldown (60 min of the first alert) nothing new; after it, a new one.
        let cooling = store
            .record_findings(&rule, &[finding("a.example")], t0 + 3_000)
            .await
            .unwrap();
        assert_eq!((cooling.created.len(), cooling.repeated), (0, 1));
        // b.example was last seen at t0: cleared for 2 hours at t0 + 7,200 -> resolved.
        let later = store
            .record_findings(&rule, &[finding("a.example")], t0 + 7_200)
            .await
            .unwrap();
        assert_eq!(later.created.len(), 1);
        assert_eq!(later.resolved.len(), 1);
        assert_eq!(later.resolved[0].subject, "b.example");
        assert_eq!(later.resolved[0].resolved_by.as_deref(), Some("auto"));

        // A window for c.example's domain: recorded as suppressed, not created.
        let window = store
            .create_suppression(
                &NewSuppression {
                    rule_id: None,
                    domain: Some("c.example".into()),
                    fingerprint: None,
                    starts_at: t0,
                    ends_at: t0 + 86_400,
                    reason: "maintenance".into(),
                },
                "ana",
            )
            .await
            .unwrap();
        let quiet = store
            .record_findings(&rule, &[finding("c.example")], t0 + 7_300)
            .await
            .unwrap();
        assert_eq!((quiet.created.len(), quiet.suppressed.len()), (0, 1));
        assert_eq!(quiet.suppressed[0].state, AlertState::Suppressed);
        assert_eq!(quiet.suppressed[0].suppression_id, Some(window.id));
        assert_eq!(store.suppressions(Some(t0 + 7_300)).await.unwrap().len(), 1);
        assert!(
            store
                .suppressions(Some(t0 + 90_000))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.delete_suppression(window.id).await.unwrap());

        // The history: newest first, by state.
        let all = store
            .alerts(&AlertFilter::default(), Page::first(10))
            .await
            .unwrap();
        let states: Vec<_> = all
            .items
            .iter()
            .map(|a| (a.subject.as_str(), a.state))
            .collect();
        assert_eq!(
            states,
            [
                ("c.example", AlertState::Suppressed),
                ("a.example", AlertState::Created),
                ("b.example", AlertState::Resolved),
                ("a.example", AlertState::Resolved),
            ]
        );
        let open = store
            .alerts(
                &AlertFilter {
                    state: Some(AlertState::Created),
                    ..AlertFilter::default()
                },
                Page::first(10),
            )
            .await
            .unwrap();
        assert_eq!(open.total, 1);

        // Analytics, by hand: 4 alerts, all critical, of one rule; a.example (first) was
        // acknowledged after 700 s and resolved after 800 s; b.example resolved by `auto`
        // after 7,200 s; 3 were sent (one suppressed), 1 acknowledged.
        let stats = store.alert_stats(None, None).await.unwrap();
        assert_eq!(stats.total, 4);
        let count = |key: &str, count: u64| dmarc_store::Count {
            key: key.to_owned(),
            count,
        };
        assert_eq!(stats.by_severity, [count("critical", 4)]);
        assert_eq!(stats.by_rule, [count("failures", 4)]);
        assert_eq!(
            stats.by_state,
            [
                count("resolved", 2),
                count("created", 1),
                count("suppressed", 1)
            ]
        );
        // t0 is 2023-11-14 22:13 UTC: the two alerts raised two hours later fall on the 15th.
        assert_eq!(
            stats.by_day,
            [count("2023-11-14", 2), count("2023-11-15", 2)]
        );
        assert_eq!(stats.mean_seconds_to_acknowledge, Some(700.0));
        assert_eq!(stats.mean_seconds_to_resolve, Some((800.0 + 7_200.0) / 2.0));
        assert_eq!(stats.acknowledged_share, Some(1.0 / 3.0));
        // A period before them all: nothing.
        let none = store.alert_stats(None, Some(t0)).await.unwrap();
        assert_eq!((none.total, none.mean_seconds_to_resolve), (0, None));
    }
}

#[tokio::test]
async fn deliveries_count_their_attempts() {
    for (_db, store) in testing::stores().await {
        let rule = store
            .create_alert_rule(&settings("failures"), "admin")
            .await
            .unwrap();
        let alert = store
            .record_findings(&rule, &[finding("a.example")], 1_000)
            .await
            .unwrap()
            .created
            .remove(0);
        let failed = dmarc_store::Attempt {
            delivered: false,
            last: false,
            status_code: Some(500),
            error: Some("the receiver answered 500".into()),
        };
        let first = store
            .record_delivery(alert.id, "teams", &failed, 1_001)
            .await
            .unwrap();
        assert_eq!((first.state.as_str(), first.attempts), ("pending", 1));
        let ok = dmarc_store::Attempt {
            delivered: true,
            last: false,
            status_code: Some(200),
            error: None,
        };
        let second = store
            .record_delivery(alert.id, "teams", &ok, 1_031)
            .await
            .unwrap();
        assert_eq!(
            (second.state.as_str(), second.attempts, second.status_code),
            ("delivered", 2, Some(200))
        );
        assert_eq!((second.created_at, second.updated_at), (1_001, 1_031));
        store
            .record_delivery(alert.id, "slack", &ok, 1_002)
            .await
            .unwrap();
        let all = store.deliveries(alert.id).await.unwrap();
        let channels: Vec<_> = all.iter().map(|d| d.channel.as_str()).collect();
        assert_eq!(channels, ["teams", "slack"]);
    }
}
