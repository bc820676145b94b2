//! The real vendor answers kept in this repository (`tests/fixtures/real/<vendor>/`,
//! provenance in its README), for connectors' native unit tests. Not in components.

use std::path::PathBuf;

/// Where the recordings of `vendor` are.
pub fn dir(vendor: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/real")
        .join(vendor)
}

/// The text of one recording; a missing one fails the test that asked for it.
pub fn read(vendor: &str, name: &str) -> String {
    let path = dir(vendor).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("recording {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_vendor_folder_is_there() {
        for vendor in [
            "yardi",
            "realpage",
            "entrata",
            "mri",
            "appfolio",
            "rentmanager",
        ] {
            assert!(super::dir(vendor).is_dir(), "{vendor}");
        }
        assert!(super::read("mri", "nextLink.cursor.json").contains("_next="));
    }
}
