-- Schema 3: webhook subscriptions (their signing secret sealed), the outbox every
-- notification is appended to in the transaction that caused it, and attempts.
CREATE TABLE webhook_subscriptions (id text PRIMARY KEY, record jsonb NOT NULL, sealed_secret text NOT NULL);
CREATE TABLE webhook_outbox (seq bigint PRIMARY KEY, property text NOT NULL, value jsonb NOT NULL);
CREATE TABLE webhook_attempts (subscription text NOT NULL, n bigint NOT NULL, value jsonb NOT NULL, PRIMARY KEY (subscription, n));
INSERT INTO counters (name, value) VALUES ('webhook-outbox', 0);
