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
    review_by   TIMESTAMPTZ NOT NULL,
    state       TEXT NOT NULL,
    outcome     TEXT NOT NULL DEFAULT '',
    notes       TEXT NOT NULL DEFAULT '',
    reviewer    TEXT NOT NULL DEFAULT '',
    reviewed_at TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX override_reviews_due ON override_reviews (state, review_by);

-- Telling data subjects: withheld notifications come back for review.
CREATE TABLE notifications (
    exchange_id TEXT PRIMARY KEY,
    state       TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    review_at   TIMESTAMPTZ,
    updated_by  TEXT NOT NULL DEFAULT '',
    updated_at  TIMESTAMPTZ NOT NULL
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
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE TABLE notices (
    id               TEXT PRIMARY KEY,
    rectification_id TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    exchanges        TEXT NOT NULL,
    sent_at          TIMESTAMPTZ NOT NULL,
    acknowledged_at  TIMESTAMPTZ
);
CREATE INDEX notices_recipient ON notices (recipient, id);
CREATE INDEX notices_rectification ON notices (rectification_id);

-- Signed checkpoints of the audit chain, and the sealed segments archived
-- to object storage.
CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY,
    hash       TEXT NOT NULL,
    time       TIMESTAMPTZ NOT NULL,
    jws        TEXT NOT NULL
);
CREATE TABLE audit_segments (
    first_seq  BIGINT PRIMARY KEY,
    last_seq   BIGINT NOT NULL,
    object     TEXT NOT NULL,
    version    TEXT NOT NULL DEFAULT '',
    sha256     TEXT NOT NULL,
    archived_at TIMESTAMPTZ NOT NULL
);

-- Checkpoints and the segment index are as append-only as the chain.
-- +goose StatementBegin
CREATE FUNCTION append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION append_only();
CREATE TRIGGER audit_segments_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_segments
    FOR EACH STATEMENT EXECUTE FUNCTION append_only();

-- Append-only by privilege as well as by trigger: nobody but the owner may
-- change the audit record. Run the gateway as a role that does not own the
-- tables, with the grants in store/postgres-roles.sql, and it can only add
-- to it.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_checkpoints FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_segments FROM PUBLIC;

-- +goose Down
DROP TRIGGER audit_segments_append_only ON audit_segments;
DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints;
DROP FUNCTION append_only();
DROP TABLE audit_segments;
DROP TABLE audit_checkpoints;
DROP TABLE notices;
DROP TABLE rectifications;
DROP TABLE notifications;
DROP TABLE override_reviews;
DROP TABLE exchange_subjects;
DROP INDEX audit_log_type_time;
