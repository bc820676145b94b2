//! The vendor's lease statuses: the one table to edit when the vendor's vocabulary
//! (or what it means) changes. Kept apart from the wire format so that a change of
//! meaning is a change of this file alone, which a dry run can then show.

use epms_connector_sdk::LeaseStatus;
use epms_connector_sdk::status::Vocabulary;

/// Acme's raw statuses and what they mean (docs/rules.md, canonical lease status).
pub const STATUSES: Vocabulary = &[
    ("applicant", LeaseStatus::Applicant),
    ("approved", LeaseStatus::Future),
    ("future", LeaseStatus::Future),
    ("current", LeaseStatus::Current),
    ("notice", LeaseStatus::Notice),
    ("past", LeaseStatus::Past),
    ("cancelled", LeaseStatus::Cancelled),
    ("denied", LeaseStatus::Denied),
];
