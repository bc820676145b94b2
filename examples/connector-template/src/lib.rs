//! A template connector for a made-up vendor, "Acme PMS", whose API is plain JSON:
//!
//! | call | answer |
//! |---|---|
//! | `GET {base}/api/properties` | `{"properties":[{"id","name"}]}` |
//! | `GET {base}/api/properties/{id}/units?page=N` | `{"units":[{"id","number","building"}],"next_page":N\|null}` |
//! | `GET {base}/api/properties/{id}/residents?page=N` | `{"residents":[{"id","lease_id","unit_id","first_name","last_name","email","phone","role"}],"next_page"}` |
//! | `GET {base}/api/properties/{id}/leases?page=N` | `{"leases":[{"id","unit_id","resident_ids","status","start_date","end_date","move_in","move_out"}],"next_page"}` |
//!
//! Auth is `Authorization: Bearer <api-token>`; errors are plain HTTP statuses.
//! Replace the wire format with your vendor's and keep the shape: `statuses.rs` holds
//! the vendor's status vocabulary, `connector.rs` pure `parse_*` functions (unit-tested
//! natively) and a thin `Connector` impl that calls HTTP.

pub mod connector;
pub mod statuses;

pub use connector::Acme;
pub use statuses::STATUSES;
