//! The configuration's tests: defaults, files, environment names, checks.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn layers_apply_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dmarc.toml");
    std::fs::write(
        &file,
        "listen = \"0.0.0.0:9000\"\n[auth]\nbcrypt_cost = 10\naccess_token_ttl = 60\n",
    )
    .unwrap();
    let config = Config::load(
        Some(&file),
        env(&[
            ("DMARC_AUTH_BCRYPT_COST", "8"),
            ("DMARC_LIMITS_UPLOAD_MAX_FILES", "5"),
            ("DMARC_TRUST_FORWARDED_FOR", "true"),
            ("DMARC_CONFIG", "ignored: not a setting"),
            ("DMARC_TEST_REQUIRE_SERVICES", "1"),
            ("PATH", "/bin"),
        ]),
    )
    .unwrap();
    assert_eq!(config.listen, "0.0.0.0:9000", "file over default");
    assert_eq!(config.auth.bcrypt_cost, 8, "environment over file");
    assert_eq!(config.auth.access_token_ttl, 60, "file kept");
    assert_eq!(config.limits.upload_max_files, 5);
    assert!(config.trust_forwarded_for);
    assert_eq!(config.auth.refresh_token_ttl, 7 * 24 * 3600, "default kept");
}

#[test]
fn bad_values_name_their_origin() {
    let e = Config::load(None, env(&[("DMARC_AUTH_BCRYPT_COST", "twelve")])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "DMARC_AUTH_BCRYPT_COST: \"twelve\" is not a whole number"
    );
    let e = Config::load(None, env(&[("DMARC_AUTH_BCRYPT_COST", "3")])).unwrap_err();
    assert!(e.to_string().contains("between 4 and 31"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dmarc.toml");
    std::fs::write(&file, "[auth]\nbcrypt_costs = 10\n").unwrap();
    let e = Config::load(Some(&file), env(&[])).unwrap_err();
    assert!(e.to_string().contains("bcrypt_costs"), "{e}");
}

#[test]
fn alert_channels_come_from_the_environment_and_stay_secret() {
    let config = Config::load(
        None,
        env(&[
            (
                "DMARC_ALERTS_TEAMS_WEBHOOK_URL",
                "https://teams.example/hook/secret1",
            ),
            (
                "DMARC_ALERTS_SLACK_WEBHOOK_URL",
                "https://hooks.slack.example/secret2",
            ),
            ("DMARC_ALERTS_SMTP_URL", "smtp://u:p@mail.example:587"),
            ("DMARC_ALERTS_EMAIL_FROM", "dmarc@example.com"),
            ("DMARC_ALERTS_EMAIL_TO", "a@example.com, b@example.com"),
        ]),
    )
    .unwrap();
    let alerts = &config.alerts;
    assert_eq!(
        alerts.address("teams"),
        Some("https://teams.example/hook/secret1")
    );
    assert_eq!(alerts.address("discord"), None);
    assert_eq!(alerts.recipients(), ["a@example.com", "b@example.com"]);
    let shown = format!("{config:?}");
    for secret in ["secret1", "secret2", "u:p@"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    let e = Config::load(
        None,
        env(&[("DMARC_ALERTS_DISCORD_WEBHOOK_URL", "ftp://x")]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("alerts.discord_webhook_url"), "{e}");
    let e = Config::load(
        None,
        env(&[("DMARC_ALERTS_SMTP_URL", "smtp://mail.example")]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("email_from"), "{e}");
}

#[test]
fn mailboxes_jobs_and_schedules_come_from_the_environment() {
    let config = Config::load(
        None,
        env(&[
            ("DMARC_IMAP_HOST", "imap.example.com"),
            ("DMARC_IMAP_USER", "dmarc@example.com"),
            ("DMARC_IMAP_PASSWORD", "hunter2-imap"),
            ("DMARC_IMAP_TLS", "starttls"),
            ("DMARC_IMAP_FAILED_FOLDER", "Reports/Failed"),
            ("DMARC_JOBS_WORKERS", "4"),
            ("DMARC_SCHEDULES_EMAIL_INGESTION", "*/5 * * * *"),
            ("DMARC_SCHEDULES_ML_TRAINING", ""),
        ]),
    )
    .unwrap();
    let mailboxes: Vec<&MailboxConfig> = config.mailboxes().collect();
    assert_eq!(mailboxes.len(), 1);
    let m = mailboxes[0];
    assert_eq!((m.tls, m.port()), (ImapTls::Starttls, 143));
    assert_eq!(m.failed_folder, "Reports/Failed");
    assert_eq!(m.folder, "INBOX", "default kept");
    assert_eq!(m.name(), "dmarc@example.com@imap.example.com:143/INBOX");
    assert!(!format!("{config:?}").contains("hunter2"));
    assert_eq!(config.jobs.workers, 4);
    assert_eq!(config.schedules.email_ingestion, "*/5 * * * *");
    assert_eq!(config.schedules.ml_training, "", "turned off");
    assert_eq!(
        Config::default().mailboxes().count(),
        0,
        "no host: no mailbox"
    );

    let e = Config::load(
        None,
        env(&[("DMARC_SCHEDULES_PROCESS_REPORTS", "every hour")]),
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("schedules.process_reports: "),
        "{e}"
    );
    let e = Config::load(None, env(&[("DMARC_IMAP_TLS", "ssl")])).unwrap_err();
    assert!(e.to_string().contains("ssl"), "{e}");
    let e = Config::load(None, env(&[("DMARC_IMAP_HOST", "imap.example.com")])).unwrap_err();
    assert_eq!(e.to_string(), "imap: a mailbox needs a user");
}

#[test]
fn secrets_stay_out_of_debug() {
    let config = Config::load(
        None,
        env(&[
            ("DMARC_AUTH_JWT_SECRET", "s3cr3t-value"),
            ("DMARC_DATABASE_URL", "postgres://u:pw@h/db"),
        ]),
    )
    .unwrap();
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("pw@"),
        "{shown}"
    );
    assert_eq!(config.auth.jwt_secret.0, "s3cr3t-value");
}

#[test]
fn senders_extend_the_curated_table_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dmarc.toml");
    std::fs::write(
        &file,
        "[[senders]]\nname = \"Our CRM\"\nasns = [64500]\ndkim_domains = [\"crm.example.net\"]\n\
         [[senders]]\nname = \"Relay\"\nasns = [64501]\n",
    )
    .unwrap();
    let config = Config::load(Some(&file), env(&[])).unwrap();
    assert_eq!(config.senders.len(), 2);
    assert_eq!(config.senders[0].dkim_domains, ["crm.example.net"]);
    let bad = [
        ("[[senders]]\nname = \"\"\nasns = [1]\n", "senders[0]: name"),
        ("[[senders]]\nname = \"X\"\n", "needs asns or dkim_domains"),
        (
            "[[senders]]\nname = \"X\"\ndkim_domains = [\"a b.com\"]\n",
            "domain names",
        ),
        ("[[senders]]\nname = \"X\"\nasn = [1]\n", "asn"),
    ];
    for (text, want) in bad {
        std::fs::write(&file, text).unwrap();
        let e = Config::load(Some(&file), env(&[])).unwrap_err();
        assert!(e.to_string().contains(want), "{text}: {e}");
    }
}
