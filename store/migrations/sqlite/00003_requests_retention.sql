-- +goose Up
ALTER TABLE exchanges ADD COLUMN expires_at TIMESTAMP;
ALTER TABLE exchanges ADD COLUMN acknowledged_at TIMESTAMP;
ALTER TABLE exchanges ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
-- The retention sweeper looks for stored payloads past their expiry.
CREATE INDEX exchanges_expiry ON exchanges (expires_at) WHERE object_key <> '';
CREATE INDEX exchanges_request ON exchanges (request_id) WHERE request_id <> '';

-- Inbound information requests (e.g. a police Schedule 2 request), routed to
-- the council service that handles them.
CREATE TABLE requests (
    id                TEXT PRIMARY KEY,
    state             TEXT NOT NULL,
    requester         TEXT NOT NULL,
    handler           TEXT NOT NULL,
    agreement_id      TEXT NOT NULL,
    agreement_version INTEGER NOT NULL,
    meta              TEXT NOT NULL,
    decision          TEXT NOT NULL,
    response          TEXT NOT NULL DEFAULT '',
    deadline          TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX requests_handler ON requests (handler, id);
CREATE INDEX requests_requester ON requests (requester, id);

-- Idempotency-Key: a key a party sent with a POST, claimed in the same
-- transaction as what the POST created, so that a retry finds it.
CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    resource     TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE requests;
DROP INDEX exchanges_request;
DROP INDEX exchanges_expiry;
ALTER TABLE exchanges DROP COLUMN request_id;
ALTER TABLE exchanges DROP COLUMN acknowledged_at;
ALTER TABLE exchanges DROP COLUMN expires_at;
