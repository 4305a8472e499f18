//! Who may do what through the API and the pages (SPEC §12): `server.token` sees and changes
//! everything; a tenant's token sees and changes its tenant only, as far as its role allows.
//!
//! [`Credentials`] are the tokens of the running configuration, swapped whole by a reload.
//! [`Access`] is what one request may do once its token (or its session's) is known: every
//! route asks [`Access::sees`] of each host, event, silence and announcement it would answer
//! with, so a tenant's token finds another tenant's resources exactly as it finds resources
//! that do not exist (404), and never their data.
//!
//! Tokens written in the configuration are compared in constant time. A token given only as
//! an argon2 hash is verified off the API's thread (argon2 is slow on purpose), once: a
//! token that verified is remembered by its SHA-256 until the credentials change, so a
//! script polling every second pays argon2 once, not every second. Wrong tokens are never
//! remembered; [`super::throttle`] slows down whoever keeps sending them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use flowstate_config::tenant::{belongs_to, Credential, Role};
use flowstate_config::Config;
use ring::digest;

use super::constant_time_eq;

/// What a request may see: everything, or one tenant's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Everything,
    Tenant(Arc<str>),
}

/// What one request may do: its scope and its role there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub scope: Scope,
    pub role: Role,
}

/// What a route needs of its caller beyond being let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reads what the scope sees.
    Read,
    /// Changes silences and announcements.
    Respond,
    /// Reloads the configuration.
    Administer,
    /// Concerns the whole platform (the cluster's agents, the scheduler): `server.token` only.
    Platform,
}

impl Access {
    /// `server.token`, or no token set at all.
    pub fn everything() -> Access {
        Access {
            scope: Scope::Everything,
            role: Role::Admin,
        }
    }

    /// The tenant the access is limited to; `None`: it sees everything.
    pub fn tenant(&self) -> Option<&str> {
        match &self.scope {
            Scope::Everything => None,
            Scope::Tenant(name) => Some(name),
        }
    }

    /// Whether a host, notifier or window called `label` is within the scope: a tenant's are
    /// all `<tenant>/<name>`, and the configuration keeps that prefix for the tenant alone.
    pub fn sees(&self, label: &str) -> bool {
        match &self.scope {
            Scope::Everything => true,
            Scope::Tenant(tenant) => belongs_to(label, tenant),
        }
    }

    /// Why the access does not suffice for `need`; `None` when it does.
    pub fn lacks(&self, need: Need) -> Option<String> {
        let tenant = self.tenant();
        let wanted = match need {
            Need::Read => return None,
            Need::Platform if tenant.is_some() => {
                return Some(
                    "refused: this concerns the whole platform; it needs `server.token`, not a tenant's token".to_string(),
                )
            }
            Need::Platform => return None,
            Need::Respond => Role::Responder,
            Need::Administer => Role::Admin,
        };
        let enough = match wanted {
            Role::Viewer => true,
            Role::Responder => matches!(self.role, Role::Responder | Role::Admin),
            Role::Admin => self.role == Role::Admin,
        };
        (!enough).then(|| {
            format!(
                "refused: this needs the `{wanted}` role or higher; this token of tenant `{}` is a `{}` (set `role:` on the token in the main configuration)",
                tenant.unwrap_or_default(),
                self.role
            )
        })
    }
}

/// One credential of the configuration and whose it is.
struct Entry {
    access: Access,
    credential: Known,
    /// SHA-256 of the token as written, or of the hash: what a session remembers of its login,
    /// so editing or removing the credential ends the sessions opened with it.
    fingerprint: digest::Digest,
}

enum Known {
    Token(String),
    Hash(String),
}

/// The tokens of the running configuration: `server.token` and every tenant's.
pub struct Credentials {
    entries: Vec<Entry>,
    /// Every tenant's name, with tokens or without.
    tenants: Vec<Arc<str>>,
    /// Tokens given as hashes that verified, by the SHA-256 of the token: argon2 once per
    /// token, not once per request. Dropped with these credentials (a reload).
    verified: Mutex<HashMap<Vec<u8>, usize>>,
}

/// Tokens remembered as verified at most; beyond, the memory starts over (they verify again).
const MAX_VERIFIED: usize = 1024;

