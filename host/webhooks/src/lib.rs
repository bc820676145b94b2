//! Webhooks for the lock platform and for operations (docs/rules.md, "Notifications"):
//! every access event, alert opened or cleared, and sync failed or held is appended
//! to the store's outbox in the transaction that caused it; [`dispatcher::run`]
//! delivers each subscription's share of it, signed as the Standard Webhooks
//! specification says ([`signature`]), to destinations the outbound policy allows
//! ([`destination`]).

pub mod delivery;
pub mod destination;
pub mod dispatcher;
pub mod signature;

pub use destination::{DestinationError, DestinationPolicy};
pub use dispatcher::{DispatcherConfig, run};
pub use signature::{BadSecret, new_secret, sign};

/// A new subscription id: `wh_` and 16 random hex digits.
pub fn new_subscription_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)?;
    Ok(format!(
        "wh_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}
