-- +goose Up
-- Payload objects that no exchange records (an upload stored, then its
-- commit lost), found by the reconciler: kept while a lock holds them,
-- deleted (and the deletion audited) once none does.
CREATE TABLE orphan_objects (
    object       TEXT NOT NULL,
    version      TEXT NOT NULL,
    exchange_id  TEXT NOT NULL,
    size         BIGINT NOT NULL,
    stored_at    TIMESTAMPTZ NOT NULL,
    found_at     TIMESTAMPTZ NOT NULL,
    seen_at      TIMESTAMPTZ NOT NULL,
    lock_mode    TEXT NOT NULL DEFAULT '',
    locked_until TIMESTAMPTZ,
    deleted_at   TIMESTAMPTZ,
    PRIMARY KEY (object, version)
);

-- +goose Down
DROP TABLE orphan_objects;
