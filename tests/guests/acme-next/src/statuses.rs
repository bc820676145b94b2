//! Acme's statuses as version 0.2.0 reads them: "notice" taken for a lease that has
//! ended (a deliberate change of meaning; the template reads it as on notice).

use epms_connector_sdk::LeaseStatus;
use epms_connector_sdk::status::Vocabulary;

pub const STATUSES: Vocabulary = &[
    ("applicant", LeaseStatus::Applicant),
    ("approved", LeaseStatus::Future),
    ("future", LeaseStatus::Future),
    ("current", LeaseStatus::Current),
    ("notice", LeaseStatus::Past),
    ("past", LeaseStatus::Past),
    ("cancelled", LeaseStatus::Cancelled),
    ("denied", LeaseStatus::Denied),
];
