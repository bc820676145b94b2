// The DOOR console: plain JavaScript over the admin API, no build step. Every screen is
// a function of the hash route; the DOM is built with `h` (text, never HTML strings),
// writes carry X-Epms-Console (the API refuses cookie writes without it).
"use strict";

const MAX_BATCH = 50;
const ALERT_NAMES = {
  "duplicate-emails": "Duplicate Emails",
  "missing-email": "Missing Email",
  "duplicate-account": "Duplicate Account",
  "name-mismatch": "Name Mismatch",
  "email-mismatch": "Email Mismatch",
  "missing-from-pms": "Missing From PMS",
  "sync-held": "Sync Held",
};
const OUTCOMES = {
  "synced": "Synced", "guarantor": "Guarantor (never synced)", "no-lease": "On no lease",
  "excluded-status": "Excluded lease status", "status-never-synced": "Status never synced",
  "missing-email": "No email", "malformed-email": "Email is not an address",
  "shares-email": "Shares an email", "waiting-on-alert": "Waiting on an alert",
};

let session = null;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function when(unix) {
  if (unix === null || unix === undefined) return "never";
  return new Date(unix * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function toast(text, isError) {
  const box = document.getElementById("toast");
  const item = h("div", { class: isError ? "error" : "" }, text);
  box.append(item);
  setTimeout(() => item.remove(), isError ? 8000 : 3500);
}

class ApiError extends Error {
  constructor(status, problem) {
    super(problem && problem.detail ? problem.detail : `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

async function api(method, path, body, contentType) {
  const headers = { "X-Epms-Console": "1" };
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = contentType || "application/json";
    payload = contentType ? body : JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  if (res.status === 204) return null;
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// Nodes, arrays of nodes and nothing (null, false) alike.
function present(nodes) {
  return nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false);
}

function show(...nodes) {
  document.getElementById("main").replaceChildren(...present(nodes));
}

function failure(e) {
  if (e instanceof ApiError && e.status === 401) {
    session = null;
    renderWho();
    return signIn();
  }
  show(h("h1", {}, "Something went wrong"), h("p", { class: "error", role: "alert" }, e.message));
}

// ---- session -------------------------------------------------------------------

function renderWho() {
  const nav = document.getElementById("who");
  if (!session) return nav.replaceChildren();
  nav.replaceChildren(...present([
    h("span", { class: "muted" }, `${session.name} (${session.role === "admin" ? "admin" : "property manager"}) `),
    session.role === "admin" ? h("a", { href: "#/tokens" }, "Tokens") : null, " ",
    session.role === "admin" ? h("a", { href: "#/connectors" }, "Connectors") : null, " ",
    h("button", { type: "button", id: "sign-out", onclick: async () => {
      await api("DELETE", "/console/session");
      session = null; renderWho(); location.hash = "#/"; signIn();
    } }, "Sign out"),
  ]));
}

function signIn() {
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true, size: 40 });
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { id: "sign-in", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      session = await api("POST", "/console/session", { token: input.value.trim() });
      renderWho();
      route();
    } catch (e) {
      error.textContent = e.status === 401 ? "That token is not valid." : e.message;
    }
  } },
  h("label", { for: "token" }, "API token", input),
  h("div", {}, h("button", { class: "primary", type: "submit" }, "Sign in")),
  error);
  show(h("h1", {}, "Sign in"), h("p", { class: "muted" }, "Use a token from ", h("code", {}, "epms token create"), " or from an admin."), form);
  input.focus();
}

// ---- properties ------------------------------------------------------------------

const PROPERTIES_PAGE = 25;

async function propertiesPage(params) {
  const list = await api("GET", "/api/v1/properties");
  // Each row asks for its badge and last sync: a page of them at a time.
  const offset = Number(params.get("offset") || 0);
  const shown = list.properties.slice(offset, offset + PROPERTIES_PAGE);
  const rows = await Promise.all(shown.map(async (p) => {
    const [detail, syncs] = await Promise.all([
      api("GET", `/api/v1/properties/${encodeURIComponent(p.id)}`),
      api("GET", `/api/v1/properties/${encodeURIComponent(p.id)}/syncs?limit=1`),
    ]);
    const last = syncs.runs[0];
    return h("tr", {},
      h("td", {}, h("a", { href: `#/p/${encodeURIComponent(p.id)}/people` }, p.name), h("div", { class: "muted" }, p.id)),
      h("td", {}, detail.badge ? h("span", { class: "badge", "aria-label": `${detail.badge} to review` }, detail.badge) : "—"),
      h("td", {}, when(p.last_sync_ok)),
      h("td", { class: "optional" }, last ? (last.outcome === "succeeded" ? h("span", { class: "ok" }, "succeeded") : h("span", { class: "error" }, `failed: ${last.error || last.error_code}`)) : "no sync yet"),
      h("td", { class: "optional" }, detail.residents ?? 0));
  }));
  show(
    h("h1", {}, "Properties"),
    session.role === "admin" ? h("p", {}, h("a", { class: "button", href: "#/new", id: "new-property" }, "Set up a new property")) : null,
    h("div", { class: "scroll" }, h("table", { id: "properties" },
      h("thead", {}, h("tr", {}, h("th", {}, "Property"), h("th", {}, "To review"), h("th", {}, "Last successful sync"), h("th", { class: "optional" }, "Last sync"), h("th", { class: "optional" }, "People"))),
      h("tbody", {}, rows))),
    h("div", { class: "bar" },
      offset > 0 ? h("a", { href: `#/?offset=${Math.max(0, offset - PROPERTIES_PAGE)}` }, "Previous") : null,
      h("span", { class: "muted" }, `${list.properties.length} properties`),
      offset + PROPERTIES_PAGE < list.properties.length ? h("a", { href: `#/?offset=${offset + PROPERTIES_PAGE}` }, "Next") : null));
}

