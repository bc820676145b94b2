//! Every table, its key and the encoding of its value. Values are JSON of the
//! engine's types (readable with any tool, forward-compatible with added fields).
//!
//! Keys are `(property id, …)` so one property's rows are one contiguous range.

use redb::TableDefinition;

/// `"schema-version"` → u64.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// property id → JSON [`crate::PropertyRecord`].
pub const PROPERTIES: TableDefinition<&str, &[u8]> = TableDefinition::new("properties");
/// credential id → JSON [`crate::CredentialRecord`] (secrets sealed).
pub const CREDENTIALS: TableDefinition<&str, &[u8]> = TableDefinition::new("credentials");
/// (property, account id) → JSON `Account`.
pub const ACCOUNTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("accounts");
/// (property, JSON `PmsKey`) → account id.
pub const LINKS: TableDefinition<(&str, &str), u64> = TableDefinition::new("links");
/// (property, DOOR unit id) → JSON `DoorUnit`.
pub const DOOR_UNITS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("door_units");
/// (property, JSON `PmsUnitKey`) → DOOR unit id.
pub const MAPPINGS: TableDefinition<(&str, &str), u64> = TableDefinition::new("unit_mappings");
/// property → JSON `Vec<PmsUnitRecord>`: the PMS units of the last sync.
pub const PMS_UNITS: TableDefinition<&str, &[u8]> = TableDefinition::new("pms_units");
/// property → JSON [`crate::Dispositions`]: what the last sync that planned did with
/// each PMS record.
pub const DISPOSITIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("dispositions");
/// (property, alert id) → JSON `Alert`, live alerts (open, acknowledged, dismissed).
pub const ALERTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("alerts");
/// (property, alert id) → JSON `Alert`, resolved alerts.
pub const ALERT_HISTORY: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("alert_history");
/// (property, sequence) → JSON [`crate::SyncRun`].
pub const SYNC_RUNS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("sync_runs");
/// (property, sequence) → JSON `AuditEntry`.
pub const AUDIT: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("audit");
/// (property, account id, audit sequence) → (): the property's audit entries about
/// each account (an index of `AUDIT`, since schema 2).
pub const AUDIT_BY_ACCOUNT: TableDefinition<(&str, u64, u64), ()> =
    TableDefinition::new("audit_by_account");
/// (property, account id, feed sequence) → (): the feed events of each account (an
/// index of `FEED`, since schema 2).
pub const FEED_BY_ACCOUNT: TableDefinition<(&str, u64, u64), ()> =
    TableDefinition::new("feed_by_account");
/// (property, grant id) → JSON `Grant`.
pub const GRANTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("grants");
/// (property, suggestion id) → JSON `Suggestion`, pending ones.
pub const SUGGESTIONS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("suggestions");
/// (property, suggestion id) → JSON [`crate::ClosedSuggestion`].
pub const SUGGESTION_HISTORY: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("suggestion_history");
/// (property, account id) → JSON `AccessMemo`.
pub const MEMOS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("access_memos");
/// Global sequence → JSON [`crate::FeedRecord`]: the access event feed, in commit order.
pub const FEED: TableDefinition<u64, &[u8]> = TableDefinition::new("access_feed");
/// sha-256 (hex) of an API token → JSON [`crate::TokenRecord`]. Tokens are never stored.
pub const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_tokens");
/// Connector versions installed through the API, by hex sha-256: their records…
pub const PLUGINS: TableDefinition<&str, &[u8]> = TableDefinition::new("plugins");
/// …and their bytes (content-addressed: the key is the hash of the value).
pub const PLUGIN_BLOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("plugin_blobs");
/// Per vendor: the active version and the ones before it (for rollback).
pub const PLUGIN_DEFAULTS: TableDefinition<&str, &[u8]> = TableDefinition::new("plugin_defaults");
/// Per property: a version pinned for it (a canary), by hash.
pub const PLUGIN_PINS: TableDefinition<&str, &str> = TableDefinition::new("plugin_pins");
/// Webhook subscriptions by id → JSON [`crate::Subscription`]…
pub const WEBHOOK_SUBSCRIPTIONS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("webhook_subscriptions");
/// …and their signing secrets, sealed.
pub const WEBHOOK_SECRETS: TableDefinition<&str, &str> = TableDefinition::new("webhook_secrets");
/// Global sequence → JSON [`crate::OutboxEvent`]: every notification, in commit order.
pub const WEBHOOK_OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("webhook_outbox");
/// (subscription, attempt number) → JSON [`crate::DeliveryAttempt`].
pub const WEBHOOK_ATTEMPTS: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("webhook_attempts");
