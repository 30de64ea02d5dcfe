package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/store"
)

// testConsents: the consent register records, finds and withdraws consents
// the same on every backend; one party holds one consent under a reference
// per subject; a rolled-back record never happened.
func testConsents(t *testing.T, db *store.DB) {
	ctx := context.Background()
	xs, cs := db.Exchanges(), db.Compliance()
	create := func(c *exchange.Consent) error {
		return cs.Update(ctx, func(tx compliance.Tx) error { return tx.CreateConsent(ctx, c) })
	}
	alice := &exchange.Consent{ID: "c1", Party: "council.revenues", ConsentRef: "CONSENT-1", SubjectKey: "hmac-sha256:v2:aa",
		Purposes: []string{"marketing", "direct-marketing"}, GivenAt: t0, RecordedBy: "dpo-1", RecordedAt: t0.Add(time.Minute)}
	bob := &exchange.Consent{ID: "c2", Party: "council.revenues", ConsentRef: "CONSENT-1", SubjectKey: "hmac-sha256:v2:bb",
		Purposes: []string{"sale"}, GivenAt: t0, RecordedBy: "dpo-1", RecordedAt: t0.Add(2 * time.Minute)}
	other := &exchange.Consent{ID: "c3", Party: "council.fraud", ConsentRef: "CONSENT-1", SubjectKey: "hmac-sha256:v2:aa",
		Purposes: []string{"marketing"}, GivenAt: t0, RecordedBy: "admin-1", RecordedAt: t0.Add(3 * time.Minute)}
	for _, c := range []*exchange.Consent{alice, bob, other} {
		require.NoError(t, create(c))
	}
	again := *alice
	again.ID = "c4"
	require.ErrorIs(t, create(&again), compliance.ErrConsentExists, "one consent per party, reference and subject")
	require.ErrorIs(t, cs.Update(ctx, func(tx compliance.Tx) error {
		require.NoError(t, tx.CreateConsent(ctx, &exchange.Consent{ID: "c5", Party: "council.revenues", ConsentRef: "CONSENT-9",
			SubjectKey: "hmac-sha256:v2:cc", Purposes: []string{"sale"}, GivenAt: t0, RecordedBy: "dpo-1", RecordedAt: t0}))
		return errRollback
	}), errRollback)

	got, err := xs.Consents(ctx, "council.revenues", "CONSENT-1")
	require.NoError(t, err)
	require.Len(t, got, 2, "the party's records under the reference, not another party's")
	require.Equal(t, []string{"c1", "c2"}, []string{got[0].ID, got[1].ID})
	require.Equal(t, []string{"marketing", "direct-marketing"}, got[0].Purposes)
	require.True(t, got[0].GivenAt.Equal(t0.Truncate(time.Microsecond)))
	require.Equal(t, time.UTC, got[0].GivenAt.Location())
	require.True(t, got[0].WithdrawnAt.IsZero())
	got, err = xs.Consents(ctx, "council.revenues", "CONSENT-9")
	require.NoError(t, err)
	require.Empty(t, got, "the rolled-back record was never made")
	got, err = xs.Consents(ctx, "council.revenues", "consent-1")
	require.NoError(t, err)
	require.Empty(t, got, "references are matched exactly")

	all, err := cs.Consents(ctx, "")
	require.NoError(t, err)
	require.Len(t, all, 3)
	require.Equal(t, "c3", all[2].ID, "in the order recorded")
	mine, err := cs.Consents(ctx, "council.fraud")
	require.NoError(t, err)
	require.Len(t, mine, 1)

	withdrawn := t0.Add(time.Hour)
	require.NoError(t, cs.Update(ctx, func(tx compliance.Tx) error {
		c, err := tx.LockConsent(ctx, "c1")
		if err != nil {
			return err
		}
		c.WithdrawnAt, c.WithdrawnBy = withdrawn, "dpo-2"
		return tx.WithdrawConsent(ctx, c)
	}))
	c, err := cs.Consent(ctx, "c1")
	require.NoError(t, err)
	require.True(t, c.WithdrawnAt.Equal(withdrawn.Truncate(time.Microsecond)))
	require.Equal(t, "dpo-2", c.WithdrawnBy)
	require.True(t, c.Withdrawn(withdrawn))
	require.False(t, c.Withdrawn(withdrawn.Add(-time.Second)))

	_, err = cs.Consent(ctx, "nope")
	require.ErrorIs(t, err, compliance.ErrNotFound)
	require.ErrorIs(t, cs.Update(ctx, func(tx compliance.Tx) error {
		_, err := tx.LockConsent(ctx, "nope")
		return err
	}), compliance.ErrNotFound)
}
