-- +goose Up
-- The console's sessions, kept where every gateway node sees them, so that
-- signing out ends a session everywhere and a copied cookie stops working.
-- The browser's cookie holds a random id; only its SHA-256 is kept here.
-- data is the session itself (names, roles, CSRF token), sealed with the
-- console's session key.
CREATE TABLE console_sessions (
    id_hash    TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    data       BLOB NOT NULL,
    signed_in  TIMESTAMP NOT NULL,
    seen_at    TIMESTAMP NOT NULL,
    idle_until TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX console_sessions_subject ON console_sessions (subject, signed_in);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- An export made in the console, kept a short while so that its file and
-- its detached signature are downloaded as a pair from whichever node
-- answers. Bounded in number (per person and in all) and in size.
CREATE TABLE console_exports (
    id         TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    name       TEXT NOT NULL,
    format     TEXT NOT NULL,
    body       BLOB NOT NULL,
    signature  TEXT NOT NULL,
    report     BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX console_exports_owner ON console_exports (owner, created_at);
CREATE INDEX console_exports_expiry ON console_exports (expires_at);

-- +goose Down
DROP TABLE console_exports;
DROP TABLE console_sessions;
