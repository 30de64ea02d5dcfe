-- +goose Up
-- Daily volume limits count what a sender declared to a recipient today.
CREATE INDEX exchanges_sent ON exchanges (sender, recipient, agreement_id, created_at);

-- +goose Down
DROP INDEX exchanges_sent;
