//! DOOR units (one, or a CSV file) and the PMS-unit → DOOR-unit mapping (one, bulk,
//! unmap).

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{delete, get, post, put};
use epms_engine::PmsUnitKey;
use epms_engine::units_csv::{self, NewDoorUnit};
use serde::{Deserialize, Serialize};

use super::{actor, mutate, named_in_body, unit_error};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::framework::{
    Access, ApiBytes, ApiJson, ApiPath, ApiQuery, ApiResult, Endpoint, created, endpoint,
    page_limit, reply,
};
use crate::{AppState, CSV_BODY_LIMIT};

pub(super) fn endpoints() -> Vec<Endpoint> {
    use Access::*;
    let mut list = vec![
        endpoint(
            "post",
            "/api/v1/properties/{id}/door-units",
            "Create one DOOR unit",
            Property,
            post(create_door_unit),
        )
        .json_body::<NewDoorUnit>()
        .creates::<CreatedUnits>(),
        endpoint(
            "get",
            "/api/v1/properties/{id}/door-units",
            "DOOR units, a page at a time, each with the PMS units mapped to it",
            Property,
            get(door_units),
        )
        .query::<UnitWindow>()
        .returns::<DoorUnits>(),
        endpoint(
            "get",
            "/api/v1/properties/{id}/pms-units",
            "PMS units with their mapping state",
            Property,
            get(pms_units),
        )
        .returns::<PmsUnits>(),
        endpoint(
            "put",
            "/api/v1/properties/{id}/pms-units/{pms}/{unit}/mapping",
            "Map a PMS unit to a DOOR unit",
            Property,
            put(map_unit),
        )
        .json_body::<MapBody>()
        .returns::<Mapped>(),
        endpoint(
            "post",
            "/api/v1/properties/{id}/mappings",
            "Map many PMS units at once (all or none)",
            Property,
            post(map_units),
        )
        .json_body::<BulkMapBody>()
        .returns::<BulkMapped>(),
        endpoint(
            "delete",
            "/api/v1/properties/{id}/pms-units/{pms}/{unit}/mapping",
            "Unmap a PMS unit (assignments kept)",
            Property,
            delete(unmap_unit),
        )
        .returns::<Mapped>(),
    ];
    let mut csv = endpoint(
        "post",
        "/api/v1/properties/{id}/door-units/csv",
        "Create DOOR units from a CSV file, all rows or none: a header row with `name` (1 to 100 characters, unique) and optionally `building`, any order and case, then one unit per row (at most 10,000)",
        Property,
        post(door_units_csv).layer(DefaultBodyLimit::max(CSV_BODY_LIMIT)),
    );
    csv.body = Some("text/csv");
    list.push(csv.creates::<CreatedUnits>());
    list
}

/// DOOR units made.
#[derive(Serialize, schemars::JsonSchema)]
struct CreatedUnits {
    created: usize,
    door_units: Vec<epms_engine::DoorUnit>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct PmsUnitView<'a> {
    pms_property: &'a str,
    unit: &'a epms_model::Unit,
    /// The DOOR unit it is mapped to.
    mapped_to: Option<u64>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct PmsUnits<'a> {
    units: Vec<PmsUnitView<'a>>,
    unmapped: usize,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Mapped {
    mapped: bool,
}

#[derive(Serialize, schemars::JsonSchema)]
struct BulkMapped {
    mapped: usize,
    unchanged: usize,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct UnitWindow {
    /// Units to skip (default 0).
    offset: Option<usize>,
    /// Units in the page (default 500).
    #[schemars(range(min = 1, max = 5000))]
    limit: Option<usize>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct MappedFrom<'a> {
    pms_property: &'a str,
    unit: &'a str,
}

#[derive(Serialize, schemars::JsonSchema)]
struct DoorUnitView<'a> {
    #[serde(flatten)]
    unit: &'a epms_engine::DoorUnit,
    /// The PMS units mapped to it.
    mapped_from: Vec<MappedFrom<'a>>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct DoorUnits<'a> {
    door_units: Vec<DoorUnitView<'a>>,
    total: usize,
    next_offset: Option<usize>,
}

/// DOOR units in id order, a page at a time (default 500, at most 5,000).
async fn door_units(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(w): ApiQuery<UnitWindow>,
) -> ApiResult {
    let limit = page_limit(w.limit, 500, 5_000)?;
    let offset = w.offset.unwrap_or(0);
    let door = state.store.state(&id)?;
    let mut mapped: std::collections::HashMap<u64, Vec<MappedFrom>> =
        std::collections::HashMap::new();
    for (key, unit) in &door.mappings {
        mapped.entry(*unit).or_default().push(MappedFrom {
            pms_property: &key.property,
            unit: &key.unit,
        });
    }
    let door_units: Vec<DoorUnitView> = door
        .door_units
        .values()
        .skip(offset)
        .take(limit)
        .map(|unit| DoorUnitView {
            mapped_from: mapped.remove(&unit.id).unwrap_or_default(),
            unit,
        })
        .collect();
    let next = offset + door_units.len();
    let total = door.door_units.len();
    reply(DoorUnits {
        door_units,
        total,
        next_offset: (next < total).then_some(next),
    })
}

async fn create_door_unit(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NewDoorUnit>,
) -> ApiResult {
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        units_csv::plan_create_units(door, std::slice::from_ref(&body), &actor(&caller), now)
            .map_err(unit_error)
    })?;
    created(CreatedUnits {
        created: plan.door_units_created.len(),
        door_units: plan.door_units_created,
    })
}

