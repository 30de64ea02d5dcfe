package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/certs"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
	"github.com/gatehouse-gw/gatehouse/store"
)

// testRequests: information requests are stored, locked, changed and
// listed by requester and by handler, with states and pages.
func testRequests(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := db.Exchanges()
	_, err := s.Request(ctx, "nope")
	require.ErrorIs(t, err, exchange.ErrRequestNotFound)
	for i, id := range []string{"01-r1", "01-r2", "01-r3"} {
		r := &exchange.Request{
			ID: id, State: exchange.RequestOpen, Requester: "police.northshire", Handler: "council.legal",
			AgreementID: "police-crime", AgreementVersion: 1,
			Meta:     exchange.RequestMeta{Meta: exchange.Meta{Purpose: "crime-prevention-detection", DataCategories: []string{"identity"}}, DataSought: "address history"},
			Decision: agreements.Decision{Outcome: agreements.Allow, Agreement: "police-crime@1"},
			Deadline: t0.Add(time.Duration(i+1) * time.Hour), CreatedAt: t0, UpdatedAt: t0,
		}
		require.NoError(t, s.Update(ctx, func(tx exchange.Tx) error { return tx.CreateRequest(ctx, r) }))
	}
	got, err := s.Request(ctx, "01-r2")
	require.NoError(t, err)
	require.Equal(t, "address history", got.Meta.DataSought)
	require.True(t, got.Deadline.Equal(t0.Add(2*time.Hour).Truncate(time.Microsecond)))

	require.NoError(t, s.Update(ctx, func(tx exchange.Tx) error {
		r, err := tx.LockRequest(ctx, "01-r2")
		if err != nil {
			return err
		}
		r.State, r.Response.Reason, r.UpdatedAt = exchange.RequestDeclined, "not held", t0.Add(time.Minute)
		return tx.SaveRequest(ctx, r)
	}))
	got, err = s.Request(ctx, "01-r2")
	require.NoError(t, err)
	require.Equal(t, exchange.RequestDeclined, got.State)
	require.Equal(t, "not held", got.Response.Reason)

	open, err := s.Requests(ctx, exchange.RequestQuery{Handler: "council.legal", States: []exchange.RequestState{exchange.RequestOpen}, Limit: 10})
	require.NoError(t, err)
	require.Len(t, open, 2)
	page, err := s.Requests(ctx, exchange.RequestQuery{Requester: "police.northshire", After: "01-r1", Limit: 1})
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.Equal(t, "01-r2", page[0].ID)
	none, err := s.Requests(ctx, exchange.RequestQuery{Requester: "dwp", Limit: 10})
	require.NoError(t, err)
	require.Empty(t, none)
}

// testIdempotency: a key is claimed once per scope, in the transaction that
// creates its resource, found again, and forgotten when old.
func testIdempotency(t *testing.T, db *store.DB) {
	ctx := context.Background()
	s := db.Exchanges()
	_, _, err := db.KeyResource(ctx, "council.revenues", "k1")
	require.ErrorIs(t, err, idem.ErrUnknown)
	claim := func(scope, key, resource string, at time.Time) error {
		return s.Update(ctx, func(tx exchange.Tx) error { return tx.ClaimKey(ctx, scope, key, "fp-"+resource, resource, at) })
	}
	require.NoError(t, claim("council.revenues", "k1", "x1", t0))
	require.Error(t, claim("council.revenues", "k1", "x2", t0), "a key is claimed once")
	require.NoError(t, claim("police.northshire", "k1", "x3", t0), "keys are scoped by party")
	fp, res, err := db.KeyResource(ctx, "council.revenues", "k1")
	require.NoError(t, err)
	require.Equal(t, [2]string{"fp-x1", "x1"}, [2]string{fp, res})

	// A failed claim rolls back what its transaction created.
	e := newExchange("01-idem", "police.northshire", exchange.StateDeclared)
	err = s.Update(ctx, func(tx exchange.Tx) error {
		if err := tx.CreateExchange(ctx, e); err != nil {
			return err
		}
		return tx.ClaimKey(ctx, "council.revenues", "k1", "fp", e.ID, t0)
	})
	require.Error(t, err)
	_, err = s.Exchange(ctx, "01-idem")
	require.ErrorIs(t, err, exchange.ErrNotFound)

	require.NoError(t, claim("council.revenues", "k-new", "x4", t0.Add(48*time.Hour)))
	n, err := db.ForgetKeys(ctx, t0.Add(24*time.Hour))
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	_, _, err = db.KeyResource(ctx, "council.revenues", "k-new")
	require.NoError(t, err)
}

// testCertificates: the party certificates seen, shared by every node.
func testCertificates(t *testing.T, db *store.DB) {
	ctx := context.Background()
	c := certs.SeenCertificate{Fingerprint: "aa", Party: "police.northshire", Serial: "01", Subject: "CN=a", Issuer: "CN=ca",
		NotAfter: t0.Add(30 * 24 * time.Hour), FirstSeen: t0, LastSeen: t0}
	require.NoError(t, db.SaveSeenCertificate(ctx, c))
	c.LastSeen = t0.Add(time.Hour)
	require.NoError(t, db.SaveSeenCertificate(ctx, c), "seen again")
	older := certs.SeenCertificate{Fingerprint: "bb", Party: "dwp", Serial: "02", NotAfter: t0.Add(24 * time.Hour), FirstSeen: t0, LastSeen: t0}
	require.NoError(t, db.SaveSeenCertificate(ctx, older))
	seen, err := db.SeenCertificates(ctx)
	require.NoError(t, err)
	require.Len(t, seen, 2)
	require.Equal(t, "bb", seen[0].Fingerprint, "soonest to expire first")
	require.True(t, seen[1].LastSeen.Equal(t0.Add(time.Hour).Truncate(time.Microsecond)))
	require.True(t, seen[1].FirstSeen.Equal(t0.Truncate(time.Microsecond)), "first seen is kept")
}
