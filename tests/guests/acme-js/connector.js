// The Acme API of the connector template, written in JavaScript and made a component
// by componentize-js: the contract (wit/v1, world door:connector/pms-connector) works
// from a language other than Rust. The mapping is the template's; the e2e tests check
// that both read the simulator the same way, record for record.
//
// What a non-Rust author must know (docs/writing-a-connector.md says it too):
// - exports are the `connector` interface, names in lowerCamelCase, record fields too;
// - `option<T>` is the value or `undefined`; enums are their kebab-case names;
// - a `result` error is thrown as the variant, `{ tag: "auth", val: "…" }`;
// - log through `door:connector/host` (`log(level, message)`), not `console`;
// - `fetch()` goes out through wasi:http, so only the credential's host is reached;
//   redirects are not followed; a refusal reaches JavaScript as a NetworkError, and the
//   host reports it as the `config` error it is.
import { log } from "door:connector/host@1.0.0";

const STATUSES = {
  applicant: "applicant",
  approved: "future",
  future: "future",
  current: "current",
  notice: "notice",
  past: "past",
  cancelled: "cancelled",
  denied: "denied",
};

const ROLES = {
  primary: "primary",
  "co-resident": "co-resident",
  occupant: "occupant",
  guarantor: "guarantor",
};

function fail(tag, val) {
  throw { tag, val };
}

function setting(config, name) {
  const found = config.find((s) => s.name === name);
  const value = found ? found.value.trim() : "";
  if (!value) fail("config", `missing setting "${name}"`);
  return value;
}

