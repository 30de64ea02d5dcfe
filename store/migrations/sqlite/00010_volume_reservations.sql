-- +goose Up
-- How many exchanges each sender declared to each recipient under each
-- agreement on each day (UTC): a declaration reserves one in its own
-- transaction with a conditional update, so concurrent declarations can
-- never together pass a flow's daily limit.
CREATE TABLE volume_reservations (
    agreement_id TEXT NOT NULL,
    sender       TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    day          TEXT NOT NULL,
    reserved     INTEGER NOT NULL,
    PRIMARY KEY (agreement_id, sender, recipient, day)
);

-- Counts for today's declarations made before this table existed.
INSERT INTO volume_reservations (agreement_id, sender, recipient, day, reserved)
SELECT agreement_id, sender, recipient, strftime('%Y-%m-%d', created_at), COUNT(*)
FROM exchanges
WHERE agreement_id <> '' AND created_at >= date('now', '-1 day')
GROUP BY agreement_id, sender, recipient, strftime('%Y-%m-%d', created_at);

-- +goose Down
DROP TABLE volume_reservations;
