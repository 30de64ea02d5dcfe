// Package e2e drives whole gateways end to end: real TLS handshakes, a real
// MinIO, real SQLite and PostgreSQL, the demo parties and agreements, and the
// Go client that partners use.
package e2e

import (
	"testing"

	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
