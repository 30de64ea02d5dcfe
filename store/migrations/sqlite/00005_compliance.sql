-- +goose Up
-- The disclosure register reads decisions by type and period.
CREATE INDEX audit_log_type_time ON audit_log (type, time);

-- Which exchanges carry data about which subject (by keyed HMAC only), for
-- subject access and rectification.
CREATE TABLE exchange_subjects (
    subject_key TEXT NOT NULL,
    exchange_id TEXT NOT NULL,
    PRIMARY KEY (subject_key, exchange_id)
);

-- Emergency overrides and the DPO's review of each.
CREATE TABLE override_reviews (
    exchange_id TEXT PRIMARY KEY,
    review_by   TIMESTAMP NOT NULL,
    state       TEXT NOT NULL,
    outcome     TEXT NOT NULL DEFAULT '',
    notes       TEXT NOT NULL DEFAULT '',
    reviewer    TEXT NOT NULL DEFAULT '',
    reviewed_at TIMESTAMP,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX override_reviews_due ON override_reviews (state, review_by);

-- Telling data subjects: withheld notifications come back for review.
CREATE TABLE notifications (
    exchange_id TEXT PRIMARY KEY,
    state       TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    review_at   TIMESTAMP,
    updated_by  TEXT NOT NULL DEFAULT '',
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX notifications_due ON notifications (state, review_at);

-- UK GDPR Art 19: a subject's data was corrected or erased; every
-- recipient of it gets a notice, and acknowledges it.
CREATE TABLE rectifications (
    id          TEXT PRIMARY KEY,
    subject_key TEXT NOT NULL,
    action      TEXT NOT NULL,
    description TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE TABLE notices (
    id               TEXT PRIMARY KEY,
    rectification_id TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    exchanges        TEXT NOT NULL,
    sent_at          TIMESTAMP NOT NULL,
    acknowledged_at  TIMESTAMP
);
CREATE INDEX notices_recipient ON notices (recipient, id);
CREATE INDEX notices_rectification ON notices (rectification_id);

-- Signed checkpoints of the audit chain, and the sealed segments archived
-- to object storage.
CREATE TABLE audit_checkpoints (
    seq        INTEGER PRIMARY KEY,
    hash       TEXT NOT NULL,
    time       TIMESTAMP NOT NULL,
    jws        TEXT NOT NULL
);
CREATE TABLE audit_segments (
    first_seq  INTEGER PRIMARY KEY,
    last_seq   INTEGER NOT NULL,
    object     TEXT NOT NULL,
    version    TEXT NOT NULL DEFAULT '',
    sha256     TEXT NOT NULL,
    archived_at TIMESTAMP NOT NULL
);

-- Checkpoints and the segment index are as append-only as the chain.
-- +goose StatementBegin
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_segments_no_update BEFORE UPDATE ON audit_segments
BEGIN
    SELECT RAISE(ABORT, 'audit_segments is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_segments_no_delete BEFORE DELETE ON audit_segments
BEGIN
    SELECT RAISE(ABORT, 'audit_segments is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_segments_no_delete;
DROP TRIGGER audit_segments_no_update;
DROP TRIGGER audit_checkpoints_no_delete;
DROP TRIGGER audit_checkpoints_no_update;
DROP TABLE audit_segments;
DROP TABLE audit_checkpoints;
DROP TABLE notices;
DROP TABLE rectifications;
DROP TABLE notifications;
DROP TABLE override_reviews;
DROP TABLE exchange_subjects;
DROP INDEX audit_log_type_time;
