//! Bearer tokens: stored as their sha-256, shown once at creation. An admin sees every
//! property; a property manager only the properties on the token, and another
//! property's data answers 404, never the data (nor whether it exists).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use epms_store::{Role, TokenRecord};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

/// The hex sha-256 under which a token is stored.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random token (256 bits from the OS's CSPRNG, hex): the only time it exists
/// in clear.
pub fn new_token() -> String {
    format!("epms_{}", epms_store::SecretBox::generate_hex())
}

/// The console's session cookie: the token itself, HttpOnly and SameSite=Strict.
pub const SESSION_COOKIE: &str = "epms_session";
/// The header every write of the console carries (`X-Epms-Console: 1`).
pub const CONSOLE_HEADER: &str = "x-epms-console";

/// The token in the request's session cookie, if any.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller(pub TokenRecord);

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.0.role == Role::Admin
    }

    pub fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(what))
        }
    }

    pub fn can_see(&self, property: &str) -> bool {
        self.is_admin() || self.0.properties.iter().any(|p| p == property)
    }

    /// 404 for a property this caller may not see.
    pub fn check_property(&self, property: &str) -> Result<(), ApiError> {
        if self.can_see(property) {
            Ok(())
        } else {
            Err(ApiError::not_found(format!("property {property:?}")))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The access middleware has authenticated this request already.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let bearer = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let token = match bearer {
            Some(t) => t.to_owned(),
            None => {
                let t = session_cookie(&parts.headers).ok_or_else(ApiError::unauthorized)?;
                // A write made with the console's cookie must carry the console's own
                // header, which another site's page cannot send (the cookie is
                // SameSite=Strict as well).
                if !parts.method.is_safe() && !parts.headers.contains_key(CONSOLE_HEADER) {
                    return Err(ApiError::new(
                        axum::http::StatusCode::FORBIDDEN,
                        "csrf",
                        format!("a write signed in by cookie needs the {CONSOLE_HEADER} header"),
                    ));
                }
                t
            }
        };
        match state.store.token(&token_hash(&token))? {
            Some(record) => Ok(Caller(record)),
            None => Err(ApiError::unauthorized()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_by_hash() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with("epms_") && a.len() == 5 + 64);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