async fn door_units_csv(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiBytes(body): ApiBytes,
) -> ApiResult {
    let body = std::str::from_utf8(&body)
        .map_err(|e| ApiError::invalid("body", format!("the file is not UTF-8 text: {e}")))?;
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        let units = units_csv::parse_csv(body, door).map_err(unit_error)?;
        units_csv::plan_create_units(door, &units, &actor(&caller), now).map_err(unit_error)
    })?;
    created(CreatedUnits {
        created: plan.door_units_created.len(),
        door_units: plan.door_units_created,
    })
}

async fn pms_units(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let door = state.store.state(&id)?;
    let units: Vec<PmsUnitView> = door
        .pms_units
        .iter()
        .map(|u| PmsUnitView {
            pms_property: &u.key.property,
            unit: &u.unit,
            mapped_to: door.mappings.get(&u.key).copied(),
        })
        .collect();
    let unmapped = units.iter().filter(|u| u.mapped_to.is_none()).count();
    reply(PmsUnits { units, unmapped })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(example = serde_json::json!({"door_unit": 1}))]
struct MapBody {
    door_unit: u64,
}

async fn map_unit(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, pms, unit)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<MapBody>,
) -> ApiResult {
    let now = state.now();
    let key = PmsUnitKey {
        property: pms,
        unit,
    };
    let plan = mutate(&state, &id, |door| {
        units_csv::plan_map_unit(door, &key, body.door_unit, &actor(&caller), now)
            .map_err(unit_error)
    })?;
    reply(Mapped {
        mapped: !plan.mappings_set.is_empty() || plan.is_empty(),
    })
}

/// Most mappings one bulk call may set.
const MAX_BULK_MAPPINGS: usize = 5_000;

#[derive(Deserialize, schemars::JsonSchema)]
struct BulkMapping {
    pms_property: String,
    unit: String,
    door_unit: u64,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct BulkMapBody {
    #[schemars(length(max = MAX_BULK_MAPPINGS))]
    mappings: Vec<BulkMapping>,
}

async fn map_units(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<BulkMapBody>,
) -> ApiResult {
    if body.mappings.len() > MAX_BULK_MAPPINGS {
        return Err(ApiError::invalid(
            "mappings",
            format!(
                "at most {MAX_BULK_MAPPINGS} mappings per call ({} given)",
                body.mappings.len()
            ),
        ));
    }
    let items: Vec<(PmsUnitKey, u64)> = body
        .mappings
        .into_iter()
        .map(|m| {
            (
                PmsUnitKey {
                    property: m.pms_property,
                    unit: m.unit,
                },
                m.door_unit,
            )
        })
        .collect();
    let now = state.now();
    let plan = mutate(&state, &id, |door| {
        units_csv::plan_map_units(door, &items, &actor(&caller), now)
            .map_err(|e| named_in_body(unit_error(e), "mappings"))
    })?;
    reply(BulkMapped {
        mapped: plan.mappings_set.len(),
        unchanged: items.len() - plan.mappings_set.len(),
    })
}

async fn unmap_unit(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, pms, unit)): ApiPath<(String, String, String)>,
) -> ApiResult {
    let now = state.now();
    let key = PmsUnitKey {
        property: pms,
        unit,
    };
    mutate(&state, &id, |door| {
        units_csv::plan_unmap_unit(door, &key, &actor(&caller), now).map_err(unit_error)
    })?;
    reply(Mapped { mapped: false })
}
