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
SELECT agreement_id, sender, recipient, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), COUNT(*)
FROM exchanges
WHERE agreement_id <> '' AND created_at >= now() - interval '1 day'
GROUP BY agreement_id, sender, recipient, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD');

-- +goose Down
DROP TABLE volume_reservations;
