-- +goose Up
CREATE TABLE parties (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    doc         TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE agreements (
    id          TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version > 0),
    status      TEXT NOT NULL,
    doc         TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (id, version)
);

-- registry_generation counts registry changes so that every node can tell
-- cheaply whether its snapshot of parties and agreements is current.
CREATE TABLE registry_generation (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  BIGINT NOT NULL
);
INSERT INTO registry_generation (id, generation) VALUES (1, 0);

CREATE TABLE exchanges (
    id                TEXT PRIMARY KEY,
    state             TEXT NOT NULL,
    sender            TEXT NOT NULL,
    recipient         TEXT NOT NULL,
    agreement_id      TEXT NOT NULL,
    agreement_version INTEGER NOT NULL,
    meta              TEXT NOT NULL,
    decision          TEXT NOT NULL,
    payload_size      BIGINT NOT NULL DEFAULT 0,
    payload_sha256    TEXT NOT NULL DEFAULT '',
    ciphertext_size   BIGINT NOT NULL DEFAULT 0,
    object_key        TEXT NOT NULL DEFAULT '',
    object_version    TEXT NOT NULL DEFAULT '',
    envelope          TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    delivered_at      TIMESTAMPTZ
);
CREATE INDEX exchanges_recipient ON exchanges (recipient, id);
CREATE INDEX exchanges_sender ON exchanges (sender, id);

-- The audit chain. Each row's hash is the SHA-256 of its canonical body,
-- which includes the previous row's hash. Rows are never changed.
CREATE TABLE audit_log (
    seq   BIGINT PRIMARY KEY,
    time  TIMESTAMPTZ NOT NULL,
    type  TEXT NOT NULL,
    body  TEXT NOT NULL,
    hash  TEXT NOT NULL
);
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TRIGGER audit_log_append_only ON audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE audit_head;
DROP TABLE audit_log;
DROP TABLE exchanges;
DROP TABLE registry_generation;
DROP TABLE agreements;
DROP TABLE parties;
