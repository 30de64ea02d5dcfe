-- +goose Up
-- Proposed changes to a party's trust (kind, trust anchors, identity rule,
-- revocation hosts, encryption key): applied only when a second person
-- approves one, naming its digest. doc holds the whole proposal.
CREATE TABLE party_changes (
    id          TEXT PRIMARY KEY,
    party       TEXT NOT NULL,
    status      TEXT NOT NULL,
    proposed_at TIMESTAMPTZ NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX party_changes_party ON party_changes (party, proposed_at);
-- A party has at most one open proposal.
CREATE UNIQUE INDEX party_changes_open ON party_changes (party) WHERE status = 'proposed';

-- +goose Down
DROP TABLE party_changes;
