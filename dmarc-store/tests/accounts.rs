//! Accounts, sessions, API keys, audit log and settings, on SQLite and PostgreSQL (same
//! rules as the contract suite: PostgreSQL is skipped with a message when unavailable, a
//! failure when `DMARC_TEST_REQUIRE_SERVICES=1`).

use dmarc_store::testing;
use dmarc_store::{NewAuditEntry, Page, Refresh, Role, StoreError, UserChange};

fn far_future() -> i64 {
    4_000_000_000
}

#[tokio::test]
async fn users_are_unique_by_normalised_email_and_change_in_place() {
    for (_db, store) in testing::stores().await {
        let alice = store
            .create_user(" Alice@Example.COM ", "hash-a", Role::Analyst)
            .await
            .expect("created");
        assert_eq!(alice.email, "alice@example.com");
        assert_eq!(alice.role, Role::Analyst);
        assert!(!alice.disabled);
        assert!(
            matches!(
                store
                    .create_user("alice@example.com", "other", Role::Admin)
                    .await,
                Err(StoreError::Conflict(_))
            ),
            "the same address twice"
        );
        let (found, hash) = store
            .credentials("ALICE@example.com")
            .await
            .unwrap()
            .expect("found");
        assert_eq!((found.id, hash.as_str()), (alice.id, "hash-a"));
        assert!(
            store
                .credentials("bob@example.com")
                .await
                .unwrap()
                .is_none()
        );

        store
            .create_user("root@example.com", "hash-r", Role::Admin)
            .await
            .unwrap();
        assert_eq!(store.active_admins().await.unwrap(), 1);
        let changed = store
            .update_user(
                alice.id,
                &UserChange {
                    role: Some(Role::Admin),
                    ..UserChange::default()
                },
            )
            .await
            .expect("exists");
        assert_eq!(changed.role, Role::Admin);
        assert_eq!(store.active_admins().await.unwrap(), 2);
        let disabled = store
            .update_user(
                alice.id,
                &UserChange {
                    disabled: Some(true),
                    ..UserChange::default()
                },
            )
            .await
            .expect("exists");
        assert!(disabled.disabled);
        assert_eq!(store.active_admins().await.unwrap(), 1);
        assert!(matches!(
            store.update_user(999, &UserChange::default()).await,
            Err(StoreError::NotFound(_))
        ));
        let emails: Vec<String> = store
            .users()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.email)
            .collect();
        assert_eq!(emails, ["alice@example.com", "root@example.com"]);
        assert!(store.delete_user(alice.id).await.unwrap());
        assert!(!store.delete_user(alice.id).await.unwrap());
        assert!(store.user(alice.id).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reuse_revokes_the_session() {
    for (_db, store) in testing::stores().await {
        let user = store
            .create_user("a@example.com", "h", Role::Viewer)
            .await
            .unwrap();
        store
            .start_session(user.id, "s1", "r1", far_future())
            .await
            .unwrap();
        assert_eq!(
            store.session_user("s1").await.unwrap(),
            Some((user.clone(), true))
        );

        match store.refresh("r1", "r2", far_future()).await.unwrap() {
            Refresh::Rotated {
                user: u,
                session_id,
            } => {
                assert_eq!((u.id, session_id.as_str()), (user.id, "s1"));
            }
            other => panic!("expected a rotation, got {other:?}"),
        }
        // The rotated token again: a replay. The family is revoked, so r2 is refused too.
        assert_eq!(
            store.refresh("r1", "r3", far_future()).await.unwrap(),
            Refresh::Reused {
                session_id: "s1".into(),
                user_id: user.id
            }
        );
        assert_eq!(
            store.session_user("s1").await.unwrap().map(|s| s.1),
            Some(false)
        );
        assert_eq!(
            store.refresh("r2", "r4", far_future()).await.unwrap(),
            Refresh::Refused
        );
        assert_eq!(
            store.refresh("nope", "r5", far_future()).await.unwrap(),
            Refresh::Unknown
        );

        // An expired refresh token is refused; logout ends a session once.
        store.start_session(user.id, "s2", "e1", 1).await.unwrap();
        assert_eq!(
            store.refresh("e1", "e2", far_future()).await.unwrap(),
            Refresh::Refused
        );
        store
            .start_session(user.id, "s3", "x1", far_future())
            .await
            .unwrap();
        assert!(store.revoke_session("s3", "logout").await.unwrap());
        assert!(!store.revoke_session("s3", "logout").await.unwrap());
        assert_eq!(
            store.refresh("x1", "x2", far_future()).await.unwrap(),
            Refresh::Refused
        );

        // A password change ends every session of the user.
        store
            .start_session(user.id, "s4", "p1", far_future())
            .await
            .unwrap();
        store
            .update_user(
                user.id,
                &UserChange {
                    password_hash: Some("new".into()),
                    ..UserChange::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            store.session_user("s4").await.unwrap().map(|s| s.1),
            Some(false)
        );
        assert!(store.session_user("missing").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn api_keys_are_found_by_hash_record_use_and_revoke() {
    for (_db, store) in testing::stores().await {
        let owner = store
            .create_user("k@example.com", "h", Role::Analyst)
            .await
            .unwrap();
        let other = store
            .create_user("o@example.com", "h", Role::Viewer)
            .await
            .unwrap();
        let key = store
            .create_api_key(owner.id, "ci", "dmk_abcd", "hash1")
            .await
            .unwrap();
        store
            .create_api_key(other.id, "other", "dmk_efgh", "hash2")
            .await
            .unwrap();
        assert_eq!(key.last_used_at, None);
        let (found, user) = store.api_key_user("hash1").await.unwrap().expect("found");
        assert_eq!((found.id, user.id), (key.id, owner.id));
        let used = store.api_key(key.id).await.unwrap().expect("exists");
        assert!(used.last_used_at.is_some(), "use recorded");
        assert!(store.api_key_user("hash3").await.unwrap().is_none());
        assert_eq!(store.api_keys(Some(owner.id)).await.unwrap().len(), 1);
        assert_eq!(store.api_keys(None).await.unwrap().len(), 2);
        assert!(store.revoke_api_key(key.id).await.unwrap());
        assert!(!store.revoke_api_key(key.id).await.unwrap());
        let (revoked, _) = store.api_key_user("hash1").await.unwrap().expect("found");
        assert!(revoked.revoked_at.is_some());
        // Deleting the owner deletes the keys.
        store.delete_user(owner.id).await.unwrap();
        assert!(store.api_key_user("hash1").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn audit_log_pages_newest_first_and_outlives_its_users() {
    for (_db, store) in testing::stores().await {
        // An analyst: the last admin could not be deleted.
        let user = store
            .create_user("a@example.com", "h", Role::Analyst)
            .await
            .unwrap();
        for (i, action) in ["login.success", "login.failure", "user.create"]
            .into_iter()
            .enumerate()
        {
            store
                .audit(&NewAuditEntry {
                    user_id: Some(user.id),
                    actor: user.email.clone(),
                    action: action.into(),
                    target: Some(format!("target {i}")),
                    ip: Some("192.0.2.1".into()),
                    detail: serde_json::json!({ "i": i }),
                })
                .await
                .unwrap();
        }
        let page = store.audit_entries(None, Page::first(2)).await.unwrap();
        assert_eq!(page.total, 3);
        let actions: Vec<&str> = page.items.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["user.create", "login.failure"]);
        assert_eq!(page.items[0].detail, serde_json::json!({ "i": 2 }));
        let failures = store
            .audit_entries(Some("login.failure"), Page::default())
            .await
            .unwrap();
        assert_eq!(failures.total, 1);
        store.delete_user(user.id).await.unwrap();
        let kept = store.audit_entries(None, Page::default()).await.unwrap();
        assert_eq!(kept.total, 3);
        assert!(
            kept.items
                .iter()
                .all(|e| e.user_id.is_none() && e.actor == "a@example.com")
        );
    }
}

#[tokio::test]
async fn the_first_value_of_a_setting_wins() {
    for (_db, store) in testing::stores().await {
        assert_eq!(store.setting_or_init("jwt", "one").await.unwrap(), "one");
        assert_eq!(store.setting_or_init("jwt", "two").await.unwrap(), "one");
    }
}

/// Two admins demoting each other at the same moment: one change wins, the other is a
/// conflict, and an enabled admin is always left (the check is in the same transaction).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_last_admin_cannot_be_raced_away() {
    let analyst = UserChange {
        role: Some(Role::Analyst),
        ..UserChange::default()
    };
    for (_db, store) in testing::stores().await {
        let store = std::sync::Arc::new(store);
        let mut survivor: Option<i64> = None;
        for round in 0..5 {
            let mut pair = Vec::new();
            for name in ["a", "b"] {
                let user = store
                    .create_user(&format!("{name}{round}@example.com"), "h", Role::Admin)
                    .await
                    .expect("new admin");
                pair.push(user.id);
            }
            if let Some(previous) = survivor {
                store.update_user(previous, &analyst).await.unwrap();
            }
            let race: Vec<_> = pair
                .iter()
                .map(|&id| {
                    let (store, change) = (std::sync::Arc::clone(&store), analyst.clone());
                    tokio::spawn(async move { store.update_user(id, &change).await })
                })
                .collect();
            let mut results = Vec::new();
            for task in race {
                results.push(task.await.unwrap());
            }
            let refused: Vec<bool> = results
                .iter()
                .map(|r| matches!(r, Err(dmarc_store::StoreError::Conflict(_))))
                .collect();
            assert_eq!(
                refused.iter().filter(|&&r| r).count(),
                1,
                "exactly one is refused: {results:?}"
            );
            assert_eq!(store.active_admins().await.unwrap(), 1);
            survivor = pair
                .iter()
                .zip(&refused)
                .find(|(_, r)| **r)
                .map(|(id, _)| *id);
        }
        // The last admin can be neither disabled nor deleted.
        let last = survivor.expect("an admin is left");
        let disable = UserChange {
            disabled: Some(true),
            ..UserChange::default()
        };
        assert!(store.update_user(last, &disable).await.is_err());
        assert!(store.delete_user(last).await.is_err());
        assert_eq!(store.active_admins().await.unwrap(), 1);
    }
}
