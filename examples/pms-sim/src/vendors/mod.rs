//! One module per vendor wire format.

pub mod acme;

use epms_model::LeaseStatus;

use crate::dataset::SimCredential;

/// The raw status string a vendor uses for a canonical status.
pub fn raw_status(vendor: &str, status: LeaseStatus) -> &'static str {
    match vendor {
        "acme" => acme::raw_status(status),
        _ => "unknown",
    }
}

/// The credential the simulator accepts for a vendor.
pub fn default_credential(vendor: &str) -> SimCredential {
    match vendor {
        "acme" => acme::default_credential(),
        other => SimCredential {
            vendor: other.to_owned(),
            fields: vec![],
        },
    }
}
