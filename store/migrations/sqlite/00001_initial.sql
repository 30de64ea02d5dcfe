-- +goose Up
CREATE TABLE parties (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    doc         TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE agreements (
    id          TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version > 0),
    status      TEXT NOT NULL,
    doc         TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (id, version)
);

-- registry_generation counts registry changes so that every node can tell
-- cheaply whether its snapshot of parties and agreements is current.
CREATE TABLE registry_generation (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  INTEGER NOT NULL
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
    payload_size      INTEGER NOT NULL DEFAULT 0,
    payload_sha256    TEXT NOT NULL DEFAULT '',
    ciphertext_size   INTEGER NOT NULL DEFAULT 0,
    object_key        TEXT NOT NULL DEFAULT '',
    object_version    TEXT NOT NULL DEFAULT '',
    envelope          TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    delivered_at      TIMESTAMP
);
CREATE INDEX exchanges_recipient ON exchanges (recipient, id);
CREATE INDEX exchanges_sender ON exchanges (sender, id);

-- The audit chain. Each row's hash is the SHA-256 of its canonical body,
-- which includes the previous row's hash. Rows are never changed.
CREATE TABLE audit_log (
    seq   INTEGER PRIMARY KEY,
    time  TIMESTAMP NOT NULL,
    type  TEXT NOT NULL,
    body  TEXT NOT NULL,
    hash  TEXT NOT NULL
);
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_log_no_delete;
DROP TRIGGER audit_log_no_update;
DROP TABLE audit_head;
DROP TABLE audit_log;
DROP TABLE exchanges;
DROP TABLE registry_generation;
DROP TABLE agreements;
DROP TABLE parties;
