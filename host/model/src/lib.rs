//! PMS records as the host sees them.
//!
//! Every contract version a connector may be built against converts into these
//! types, so the engine, the store and the simulator's ground truth speak one
//! language. They mirror `wit/v1/connector.wit`; its comments are the field docs.

use serde::{Deserialize, Serialize};

/// The contract majors this host can load, newest last.
pub const SUPPORTED_CONTRACT_MAJORS: &[u64] = &[1];

/// A configuration field a connector asks for.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigField {
    pub name: String,
    pub label: String,
    pub description: String,
    pub secret: bool,
    pub required: bool,
}

/// What a connector says it is.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    pub vendor: String,
    pub display_name: String,
    pub version: String,
    /// The contract version the component was built against (read from its exports).
    pub contract_version: String,
    pub config_fields: Vec<ConfigField>,
    pub status_vocabulary: Vec<String>,
}

impl ConnectorInfo {
    /// The fields whose values are secret.
    pub fn secret_fields(&self) -> impl Iterator<Item = &ConfigField> {
        self.config_fields.iter().filter(|f| f.secret)
    }

    /// Splits credential fields into (settings, secrets) by the declared fields: what
    /// the store keeps in the clear and what it seals.
    pub fn split_secrets(
        &self,
        fields: std::collections::BTreeMap<String, String>,
    ) -> (
        std::collections::BTreeMap<String, String>,
        std::collections::BTreeMap<String, String>,
    ) {
        fields
            .into_iter()
            .partition(|(k, _)| !self.secret_fields().any(|f| &f.name == k))
    }
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PmsProperty {
    pub id: String,
    pub name: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordWarning {
    pub field: String,
    pub message: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub id: String,
    pub number: String,
    pub building: Option<String>,
    pub floorplan: Option<String>,
    pub vacant: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<RecordWarning>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HouseholdRole {
    Primary,
    CoResident,
    Occupant,
    Guarantor,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resident {
    pub id: String,
    pub lease_id: Option<String>,
    pub unit_id: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub role: HouseholdRole,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<RecordWarning>,
}

/// The canonical lease status (docs/rules.md, "Canonical lease status").
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaseStatus {
    Applicant,
    Future,
    Current,
    Notice,
    Past,
    Cancelled,
    Denied,
    Other,
}

/// The DOOR resident status a canonical lease status syncs as.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DoorStatus {
    Future,
    Current,
    Past,
}

impl LeaseStatus {
    /// `None` for statuses that are never synced (applicant, cancelled, denied, other).
    pub fn door_status(self) -> Option<DoorStatus> {
        match self {
            LeaseStatus::Future => Some(DoorStatus::Future),
            LeaseStatus::Current | LeaseStatus::Notice => Some(DoorStatus::Current),
            LeaseStatus::Past => Some(DoorStatus::Past),
            LeaseStatus::Applicant
            | LeaseStatus::Cancelled
            | LeaseStatus::Denied
            | LeaseStatus::Other => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub id: String,
    pub unit_id: Option<String>,
    pub resident_ids: Vec<String>,
    pub raw_status: String,
    pub status: LeaseStatus,
    /// ISO-8601 dates (`YYYY-MM-DD`).
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub move_in_date: Option<String>,
    pub move_out_date: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<RecordWarning>,
}

/// One page of records and where to continue, if anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub records: Vec<T>,
    pub next: Option<String>,
}

/// Which kind of record a read is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordKind {
    Units,
    Residents,
    Leases,
}

impl std::str::FromStr for RecordKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "units" => Ok(RecordKind::Units),
            "residents" => Ok(RecordKind::Residents),
            "leases" => Ok(RecordKind::Leases),
            other => Err(format!(
                "unknown record kind {other:?}: expected units, residents or leases"
            )),
        }
    }
}

/// A typed error a connector returned: the PMS (or its configuration) is at fault,
/// not the connector's code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ConnectorError {
    #[error("authentication failed: {message}")]
    Auth { message: String },
    #[error("configuration error: {message}")]
    Config { message: String },
    #[error("rate limited{}: {message}", retry_after_seconds.map(|s| format!(" (retry after {s} s)")).unwrap_or_default())]
    RateLimited {
        retry_after_seconds: Option<u32>,
        message: String,
    },
    #[error("transient failure: {message}")]
    Transient { message: String },
    #[error("protocol error: {message}")]
    Protocol { message: String },
    #[error("not found: {message}")]
    NotFound { message: String },
}

