//! Shipping connectors to a running host (admin only): upload a signed component
//! (validated, precompiled, stored by its hash), list versions per vendor, activate
//! one as its vendor's default, roll back, pin one for chosen properties (canary),
//! and dry-run a candidate against a property's PMS without writing anything.
//!
//! A sync takes its connectors when it starts, so one already running finishes on
//! the version it started with; the next one uses whatever is active (or pinned)
//! then. Nothing needs a restart: the tables of active versions are swapped under a
//! lock, and installed versions are loaded again from the store when the host starts
//! ([`restore`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use epms_engine::AuditEntry;
use epms_engine::compare;
use epms_runtime::signing::{Provenance, SignatureError};
use epms_runtime::{LoadError, LoadedConnector};
use epms_store::PluginRecord;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::framework::{
    Access, ApiBytes, ApiJson, ApiPath, ApiResult, Endpoint, created, endpoint, ok, reply,
};

/// The header that carries a component's signature line.
pub const SIGNATURE_HEADER: &str = "x-epms-signature";
/// Largest component an upload may carry.
pub const COMPONENT_BODY_LIMIT: usize = 32 << 20;

/// The connectors loaded now, for any token.
pub(super) fn installed_endpoints() -> Vec<Endpoint> {
    use Access::*;
    vec![
        endpoint(
            "get",
            "/api/v1/connectors",
            "Installed connectors",
            AnyToken,
            get(connectors),
        )
        .returns::<Connectors>(),
    ]
}

