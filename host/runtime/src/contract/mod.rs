//! The connector contract versions this host speaks. One module per major: each
//! generates its bindings from its frozen `wit/vN` folder and converts its types into
//! `epms_model`'s, so the rest of the host never sees a contract version.

pub mod v1;

/// The interface every connector exports, without its version.
pub const CONNECTOR_EXPORT: &str = "door:connector/connector";

/// The contract version a component's export name carries, e.g.
/// `door:connector/connector@1.0.0` → `Some("1.0.0")`.
pub fn export_version(export_name: &str) -> Option<&str> {
    export_name
        .strip_prefix(CONNECTOR_EXPORT)?
        .strip_prefix('@')
}

/// The major of a semantic version string.
pub fn major(version: &str) -> Option<u64> {
    version.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_export_names() {
        assert_eq!(
            export_version("door:connector/connector@1.0.0"),
            Some("1.0.0")
        );
        assert_eq!(
            export_version("door:connector/connector@0.9.1"),
            Some("0.9.1")
        );
        assert_eq!(export_version("door:connector/connector"), None);
        assert_eq!(export_version("wasi:http/incoming-handler@0.2.0"), None);
        assert_eq!(major("1.2.3"), Some(1));
        assert_eq!(major("x"), None);
    }
}
