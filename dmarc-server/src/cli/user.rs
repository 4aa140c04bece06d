//! `dmarc user create|list|set-password|disable`: accounts from the command line (the API
//! has no self-registration; the first admin is made here or by `serve --demo`).

use std::io::BufRead;
use std::process::ExitCode;

use clap::Subcommand;
use dmarc_server::credentials::{check_email, check_password, hash_password, random_password};
use dmarc_store::{Role, Store, UserChange};

#[derive(Debug, clap::Args)]
pub(crate) struct UserArgs {
    #[command(subcommand)]
    command: UserCommand,
}

/// Options of every `user` command.
#[derive(Debug, clap::Args)]
struct Common {
    #[command(flatten)]
    database: super::DatabaseArgs,
    /// bcrypt cost of new passwords.
    #[arg(long, env = "DMARC_AUTH_BCRYPT_COST", default_value_t = 12, value_parser = clap::value_parser!(u32).range(4..=31))]
    bcrypt_cost: u32,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user. Without --password-stdin a random password is generated and printed.
    Create {
        #[command(flatten)]
        common: Common,
        /// Login e-mail address.
        #[arg(long)]
        email: String,
        /// admin, analyst or viewer.
        #[arg(long)]
        role: Role,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Set a user's password (ends their sessions).
    SetPassword {
        #[command(flatten)]
        common: Common,
        /// Login e-mail address.
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user (ends their sessions; their API keys stop working).
    Disable {
        #[command(flatten)]
        common: Common,
        /// Login e-mail address.
        #[arg(long)]
        email: String,
    },
}

/// The password to set: read from stdin, or generated (and then printed by the caller).
fn password(from_stdin: bool) -> Result<(String, bool), String> {
    if !from_stdin {
        return Ok((random_password(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    check_password(
        &password,
        dmarc_server::config::AuthConfig::default().min_password_length,
    )
    .map_err(|e| e.to_string())?;
    Ok((password, false))
}

impl UserCommand {
    fn common(&self) -> &Common {
        match self {
            UserCommand::Create { common, .. }
            | UserCommand::List { common }
            | UserCommand::SetPassword { common, .. }
            | UserCommand::Disable { common, .. } => common,
        }
    }
}

pub(crate) fn run(args: &UserArgs) -> ExitCode {
    let common = args.command.common();
    super::runtime().block_on(async {
        let store = match Store::connect(&common.database.database_url).await {
            Ok(store) => store,
            Err(e) => {
                eprintln!("dmarc user: {e}");
                return ExitCode::from(2);
            }
        };
        match command(&store, &args.command, common.bcrypt_cost).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("dmarc user: {message}");
                ExitCode::from(1)
            }
        }
    })
}

async fn hash(password: String, cost: u32) -> Result<String, String> {
    hash_password(password, cost)
        .await
        .map_err(|e| e.to_string())
}

async fn change(store: &Store, email: &str, change: UserChange) -> Result<(), String> {
    let (user, _) = store
        .credentials(email)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user {email}"))?;
    store
        .update_user(user.id, &change)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

async fn command(store: &Store, command: &UserCommand, cost: u32) -> Result<(), String> {
    match command {
        UserCommand::Create {
            email,
            role,
            password_stdin,
            ..
        } => {
            check_email(email).map_err(|e| e.to_string())?;
            let (password, generated) = password(*password_stdin)?;
            let hash = hash(password.clone(), cost).await?;
            let user = store
                .create_user(email, &hash, *role)
                .await
                .map_err(|e| match e {
                    dmarc_store::StoreError::Conflict(_) => {
                        format!("a user {email} exists already")
                    }
                    e => e.to_string(),
                })?;
            println!("created {} ({}), id {}", user.email, user.role, user.id);
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List { .. } => {
            let users = store.users().await.map_err(|e| e.to_string())?;
            println!("{:>5}  {:<8}  {:<8}  email", "id", "role", "status");
            for user in users {
                let status = if user.disabled { "disabled" } else { "active" };
                println!(
                    "{:>5}  {:<8}  {:<8}  {}",
                    user.id, user.role, status, user.email
                );
            }
        }
        UserCommand::SetPassword {
            email,
            password_stdin,
            ..
        } => {
            let (password, generated) = password(*password_stdin)?;
            let password_hash = Some(hash(password.clone(), cost).await?);
            change(
                store,
                email,
                UserChange {
                    password_hash,
                    ..UserChange::default()
                },
            )
            .await?;
            println!("password of {email} changed; their sessions are ended");
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::Disable { email, .. } => {
            change(
                store,
                email,
                UserChange {
                    disabled: Some(true),
                    ..UserChange::default()
                },
            )
            .await?;
            println!("{email} disabled; their sessions are ended and API keys refused");
        }
    }
    Ok(())
}
