-- Schema 2: what the last sync that planned did with each PMS record of a property,
-- and the audit log and the access feed indexed by account (a person's history).
CREATE TABLE dispositions (property text PRIMARY KEY, value jsonb NOT NULL);
CREATE INDEX audit_by_account ON audit (scope, ((value->>'account')::bigint), seq);
CREATE INDEX feed_by_account ON access_feed (property, ((value->>'account')::bigint), seq);