function tabs(id, current) {
  const t = [["people", "People"], ["alerts", "Alerts"], ["access", "Access"], ["units", "Unit Mapping"], ["syncs", "Syncs"], ["records", "PMS records"]];
  if (session.role === "admin") t.push(["setup", "Integration"]);
  return h("nav", { class: "tabs", "aria-label": "Property" }, t.map(([k, label]) =>
    h("a", { href: `#/p/${encodeURIComponent(id)}/${k}`, "aria-current": k === current ? "page" : false }, label)));
}

async function header(id, current) {
  const p = await api("GET", `/api/v1/properties/${encodeURIComponent(id)}`);
  return [h("h1", {}, p.name, " ", p.badge ? h("span", { class: "badge", id: "badge", "aria-label": `${p.badge} to review` }, p.badge) : null),
    h("p", { class: "muted" }, `Last successful sync: ${when(p.last_sync_ok)}`), tabs(id, current), p];
}

// ---- people ----------------------------------------------------------------------

async function peoplePage(id, params) {
  const [title, lastSync, nav, p] = await header(id, "people");
  const base = `/api/v1/properties/${encodeURIComponent(id)}`;
  const offset = Number(params.get("offset") || 0);
  const q = params.get("q") || "";
  const status = params.get("status") || "";
  const source = params.get("source") || "";
  const query = new URLSearchParams({ offset, limit: 50 });
  if (q) query.set("q", q);
  if (status) query.set("status", status);
  if (source) query.set("source", source);
  const page = await api("GET", `${base}/people?${query}`);
  const search = h("input", { id: "people-q", name: "q", value: q, type: "search" });
  const statusSel = h("select", { id: "people-status", name: "status" }, ["", "current", "future", "past"].map((s) => h("option", { value: s, selected: s === status }, s || "any")));
  const sourceSel = h("select", { id: "people-source", name: "source" }, ["", "pms", "manual"].map((s) => h("option", { value: s, selected: s === source }, s || "any")));
  const filter = h("form", { class: "bar", onsubmit: (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    if (search.value) next.set("q", search.value);
    if (statusSel.value) next.set("status", statusSel.value);
    if (sourceSel.value) next.set("source", sourceSel.value);
    location.hash = `#/p/${encodeURIComponent(id)}/people?${next}`;
  } }, h("label", { for: "people-q" }, "Search name or email", search), h("label", { for: "people-status" }, "Status", statusSel),
    h("label", { for: "people-source" }, "Source", sourceSel), h("button", { type: "submit" }, "Filter"));
  const syncNow = h("button", { class: "primary", type: "button", id: "sync-now", onclick: async () => {
    syncNow.disabled = true; syncNow.textContent = "Syncing…";
    try { const r = await api("POST", `${base}/sync`); toast(r.skipped ? "Synced: nothing changed" : `Synced: ${r.accounts_created} created, ${r.accounts_updated} updated, ${r.alerts_opened} alerts opened`); route(); }
    catch (e) { toast(`Sync failed: ${e.message}`, true); syncNow.disabled = false; syncNow.textContent = "Sync Now"; }
  } }, "Sync Now");
  const rows = page.people.map((person) => {
    const a = person.account;
    const keys = person.access ? person.access.grants.length : 0;
    return h("tr", {},
      h("td", {}, h("a", { href: `#/p/${encodeURIComponent(id)}/person/${a.id}` }, `${a.first_name} ${a.last_name}`)),
      h("td", { class: "optional" }, a.email || h("span", { class: "muted" }, "no email")),
      h("td", {}, a.status || "—"),
      h("td", {}, a.door_unit === null ? h("span", { class: "muted" }, "none") : a.door_unit),
      h("td", { class: "optional" }, a.source, person.linked ? " · linked" : ""),
      h("td", {}, keys));
  });
  const pager = h("div", { class: "bar" },
    offset > 0 ? h("a", { href: `#/p/${encodeURIComponent(id)}/people?${new URLSearchParams({ ...Object.fromEntries(params), offset: Math.max(0, offset - 50) })}` }, "Previous") : null,
    h("span", { class: "muted" }, `${page.total} people`),
    page.next_offset !== null ? h("a", { href: `#/p/${encodeURIComponent(id)}/people?${new URLSearchParams({ ...Object.fromEntries(params), offset: page.next_offset })}` }, "Next") : null);
  show(title, lastSync, nav, h("div", { class: "bar" }, syncNow), filter,
    h("div", { class: "scroll" }, h("table", { id: "people" }, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", { class: "optional" }, "Email"), h("th", {}, "Status"), h("th", {}, "DOOR unit"), h("th", { class: "optional" }, "Source"), h("th", {}, "Keys"))), h("tbody", {}, rows))), pager);
}

async function personPage(id, account) {
  const [title, lastSync, nav] = await header(id, "people");
  const why = await api("GET", `/api/v1/properties/${encodeURIComponent(id)}/people/${account}/why?limit=50`);
  const a = why.account;
  show(title, lastSync, nav,
    h("h2", {}, `${a.first_name} ${a.last_name}`),
    h("p", { class: "muted" }, a.email || "no email", " · status ", why.effective_status || "unknown"),
    h("section", { class: "card", id: "why", "aria-label": "Why" }, h("h2", {}, "Why"), h("ul", {}, why.summary.map((s) => h("li", {}, s)))),
    h("h2", {}, "Keys"),
    why.keys.length ? h("ul", { id: "keys" }, why.keys.map((k) => h("li", {}, keyName(k.key), ` from ${when(k.start)}`, k.end ? `, until ${when(k.end)}` : "", ` (${k.source})`))) : h("p", { class: "muted" }, "No keys."),
    h("h2", {}, "History"),
    h("ul", { class: "plain" }, why.history.map((e) => h("li", {}, h("span", { class: "muted" }, `${when(e.entry.at)} · `), `${e.entry.action}: ${e.entry.detail}`))));
}

function keyName(key) {
  return key.kind === "unit" ? `Unit key (DOOR unit ${key.id})` : `${key.id}`;
}

// ---- alerts ----------------------------------------------------------------------

function resolutions(alert) {
  const r = [];
  const acct = alert.accounts[0];
  switch (alert.alert_type) {
    case "duplicate-account":
      for (const a of alert.accounts) r.push([`Merge into account ${a}`, { kind: "merge", account: a, use_pms_name: false }]);
      break;
    case "name-mismatch":
      r.push(["Merge (take the PMS name)", { kind: "merge", account: acct, use_pms_name: true }]);
      r.push(["Merge (keep the DOOR name)", { kind: "merge", account: acct, use_pms_name: false }]);
      r.push(["Keep DOOR value", { kind: "keep-door-value" }]);
      break;
    case "email-mismatch":
      r.push(["Create Separate", { kind: "create-separate", delete_old: false }]);
      r.push(["Create Separate, delete the old account", { kind: "create-separate", delete_old: true }]);
      r.push(["Keep DOOR value", { kind: "keep-door-value" }]);
      break;
    case "missing-from-pms":
      r.push(["Revoke access", { kind: "revoke-access" }]);
      break;
  }
  r.push(["Dismiss", { kind: "dismiss" }]);
  return r;
}

async function alertsPage(id) {
  const [title, lastSync, nav] = await header(id, "alerts");
  const base = `/api/v1/properties/${encodeURIComponent(id)}`;
  const page = await api("GET", `${base}/alerts`);
  const selected = new Set();
  const count = h("span", { class: "muted", id: "alerts-selected" }, "0 selected");
  const resolveOne = async (alert, resolution) => {
    try { await api("POST", `${base}/alerts/${alert.id}/resolve`, { resolution }); toast(`Alert ${alert.id} resolved`); route(); }
    catch (e) { toast(e.message, true); }
  };
  const groups = Object.entries(page.groups).map(([type, alerts]) => h("section", { "aria-label": ALERT_NAMES[type] || type },
    h("h2", {}, `${ALERT_NAMES[type] || type} (${alerts.length})`),
    alerts.map((alert) => h("div", { class: "card alert", "data-alert": alert.id, "data-type": type },
      h("label", { class: "check" }, h("input", { type: "checkbox", onchange: (ev) => {
        if (ev.target.checked) selected.add(alert.id); else selected.delete(alert.id);
        count.textContent = `${selected.size} selected`;
      } }), `Alert ${alert.id} · ${alert.state}`),
      h("ul", {}, alert.people.map((p) => h("li", {}, `PMS: ${p.first_name} ${p.last_name} <${p.email || "no email"}> (${p.keys.map((k) => k.resident).join(", ")})`)),
        alert.accounts.map((a) => h("li", {}, "DOOR account ", h("a", { href: `#/p/${encodeURIComponent(id)}/person/${a}` }, a))),
        alert.email ? h("li", {}, alert.email) : null),
      h("div", { class: "bar" }, resolutions(alert).map(([label, resolution]) => h("button", { type: "button", "data-resolution": resolution.kind, onclick: () => resolveOne(alert, resolution) }, label)))))));
  const bulk = h("button", { type: "button", id: "dismiss-selected", onclick: async () => {
    const items = [...selected].map((alert) => ({ alert, resolution: { kind: "dismiss" } }));
    try { await api("POST", `${base}/alerts/resolve`, { items }); toast(`${items.length} alerts dismissed`); route(); }
    catch (e) { toast(e.message, true); }
  } }, `Dismiss selected (at most ${MAX_BATCH})`);
  show(title, lastSync, nav, h("div", { class: "bar" }, bulk, count),
    groups.length ? groups : h("p", { class: "muted" }, "No alerts."));
}

// ---- access suggestions -------------------------------------------------------------

const SUGGESTIONS_PAGE = 200;

async function accessPage(id, params) {
  const [title, lastSync, nav, p] = await header(id, "access");
  const base = `/api/v1/properties/${encodeURIComponent(id)}`;
  const offset = Number(params.get("offset") || 0);
  const page = await api("GET", `${base}/suggestions?offset=${offset}&limit=${SUGGESTIONS_PAGE}`);
  const pager = h("div", { class: "bar" },
    offset > 0 ? h("a", { href: `#/p/${encodeURIComponent(id)}/access?offset=${Math.max(0, offset - SUGGESTIONS_PAGE)}` }, "Previous") : null,
    h("span", { class: "muted" }, `${page.total} waiting`),
    page.next_offset !== null ? h("a", { href: `#/p/${encodeURIComponent(id)}/access?offset=${page.next_offset}` }, "Next") : null);
  const selected = new Set();
  const count = h("span", { class: "muted", id: "access-selected" }, "0 selected");
  const boxes = [];
  const mark = () => { count.textContent = `${selected.size} selected`; };
  const rows = page.suggestions.map((s) => {
    const box = h("input", { type: "checkbox", "aria-label": `Select suggestion ${s.id}`, "data-suggestion": s.id, onchange: (ev) => {
      if (ev.target.checked) selected.add(s.id); else selected.delete(s.id);
      mark();
    } });
    boxes.push([box, s.id]);
    const what = s.kind === "grant" ? "Grant" : s.kind === "revoke" ? "Revoke" : "No change";
    return h("div", { class: `card suggestion ${s.kind}`, "data-suggestion": s.id },
      h("div", { class: "bar" }, h("label", { class: "check" }, box, `${what}${s.key ? ": " + keyName(s.key) : ""}`),
        h("a", { href: `#/p/${encodeURIComponent(id)}/person/${s.account}` }, `account ${s.account}`),
        h("button", { type: "button", class: "discard", "aria-label": `Discard suggestion ${s.id}`, onclick: async () => {
          try { await api("DELETE", `${base}/suggestions/${s.id}`); toast(`Suggestion ${s.id} discarded`); route(); }
          catch (e) { toast(e.message, true); }
        } }, "✕")),
      h("div", { class: "muted" }, s.reason, s.start ? ` · from ${when(s.start)}` : "", s.end ? ` · until ${when(s.end)}` : ""));
  });
  const all = h("button", { type: "button", id: "select-all", onclick: () => {
    for (const [box, sid] of boxes) { box.checked = true; selected.add(sid); }
    mark();
  } }, "Select all on this page");
  const update = h("button", { type: "button", class: "primary", id: "update-access", onclick: async () => {
    try {
      const r = await api("POST", `${base}/suggestions/approve`, { ids: [...selected] });
      toast(`Access updated: ${r.grants_added} granted, ${r.grants_removed} revoked`);
      route();
    } catch (e) { toast(e.message, true); show(title, lastSync, nav, h("p", { class: "error", role: "alert", id: "access-error" }, e.message), h("div", { class: "bar" }, all, update, count), rows); }
  } }, "Update Access");
  const mode = p.settings.access.enabled ? (p.settings.access.mode === "automatic" ? "Automatic" : "Approval Required") : "off";
  show(title, lastSync, nav, h("p", {}, `Automated Access: ${mode}. Green grants, red revokes, grey notes a status change with no key change; approve at most ${MAX_BATCH} at once.`),
    h("div", { class: "bar" }, all, update, count),
    rows.length ? rows : h("p", { class: "muted" }, "Nothing waits for approval."), pager);
}

// ---- units -------------------------------------------------------------------------

async function unitsPage(id) {
  const [title, lastSync, nav] = await header(id, "units");
  const base = `/api/v1/properties/${encodeURIComponent(id)}`;
  const [pms, door] = await Promise.all([api("GET", `${base}/pms-units`), api("GET", `${base}/door-units?limit=5000`)]);
  const options = (selected) => [h("option", { value: "" }, "— not mapped —"),
    ...door.door_units.map((d) => h("option", { value: d.id, selected: d.id === selected }, d.building ? `${d.name} (${d.building})` : d.name))];
  const rows = pms.units.map((u) => {
    const label = `Map PMS unit ${u.unit.number}`;
    const sel = h("select", { "aria-label": label, "data-unit": u.unit.id, onchange: async (ev) => {
      const path = `${base}/pms-units/${encodeURIComponent(u.pms_property)}/${encodeURIComponent(u.unit.id)}/mapping`;
      try {
        if (ev.target.value) await api("PUT", path, { door_unit: Number(ev.target.value) });
        else await api("DELETE", path);
        toast(ev.target.value ? `PMS unit ${u.unit.number} mapped` : `PMS unit ${u.unit.number} unmapped`);
      } catch (e) { toast(e.message, true); }
    } }, options(u.mapped_to));
    return h("tr", {}, h("td", {}, u.unit.number), h("td", { class: "optional" }, u.unit.building || ""), h("td", { class: "optional" }, u.pms_property), h("td", {}, sel));
  });
  const byName = h("button", { type: "button", id: "map-by-name", onclick: async () => {
    const names = new Map(door.door_units.map((d) => [d.name, d.id]));
    const mappings = pms.units.filter((u) => u.mapped_to === null && names.has(u.unit.number))
      .map((u) => ({ pms_property: u.pms_property, unit: u.unit.id, door_unit: names.get(u.unit.number) }));
    if (!mappings.length) return toast("No unmapped PMS unit has a DOOR unit of the same name.");
    try { await api("POST", `${base}/mappings`, { mappings }); toast(`${mappings.length} units mapped`); route(); }
    catch (e) { toast(e.message, true); }
  } }, "Map every unmapped unit to the DOOR unit of the same name");
  const name = h("input", { id: "door-unit-name", required: true });
  const building = h("input", { id: "door-unit-building" });
  const one = h("form", { class: "bar", onsubmit: async (ev) => {
    ev.preventDefault();
    try { await api("POST", `${base}/door-units`, { name: name.value, building: building.value || null }); toast("DOOR unit created"); route(); }
    catch (e) { toast(e.message, true); }
  } }, h("label", { for: "door-unit-name" }, "DOOR unit name", name), h("label", { for: "door-unit-building" }, "Building (optional)", building), h("button", { type: "submit" }, "Create"));
  const csv = h("textarea", { id: "units-csv", rows: 4, cols: 40, placeholder: "name,building\n101,A" });
  const file = h("input", { id: "units-file", type: "file", accept: ".csv,text/csv", onchange: async (ev) => { if (ev.target.files[0]) csv.value = await ev.target.files[0].text(); } });
  const csvErrors = h("div", { id: "csv-errors", role: "alert", class: "error" });
  const upload = h("form", { onsubmit: async (ev) => {
    ev.preventDefault();
    csvErrors.replaceChildren();
    try { const r = await api("POST", `${base}/door-units/csv`, csv.value, "text/csv"); toast(`${r.created} DOOR units created`); route(); }
    catch (e) { csvErrors.replaceChildren(h("p", {}, "Nothing was imported:"), h("pre", {}, e.message)); }
  } }, h("label", { for: "units-file" }, "CSV file of DOOR units", file), h("label", { for: "units-csv" }, "or paste it", csv), h("div", {}, h("button", { type: "submit" }, "Upload")), csvErrors);
  show(title, lastSync, nav, h("p", {}, `${pms.unmapped} of ${pms.units.length} PMS units are not mapped.`), h("div", { class: "bar" }, byName),
    h("div", { class: "scroll" }, h("table", { id: "units" }, h("thead", {}, h("tr", {}, h("th", {}, "PMS unit"), h("th", { class: "optional" }, "Building"), h("th", { class: "optional" }, "PMS property"), h("th", {}, "DOOR unit"))), h("tbody", {}, rows))),
    h("h2", {}, "New DOOR units"), one, upload);
}

// ---- syncs and records -----------------------------------------------------------------

async function syncsPage(id) {
  const [title, lastSync, nav] = await header(id, "syncs");
  const page = await api("GET", `/api/v1/properties/${encodeURIComponent(id)}/syncs?limit=50`);
  const running = page.running ? h("p", { class: "card", id: "running" }, `Running since ${when(page.running.started_at)}: ${page.running.progress.phase}, ${page.running.progress.records} records read`) : null;
  const rows = page.runs.map((r) => h("tr", {}, h("td", {}, when(r.started_at)),
    h("td", {}, r.outcome === "succeeded" ? h("span", { class: "ok" }, "succeeded") : h("span", { class: "error" }, "failed")),
    h("td", {}, r.error ? `${r.error}` : `${r.counts.resident_records} records, ${r.counts.accounts_created} created, ${r.counts.accounts_updated} updated`),
    h("td", { class: "optional" }, r.host || "")));
  show(title, lastSync, nav, running, page.running_on ? h("p", {}, `Syncing now on ${page.running_on}.`) : null,
    h("div", { class: "scroll" }, h("table", { id: "syncs" }, h("thead", {}, h("tr", {}, h("th", {}, "Started"), h("th", {}, "Outcome"), h("th", {}, "What happened"), h("th", { class: "optional" }, "Host"))), h("tbody", {}, rows))));
}

async function recordsPage(id, params) {
  const [title, lastSync, nav] = await header(id, "records");
  const q = params.get("q") || "";
  const outcome = params.get("outcome") || "";
  const query = new URLSearchParams({ limit: 100 });
  if (q) query.set("q", q);
  if (outcome) query.set("outcome", outcome);
  const page = await api("GET", `/api/v1/properties/${encodeURIComponent(id)}/records?${query}`);
  const search = h("input", { id: "records-q", type: "search", value: q });
  const sel = h("select", { id: "records-outcome" }, h("option", { value: "" }, "any"), h("option", { value: "not-synced", selected: outcome === "not-synced" }, "not synced"),
    Object.entries(OUTCOMES).map(([k, v]) => h("option", { value: k, selected: k === outcome }, v)));
  const form = h("form", { class: "bar", onsubmit: (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    if (search.value) next.set("q", search.value);
    if (sel.value) next.set("outcome", sel.value);
    location.hash = `#/p/${encodeURIComponent(id)}/records?${next}`;
  } }, h("label", { for: "records-q" }, "Name, email, PMS id or unit", search), h("label", { for: "records-outcome" }, "Outcome", sel), h("button", { type: "submit" }, "Search"));
  const rows = page.records.map((r) => h("tr", {}, h("td", {}, `${r.first_name} ${r.last_name}`, h("div", { class: "muted" }, r.pms_key.resident)),
    h("td", { class: "optional" }, r.email || ""), h("td", {}, r.pms_unit || ""),
    h("td", {}, OUTCOMES[r.outcome] || r.outcome, r.outcome === "synced" ? [" → ", h("a", { href: `#/p/${encodeURIComponent(id)}/person/${r.account}` }, `account ${r.account}`)] : "",
      r.unmapped_pms_unit ? h("div", { class: "muted" }, `PMS unit ${r.unmapped_pms_unit} is not mapped`) : null,
      r.alerts.length ? h("div", { class: "muted" }, r.alerts.map((a) => `${ALERT_NAMES[a.alert_type] || a.alert_type} (alert ${a.id})`).join(", ")) : null)));
  show(title, lastSync, nav, h("p", { class: "muted" }, page.planned_at ? `From the sync of ${when(page.planned_at)}; ${page.total} records match.` : "No sync has run yet."), form,
    h("div", { class: "scroll" }, h("table", { id: "records" }, h("thead", {}, h("tr", {}, h("th", {}, "PMS record"), h("th", { class: "optional" }, "Email"), h("th", {}, "Unit"), h("th", {}, "What happened"))), h("tbody", {}, rows))));
}

// ---- integration setup (admin) -------------------------------------------------------

async function setupPage(id) {
  const [title, lastSync, nav, p] = await header(id, "setup");
  const [creds, connectors] = await Promise.all([api("GET", "/api/v1/credentials"), api("GET", "/api/v1/connectors")]);
  const credSel = h("select", { id: "setup-credential" }, h("option", { value: "" }, "— choose —"),
    creds.credentials.map((c) => h("option", { value: c.id, selected: c.id === p.credential_id }, `${c.id} (${c.vendor})`)));
  const pmsBox = h("div", { id: "setup-pms" });
  const statusBox = h("div", { id: "setup-statuses" });
  const userSync = h("input", { type: "checkbox", id: "setup-user-sync", checked: p.settings.user_sync });
  const accessOn = h("input", { type: "checkbox", id: "setup-access", checked: p.settings.access.enabled });
  const automatic = h("input", { type: "checkbox", id: "setup-automatic", checked: p.settings.access.mode === "automatic" });
  const loadCredential = async () => {
    pmsBox.replaceChildren(); statusBox.replaceChildren();
    const cred = creds.credentials.find((c) => c.id === credSel.value);
    if (!cred) return;
    const connector = connectors.connectors.find((c) => c.info.vendor === cred.vendor);
    try {
      const seen = await api("GET", `/api/v1/credentials/${encodeURIComponent(cred.id)}/pms-properties`);
      pmsBox.append(...present([h("p", {}, "2. Attach the PMS properties of this DOOR property:"),
        seen.properties.map((pp) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "pms", value: pp.id, checked: p.pms_property_ids.includes(pp.id) }), `${pp.name} (${pp.id})`))]));
    } catch (e) { pmsBox.append(h("p", { class: "error" }, `The PMS did not answer: ${e.message}`)); }
    if (connector) statusBox.append(...present([h("p", {}, "3. Lease statuses never to sync:"),
      connector.info.status_vocabulary.map((s) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "excluded", value: s, checked: p.settings.excluded_statuses.includes(s) }), s))]));
  };
  credSel.addEventListener("change", loadCredential);
  const error = h("p", { class: "error", role: "alert", id: "setup-error" });
  const form = h("form", { id: "setup", onsubmit: async (ev) => {
    ev.preventDefault();
    const settings = structuredClone(p.settings);
    settings.excluded_statuses = [...statusBox.querySelectorAll("input[name=excluded]:checked")].map((i) => i.value);
    settings.user_sync = userSync.checked;
    settings.access.enabled = accessOn.checked;
    settings.access.mode = automatic.checked ? "automatic" : "approval-required";
    const body = { credential_id: credSel.value || null, pms_property_ids: [...pmsBox.querySelectorAll("input[name=pms]:checked")].map((i) => i.value), settings };
    try { await api("PUT", `/api/v1/properties/${encodeURIComponent(id)}/integration`, body); toast("Integration saved"); location.hash = `#/p/${encodeURIComponent(id)}/people`; }
    catch (e) { error.textContent = e.message; }
  } },
  h("label", { for: "setup-credential" }, "1. Credential", credSel), pmsBox, statusBox,
  h("p", {}, "4. Turn it on:"), h("label", { class: "check", for: "setup-user-sync" }, userSync, "User Sync (and Unit Sync)"),
  h("label", { class: "check", for: "setup-access" }, accessOn, "Automated Access"),
  h("label", { class: "check", for: "setup-automatic" }, automatic, "Automate Access (apply changes without approval)"),
  h("div", {}, h("button", { class: "primary", type: "submit" }, "Save")), error);
  show(title, lastSync, nav, h("p", {}, h("a", { href: "#/credentials/new" }, "Add a credential")), form);
  if (credSel.value) loadCredential();
}