#[derive(Serialize, schemars::JsonSchema)]
struct ConnectorView {
    info: epms_model::ConnectorInfo,
    sha256: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Connectors {
    /// By vendor.
    connectors: Vec<ConnectorView>,
}

async fn connectors(State(state): State<AppState>) -> ApiResult {
    let mut connectors: Vec<ConnectorView> = state
        .connectors_snapshot()
        .values()
        .map(|c| ConnectorView {
            info: c.info().clone(),
            sha256: c.sha256().to_owned(),
        })
        .collect();
    connectors.sort_by(|a, b| a.info.vendor.cmp(&b.info.vendor));
    reply(Connectors { connectors })
}

pub(super) fn endpoints() -> Vec<Endpoint> {
    let mut upload = endpoint(
        "post",
        "/api/v1/connectors/versions",
        "Install a connector version: the component's bytes, its signature in X-Epms-Signature",
        Access::Admin,
        post(install).layer(DefaultBodyLimit::max(COMPONENT_BODY_LIMIT)),
    );
    upload.body = Some("application/wasm");
    let upload = upload
        .header(
            SIGNATURE_HEADER,
            "The signature line `epms connector sign` wrote (required unless the host allows unsigned components)",
            false,
        )
        .creates::<Installed>()
        .also_returns::<Installed>(200, "Already installed (the same bytes): nothing changed");
    vec![
        upload,
        endpoint(
            "get",
            "/api/v1/connectors/versions",
            "Connector versions per vendor: active, earlier, installed, pinned",
            Access::Admin,
            get(list),
        )
        .returns::<Versions>(),
        endpoint(
            "delete",
            "/api/v1/connectors/versions/{sha256}",
            "Remove an installed version (neither active nor pinned): record, bytes, rollback history",
            Access::Admin,
            delete(remove),
        )
        .no_content(),
        endpoint(
            "post",
            "/api/v1/connectors/{vendor}/activate",
            "Make a version its vendor's default (the next syncs use it)",
            Access::Admin,
            post(activate),
        )
        .json_body::<VersionRef>()
        .returns::<Activated>(),
        endpoint(
            "post",
            "/api/v1/connectors/{vendor}/rollback",
            "Return a vendor to the version active before",
            Access::Admin,
            post(rollback),
        )
        .returns::<Activated>(),
        endpoint(
            "put",
            "/api/v1/properties/{id}/connector",
            "Pin a connector version for this property (canary)",
            Access::Admin,
            put(pin),
        )
        .json_body::<VersionRef>()
        .returns::<Pinned>(),
        endpoint(
            "delete",
            "/api/v1/properties/{id}/connector",
            "Unpin: the property follows its vendor's default again (nothing to do without a pin)",
            Access::Admin,
            delete(unpin),
        )
        .no_content(),
        endpoint(
            "post",
            "/api/v1/properties/{id}/dry-run",
            "What a candidate version would plan for this property, against the active one (writes nothing)",
            Access::Admin,
            post(dry_run),
        )
        .json_body::<VersionRef>(),
    ]
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn audit(state: &AppState, caller: &Caller, action: &str, detail: String) -> AuditEntry {
    super::service_entry(state, caller, "connectors", action, detail)
}

fn signature_error(e: SignatureError) -> ApiError {
    let code = match e {
        SignatureError::Unsigned => "unsigned",
        SignatureError::Malformed(_) => "signature-malformed",
        SignatureError::UntrustedKey(_) => "untrusted-key",
        SignatureError::Mismatch(_) => "signature-mismatch",
    };
    ApiError::unprocessable(code, SIGNATURE_HEADER, e.to_string())
}

fn load_error(e: LoadError) -> ApiError {
    let code = match e {
        LoadError::NotAComponent(_) => "not-a-component",
        LoadError::Compile(_) => "does-not-compile",
        LoadError::MissingContract { .. } => "no-connector-contract",
        LoadError::WrongContract { .. } => "wrong-contract",
        LoadError::MissingExport { .. } => "incomplete-contract",
        LoadError::UnsatisfiedImport(_) => "unsatisfied-import",
        LoadError::InvalidInfo(_) | LoadError::Info(_) => "invalid-info",
        _ => "invalid-component",
    };
    ApiError::unprocessable(code, "body", e.to_string())
}

/// A connector version as the API shows it. Bundled versions have no size or
/// installation; listed versions say whether they are active and where pinned.
#[derive(Serialize, schemars::JsonSchema)]
struct VersionView {
    sha256: String,
    vendor: String,
    version: String,
    contract_version: String,
    /// "signed by key …", "unsigned (development mode)" or "bundled with the host".
    provenance: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    installed_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    installed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pinned_for: Option<Vec<String>>,
}

fn record_view(r: &PluginRecord) -> VersionView {
    VersionView {
        sha256: r.sha256.clone(),
        vendor: r.vendor.clone(),
        version: r.version.clone(),
        contract_version: r.contract_version.clone(),
        provenance: r.provenance.clone(),
        size: Some(r.size),
        installed_at: Some(r.installed_at),
        installed_by: Some(r.installed_by.clone()),
        active: None,
        pinned_for: None,
    }
}

#[derive(Serialize, schemars::JsonSchema)]
struct Installed {
    /// False when these bytes were installed already.
    installed: bool,
    version: VersionView,
}

#[derive(Serialize, schemars::JsonSchema)]
struct VendorVersions {
    /// The hash of the version its syncs use.
    active: Option<String>,
    /// Versions active before, newest last (what a rollback returns to).
    previous: Vec<String>,
    versions: Vec<VersionView>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Versions {
    vendors: BTreeMap<String, VendorVersions>,
    /// Installed versions this host did not load (a key no longer trusted, a build it
    /// cannot run): remove or re-install them.
    not_loaded: Vec<VersionView>,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Activated {
    vendor: String,
    active: String,
    version: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Pinned {
    property: String,
    pinned: String,
    version: String,
}

async fn install(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult {
    let sha256 = hex_sha256(&body);
    if let Some(existing) = state.store.plugin(&sha256)? {
        return reply(Installed {
            installed: false,
            version: record_view(&existing),
        });
    }
    let signature = headers
        .get(SIGNATURE_HEADER)
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::invalid(SIGNATURE_HEADER, "not text"))
        })
        .transpose()?;
    let provenance = {
        let trust = state.trust.read().unwrap_or_else(|p| p.into_inner());
        trust.verify(&body, signature).map_err(signature_error)?
    };
    // Validation (contract, exports, info) and precompilation, into the compile cache.
    let loaded = state
        .runtime
        .load_bytes(&body, &format!("upload {}", &sha256[..12]))
        .await
        .map_err(load_error)?;
    let info = loaded.info().clone();
    let record = PluginRecord {
        sha256: sha256.clone(),
        vendor: info.vendor.clone(),
        version: info.version.clone(),
        contract_version: info.contract_version.clone(),
        size: body.len() as u64,
        installed_at: state.now(),
        installed_by: caller.0.name.clone(),
        provenance: match provenance {
            Provenance::Signed { key_id } => format!("signed by key {key_id}"),
            Provenance::Unsigned => "unsigned (development mode)".into(),
        },
        signature: signature.map(str::to_owned),
    };
    let event = audit(
        &state,
        &caller,
        "connector.installed",
        format!(
            "{} {} ({}), {}",
            record.vendor, record.version, record.sha256, record.provenance
        ),
    );
    state.store.install_plugin(&record, &body, &event)?;
    state
        .versions
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(sha256, Arc::new(loaded));
    tracing::info!(vendor = %record.vendor, version = %record.version, sha256 = %record.sha256, "connector installed");
    created(Installed {
        installed: true,
        version: record_view(&record),
    })
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(sha256): ApiPath<String>,
) -> ApiResult {
    let record = state
        .store
        .plugin(&sha256)?
        .ok_or_else(|| ApiError::not_found(format!("no installed connector version {sha256}")))?;
    if state
        .store
        .plugin_defaults()?
        .get(&record.vendor)
        .is_some_and(|d| d.active == sha256)
    {
        return Err(ApiError::conflict(
            "connector-version-active",
            format!(
                "{} {} is its vendor's active version: activate another or roll back first",
                record.vendor, record.version
            ),
        ));
    }
    let pinned: Vec<String> = state
        .store
        .plugin_pins()?
        .into_iter()
        .filter(|(_, sha)| *sha == sha256)
        .map(|(property, _)| property)
        .collect();
    if !pinned.is_empty() {
        return Err(ApiError::conflict(
            "connector-version-pinned",
            format!(
                "{} {} is pinned for {}: unpin it first",
                record.vendor,
                record.version,
                pinned.join(", ")
            ),
        ));
    }
    let event = audit(
        &state,
        &caller,
        "connector.removed",
        format!("{} {} ({})", record.vendor, record.version, record.sha256),
    );
    state.store.remove_plugin(&sha256, &event)?;
    state
        .versions
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&sha256);
    tracing::info!(vendor = %record.vendor, version = %record.version, sha256 = %record.sha256, "connector version removed");
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list(State(state): State<AppState>) -> ApiResult {
    let installed: BTreeMap<String, PluginRecord> = state
        .store
        .plugins()?
        .into_iter()
        .map(|p| (p.sha256.clone(), p))
        .collect();
    let defaults = state.store.plugin_defaults()?;
    let pins = state.store.plugin_pins()?;
    let active = state.connectors_snapshot();
    let versions: Vec<Arc<LoadedConnector>> = state
        .versions
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .cloned()
        .collect();
    // Installed but refused at start (a key no longer trusted, a build this host
    // cannot load): listed so that an admin can remove or re-install them.
    let not_loaded: Vec<VersionView> = installed
        .values()
        .filter(|r| !versions.iter().any(|c| c.sha256() == r.sha256))
        .map(record_view)
        .collect();
    let mut vendors: BTreeMap<String, VendorVersions> = BTreeMap::new();
    for c in versions {
        let vendor = c.info().vendor.clone();
        let sha = c.sha256().to_owned();
        let pinned_for: Vec<String> = pins
            .iter()
            .filter(|(_, s)| **s == sha)
            .map(|(p, _)| p.clone())
            .collect();
        let mut view = match installed.get(&sha) {
            Some(r) => record_view(r),
            None => VersionView {
                sha256: sha.clone(),
                vendor: vendor.clone(),
                version: c.info().version.clone(),
                contract_version: c.info().contract_version.clone(),
                provenance: "bundled with the host".into(),
                size: None,
                installed_at: None,
                installed_by: None,
                active: None,
                pinned_for: None,
            },
        };
        view.active = Some(active.get(&vendor).is_some_and(|a| a.sha256() == sha));
        view.pinned_for = Some(pinned_for);
        vendors
            .entry(vendor.clone())
            .or_insert_with(|| VendorVersions {
                active: active.get(&vendor).map(|a| a.sha256().to_owned()),
                previous: defaults
                    .get(&vendor)
                    .map(|d| d.previous.clone())
                    .unwrap_or_default(),
                versions: Vec::new(),
            })
            .versions
            .push(view);
    }
    reply(Versions {
        vendors,
        not_loaded,
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
struct VersionRef {
    sha256: String,
}

/// A loaded version of `vendor` by hash, or the reason it cannot be used.
fn version_of(
    state: &AppState,
    vendor: &str,
    sha256: &str,
) -> Result<Arc<LoadedConnector>, ApiError> {
    let c = state
        .version(sha256)
        .ok_or_else(|| ApiError::not_found(format!("connector version {sha256}")))?;
    if c.info().vendor != vendor {
        return Err(ApiError::invalid(
            "sha256",
            format!(
                "version {sha256} is a {} connector, not {vendor}",
                c.info().vendor
            ),
        ));
    }
    Ok(c)
}

fn set_active(state: &AppState, connector: Arc<LoadedConnector>) {
    state
        .connectors
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(connector.info().vendor.clone(), connector);
}

async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(vendor): ApiPath<String>,
    ApiJson(body): ApiJson<VersionRef>,
) -> ApiResult {
    let connector = version_of(&state, &vendor, &body.sha256)?;
    let replacing = state.connector(&vendor).map(|c| c.sha256().to_owned());
    let event = audit(
        &state,
        &caller,
        "connector.activated",
        format!(
            "{vendor} {} ({}) replaces {}",
            connector.info().version,
            body.sha256,
            replacing.as_deref().unwrap_or("nothing")
        ),
    );
    state
        .store
        .activate_plugin(&vendor, &body.sha256, replacing.as_deref(), &event)?;
    set_active(&state, connector.clone());
    reply(Activated {
        vendor,
        active: body.sha256,
        version: connector.info().version.clone(),
    })
}

async fn rollback(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(vendor): ApiPath<String>,
) -> ApiResult {
    // The version to return to must be loadable before the store moves.
    let previous = state
        .store
        .plugin_defaults()?
        .get(&vendor)
        .and_then(|d| d.previous.last().cloned())
        .ok_or_else(|| {
            ApiError::conflict(
                "nothing-to-roll-back",
                format!("{vendor} has no earlier version"),
            )
        })?;
    let connector = version_of(&state, &vendor, &previous).map_err(|_| {
        ApiError::conflict(
            "version-gone",
            format!("the earlier version {previous} of {vendor} is no longer available"),
        )
    })?;
    let current = state.connector(&vendor).map(|c| c.sha256().to_owned());
    let event = audit(
        &state,
        &caller,
        "connector.rolled-back",
        format!("{vendor} {}", current.as_deref().unwrap_or("nothing")),
    );
    let back = state.store.rollback_plugin(&vendor, &event)?;
    set_active(&state, connector.clone());
    reply(Activated {
        vendor,
        active: back,
        version: connector.info().version.clone(),
    })
}

/// The vendor of the property's credential.
fn property_vendor(state: &AppState, property: &str) -> Result<String, ApiError> {
    let p = state.store.property(property)?;
    let cred = p.credential_id.ok_or_else(|| {
        ApiError::conflict(
            "not-set-up",
            format!("property {property:?} has no credential yet"),
        )
    })?;
    Ok(state.store.credential(&cred)?.vendor)
}

async fn pin(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<VersionRef>,
) -> ApiResult {
    let vendor = property_vendor(&state, &id)?;
    let connector = version_of(&state, &vendor, &body.sha256)?;
    let event = audit(
        &state,
        &caller,
        "connector.pinned",
        format!(
            "{id}: {vendor} {} ({})",
            connector.info().version,
            body.sha256
        ),
    );
    state.store.pin_plugin(&id, Some(&body.sha256), &event)?;
    reply(Pinned {
        property: id,
        pinned: body.sha256,
        version: connector.info().version.clone(),
    })
}

async fn unpin(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    // Idempotent: a property with no pin already follows its vendor's default.
    state.store.property(&id)?;
    let Some(was) = state.store.plugin_pin(&id)? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let event = audit(
        &state,
        &caller,
        "connector.unpinned",
        format!("{id}: was {was}"),
    );
    state.store.pin_plugin(&id, None, &event)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn dry_run(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<VersionRef>,
) -> ApiResult {
    let vendor = property_vendor(&state, &id)?;
    let candidate = version_of(&state, &vendor, &body.sha256)?;
    let active = state.connectors_for(&id).remove(&vendor).ok_or_else(|| {
        ApiError::conflict("no-connector", format!("no active {vendor} connector"))
    })?;
    let now = state.now();
    let run = |c: Arc<LoadedConnector>| {
        let (runtime, store, id) = (state.runtime.clone(), state.store.clone(), id.clone());
        async move { epms_sync::dry_run(&runtime, store.as_ref(), &c, &id, now).await }
    };
    let fail = |which: &str, e: epms_sync::SyncError| {
        ApiError::bad_gateway(
            "dry-run-failed",
            format!(
                "the {which} version could not read the PMS: {e} ({})",
                e.code()
            ),
        )
    };
    // Both against the same state: read it once, before either plan.
    let door = state.store.state(&id)?;
    let (with_active, with_candidate) = tokio::join!(run(active.clone()), run(candidate.clone()));
    let with_active = with_active.map_err(|e| fail("active", e))?;
    let with_candidate = with_candidate.map_err(|e| fail("candidate", e))?;
    if door.version != state.store.state(&id)?.version {
        return Err(ApiError::conflict(
            "busy",
            "the property changed during the dry run; run it again",
        ));
    }
    let difference = compare::compare(&door, &with_active.plan, &with_candidate.plan);
    let side = |c: &LoadedConnector, counts: &epms_engine::SyncCounts, plan: &epms_engine::Plan| {
        json!({
            "sha256": c.sha256(), "version": c.info().version, "counts": counts,
            "accounts_created": plan.accounts_created.len(), "accounts_updated": plan.accounts_updated.len(),
            "alerts_opened": plan.alerts_opened.len(), "grants_added": plan.grants_added.len(),
            "grants_removed": plan.grants_removed.len(), "suggestions_added": plan.suggestions_added.len(),
        })
    };
    ok(json!({
        "property": id,
        "identical": difference.is_empty(),
        "active": side(&active, &with_active.counts, &with_active.plan),
        "candidate": side(&candidate, &with_candidate.counts, &with_candidate.plan),
        "difference": difference,
    }))
}

/// Loads every installed version from the store and makes the activated ones their
/// vendor's default: what a host does when it starts. Each version's signature is
/// checked again against the keys trusted **now**: a version whose key was removed
/// from `trusted_keys` (or an unsigned one, once unsigned components are no longer
/// allowed) is not loaded: its vendor falls back to the bundled connector and the
/// properties pinned to it to their vendor's default, each with a warning, until it is
/// removed or re-installed with a trusted signature. Versions that no longer load (an
/// older host build) are reported, not fatal.
pub async fn restore(state: &AppState) -> Result<Vec<String>, epms_store::StoreError> {
    let mut problems = Vec::new();
    for record in state.store.plugins()? {
        if state.version(&record.sha256).is_some() {
            continue;
        }
        let Some(bytes) = state.store.plugin_bytes(&record.sha256)? else {
            problems.push(format!("{}: bytes missing", record.sha256));
            continue;
        };
        let verdict = {
            let trust = state.trust.read().unwrap_or_else(|p| p.into_inner());
            trust.verify(&bytes, record.signature.as_deref())
        };
        if let Err(e) = verdict {
            problems.push(format!(
                "{} {} ({}), {}: no longer trusted ({e}); not loaded",
                record.vendor, record.version, record.sha256, record.provenance
            ));
            continue;
        }
        match state
            .runtime
            .load_bytes(&bytes, &format!("installed {}", &record.sha256[..12]))
            .await
        {
            Ok(loaded) => {
                state
                    .versions
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(record.sha256.clone(), Arc::new(loaded));
            }
            Err(e) => problems.push(format!(
                "{} {} ({}): {e}",
                record.vendor, record.version, record.sha256
            )),
        }
    }
    for (vendor, default) in state.store.plugin_defaults()? {
        match state.version(&default.active) {
            Some(c) => set_active(state, c),
            None => problems.push(format!(
                "{vendor}: the active version {} is not loaded; the bundled one stays",
                default.active
            )),
        }
    }
    for p in &problems {
        tracing::warn!("connector versions: {p}");
    }
    Ok(problems)
}
