-- +goose Up
-- The outbox: every event someone must hear about (an override made, an
-- exchange delivered, an agreement suspended...) is written in the
-- transaction of the change that causes it, so that it is never lost and
-- never sent for a change that rolled back. Events hold ids, never subject
-- identifiers or payload content.
CREATE TABLE outbox_events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    party       TEXT NOT NULL DEFAULT '',
    roles       TEXT NOT NULL DEFAULT '',
    data        TEXT NOT NULL,
    -- routed is set once the event's deliveries (one per webhook endpoint
    -- and mailbox) are written.
    routed      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX outbox_events_unrouted ON outbox_events (created_at) WHERE NOT routed;

-- One delivery of an event to one endpoint or mailbox. A node claims it
-- with a lease, so that several nodes deliver each at most once at a time.
CREATE TABLE outbox_deliveries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL REFERENCES outbox_events (id),
    channel      TEXT NOT NULL,
    target       TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      TIMESTAMP NOT NULL,
    lease_holder TEXT NOT NULL DEFAULT '',
    lease_until  TIMESTAMP,
    last_error   TEXT NOT NULL DEFAULT '',
    last_at      TIMESTAMP,
    delivered_at TIMESTAMP,
    created_at   TIMESTAMP NOT NULL,
    UNIQUE (event_id, channel, target)
);
CREATE INDEX outbox_deliveries_due ON outbox_deliveries (state, next_at);

-- +goose Down
DROP TABLE outbox_deliveries;
DROP TABLE outbox_events;