async function newPropertyPage() {
  const id = h("input", { id: "new-id", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9._-]{0,99}" });
  const name = h("input", { id: "new-name", required: true });
  const error = h("p", { class: "error", role: "alert" });
  show(h("h1", {}, "Set up a new property"), h("form", { id: "new-property-form", onsubmit: async (ev) => {
    ev.preventDefault();
    try { await api("POST", "/api/v1/properties", { id: id.value, name: name.value }); location.hash = `#/p/${encodeURIComponent(id.value)}/setup`; }
    catch (e) { error.textContent = e.message; }
  } }, h("label", { for: "new-id" }, "Property id (letters, digits, . _ -)", id), h("label", { for: "new-name" }, "Name", name),
  h("div", {}, h("button", { class: "primary", type: "submit" }, "Create")), error));
}

async function newCredentialPage() {
  const { connectors } = await api("GET", "/api/v1/connectors");
  const vendor = h("select", { id: "cred-vendor" }, connectors.map((c) => h("option", { value: c.info.vendor }, c.info.display_name)));
  const id = h("input", { id: "cred-id", required: true });
  const fields = h("div", {});
  const error = h("p", { class: "error", role: "alert" });
  const draw = () => {
    const c = connectors.find((x) => x.info.vendor === vendor.value);
    fields.replaceChildren(...c.info.config_fields.map((f) => h("label", { for: `cred-${f.name}` }, `${f.label}${f.required ? "" : " (optional)"}`,
      h("input", { id: `cred-${f.name}`, name: f.name, type: f.secret ? "password" : "text", required: f.required, autocomplete: "off" }))));
  };
  vendor.addEventListener("change", draw);
  draw();
  show(h("h1", {}, "Add a credential"), h("form", { id: "credential-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const values = {};
    for (const input of fields.querySelectorAll("input")) if (input.value) values[input.name] = input.value;
    try {
      await api("POST", "/api/v1/credentials", { id: id.value, vendor: vendor.value, fields: values });
      await api("POST", `/api/v1/credentials/${encodeURIComponent(id.value)}/check`);
      toast("Credential saved and checked");
      history.back();
    } catch (e) { error.textContent = e.message; }
  } }, h("label", { for: "cred-vendor" }, "PMS", vendor), h("label", { for: "cred-id" }, "Credential id", id), fields,
  h("div", {}, h("button", { class: "primary", type: "submit" }, "Save and check")), error));
}

