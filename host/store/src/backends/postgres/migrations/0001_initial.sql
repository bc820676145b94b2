-- Schema 1 of the PostgreSQL store. Values are the same JSON as in the redb file
-- (`jsonb`, so that an operator can query them); keys that are not plain ids (a PMS
-- person or unit key) are their JSON text. Every per-property table is keyed by
-- (property, ...), so one property's rows are one index range.

CREATE TABLE properties (id text PRIMARY KEY, record jsonb NOT NULL);
CREATE TABLE credentials (id text PRIMARY KEY, record jsonb NOT NULL);

CREATE TABLE accounts (property text NOT NULL, id bigint NOT NULL, value jsonb NOT NULL, PRIMARY KEY (property, id));
CREATE TABLE links (property text NOT NULL, key text NOT NULL, account bigint NOT NULL, PRIMARY KEY (property, key));
CREATE TABLE door_units (property text NOT NULL, id bigint NOT NULL, value jsonb NOT NULL, PRIMARY KEY (property, id));
CREATE TABLE unit_mappings (property text NOT NULL, key text NOT NULL, door_unit bigint NOT NULL, PRIMARY KEY (property, key));
CREATE TABLE pms_units (property text PRIMARY KEY, value jsonb NOT NULL);
CREATE TABLE alerts (property text NOT NULL, id bigint NOT NULL, value jsonb NOT NULL, PRIMARY KEY (property, id));
CREATE TABLE alert_history (property text NOT NULL, id bigint NOT NULL, value jsonb NOT NULL, PRIMARY KEY (property, id));
CREATE TABLE grants (property text NOT NULL, id bigint NOT NULL, value jsonb NOT NULL, PRIMARY KEY (property, id));
CREATE TABLE suggestions (property text NOT NULL, id bigint NOT NULL, value jsonb NOT NULL, PRIMARY KEY (property, id));
CREATE TABLE suggestion_history (property text NOT NULL, id bigint NOT NULL, value jsonb NOT NULL, PRIMARY KEY (property, id));
CREATE TABLE access_memos (property text NOT NULL, id bigint NOT NULL, value jsonb NOT NULL, PRIMARY KEY (property, id));

-- Per-scope sequences: a property's id, or '' for the service's own log. Writers of a
-- scope are serialised by the property's row lock (or the 'service-audit' counter's).
CREATE TABLE sync_runs (property text NOT NULL, seq bigint NOT NULL, value jsonb NOT NULL, PRIMARY KEY (property, seq));
CREATE TABLE audit (scope text NOT NULL, seq bigint NOT NULL, value jsonb NOT NULL, PRIMARY KEY (scope, seq));

-- The access feed: `seq` is taken from the 'feed' counter under its row lock, held to
-- the commit, so sequence order is commit order and there are no gaps.
CREATE TABLE access_feed (seq bigint PRIMARY KEY, property text NOT NULL, value jsonb NOT NULL);
CREATE TABLE counters (name text PRIMARY KEY, value bigint NOT NULL);
INSERT INTO counters (name, value) VALUES ('feed', 0), ('service-audit', 0);

CREATE TABLE api_tokens (hash text PRIMARY KEY, record jsonb NOT NULL);
CREATE TABLE plugins (sha256 text PRIMARY KEY, record jsonb NOT NULL);
CREATE TABLE plugin_blobs (sha256 text PRIMARY KEY, bytes bytea NOT NULL);
CREATE TABLE plugin_defaults (vendor text PRIMARY KEY, value jsonb NOT NULL);
CREATE TABLE plugin_pins (property text PRIMARY KEY, sha256 text NOT NULL);

-- Who syncs what: one live lease a property; a vendor's row is locked while a lease
-- of that vendor is taken, so the per-vendor limit holds across hosts.
CREATE TABLE sync_leases (property text PRIMARY KEY, vendor text NOT NULL, holder text NOT NULL, expires_at timestamptz NOT NULL);
CREATE INDEX sync_leases_by_vendor ON sync_leases (vendor, expires_at);
CREATE TABLE vendor_locks (vendor text PRIMARY KEY);
