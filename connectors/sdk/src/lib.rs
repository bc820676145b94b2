//! The guest SDK for PMS connectors.
//!
//! A connector is a crate that implements [`Connector`] for a type and calls
//! [`export_connector!`] once; `cargo build --target wasm32-wasip2` then makes a
//! component the host loads. Everything else a vendor mapping needs is here:
//!
//! - [`http`]: a blocking HTTP client over `wasi:http`, and vendor-neutral mapping of
//!   HTTP failures to [`ConnectorError`];
//! - [`secret`]: placeholders for secrets the host substitutes on the way out;
//! - [`xml`] and [`soap`]: a small namespace-blind element tree and SOAP 1.1 envelopes;
//! - [`json`]: lenient field readers (string-or-number ids, blank-as-missing);
//! - [`dates`]: the vendors' date formats to ISO-8601;
//! - [`paging`]: cursors for page numbers and offsets, and "until a short page";
//! - [`auth`]: session-token sign-in (one per session, again once after a 401);
//! - [`session`]: state kept for the whole session;
//! - [`status`]: raw status vocabularies to the canonical [`LeaseStatus`];
//! - [`record`]: one bad field becomes a warning, not a lost record;
//! - [`log`]: lines into the host's log.
//!
//! Mapping code builds natively too, so it is unit-tested without Wasm; only the
//! HTTP calls need the host.

pub mod auth;
pub mod dates;
pub mod http;
pub mod json;
pub mod log;
pub mod paging;
pub mod record;
#[cfg(not(target_family = "wasm"))]
pub mod recordings;
pub mod secret;
pub mod session;
pub mod soap;
pub mod status;
pub mod xml;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/v1",
        world: "door:connector/pms-connector",
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_pms_connector",
        default_bindings_module: "epms_connector_sdk::bindings",
    });
}

pub use bindings::door::connector::types::{
    ConfigField, ConnectorError, ConnectorInfo, HouseholdRole, Lease, LeasePage, LeaseStatus,
    PmsProperty, RateLimit, RecordWarning, Resident, ResidentPage, Setting, Unit, UnitPage,
};

/// The non-secret settings of one credential, with lookups.
#[derive(Debug, Clone, Default)]
pub struct Config {
    settings: Vec<Setting>,
}

impl Config {
    pub fn new(settings: Vec<Setting>) -> Self {
        Config { settings }
    }

    /// The value of a setting, if present and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.value.trim())
            .filter(|v| !v.is_empty())
    }

    /// The value of a setting the connector cannot work without.
    pub fn require(&self, name: &str) -> Result<&str, ConnectorError> {
        self.get(name)
            .ok_or_else(|| ConnectorError::Config(format!("missing setting {name:?}")))
    }

    /// An optional whole-number setting within `range`, or `default` when absent.
    pub fn number(
        &self,
        name: &str,
        default: usize,
        range: std::ops::RangeInclusive<usize>,
    ) -> Result<usize, ConnectorError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().ok().filter(|n| range.contains(n)).ok_or_else(|| {
                ConnectorError::Config(format!(
                    "setting {name:?} = {v:?} is not a number from {} to {}",
                    range.start(),
                    range.end()
                ))
            }),
        }
    }

    /// An optional comma-separated setting, each item trimmed and lower-cased (vendor
    /// vocabularies a database may rename), or `default` (written the same way).
    pub fn list(&self, name: &str, default: &str) -> Vec<String> {
        self.get(name)
            .unwrap_or(default)
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// The credential's base URL without a trailing slash.
    pub fn base_url(&self) -> Result<&str, ConnectorError> {
        Ok(self.require("base-url")?.trim_end_matches('/'))
    }
}

/// A PMS connector. Only [`Connector::info`] and [`Connector::new`] are required;
/// every read defaults to a clear "not supported" configuration error, and
/// [`Connector::check`] defaults to listing properties.
///
/// One sync runs in one instance, and the host calls the connector once per page.
/// The value [`Connector::new`] returns is kept for the whole session and reused by
/// every later call with the same settings, so state worth keeping between calls (a
/// session token, a whole-property answer) lives in the connector's own fields, behind
/// a `RefCell` (see [`session::Memo`]). Settings that differ make a new value.
pub trait Connector: Sized {
    /// What this connector is. Must not do I/O.
    fn info() -> ConnectorInfo;

    /// Reads the settings; fails with `ConnectorError::Config` when one is missing or malformed.
    fn new(config: Config) -> Result<Self, ConnectorError>;

    /// One cheap authenticated call.
    fn check(&self) -> Result<(), ConnectorError> {
        self.list_properties().map(drop)
    }

    fn list_properties(&self) -> Result<Vec<PmsProperty>, ConnectorError> {
        Err(unsupported("listing properties"))
    }

