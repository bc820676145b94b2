//! A credential as the runtime needs it: the non-secret settings the connector sees,
//! and the secrets only the outbound gate sees.

use std::collections::BTreeMap;

use epms_model::ConnectorInfo;

use crate::secrets::Secrets;

/// The field every connector must declare: its hosts are the only ones it may reach.
pub const BASE_URL_FIELD: &str = "base-url";

#[derive(Debug, Clone)]
pub struct Credential {
    settings: Vec<(String, String)>,
    secrets: Secrets,
    base_url: String,
}

/// A credential that does not fit the connector's declared fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("missing required field {0:?}")]
    Missing(String),
    #[error("unknown field {field:?}; this connector's fields are: {known}")]
    Unknown { field: String, known: String },
}

impl Credential {
    /// Splits `fields` by what the connector declares: secret fields go to the gate
    /// only, the others are passed to the connector.
    pub fn from_fields(
        info: &ConnectorInfo,
        fields: BTreeMap<String, String>,
    ) -> Result<Credential, CredentialError> {
        let mut settings = Vec::new();
        let mut secrets = Vec::new();
        for (name, value) in fields {
            let Some(field) = info.config_fields.iter().find(|f| f.name == name) else {
                return Err(CredentialError::Unknown {
                    field: name,
                    known: info
                        .config_fields
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            };
            if field.secret {
                secrets.push((name, value));
            } else {
                settings.push((name, value));
            }
        }
        for field in info.config_fields.iter().filter(|f| f.required) {
            let present = settings
                .iter()
                .any(|(n, v)| *n == field.name && !v.is_empty())
                || secrets
                    .iter()
                    .any(|(n, v)| *n == field.name && !v.is_empty());
            if !present {
                return Err(CredentialError::Missing(field.name.clone()));
            }
        }
        let base_url = settings
            .iter()
            .find(|(n, _)| n == BASE_URL_FIELD)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| CredentialError::Missing(BASE_URL_FIELD.to_owned()))?;
        Ok(Credential {
            settings,
            secrets: Secrets::new(secrets),
            base_url,
        })
    }

    pub fn settings(&self) -> &[(String, String)] {
        &self.settings
    }

    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use epms_model::ConfigField;

    fn info() -> ConnectorInfo {
        let field = |name: &str, secret: bool, required: bool| ConfigField {
            name: name.into(),
            label: name.into(),
            description: String::new(),
            secret,
            required,
        };
        ConnectorInfo {
            vendor: "test".into(),
            display_name: "Test".into(),
            version: "1.0.0".into(),
            contract_version: "1.0.0".into(),
            config_fields: vec![
                field("base-url", false, true),
                field("username", false, true),
                field("password", true, true),
                field("database", false, false),
            ],
            status_vocabulary: vec![],
        }
    }

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn secret_fields_never_reach_the_settings() {
        let c = Credential::from_fields(
            &info(),
            fields(&[
                ("base-url", "https://pms.test"),
                ("username", "u"),
                ("password", "hunter2"),
            ]),
        )
        .unwrap();
        assert!(
            c.settings()
                .iter()
                .all(|(n, v)| n != "password" && v != "hunter2")
        );
        assert_eq!(c.base_url(), "https://pms.test");
        assert!(!c.secrets().is_empty());
    }

    #[test]
    fn missing_and_unknown_fields_are_refused() {
        assert_eq!(
            Credential::from_fields(&info(), fields(&[("base-url", "x"), ("username", "u")]))
                .unwrap_err(),
            CredentialError::Missing("password".into())
        );
        assert!(matches!(
            Credential::from_fields(
                &info(),
                fields(&[
                    ("base-url", "x"),
                    ("username", "u"),
                    ("password", "p"),
                    ("pasword", "typo")
                ])
            ),
            Err(CredentialError::Unknown { .. })
        ));
    }
}
