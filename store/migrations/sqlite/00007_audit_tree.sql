-- +goose Up
-- The audit record as a Merkle tree (RFC 6962 hashing; see docs/audit.md):
-- the row of seq s holds the hashes, 32 bytes each, of the nodes that
-- appending entry s completes, from its leaf up. Written in the
-- transaction of the entry; 00008 fills it in for entries made before.
CREATE TABLE audit_tree (
    seq   INTEGER PRIMARY KEY,
    nodes BLOB NOT NULL
);
-- +goose StatementBegin
CREATE TRIGGER audit_tree_no_update BEFORE UPDATE ON audit_tree
BEGIN
    SELECT RAISE(ABORT, 'audit_tree is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_tree_no_delete BEFORE DELETE ON audit_tree
BEGIN
    SELECT RAISE(ABORT, 'audit_tree is append-only');
END;
-- +goose StatementEnd

-- The head also keeps the tree's frontier (the roots of its perfect
-- subtrees, concatenated), so that a writer extends the tree without
-- reading it. The head only moves forward: a head moved back would hide
-- the entries after it.
ALTER TABLE audit_head ADD COLUMN frontier BLOB;
-- +goose StatementBegin
CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
WHEN NEW.seq < OLD.seq OR (NEW.seq = OLD.seq AND NEW.hash <> OLD.hash)
BEGIN
    SELECT RAISE(ABORT, 'audit_head only moves forward');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'audit_head only moves forward');
END;
-- +goose StatementEnd

-- A checkpoint now also signs the tree: its root, and the C2SP
-- tlog-checkpoint note (empty for checkpoints made before).
ALTER TABLE audit_checkpoints ADD COLUMN root BLOB NOT NULL DEFAULT x'';
ALTER TABLE audit_checkpoints ADD COLUMN note TEXT NOT NULL DEFAULT '';

-- One node at a time signs and archives checkpoints: the holder of this
-- lease. A node claims a checkpoint (its row) before it archives the
-- segment, and records the segment after, so the archive never holds a
-- segment the database does not know of.
CREATE TABLE audit_archiver (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT NOT NULL,
    until  TIMESTAMP NOT NULL
);
INSERT INTO audit_archiver (id, holder, until) VALUES (1, '', '1970-01-01 00:00:00');

-- +goose Down
DROP TABLE audit_archiver;
ALTER TABLE audit_checkpoints DROP COLUMN note;
ALTER TABLE audit_checkpoints DROP COLUMN root;
DROP TRIGGER audit_head_no_delete;
DROP TRIGGER audit_head_forward_only;
ALTER TABLE audit_head DROP COLUMN frontier;
DROP TRIGGER audit_tree_no_delete;
DROP TRIGGER audit_tree_no_update;
DROP TABLE audit_tree;