/// The credentials as the running configuration says, shared by the Supervisor (which swaps
/// them on reload) and the API.
pub type SharedCredentials = Arc<RwLock<Arc<Credentials>>>;

fn fingerprint(text: &str) -> digest::Digest {
    digest::digest(&digest::SHA256, text.as_bytes())
}

impl Credentials {
    /// The tokens `config` sets.
    pub fn of(config: &Config) -> Credentials {
        let mut entries = Vec::new();
        if let Some(token) = &config.server.token {
            let token = token.expose().to_string();
            entries.push(Entry {
                access: Access::everything(),
                fingerprint: fingerprint(&token),
                credential: Known::Token(token),
            });
        }
        for tenant in &config.tenants {
            for token in &tenant.tokens {
                let (credential, written) = match &token.credential {
                    Credential::Token(secret) => {
                        let text = secret.expose().to_string();
                        (Known::Token(text.clone()), text)
                    }
                    Credential::Hash(secret) => {
                        let text = secret.expose().to_string();
                        (Known::Hash(text.clone()), text)
                    }
                };
                entries.push(Entry {
                    access: Access {
                        scope: Scope::Tenant(tenant.name.clone()),
                        role: token.role,
                    },
                    fingerprint: fingerprint(&written),
                    credential,
                });
            }
        }
        Credentials {
            entries,
            tenants: config.tenants.iter().map(|t| t.name.clone()).collect(),
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// No token at all: the API is open to whoever reaches it, with full access.
    pub fn is_open(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every tenant's name.
    pub fn tenants(&self) -> &[Arc<str>] {
        &self.tenants
    }

    /// The credential `presented` is, and its access; `None` when it is none of them. Tokens
    /// written out are compared here; hashes are left to [`Credentials::verify_hashed`].
    pub fn identify_written(&self, presented: &str) -> Option<(Access, digest::Digest)> {
        let mut found = None;
        // Every written token is compared, matched or not: the time taken does not say which.
        for entry in &self.entries {
            if let Known::Token(token) = &entry.credential {
                if constant_time_eq(presented.as_bytes(), token.as_bytes()) && found.is_none() {
                    found = Some((entry.access.clone(), entry.fingerprint));
                }
            }
        }
        found.or_else(|| {
            let key = fingerprint(presented).as_ref().to_vec();
            let verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = self.entries.get(*verified.get(&key)?)?;
            Some((entry.access.clone(), entry.fingerprint))
        })
    }

    /// Whether any credential is known only by its hash (and so needs [`Self::verify_hashed`]).
    pub fn has_hashes(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e.credential, Known::Hash(_)))
    }

    /// Verifies `presented` against every hash (slow: call it off the API's thread); the
    /// credential it is, remembered for next time.
    pub fn verify_hashed(&self, presented: &str) -> Option<(Access, digest::Digest)> {
        let argon2 = Argon2::default();
        let (index, entry) = self.entries.iter().enumerate().find(|(_, e)| {
            let Known::Hash(hash) = &e.credential else {
                return false;
            };
            // The configuration checked the form; a hash argon2 cannot read matches nothing.
            PasswordHash::new(hash)
                .is_ok_and(|hash| argon2.verify_password(presented.as_bytes(), &hash).is_ok())
        })?;
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= MAX_VERIFIED {
            verified.clear();
        }
        verified.insert(fingerprint(presented).as_ref().to_vec(), index);
        Some((entry.access.clone(), entry.fingerprint))
    }

    /// The access of the credential whose fingerprint a session remembers, if it is still
    /// configured.
    pub fn by_fingerprint(&self, remembered: &digest::Digest) -> Option<Access> {
        self.entries
            .iter()
            .find(|e| constant_time_eq(e.fingerprint.as_ref(), remembered.as_ref()))
            .map(|e| e.access.clone())
    }
}

/// The system's random source failed: no salt can be drawn.
#[derive(Debug, thiserror::Error)]
#[error("the system's random number generator failed; no salt for the hash can be drawn")]
pub struct NoSalt;

/// `token` as a tenant's `hash:` takes it: argon2id with argon2's recommended parameters and
/// a random salt, as a PHC string.
pub fn hash_token(token: &str) -> Result<String, NoSalt> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use ring::rand::SecureRandom;
    let mut salt = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| NoSalt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| NoSalt)?;
    Argon2::default()
        .hash_password(token.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        // Only a salt or parameters out of range fail, and both are fixed here.
        .map_err(|_| NoSalt)
}