    fn read_units(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<UnitPage, ConnectorError> {
        let _ = (property, cursor);
        Err(unsupported("reading units"))
    }

    fn read_residents(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<ResidentPage, ConnectorError> {
        let _ = (property, cursor);
        Err(unsupported("reading residents"))
    }

    fn read_leases(
        &self,
        property: &str,
        cursor: Option<String>,
    ) -> Result<LeasePage, ConnectorError> {
        let _ = (property, cursor);
        Err(unsupported("reading leases"))
    }
}

fn unsupported(what: &str) -> ConnectorError {
    ConnectorError::Config(format!("this connector does not support {what}"))
}

/// Glue between the generated export trait and [`Connector`]; used by
/// [`export_connector!`].
#[doc(hidden)]
pub mod adapter {
    use super::*;
    use std::rc::Rc;

    /// The session's connector: made by [`Connector::new`] on the first call, kept
    /// while the settings stay the same.
    pub struct Instance<C> {
        settings: Vec<(String, String)>,
        connector: Rc<C>,
    }

    pub fn with<C: Connector, T>(
        slot: &std::cell::RefCell<Option<Instance<C>>>,
        config: Vec<Setting>,
        f: impl FnOnce(&C) -> Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        let settings: Vec<(String, String)> = config
            .iter()
            .map(|s| (s.name.clone(), s.value.clone()))
            .collect();
        let reuse = slot
            .borrow()
            .as_ref()
            .filter(|i| i.settings == settings)
            .map(|i| i.connector.clone());
        let connector = match reuse {
            Some(c) => c,
            None => {
                let c = Rc::new(C::new(Config::new(config))?);
                *slot.borrow_mut() = Some(Instance {
                    settings,
                    connector: c.clone(),
                });
                c
            }
        };
        f(&connector)
    }
}

/// Makes a [`Connector`] the component's export. Call it once, at the crate root.
///
/// ```ignore
/// struct Acme;
/// impl epms_connector_sdk::Connector for Acme { /* … */ }
/// epms_connector_sdk::export_connector!(Acme);
/// ```
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        #[doc(hidden)]
        pub struct __EpmsConnectorExport;

        ::std::thread_local! {
            static __EPMS_INSTANCE: ::std::cell::RefCell<::std::option::Option<$crate::adapter::Instance<$connector>>> =
                const { ::std::cell::RefCell::new(::std::option::Option::None) };
        }

        impl $crate::bindings::exports::door::connector::connector::Guest for __EpmsConnectorExport {
            fn info() -> $crate::ConnectorInfo {
                <$connector as $crate::Connector>::info()
            }
            fn check(config: ::std::vec::Vec<$crate::Setting>) -> ::std::result::Result<(), $crate::ConnectorError> {
                __EPMS_INSTANCE.with(|slot| $crate::adapter::with::<$connector, _>(slot, config, |c| $crate::Connector::check(c)))
            }
            fn list_properties(
                config: ::std::vec::Vec<$crate::Setting>,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::PmsProperty>, $crate::ConnectorError> {
                __EPMS_INSTANCE.with(|slot| $crate::adapter::with::<$connector, _>(slot, config, |c| $crate::Connector::list_properties(c)))
            }
            fn read_units(
                config: ::std::vec::Vec<$crate::Setting>,
                property_id: ::std::string::String,
                cursor: ::std::option::Option<::std::string::String>,
            ) -> ::std::result::Result<$crate::UnitPage, $crate::ConnectorError> {
                __EPMS_INSTANCE.with(|slot| $crate::adapter::with::<$connector, _>(slot, config, |c| $crate::Connector::read_units(c, &property_id, cursor)))
            }
            fn read_residents(
                config: ::std::vec::Vec<$crate::Setting>,
                property_id: ::std::string::String,
                cursor: ::std::option::Option<::std::string::String>,
            ) -> ::std::result::Result<$crate::ResidentPage, $crate::ConnectorError> {
                __EPMS_INSTANCE.with(|slot| $crate::adapter::with::<$connector, _>(slot, config, |c| $crate::Connector::read_residents(c, &property_id, cursor)))
            }
            fn read_leases(
                config: ::std::vec::Vec<$crate::Setting>,
                property_id: ::std::string::String,
                cursor: ::std::option::Option<::std::string::String>,
            ) -> ::std::result::Result<$crate::LeasePage, $crate::ConnectorError> {
                __EPMS_INSTANCE.with(|slot| $crate::adapter::with::<$connector, _>(slot, config, |c| $crate::Connector::read_leases(c, &property_id, cursor)))
            }
        }

        $crate::bindings::__export_pms_connector!(__EpmsConnectorExport with_types_in $crate::bindings);
    };
}

/// A config field for [`ConnectorInfo::config_fields`].
pub fn field(
    name: &str,
    label: &str,
    description: &str,
    secret: bool,
    required: bool,
) -> ConfigField {
    ConfigField {
        name: name.to_owned(),
        label: label.to_owned(),
        description: description.to_owned(),
        secret,
        required,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lookups_trim_and_treat_blank_as_missing() {
        let c = Config::new(vec![
            Setting {
                name: "base-url".into(),
                value: " https://pms.test/ ".into(),
            },
            Setting {
                name: "database".into(),
                value: "  ".into(),
            },
        ]);
        assert_eq!(c.base_url().unwrap(), "https://pms.test");
        assert_eq!(c.get("database"), None);
        assert!(
            matches!(c.require("database"), Err(ConnectorError::Config(m)) if m.contains("database"))
        );
    }

    #[test]
    fn numbers_and_lists_have_defaults_and_bad_numbers_are_config_errors() {
        let setting = |name: &str, value: &str| Setting {
            name: name.into(),
            value: value.into(),
        };
        let c = Config::new(vec![
            setting("page-size", "250"),
            setting("too-big", "0"),
            setting("types", " Co-Signer , ,Kid"),
        ]);
        assert_eq!(c.number("page-size", 1000, 1..=10_000).unwrap(), 250);
        assert_eq!(c.number("absent", 1000, 1..=10_000).unwrap(), 1000);
        assert!(matches!(
            c.number("too-big", 1000, 1..=10_000),
            Err(ConnectorError::Config(m)) if m.contains("too-big")
        ));
        assert_eq!(c.list("types", "x"), ["co-signer", "kid"]);
        assert_eq!(c.list("absent", "Guarantor"), ["guarantor"]);
    }
}
