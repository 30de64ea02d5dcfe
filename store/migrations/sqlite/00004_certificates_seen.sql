-- +goose Up
-- Party certificates the gateway has accepted, for expiry tracking.
CREATE TABLE certificates_seen (
    fingerprint TEXT PRIMARY KEY,
    party       TEXT NOT NULL,
    serial      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    not_after   TIMESTAMP NOT NULL,
    first_seen  TIMESTAMP NOT NULL,
    last_seen   TIMESTAMP NOT NULL
);
CREATE INDEX certificates_seen_expiry ON certificates_seen (not_after);

-- +goose Down
DROP TABLE certificates_seen;
