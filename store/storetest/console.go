package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/store"
)

// The console's sessions and made exports: kept, read back as written,
// bounded per person and in all, and forgotten once ended.
func testConsoleState(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := store.ConsoleSession{IDHash: "h1", Subject: "oid-1", Data: []byte{0, 1, 2, 0xff}, SignedIn: t0, Seen: t0,
		IdleUntil: t0.Add(15 * time.Minute), Expires: t0.Add(8 * time.Hour)}
	require.NoError(t, db.CreateConsoleSession(ctx, s, 2))
	got, err := db.ConsoleSession(ctx, "h1")
	require.NoError(t, err)
	require.Equal(t, s.Data, got.Data)
	require.Equal(t, "oid-1", got.Subject)
	require.True(t, got.SignedIn.Equal(t0.Truncate(time.Microsecond)))
	require.True(t, got.Expires.Equal(s.Expires.Truncate(time.Microsecond)))
	_, err = db.ConsoleSession(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNoConsoleRecord)

	seen := t0.Add(10 * time.Minute)
	require.NoError(t, db.TouchConsoleSession(ctx, "h1", seen, seen.Add(15*time.Minute)))
	got, err = db.ConsoleSession(ctx, "h1")
	require.NoError(t, err)
	require.True(t, got.Seen.Equal(seen.Truncate(time.Microsecond)))

	// Two more sessions of the same person: the oldest goes.
	for i, h := range []string{"h2", "h3"} {
		s2 := s
		s2.IDHash, s2.SignedIn = h, t0.Add(time.Duration(i+1)*time.Second)
		require.NoError(t, db.CreateConsoleSession(ctx, s2, 2))
	}
	_, err = db.ConsoleSession(ctx, "h1")
	require.ErrorIs(t, err, store.ErrNoConsoleRecord)
	other := s
	other.IDHash, other.Subject = "h4", "oid-2"
	require.NoError(t, db.CreateConsoleSession(ctx, other, 2))
	_, err = db.ConsoleSession(ctx, "h2")
	require.NoError(t, err, "another person's sign-in ends none of this one's")

	require.NoError(t, db.DeleteConsoleSession(ctx, "h2"))
	_, err = db.ConsoleSession(ctx, "h2")
	require.ErrorIs(t, err, store.ErrNoConsoleRecord)

	// Exports: three per person, four in all.
	for i := range 4 {
		owner := "oid-1"
		if i == 3 {
			owner = "oid-2"
		}
		require.NoError(t, db.PutConsoleExport(ctx, store.ConsoleExport{ID: fmt.Sprintf("e%d", i), Owner: owner, Name: "x.csv", Format: "csv",
			Body: []byte("a,b\n"), Signature: "sig", Report: []byte("{}"), Created: t0.Add(time.Duration(i) * time.Second),
			Expires: t0.Add(time.Duration(i)*time.Second + 15*time.Minute)}, 2, 3))
	}
	_, err = db.ConsoleExport(ctx, "e0")
	require.ErrorIs(t, err, store.ErrNoConsoleRecord, "the owner's oldest beyond two")
	e, err := db.ConsoleExport(ctx, "e2")
	require.NoError(t, err)
	require.Equal(t, []byte("a,b\n"), e.Body)
	require.Equal(t, "sig", e.Signature)
	require.NoError(t, db.PutConsoleExport(ctx, store.ConsoleExport{ID: "e4", Owner: "oid-3", Name: "y.json", Format: "json",
		Body: []byte("{}"), Signature: "s", Report: []byte("{}"), Created: t0.Add(4 * time.Second), Expires: t0.Add(time.Hour)}, 2, 3))
	_, err = db.ConsoleExport(ctx, "e1")
	require.ErrorIs(t, err, store.ErrNoConsoleRecord, "everyone's oldest beyond three")

	// At t0+20m: h3 and h4 idle (h3 untouched), the exports made at t0 past their time but e4.
	sessions, exports, err := db.ForgetConsoleState(ctx, t0.Add(20*time.Minute))
	require.NoError(t, err)
	require.Equal(t, int64(2), sessions)
	require.Equal(t, int64(2), exports)
	_, err = db.ConsoleExport(ctx, "e4")
	require.NoError(t, err)
}