// The template's reading of a field as text: strings trimmed, numbers printed.
function text(obj, key) {
  const v = obj[key];
  if (typeof v === "string") return v.trim() === "" ? undefined : v.trim();
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

function daysIn(y, m) {
  return [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
}

// ISO `YYYY-MM-DD` or US `M/D/YYYY` (a time part ignored) to ISO; a bad date is a
// warning on the record, never a lost record.
function date(warnings, field, raw) {
  if (raw === undefined) return undefined;
  const part = raw.split(/[ T]/)[0];
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(part);
  let y, mo, d;
  if (m) [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  else if ((m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(part))) [mo, d, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y === undefined || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo)) {
    warnings.push({ field, message: `unreadable date "${raw}"` });
    return undefined;
  }
  if (y <= 1 || (mo === 1 && d === 1 && (y === 1900 || y === 1970))) return undefined;
  return `${String(y).padStart(4, "0")}-${String(mo).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

function plausibleEmail(s) {
  const at = s.indexOf("@");
  if (at <= 0) return false;
  const domain = s.slice(at + 1);
  return !domain.includes("@") && !/\s/.test(s) && domain.includes(".") && !domain.startsWith(".") && !domain.endsWith(".");
}

function email(warnings, raw) {
  if (raw === undefined) return undefined;
  const candidates = raw.split(/[;,]/).map((c) => c.trim()).filter((c) => c);
  if (candidates.length === 0) return undefined;
  const found = candidates.find(plausibleEmail);
  if (found === undefined) warnings.push({ field: "email", message: `not an email address: ${JSON.stringify(raw)}` });
  return found;
}

function statusError(status) {
  const message = `HTTP ${status}`;
  if (status === 401 || status === 403) fail("auth", message);
  if (status === 404) fail("not-found", message);
  if (status === 429) fail("rate-limited", { retryAfterSeconds: undefined, message });
  if (status >= 500 || status === 408) fail("transient", message);
  fail("protocol", message);
}

async function get(config, path) {
  const base = setting(config, "base-url").replace(/\/+$/, "");
  let response;
  try {
    response = await fetch(base + path, {
      headers: { authorization: "Bearer {{secret:api-token}}", accept: "application/json" },
    });
  } catch (e) {
    fail("transient", `request failed: ${e}`);
  }
  if (!response.ok) statusError(response.status);
  const body = await response.text();
  try {
    return JSON.parse(body);
  } catch (e) {
    fail("protocol", `unreadable JSON: ${e}`);
  }
}

function list(doc, key) {
  const items = doc[key];
  if (!Array.isArray(items)) fail("protocol", `answer has no "${key}" list`);
  return items;
}

function id(v) {
  const found = text(v, "id");
  if (found === undefined) fail("protocol", "record without id");
  return found;
}

function pagePath(property, what, cursor) {
  let page = 1;
  if (cursor !== undefined) {
    const m = /^page:(\d+)$/.exec(cursor);
    if (!m) fail("protocol", `cursor "${cursor}" was not made by this connector`);
    page = Number(m[1]);
  }
  return `/api/properties/${property}/${what}?page=${page}`;
}

function next(doc) {
  return typeof doc.next_page === "number" ? `page:${doc.next_page}` : undefined;
}

async function listProperties(config) {
  const doc = await get(config, "/api/properties");
  return list(doc, "properties").map((p) => ({ id: id(p), name: text(p, "name") ?? "" }));
}

export const connector = {
  info() {
    return {
      vendor: "acme-js",
      displayName: "Acme PMS (JavaScript)",
      version: "0.1.0",
      configFields: [
        { name: "base-url", label: "Base URL", description: "e.g. https://acme.example.com", secret: false, required: true },
        { name: "api-token", label: "API token", description: "Issued by Acme to the integration", secret: true, required: true },
      ],
      statusVocabulary: Object.keys(STATUSES),
    };
  },

  async check(config) {
    await listProperties(config);
  },

  listProperties,

  async readUnits(config, property, cursor) {
    const doc = await get(config, pagePath(property, "units", cursor));
    const records = list(doc, "units").map((u) => ({
      id: id(u),
      number: text(u, "number") ?? "",
      building: text(u, "building"),
      floorplan: text(u, "floorplan"),
      vacant: typeof u.vacant === "boolean" ? u.vacant : undefined,
      warnings: [],
    }));
    return { records, next: next(doc) };
  },

  async readResidents(config, property, cursor) {
    const doc = await get(config, pagePath(property, "residents", cursor));
    const records = list(doc, "residents").map((r) => {
      const warnings = [];
      const mail = email(warnings, text(r, "email"));
      const rawRole = text(r, "role");
      let role = rawRole === undefined ? "other" : ROLES[rawRole];
      if (role === undefined) {
        warnings.push({ field: "role", message: `unknown role ${JSON.stringify(rawRole)}` });
        role = "other";
      }
      return {
        id: id(r),
        leaseId: text(r, "lease_id"),
        unitId: text(r, "unit_id"),
        firstName: text(r, "first_name") ?? "",
        lastName: text(r, "last_name") ?? "",
        email: mail,
        phone: text(r, "phone"),
        role,
        warnings,
      };
    });
    if (records.length === 0) log("debug", `no residents on this page of ${property}`);
    return { records, next: next(doc) };
  },

  async readLeases(config, property, cursor) {
    const doc = await get(config, pagePath(property, "leases", cursor));
    const records = list(doc, "leases").map((l) => {
      const warnings = [];
      const raw = text(l, "status") ?? "";
      const ids = Array.isArray(l.resident_ids) ? l.resident_ids : [];
      return {
        id: id(l),
        unitId: text(l, "unit_id"),
        residentIds: ids.filter((v) => typeof v === "string" || typeof v === "number").map(String),
        rawStatus: raw,
        status: STATUSES[raw.trim().toLowerCase()] ?? "other",
        startDate: date(warnings, "start-date", text(l, "start_date")),
        endDate: date(warnings, "end-date", text(l, "end_date")),
        moveInDate: date(warnings, "move-in-date", text(l, "move_in")),
        moveOutDate: date(warnings, "move-out-date", text(l, "move_out")),
        warnings,
      };
    });
    return { records, next: next(doc) };
  },
};
