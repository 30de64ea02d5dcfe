package exchange_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
)

// payloadOf returns a payload function that counts its calls.
func payloadOf(body []byte, calls *int) func() (io.Reader, error) {
	return func() (io.Reader, error) {
		*calls++
		return bytes.NewReader(body), nil
	}
}

// Send is Declare, then Upload only if the declaration is allowed: the same
// records as the two steps, and the payload untouched before the decision.
func TestSendIsDeclareThenUpload(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	body := []byte("one request")

	calls := 0
	e, err := r.svc.Send(r.ctx, revenues, withDigest(policeDisclosure(int64(len(body))), body), "", payloadOf(body, &calls))
	require.NoError(t, err)
	require.Equal(t, exchange.StateDelivered, e.State)
	require.Equal(t, 1, calls)
	two := r.deliver(t, body)
	require.Equal(t, r.entriesFor(t, two.ID), r.entriesFor(t, e.ID), "the same records as the two steps")
	_, got := r.open(t, police, e.ID)
	require.Equal(t, body, got)

	refused := policeDisclosure(4)
	refused.Purpose = "marketing"
	invalid := policeDisclosure(4)
	invalid.Recipient = ""
	tests := []struct {
		name  string
		d     *api.ExchangeDeclaration
		check func(t *testing.T, err error)
	}{
		{name: "deny/refused", d: refused, check: func(t *testing.T, err error) {
			var re *exchange.RefusedError
			require.True(t, errors.As(err, &re), "%v", err)
		}},
		{name: "deny/invalid", d: invalid, check: func(t *testing.T, err error) {
			requireProblem(t, err, "recipient", "required")
		}},
		{name: "deny/over-one-request-max", d: policeDisclosure(oneRequestMax + 1), check: func(t *testing.T, err error) {
			require.ErrorIs(t, err, exchange.ErrOneRequestTooLarge)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, exchanges := len(r.entries(t, audit.TypeExchangeSealed)), r.countExchanges(t)
			calls := 0
			e, err := r.svc.Send(r.ctx, revenues, tc.d, "", payloadOf([]byte("data"), &calls))
			tc.check(t, err)
			require.Nil(t, e)
			require.Zero(t, calls, "the payload was read before the decision")
			require.Equal(t, exchanges, r.countExchanges(t))
			require.Len(t, r.entries(t, audit.TypeExchangeSealed), before)
		})
	}
}

// The one-request form records the decision and the delivery in one
// transaction, after the payload is stored: the two entries next to each
// other in the record, and nothing at all if that transaction fails — no
// exchange, no entry, no object. A flow with a daily limit reserves its
// place before the payload is read, so it takes the two steps.
func TestSendRecordsOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.svc.SetReceipts(&audit.Receipts{Signer: r.signer, Origin: receiptOrigin})
	body := []byte("one request")
	before := r.store.committed()
	e, err := r.svc.Send(r.ctx, revenues, withDigest(policeDisclosure(int64(len(body))), body), "", payloadOf(body, new(int)))
	require.NoError(t, err)
	require.Equal(t, 1, r.store.committed()-before, "one transaction")
	require.Len(t, e.Receipts, 2, "a receipt for the decision and one for the delivery")
	var seqs []int64
	for _, entry := range r.entries(t) {
		if entry.Exchange == e.ID {
			seqs = append(seqs, entry.Seq)
		}
	}
	require.Len(t, seqs, 2)
	require.Equal(t, seqs[0]+1, seqs[1], "the decision and the delivery are recorded together")
	r.checkReceipt(t, e.Receipts[0], audit.TypeExchangeDecided)
	r.checkReceipt(t, e.Receipts[1], audit.TypeExchangeSealed)

	t.Run("the transaction fails", func(t *testing.T) {
		exchanges, entries := r.countExchanges(t), len(r.entries(t))
		objects := len(r.objects.Keys())
		r.store.failAuditOf(audit.TypeExchangeSealed)
		defer r.store.failAuditOf()
		e, err := r.svc.Send(r.ctx, revenues, policeDisclosure(4), "", payloadOf([]byte("data"), new(int)))
		require.Error(t, err)
		require.Nil(t, e)
		require.Equal(t, exchanges, r.countExchanges(t), "no exchange")
		require.Len(t, r.entries(t), entries, "no entry, not even the decision")
		require.Len(t, r.objects.Keys(), objects, "the stored payload is removed")
	})

	t.Run("a flow with a daily limit", func(t *testing.T) {
		body := []byte(`{"name":"A N Other","nino":"QQ123456C"}`)
		d := benefitsDisclosure("application/json", int64(len(body)))
		d.SubjectCount = 1
		before := r.store.committed()
		e, err := r.svc.Send(r.ctx, revenues, d, "", payloadOf(body, new(int)))
		require.NoError(t, err)
		require.Equal(t, exchange.StateDelivered, e.State)
		require.Equal(t, 2, r.store.committed()-before, "the reservation first, then the delivery")
		require.Len(t, e.Receipts, 2)
	})
}

