//! One module per vendor wire format.

pub mod acme;
pub mod appfolio;
pub mod entrata;
pub mod mri;
pub mod realpage;
pub mod rentmanager;
pub mod soap;
pub mod yardi;

use axum::Router;
use epms_model::LeaseStatus;

use crate::SimState;
use crate::dataset::SimCredential;

/// Bytes reserved for each row of a JSON answer: more than any row takes. Reserving
/// more than is written costs address space, not memory (untouched pages are never
/// faulted in).
const JSON_ROW_BYTES: usize = 1024;

/// A JSON answer of about `rows` rows, serialised into one buffer reserved for them.
/// Grown from a small buffer, a page of thousands of rows was copied a dozen times,
/// each time into freshly faulted memory: the kernel zeroing those pages was a
/// quarter of serving a page (serve bench, Rent Manager).
pub fn json_body(value: &impl serde::Serialize, rows: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(rows.saturating_mul(JSON_ROW_BYTES).saturating_add(1024));
    serde_json::to_writer(&mut body, value).expect("an answer of strings and numbers serialises");
    body
}

/// [`json_body`] as an HTTP answer.
pub fn json_answer(
    status: axum::http::StatusCode,
    value: &impl serde::Serialize,
    rows: usize,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        json_body(value, rows),
    )
        .into_response()
}

/// Every vendor API, each behind the fault middleware.
pub fn routers(state: &SimState) -> Vec<(&'static str, Router)> {
    let guarded = |vendor: &'static str, router: Router| {
        router.layer(axum::middleware::from_fn_with_state(
            (state.clone(), vendor),
            crate::faults::inject,
        ))
    };
    vec![
        ("acme", guarded("acme", acme::router(state.clone()))),
        (
            "appfolio",
            guarded("appfolio", appfolio::router(state.clone())),
        ),
        (
            "entrata",
            guarded("entrata", entrata::router(state.clone())),
        ),
        ("mri", guarded("mri", mri::router(state.clone()))),
        (
            "realpage",
            guarded("realpage", realpage::router(state.clone())),
        ),
        (
            "rentmanager",
            guarded("rentmanager", rentmanager::router(state.clone())),
        ),
        ("yardi", guarded("yardi", yardi::router(state.clone()))),
    ]
}

/// An ISO date as `MM/DD/YYYY` (empty when absent), as the US vendors write dates;
/// written where it is used (an XML element, a JSON string), never held as a string.
pub fn us_date(iso: Option<&str>) -> UsDate<'_> {
    UsDate(iso)
}

#[derive(Debug, Clone, Copy)]
pub struct UsDate<'a>(Option<&'a str>);

impl std::fmt::Display for UsDate<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts = self.0.and_then(|iso| {
            let (y, rest) = iso.split_once('-')?;
            let (m, d) = rest.split_once('-')?;
            (!d.contains('-')).then_some((y, m, d))
        });
        match parts {
            Some((y, m, d)) => write!(f, "{m}/{d}/{y}"),
            None => Ok(()),
        }
    }
}

impl serde::Serialize for UsDate<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The raw status string a vendor uses for a canonical status.
pub fn raw_status(vendor: &str, status: LeaseStatus) -> &'static str {
    match vendor {
        "acme" => acme::raw_status(status),
        "entrata" => entrata::raw_status(status),
        "appfolio" => appfolio::raw_status(status),
        "mri" => mri::raw_status(status),
        "realpage" => realpage::raw_status(status),
        "rentmanager" => rentmanager::raw_status(status),
        "yardi" => yardi::raw_status(status),
        _ => "unknown",
    }
}

/// The credential the simulator accepts for a vendor.
pub fn default_credential(vendor: &str) -> SimCredential {
    match vendor {
        "acme" => acme::default_credential(),
        "entrata" => entrata::default_credential(),
        "appfolio" => appfolio::default_credential(),
        "mri" => mri::default_credential(),
        "realpage" => realpage::default_credential(),
        "rentmanager" => rentmanager::default_credential(),
        "yardi" => yardi::default_credential(),
        other => SimCredential {
            vendor: other.to_owned(),
            fields: vec![],
        },
    }
}

/// Whether a vendor's API carries leases of this status at all; the dataset keeps
/// only what the vendor can serve, so that it is what the connector must return.
pub fn serves(vendor: &str, status: LeaseStatus) -> bool {
    match vendor {
        "appfolio" => appfolio::serves(status),
        "mri" => mri::serves(status),
        "rentmanager" => rentmanager::serves(status),
        _ => true,
    }
}

/// An id as the vendors that number their records send it: a JSON number when it is
/// one (the dataset numbers those vendors' ids), else a string.
#[derive(Debug, Clone, Copy)]
pub struct WireId<'a>(pub &'a str);

impl serde::Serialize for WireId<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.parse::<u64>() {
            Ok(n) if !self.0.starts_with('0') || self.0 == "0" => serializer.serialize_u64(n),
            _ => serializer.serialize_str(self.0),
        }
    }
}

/// An optional value as a JSON array of none or one (how the vendors list a phone).
pub fn zero_or_one<T: serde::Serialize, S: serde::Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(value.iter())
}
