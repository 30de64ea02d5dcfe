-- Least privilege for a gateway on PostgreSQL.
--
-- Run this as the owner of the gateway's tables, after the schema has been
-- migrated (`gatehouse migrate --config gatehouse.yaml` with the owner's
-- DSN), then make the gateway's login role a member of gatehouse_app:
--
--   CREATE ROLE gatehouse LOGIN PASSWORD '…' IN ROLE gatehouse_app;
--
-- The gateway can then read and change its state, but it can only add to
-- the audit record: UPDATE, DELETE and TRUNCATE on the chain, its
-- checkpoints and its segment index are refused by privilege, and for the
-- owner too by trigger. Run it again after every upgrade that adds tables.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gatehouse_app') THEN
        CREATE ROLE gatehouse_app NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO gatehouse_app', current_database());
END
$$;

GRANT USAGE ON SCHEMA public TO gatehouse_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO gatehouse_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO gatehouse_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_tree, audit_checkpoints, audit_segments FROM gatehouse_app;
-- The chain's head: the gateway moves it forward (a trigger refuses any other
-- change, for the owner too); it may not delete it.
REVOKE DELETE, TRUNCATE ON audit_head FROM gatehouse_app;
