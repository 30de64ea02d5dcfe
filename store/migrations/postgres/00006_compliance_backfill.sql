-- +goose Up
-- Exchanges made before 00005 get their compliance record too: the subject
-- index (for subject access and Art 19 notices), the review an emergency
-- override awaits, and the decision about telling the subjects (where none
-- was recorded, withheld and due for review at once).
INSERT INTO exchange_subjects (subject_key, exchange_id)
SELECT DISTINCT k, e.id
FROM exchanges e, jsonb_array_elements_text(COALESCE(e.meta::jsonb -> 'subject_keys', '[]'::jsonb)) AS k
ON CONFLICT DO NOTHING;

INSERT INTO override_reviews (exchange_id, review_by, state, created_at)
SELECT id, (decision::jsonb ->> 'review_by')::timestamptz, 'awaiting', created_at
FROM exchanges
WHERE decision::jsonb ->> 'outcome' = 'allow-override' AND decision::jsonb ->> 'review_by' IS NOT NULL
ON CONFLICT DO NOTHING;

INSERT INTO notifications (exchange_id, state, reason, review_at, updated_by, updated_at)
SELECT id,
    CASE meta::jsonb -> 'notification' ->> 'decision' WHEN 'notify' THEN 'due' ELSE 'withheld' END,
    COALESCE(meta::jsonb -> 'notification' ->> 'reason', 'recorded before Gatehouse tracked notifications: decide whether to tell the subjects'),
    CASE
        WHEN meta::jsonb -> 'notification' ->> 'decision' = 'notify' THEN NULL
        WHEN meta::jsonb -> 'notification' ->> 'review_at' IS NOT NULL
            THEN (meta::jsonb -> 'notification' ->> 'review_at')::timestamptz
        ELSE created_at
    END,
    sender, created_at
FROM exchanges
ON CONFLICT DO NOTHING;

-- +goose Down
-- The rows stay: 00005's Down removes the tables.
SELECT 1;
