//! Contract v1 (`wit/v1`, package `door:connector@1.x`).

use epms_model as model;

wasmtime::component::bindgen!({
    path: "../../wit/v1",
    world: "door:connector/pms-connector",
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
    require_store_data_send: true,
});

pub use door::connector::host::LogLevel;
pub use door::connector::types as wit;
pub use exports::door::connector::connector as api;

impl From<wit::ConfigField> for model::ConfigField {
    fn from(f: wit::ConfigField) -> Self {
        model::ConfigField {
            name: f.name,
            label: f.label,
            description: f.description,
            secret: f.secret,
            required: f.required,
        }
    }
}

/// The model's info for a v1 component; `contract_version` comes from its export name.
pub fn info_into_model(info: wit::ConnectorInfo, contract_version: String) -> model::ConnectorInfo {
    model::ConnectorInfo {
        vendor: info.vendor,
        display_name: info.display_name,
        version: info.version,
        contract_version,
        config_fields: info.config_fields.into_iter().map(Into::into).collect(),
        status_vocabulary: info.status_vocabulary,
    }
}

impl From<wit::PmsProperty> for model::PmsProperty {
    fn from(p: wit::PmsProperty) -> Self {
        model::PmsProperty {
            id: p.id,
            name: p.name,
        }
    }
}

impl From<wit::RecordWarning> for model::RecordWarning {
    fn from(w: wit::RecordWarning) -> Self {
        model::RecordWarning {
            field: w.field,
            message: w.message,
        }
    }
}

fn warnings(ws: Vec<wit::RecordWarning>) -> Vec<model::RecordWarning> {
    ws.into_iter().map(Into::into).collect()
}

impl From<wit::Unit> for model::Unit {
    fn from(u: wit::Unit) -> Self {
        model::Unit {
            id: u.id,
            number: u.number,
            building: u.building,
            floorplan: u.floorplan,
            vacant: u.vacant,
            warnings: warnings(u.warnings),
        }
    }
}

impl From<wit::HouseholdRole> for model::HouseholdRole {
    fn from(r: wit::HouseholdRole) -> Self {
        match r {
            wit::HouseholdRole::Primary => model::HouseholdRole::Primary,
            wit::HouseholdRole::CoResident => model::HouseholdRole::CoResident,
            wit::HouseholdRole::Occupant => model::HouseholdRole::Occupant,
            wit::HouseholdRole::Guarantor => model::HouseholdRole::Guarantor,
            wit::HouseholdRole::Other => model::HouseholdRole::Other,
        }
    }
}

impl From<wit::Resident> for model::Resident {
    fn from(r: wit::Resident) -> Self {
        model::Resident {
            id: r.id,
            lease_id: r.lease_id,
            unit_id: r.unit_id,
            first_name: r.first_name,
            last_name: r.last_name,
            email: r.email,
            phone: r.phone,
            role: r.role.into(),
            warnings: warnings(r.warnings),
        }
    }
}

impl From<wit::LeaseStatus> for model::LeaseStatus {
    fn from(s: wit::LeaseStatus) -> Self {
        match s {
            wit::LeaseStatus::Applicant => model::LeaseStatus::Applicant,
            wit::LeaseStatus::Future => model::LeaseStatus::Future,
            wit::LeaseStatus::Current => model::LeaseStatus::Current,
            wit::LeaseStatus::Notice => model::LeaseStatus::Notice,
            wit::LeaseStatus::Past => model::LeaseStatus::Past,
            wit::LeaseStatus::Cancelled => model::LeaseStatus::Cancelled,
            wit::LeaseStatus::Denied => model::LeaseStatus::Denied,
            wit::LeaseStatus::Other => model::LeaseStatus::Other,
        }
    }
}

impl From<wit::Lease> for model::Lease {
    fn from(l: wit::Lease) -> Self {
        model::Lease {
            id: l.id,
            unit_id: l.unit_id,
            resident_ids: l.resident_ids,
            raw_status: l.raw_status,
            status: l.status.into(),
            start_date: l.start_date,
            end_date: l.end_date,
            move_in_date: l.move_in_date,
            move_out_date: l.move_out_date,
            warnings: warnings(l.warnings),
        }
    }
}

impl From<wit::ConnectorError> for model::ConnectorError {
    fn from(e: wit::ConnectorError) -> Self {
        match e {
            wit::ConnectorError::Auth(message) => model::ConnectorError::Auth { message },
            wit::ConnectorError::Config(message) => model::ConnectorError::Config { message },
            wit::ConnectorError::RateLimited(r) => model::ConnectorError::RateLimited {
                retry_after_seconds: r.retry_after_seconds,
                message: r.message,
            },
            wit::ConnectorError::Transient(message) => model::ConnectorError::Transient { message },
            wit::ConnectorError::Protocol(message) => model::ConnectorError::Protocol { message },
            wit::ConnectorError::NotFound(message) => model::ConnectorError::NotFound { message },
        }
    }
}

/// Turns the settings of a credential into the contract's `config`.
pub fn config(settings: &[(String, String)]) -> Vec<wit::Setting> {
    settings
        .iter()
        .map(|(name, value)| wit::Setting {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}