// An upload that fails after an allowed declaration returns the declared
// exchange; the same request with the same key then delivers it, and a
// repeat after that is a replay that reads nothing.
func TestSendRetriedWithItsKey(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	d := policeDisclosure(4)
	calls := 0
	e, err := r.svc.Send(r.ctx, revenues, d, "key-1", payloadOf([]byte("dat"), &calls))
	require.ErrorIs(t, err, exchange.ErrSizeMismatch)
	require.NotNil(t, e)
	require.Equal(t, exchange.StateFailed, r.exchange(t, e.ID).State)

	again, err := r.svc.Send(r.ctx, revenues, d, "key-1", payloadOf([]byte("data"), &calls))
	require.NoError(t, err)
	require.Equal(t, e.ID, again.ID)
	require.Equal(t, exchange.StateDelivered, again.State)
	require.False(t, again.Replayed, "this time the payload was delivered")

	calls = 0
	replay, err := r.svc.Send(r.ctx, revenues, d, "key-1", payloadOf([]byte("data"), &calls))
	require.NoError(t, err)
	require.True(t, replay.Replayed)
	require.Equal(t, e.ID, replay.ID)
	require.Zero(t, calls)
	require.Len(t, r.entries(t, audit.TypeExchangeDecided), 1, "one decision for the three attempts")
}

// CheckUpload makes Upload's checks without reading a body; a refused
// re-decision is recorded as Upload records it.
func TestCheckUpload(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	e := r.declare(t, revenues, policeDisclosure(5))
	tests := []struct {
		name   string
		caller string
		id     string
		length int64
		want   error
	}{
		{name: "ok/announced-length", caller: revenues, id: e.ID, length: 5},
		{name: "ok/chunked", caller: revenues, id: e.ID, length: -1},
		{name: "deny/length-differs", caller: revenues, id: e.ID, length: 4, want: exchange.ErrSizeMismatch},
		{name: "deny/not-the-sender", caller: police, id: e.ID, length: 5, want: exchange.ErrNotFound},
		{name: "deny/no-such-exchange", caller: revenues, id: "01900000-0000-7000-8000-000000000000", length: 5, want: exchange.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := r.svc.CheckUpload(r.ctx, tc.caller, tc.id, tc.length)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
	require.Equal(t, exchange.StateDeclared, r.exchange(t, e.ID).State, "checking changes nothing")

	r.setParty(t, police, func(p *agreements.Party) { p.Status = agreements.PartySuspended })
	err := r.svc.CheckUpload(r.ctx, revenues, e.ID, 5)
	var re *exchange.RefusedError
	require.True(t, errors.As(err, &re), "%v", err)
	var atUpload int
	for _, en := range r.entries(t, audit.TypeExchangeDecided) {
		if en.Exchange == e.ID && en.Detail["stage"] == "upload" {
			atUpload++
		}
	}
	require.Equal(t, 1, atUpload, "the refusal at upload is recorded")
}
