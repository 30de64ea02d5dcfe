-- +goose Up
-- Payload objects that no exchange records (an upload stored, then its
-- commit lost), found by the reconciler: kept while a lock holds them,
-- deleted (and the deletion audited) once none does.
CREATE TABLE orphan_objects (
    object       TEXT NOT NULL,
    version      TEXT NOT NULL,
    exchange_id  TEXT NOT NULL,
    size         BIGINT NOT NULL,
    stored_at    TIMESTAMP NOT NULL,
    found_at     TIMESTAMP NOT NULL,
    seen_at      TIMESTAMP NOT NULL,
    lock_mode    TEXT NOT NULL DEFAULT '',
    locked_until TIMESTAMP,
    deleted_at   TIMESTAMP,
    PRIMARY KEY (object, version)
);

-- +goose Down
DROP TABLE orphan_objects;
