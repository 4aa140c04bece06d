//! Credentials, free of HTTP: password hashing (bcrypt) and policy, e-mail form, random
//! passwords and tokens, API keys, and the keys that sign access tokens. The API, the
//! `dmarc user` command and the demo all use them.

use jsonwebtoken::{DecodingKey, EncodingKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of refresh tokens, so leaked ones are recognisable (secret scanners).
pub const REFRESH_PREFIX: &str = "dmr_";
/// Prefix of API keys.
pub const API_KEY_PREFIX: &str = "dmk_";
/// Characters of an API key kept to show which key it is.
const API_KEY_SHOWN: usize = 12;
/// The longest e-mail address accepted (RFC 5321's path limit).
const MAX_EMAIL: usize = 254;
/// bcrypt reads 72 bytes; longer passwords would be silently cut.
const MAX_PASSWORD_BYTES: usize = 72;

/// Why a credential was refused, or could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The password is shorter than the policy's minimum.
    #[error("the password must have at least {0} characters")]
    TooShort(usize),
    /// The password is longer than bcrypt reads.
    #[error("the password must have at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    /// Not of the form `local@domain.tld`.
    #[error("not an e-mail address")]
    NotAnEmail,
    /// bcrypt failed, or its thread did.
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl CredentialError {
    /// True when the input broke a rule (the caller's fault), false when hashing failed.
    pub fn is_policy(&self) -> bool {
        !matches!(self, CredentialError::Hashing(_))
    }
}

/// Checks a new password against the policy.
pub fn check_password(password: &str, min_length: usize) -> Result<(), CredentialError> {
    if password.chars().count() < min_length {
        return Err(CredentialError::TooShort(min_length));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(CredentialError::TooLong);
    }
    Ok(())
}

/// Checks the form of an e-mail address (the login name; nothing is sent to it).
pub fn check_email(email: &str) -> Result<(), CredentialError> {
    let email = email.trim();
    let valid = email.len() <= MAX_EMAIL
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(())
    } else {
        Err(CredentialError::NotAnEmail)
    }
}

/// Hashes a password (bcrypt, on a blocking thread).
pub async fn hash_password(password: String, cost: u32) -> Result<String, CredentialError> {
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(|e| CredentialError::Hashing(e.to_string()))?
        .map_err(|e| CredentialError::Hashing(e.to_string()))
}

/// Checks a password against a bcrypt hash (on a blocking thread); false for a malformed
/// hash.
pub async fn verify_password(password: String, hash: String) -> Result<bool, CredentialError> {
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .map_err(|e| CredentialError::Hashing(e.to_string()))
}

/// A random 20-character password (letters and digits: about 119 bits).
pub fn random_password() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

/// `prefix` followed by 32 random bytes in hex.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// The SHA-256 of a token in hex: how tokens and keys are stored.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A new API key: the key in clear (shown once), its SHA-256 and its shown prefix.
pub fn new_api_key() -> (String, String, String) {
    let key = random_token(API_KEY_PREFIX);
    let hash = sha256_hex(&key);
    let prefix = key[..API_KEY_SHOWN].to_owned();
    (key, hash, prefix)
}

/// Keys that sign and check access tokens (HS256 over one secret).
#[derive(Clone)]
pub struct TokenKeys {
    /// Signs.
    pub encoding: EncodingKey,
    /// Checks.
    pub decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(***)")
    }
}

impl TokenKeys {
    /// Keys from a secret.
    pub fn new(secret: &str) -> Result<Self, jsonwebtoken::errors::Error> {
        Ok(TokenKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes())?,
            decoding: DecodingKey::from_secret(secret.as_bytes())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_what_is_wrong() {
        assert!(check_password("correct horse", 12).is_ok());
        assert_eq!(
            check_password("short", 12).unwrap_err().to_string(),
            "the password must have at least 12 characters"
        );
        assert!(matches!(
            check_password(&"x".repeat(73), 12),
            Err(CredentialError::TooLong)
        ));
        assert!(check_email("a@example.com").is_ok());
        for bad in ["", "a@b", "@example.com", "a b@example.com"] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
        let (key, hash, shown) = new_api_key();
        assert!(key.starts_with(API_KEY_PREFIX) && key.starts_with(&shown));
        assert_eq!(hash, sha256_hex(&key));
    }
}