impl ConnectorError {
    /// The connector's own words, whatever the kind.
    pub fn message_mut(&mut self) -> &mut String {
        match self {
            ConnectorError::Auth { message }
            | ConnectorError::Config { message }
            | ConnectorError::RateLimited { message, .. }
            | ConnectorError::Transient { message }
            | ConnectorError::Protocol { message }
            | ConnectorError::NotFound { message } => message,
        }
    }

    /// Whether the same call may succeed later without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ConnectorError::RateLimited { .. } | ConnectorError::Transient { .. }
        )
    }

    /// A stable machine code, e.g. for API problem types and metrics labels.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectorError::Auth { .. } => "auth",
            ConnectorError::Config { .. } => "config",
            ConnectorError::RateLimited { .. } => "rate-limited",
            ConnectorError::Transient { .. } => "transient",
            ConnectorError::Protocol { .. } => "protocol",
            ConnectorError::NotFound { .. } => "not-found",
        }
    }
}

/// A `u64` that may pass 2^53 (a hash) written as a decimal string, so that a
/// JavaScript client reads it exactly: `#[serde(with = "epms_model::u64_text")]`.
/// Reading accepts a number too (what was stored before).
pub mod u64_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(u64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Number(n) => Ok(n),
            Either::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }

    /// The same for an optional value.
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(value: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
            match value {
                Some(v) => s.collect_str(v),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
            #[derive(Deserialize)]
            struct Wrapped(#[serde(with = "super")] u64);
            Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_fields_split_by_the_declared_secret_flag() {
        let field = |name: &str, secret| ConfigField {
            name: name.into(),
            label: name.into(),
            description: String::new(),
            secret,
            required: true,
        };
        let info = ConnectorInfo {
            vendor: "v".into(),
            display_name: "V".into(),
            version: "1".into(),
            contract_version: "1.0.0".into(),
            config_fields: vec![field("base-url", false), field("password", true)],
            status_vocabulary: Vec::new(),
        };
        let fields = [("base-url", "http://x"), ("password", "p"), ("extra", "e")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        let (settings, secrets) = info.split_secrets(fields);
        assert_eq!(settings.keys().collect::<Vec<_>>(), ["base-url", "extra"]);
        assert_eq!(secrets.keys().collect::<Vec<_>>(), ["password"]);
    }

    #[test]
    fn door_status_follows_the_domain_table() {
        assert_eq!(LeaseStatus::Notice.door_status(), Some(DoorStatus::Current));
        assert_eq!(LeaseStatus::Future.door_status(), Some(DoorStatus::Future));
        assert_eq!(LeaseStatus::Past.door_status(), Some(DoorStatus::Past));
        for never in [
            LeaseStatus::Applicant,
            LeaseStatus::Cancelled,
            LeaseStatus::Denied,
            LeaseStatus::Other,
        ] {
            assert_eq!(never.door_status(), None, "{never:?}");
        }
    }

    #[test]
    fn connector_error_serializes_with_a_kind_tag() {
        let e = ConnectorError::RateLimited {
            retry_after_seconds: Some(7),
            message: "slow down".into(),
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["kind"], "rate-limited");
        assert_eq!(json["retry_after_seconds"], 7);
        assert_eq!(e.to_string(), "rate limited (retry after 7 s): slow down");
        assert!(e.is_retryable());
    }

    #[test]
    fn record_kind_parses_cli_words() {
        assert_eq!("leases".parse::<RecordKind>(), Ok(RecordKind::Leases));
        assert!("tenants".parse::<RecordKind>().is_err());
    }

    #[test]
    fn a_hash_past_2_pow_53_is_written_as_text_and_read_either_way() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Hashed {
            #[serde(with = "crate::u64_text")]
            fingerprint: u64,
            #[serde(with = "crate::u64_text::option", default)]
            maybe: Option<u64>,
        }
        let h = Hashed {
            fingerprint: u64::MAX - 1,
            maybe: Some(9_007_199_254_740_993),
        };
        let text = serde_json::to_string(&h).unwrap();
        assert_eq!(
            text,
            r#"{"fingerprint":"18446744073709551614","maybe":"9007199254740993"}"#
        );
        assert_eq!(serde_json::from_str::<Hashed>(&text).unwrap(), h);
        let stored_before = r#"{"fingerprint":18446744073709551614,"maybe":null}"#;
        assert_eq!(
            serde_json::from_str::<Hashed>(stored_before).unwrap(),
            Hashed {
                fingerprint: u64::MAX - 1,
                maybe: None
            }
        );
    }
}
