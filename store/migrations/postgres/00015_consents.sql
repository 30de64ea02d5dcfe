-- +goose Up
-- The consent register: a data subject's consent, given to a sending party
-- under a reference, to the purposes it covers (space-separated codes). The
-- subject is its keyed digest, never the identifier. A prohibited purpose
-- (marketing, sale, commercial use) is allowed only where every subject's
-- cited consent is here, covers it and is not withdrawn.
CREATE TABLE consents (
    id           TEXT PRIMARY KEY,
    party        TEXT NOT NULL,
    consent_ref  TEXT NOT NULL,
    subject_key  TEXT NOT NULL,
    purposes     TEXT NOT NULL,
    given_at     TIMESTAMPTZ NOT NULL,
    withdrawn_at TIMESTAMPTZ,
    withdrawn_by TEXT NOT NULL DEFAULT '',
    recorded_by  TEXT NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX consents_ref_subject ON consents (party, consent_ref, subject_key);

-- +goose Down
DROP INDEX consents_ref_subject;
DROP TABLE consents;
