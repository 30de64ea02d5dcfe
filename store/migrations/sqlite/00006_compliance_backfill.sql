-- +goose Up
-- Exchanges made before 00005 get their compliance record too: the subject
-- index (for subject access and Art 19 notices), the review an emergency
-- override awaits, and the decision about telling the subjects (where none
-- was recorded, withheld and due for review at once).
INSERT OR IGNORE INTO exchange_subjects (subject_key, exchange_id)
SELECT DISTINCT j.value, e.id FROM exchanges e, json_each(e.meta, '$.subject_keys') j;

INSERT OR IGNORE INTO override_reviews (exchange_id, review_by, state, created_at)
SELECT id, strftime('%Y-%m-%d %H:%M:%f', json_extract(decision, '$.review_by')) || '+00:00', 'awaiting', created_at
FROM exchanges
WHERE json_extract(decision, '$.outcome') = 'allow-override' AND json_extract(decision, '$.review_by') IS NOT NULL;

INSERT OR IGNORE INTO notifications (exchange_id, state, reason, review_at, updated_by, updated_at)
SELECT id,
    CASE json_extract(meta, '$.notification.decision') WHEN 'notify' THEN 'due' ELSE 'withheld' END,
    COALESCE(json_extract(meta, '$.notification.reason'), 'recorded before Gatehouse tracked notifications: decide whether to tell the subjects'),
    CASE
        WHEN json_extract(meta, '$.notification.decision') = 'notify' THEN NULL
        WHEN json_extract(meta, '$.notification.review_at') IS NOT NULL
            THEN strftime('%Y-%m-%d %H:%M:%f', json_extract(meta, '$.notification.review_at')) || '+00:00'
        ELSE created_at
    END,
    sender, created_at
FROM exchanges;

-- +goose Down
-- The rows stay: 00005's Down removes the tables.
SELECT 1;
