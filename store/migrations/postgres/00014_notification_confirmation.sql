-- +goose Up
-- A sender that withholds the subjects' notification at declaration (under
-- an exemption or the agreement's default) only proposes it: the
-- withholding is pending until a DPO confirms it, by confirm_by. A DPO's own
-- withholding is confirmed as it is made. Withholdings recorded before this
-- migration were never confirmed: they fall due for confirmation at once.
ALTER TABLE notifications ADD COLUMN confirm_by TIMESTAMP;
ALTER TABLE notifications ADD COLUMN confirmed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN confirmed_at TIMESTAMP;
UPDATE notifications SET confirm_by = updated_at WHERE state = 'withheld';
CREATE INDEX notifications_unconfirmed ON notifications (confirm_by) WHERE state = 'withheld' AND confirmed_at IS NULL;

-- +goose Down
DROP INDEX notifications_unconfirmed;
ALTER TABLE notifications DROP COLUMN confirmed_at;
ALTER TABLE notifications DROP COLUMN confirmed_by;
ALTER TABLE notifications DROP COLUMN confirm_by;