async function tokensPage() {
  const { tokens } = await api("GET", "/api/v1/tokens");
  show(h("h1", {}, "API tokens"), h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Role"), h("th", {}, "Properties"), h("th", {}, "Created"))),
    h("tbody", {}, tokens.map((t) => h("tr", {}, h("td", {}, t.name), h("td", {}, t.role), h("td", {}, t.properties.join(", ") || "all"), h("td", {}, when(t.created_at))))))));
}

async function connectorsPage() {
  const { connectors } = await api("GET", "/api/v1/connectors");
  show(h("h1", {}, "Connectors"), h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "PMS"), h("th", {}, "Version"), h("th", { class: "optional" }, "Statuses"))),
    h("tbody", {}, connectors.map((c) => h("tr", {}, h("td", {}, c.info.display_name), h("td", {}, c.info.version), h("td", { class: "optional" }, c.info.status_vocabulary.join(", "))))))));
}

// ---- routing -------------------------------------------------------------------------

async function route() {
  if (!session) {
    try { session = await api("GET", "/console/session"); } catch { session = null; }
    renderWho();
    if (!session) return signIn();
  }
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts.length === 0) await propertiesPage(params);
    else if (parts[0] === "new") await newPropertyPage();
    else if (parts[0] === "credentials") await newCredentialPage();
    else if (parts[0] === "tokens") await tokensPage();
    else if (parts[0] === "connectors") await connectorsPage();
    else if (parts[0] === "p" && parts.length >= 3) {
      const [, id, screen, extra] = parts;
      const screens = { people: peoplePage, alerts: alertsPage, access: accessPage, units: unitsPage, syncs: syncsPage, records: recordsPage, setup: setupPage };
      if (screen === "person") await personPage(id, extra);
      else if (screens[screen]) await screens[screen](id, params);
      else show(h("h1", {}, "Not found"));
    } else show(h("h1", {}, "Not found"));
    document.getElementById("main").focus();
  } catch (e) { failure(e); }
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", route);