/// [`Credentials::verify_hashed`] on a blocking thread, so argon2 does not hold up the API's.
pub async fn verify_hashed_off_thread(
    credentials: Arc<Credentials>,
    presented: String,
) -> Option<(Access, digest::Digest)> {
    actix_web::web::block(move || credentials.verify_hashed(&presented))
        .await
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(name: &str, role: Role) -> Access {
        Access {
            scope: Scope::Tenant(Arc::from(name)),
            role,
        }
    }

    #[test]
    fn a_tenant_sees_its_prefix_only() {
        let a = tenant("team-a", Role::Viewer);
        assert!(a.sees("team-a/api"));
        assert!(!a.sees("team-a"));
        assert!(!a.sees("team-ab/api"));
        assert!(!a.sees("team-b/api"));
        assert!(!a.sees("api"));
        assert!(Access::everything().sees("team-b/api"));
    }

    #[test]
    fn roles_stack_and_the_platform_is_the_server_tokens() {
        let viewer = tenant("a", Role::Viewer);
        let responder = tenant("a", Role::Responder);
        let admin = tenant("a", Role::Admin);
        assert!(viewer.lacks(Need::Read).is_none());
        assert!(viewer.lacks(Need::Respond).is_some());
        assert!(responder.lacks(Need::Respond).is_none());
        assert!(responder.lacks(Need::Administer).is_some());
        assert!(admin.lacks(Need::Administer).is_none());
        assert!(admin.lacks(Need::Platform).is_some());
        assert!(Access::everything().lacks(Need::Platform).is_none());
    }

    fn configured(yaml_tenants: &str) -> Config {
        let dir = std::env::temp_dir().join(format!(
            "flowstate-access-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("a.yaml"), "hosts: []\n").expect("write");
        let main = dir.join("flowstate.yaml");
        std::fs::write(
            &main,
            format!("server:\n  token: platform-token\nhosts: []\ntenants:\n{yaml_tenants}"),
        )
        .expect("write");
        let config = flowstate_config::load(&[main]).expect("valid config");
        let _ = std::fs::remove_dir_all(&dir);
        config
    }

    #[test]
    fn written_and_hashed_tokens_identify_their_tenant_and_role() {
        let salt =
            argon2::password_hash::SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").expect("salt");
        let hash = argon2::password_hash::PasswordHasher::hash_password(
            &Argon2::default(),
            b"hashed-secret",
            &salt,
        )
        .expect("hash")
        .to_string();
        let config = configured(&format!(
            "  a:\n    config: a.yaml\n    tokens:\n      - written-secret\n      - {{ hash: '{hash}', role: admin }}\n"
        ));
        let credentials = Credentials::of(&config);
        assert!(credentials.has_hashes());
        assert_eq!(credentials.tenants(), [Arc::from("a")]);
        let (platform, _) = credentials
            .identify_written("platform-token")
            .expect("server token");
        assert_eq!(platform, Access::everything());
        let (written, print) = credentials
            .identify_written("written-secret")
            .expect("written token");
        assert_eq!(written, tenant("a", Role::Responder));
        assert_eq!(credentials.by_fingerprint(&print), Some(written));
        // A hashed token is unknown until verified, then remembered.
        assert!(credentials.identify_written("hashed-secret").is_none());
        assert!(credentials.verify_hashed("wrong").is_none());
        let (hashed, _) = credentials
            .verify_hashed("hashed-secret")
            .expect("hash verifies");
        assert_eq!(hashed, tenant("a", Role::Admin));
        assert_eq!(
            credentials
                .identify_written("hashed-secret")
                .map(|(a, _)| a),
            Some(hashed)
        );
        assert!(credentials.identify_written("wrong").is_none());
    }

    #[test]
    fn a_hashed_token_verifies_and_two_hashes_differ_by_salt() {
        let first = hash_token("s3cret").expect("hash");
        let second = hash_token("s3cret").expect("hash");
        assert!(first.starts_with("$argon2id$"), "{first}");
        assert_ne!(first, second);
        let parsed = PasswordHash::new(&first).expect("a PHC string");
        assert!(Argon2::default()
            .verify_password(b"s3cret", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"other", &parsed)
            .is_err());
    }
}
