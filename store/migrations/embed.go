// Package migrations holds the SQL schema of each backend, applied with goose.
package migrations

import "embed"

// SQLite is the schema for the embedded SQLite backend.
//
//go:embed sqlite/*.sql
var SQLite embed.FS

// Postgres is the schema for the PostgreSQL backend.
//
//go:embed postgres/*.sql
var Postgres embed.FS

// PostgresRoles grants a gatehouse_app role what the gateway needs and no
// more: in particular, no UPDATE, DELETE or TRUNCATE on the audit record.
//
//go:embed postgres-roles.sql
var PostgresRoles string
