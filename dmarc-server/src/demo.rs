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

/// Why the demo cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The demo admin exists: the database is not fresh.
    #[error("{DEMO_ADMIN} exists already: the demo needs a fresh database")]
    Exists,
    /// Storing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing the admin's password failed.
    #[error(transparent)]
    Credential(#[from] crate::credentials::CredentialError),
}

/// Stores the sample reports and creates the admin (with `bcrypt_cost`).
pub async fn load(store: &Store, bcrypt_cost: u32) -> Result<Demo, DemoError> {
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
        Err(StoreError::Conflict(_)) => return Err(DemoError::Exists),
        created => created?,
    };
    Ok(Demo {
        reports,
        email: DEMO_ADMIN,
        password,
    })
}
