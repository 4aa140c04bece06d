//! `dmarc serve --demo`: sample reports (the test corpus's aggregate reports, embedded in
//! the binary) and an admin with a random password, so a newcomer sees real data at once.

use dmarc_core::ParseOptions;

use dmarc_store::{Input, InputDone, OutcomeStatus, PipelineOptions, Role, Store, StoreError};

use crate::credentials::{hash_password, random_password};

include!(concat!(env!("OUT_DIR"), "/demo_reports.rs"));

/// The demo administrator's login.
pub const DEMO_ADMIN: &str = "admin@example.com";

/// What the demo loaded.
#[derive(Debug)]
pub struct Demo {
    /// Reports stored.
    pub reports: usize,
    /// The admin's login e-mail.
    pub email: &'static str,
    /// The admin's generated password.
    pub password: String,
}

/// Stores the sample reports and creates the admin (with `bcrypt_cost`).
pub async fn load(store: &Store, bcrypt_cost: u32) -> anyhow::Result<Demo> {
    let (sender, inputs) = tokio::sync::mpsc::channel(1);
    let feed = async move {
        for (name, bytes) in DEMO_REPORTS {
            let input = Input {
                name: (*name).to_owned(),
                bytes: Ok(bytes.to_vec()),
            };
            if sender.send(input).await.is_err() {
                break;
            }
        }
    };
    let mut reports = 0;
    let options = PipelineOptions::new(ParseOptions::at(dmarc_store::unix_now()));
    let count = |done: InputDone| {
        reports += done
            .outcomes
            .iter()
            .filter(|o| o.outcome == OutcomeStatus::Accepted)
            .count();
    };
    let ((), stored) = tokio::join!(
        feed,
        dmarc_store::ingest_inputs(store.clone(), inputs, options, count)
    );
    stored?;
    let password = random_password();
    let hash = hash_password(password.clone(), bcrypt_cost).await?;
    match store.create_user(DEMO_ADMIN, &hash, Role::Admin).await {
        Err(StoreError::Conflict(_)) => {
            anyhow::bail!("{DEMO_ADMIN} exists already: the demo needs a fresh database")
        }
        created => created?,
    };
    Ok(Demo {
        reports,
        email: DEMO_ADMIN,
        password,
    })
}
