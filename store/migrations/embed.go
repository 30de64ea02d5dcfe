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
