package exchange_test

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// Only the recipient fetches, and only what was delivered and not yet
// deleted; to anyone else the exchange does not exist, and no attempt
// changes anything or is recorded as a fetch.
func TestFetchStateRules(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	byState := r.inEveryState(t)
	fetches := []struct {
		name string
		do   func(caller, id string) error
	}{
		{"envelope", func(caller, id string) error {
			e, err := r.svc.Envelope(r.ctx, caller, id)
			if err == nil && len(e.Envelope) == 0 {
				return errors.New("no envelope")
			}
			return err
		}},
		{"payload", func(caller, id string) error {
			_, _, rc, err := r.svc.OpenPayload(r.ctx, caller, id, nil)
			if err == nil {
				return rc.Close()
			}
			return err
		}},
	}
	type want struct {
		state exchange.State
		err   error // for the recipient
	}
	tests := []want{
		{exchange.StateDeclared, exchange.ErrNotFound},
		{exchange.StateFailed, exchange.ErrNotFound},
		{exchange.StateDelivered, nil},
		{exchange.StateFetched, nil},
		{exchange.StateAcknowledged, nil},
		{exchange.StateExpired, exchange.ErrExpired},
	}
	for _, f := range fetches {
		for _, tt := range tests {
			e := byState[tt.state]
			for _, caller := range []string{revenues, dwp, legal} {
				t.Run(f.name+"/"+string(tt.state)+"/deny/"+caller, func(t *testing.T) {
					before := len(r.entries(t))
					require.ErrorIs(t, f.do(caller, e.ID), exchange.ErrNotFound)
					require.Len(t, r.entries(t), before)
				})
			}
			name := f.name + "/" + string(tt.state) + "/ok/recipient"
			if tt.err != nil {
				name = f.name + "/" + string(tt.state) + "/err/recipient"
			}
			t.Run(name, func(t *testing.T) {
				before := len(r.entries(t))
				err := f.do(police, e.ID)
				if tt.err != nil {
					require.ErrorIs(t, err, tt.err)
					require.Len(t, r.entries(t), before, "a refused fetch is not recorded")
					require.Equal(t, tt.state, r.exchange(t, e.ID).State)
					return
				}
				require.NoError(t, err)
				require.Len(t, r.entries(t), before+1, "every fetch is recorded")
			})
		}
	}
}

// The first payload fetch moves a delivered exchange to fetched; the
// envelope alone does not, and later fetches change nothing but the record.
func TestFetchMovesDeliveredToFetched(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	e := r.deliver(t, []byte("payload"))
	steps := []struct {
		name string
		do   func() error
		want exchange.State
		typ  string
	}{
		{"ok/envelope-keeps-delivered", func() error { _, err := r.svc.Envelope(r.ctx, police, e.ID); return err },
			exchange.StateDelivered, audit.TypeEnvelopeFetched},
		{"ok/first-payload-fetch", func() error { return openAndClose(r, e.ID, nil) }, exchange.StateFetched, audit.TypeExchangeFetched},
		{"ok/second-payload-fetch", func() error { return openAndClose(r, e.ID, nil) }, exchange.StateFetched, audit.TypeExchangeFetched},
		{"ok/acknowledged", func() error { _, err := r.svc.Acknowledge(r.ctx, police, e.ID); return err },
			exchange.StateAcknowledged, exchange.TypeAcknowledged},
		{"ok/fetch-after-acknowledging", func() error { return openAndClose(r, e.ID, nil) }, exchange.StateAcknowledged, audit.TypeExchangeFetched},
	}
	for _, s := range steps {
		require.NoError(t, s.do(), s.name)
		require.Equal(t, s.want, r.exchange(t, e.ID).State, s.name)
		types := r.entriesFor(t, e.ID)
		require.Equal(t, s.typ, types[len(types)-1], s.name)
	}
	fetched := r.entries(t, audit.TypeExchangeFetched)
	require.Len(t, fetched, 3)
	for _, f := range fetched {
		require.Equal(t, police, f.Actor)
		require.Equal(t, r.exchange(t, e.ID).Payload.Digest, f.PayloadDigest)
		require.Empty(t, f.PayloadHash)
		require.Equal(t, e.Payload.Size, f.PayloadSize)
	}
}

func openAndClose(r *rig, id string, resolve func(int64) (exchange.Range, error)) error {
	_, _, rc, err := r.svc.OpenPayload(r.ctx, police, id, resolve)
	if err != nil {
		return err
	}
	return rc.Close()
}

// A download resumes from a byte range of the ciphertext; a range outside
// it is refused before anything is recorded.
func TestOpenPayloadRanges(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	e := r.deliver(t, randomBytes(t, 100_000))
	size := e.Payload.CiphertextSize
	whole, _, ok := r.objects.Object(e.Payload.ObjectKey, e.Payload.ObjectVersion)
	require.True(t, ok)
	errParse := errors.New("bad Range header")
	tests := []struct {
		name    string
		resolve func(size int64) (exchange.Range, error)
		want    exchange.Range
		err     error
		detail  string
	}{
		{"ok/whole", nil, exchange.Full, nil, ""},
		{"ok/first-kilobyte", func(int64) (exchange.Range, error) { return exchange.Range{Offset: 0, Length: 1024}, nil },
			exchange.Range{Offset: 0, Length: 1024}, nil, "0+1024"},
		{"ok/resume-to-the-end", func(n int64) (exchange.Range, error) { return exchange.Range{Offset: 5000, Length: n - 5000}, nil },
			exchange.Range{Offset: 5000, Length: size - 5000}, nil, "5000+" + itoa(size-5000)},
		{"ok/last-byte", func(n int64) (exchange.Range, error) { return exchange.Range{Offset: n - 1, Length: 1}, nil },
			exchange.Range{Offset: size - 1, Length: 1}, nil, itoa(size-1) + "+1"},
		{"err/past-the-end", func(n int64) (exchange.Range, error) { return exchange.Range{Offset: n - 10, Length: 11}, nil },
			exchange.Range{}, exchange.ErrRange, ""},
		{"err/starts-after-the-end", func(n int64) (exchange.Range, error) { return exchange.Range{Offset: n + 1, Length: 0}, nil },
			exchange.Range{}, exchange.ErrRange, ""},
		{"err/negative-offset", func(int64) (exchange.Range, error) { return exchange.Range{Offset: -1, Length: 10}, nil },
			exchange.Range{}, exchange.ErrRange, ""},
		{"err/negative-length", func(int64) (exchange.Range, error) { return exchange.Range{Offset: 10, Length: -2}, nil },
			exchange.Range{}, exchange.ErrRange, ""},
		{"err/resolver-refuses", func(int64) (exchange.Range, error) { return exchange.Range{}, errParse },
			exchange.Range{}, errParse, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(r.entries(t))
			var seen int64 = -1
			resolve := tt.resolve
			if resolve != nil {
				resolve = func(n int64) (exchange.Range, error) { seen = n; return tt.resolve(n) }
			}
			_, rng, rc, err := r.svc.OpenPayload(r.ctx, police, e.ID, resolve)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.Len(t, r.entries(t), before, "nothing recorded")
				return
			}
			require.NoError(t, err)
			defer rc.Close()
			if resolve != nil {
				require.Equal(t, size, seen, "the resolver is told the ciphertext size")
			}
			require.Equal(t, tt.want, rng)
			got, err := io.ReadAll(rc)
			require.NoError(t, err)
			end := size
			if rng != exchange.Full {
				end = rng.Offset + rng.Length
			}
			require.True(t, bytes.Equal(whole[rng.Offset:end], got), "the bytes of the range")
			entries := r.entries(t)
			require.Len(t, entries, before+1)
			require.Equal(t, tt.detail, entries[len(entries)-1].Detail["range"])
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// No record, no data: a fetch that cannot be recorded returns nothing and
// changes nothing.
func TestFetchFailsClosedWithoutAudit(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	e := r.deliver(t, []byte("payload"))
	tests := []struct {
		name, fails string
		do          func() (any, error)
	}{
		{"err/envelope", audit.TypeEnvelopeFetched, func() (any, error) { return r.svc.Envelope(r.ctx, police, e.ID) }},
		{"err/payload", audit.TypeExchangeFetched, func() (any, error) {
			_, _, rc, err := r.svc.OpenPayload(r.ctx, police, e.ID, nil)
			return rc, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.store.failAuditOf(tt.fails)
			defer r.store.failAuditOf()
			got, err := tt.do()
			require.ErrorIs(t, err, exchange.ErrUnavailable)
			require.Nil(t, got)
			require.Equal(t, exchange.StateDelivered, r.exchange(t, e.ID).State)
			require.Equal(t, []string{audit.TypeExchangeDecided, audit.TypeExchangeSealed}, r.entriesFor(t, e.ID))
		})
	}
}

// An object store that cannot serve the payload is reported as
// unavailable, never as an empty or short payload.
func TestFetchStoreUnavailable(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	e := r.deliver(t, []byte("payload"))
	r.objects.fail(nil, 0, errors.New("connection refused"), nil)
	_, _, rc, err := r.svc.OpenPayload(r.ctx, police, e.ID, nil)
	require.ErrorIs(t, err, exchange.ErrUnavailable)
	require.Nil(t, rc)
	r.objects.fail(nil, 0, nil, nil)
	_, plain := r.open(t, police, e.ID)
	require.Equal(t, []byte("payload"), plain)
}

// A fetch is a request too: while the agreement is suspended or terminated,
// the recipient suspended or no flow leads from the sender to it any more,
// neither the envelope nor the payload is handed over, and the refusal is
// recorded with its checks. A DPO may release the exchange, which is
// recorded too.
func TestFetchDecidesAgain(t *testing.T) {
	t.Parallel()
	suspendAgreement := func(status agreements.Status) func(t *testing.T, r *rig) {
		return func(t *testing.T, r *rig) {
			a := fixtureAgreements()[0]
			a.Status = status
			require.NoError(t, r.db.PutAgreement(r.ctx, a))
		}
	}
	tests := []struct {
		name   string
		change func(t *testing.T, r *rig)
		failed string // "" for allowed
	}{
		{"ok/nothing-changed", func(*testing.T, *rig) {}, ""},
		{"ok/sender-suspended", func(t *testing.T, r *rig) {
			r.setParty(t, revenues, func(p *agreements.Party) { p.Status = agreements.PartySuspended })
		}, ""},
		{"deny/agreement-suspended", suspendAgreement(agreements.StatusSuspended), agreements.CheckAgreementActive},
		{"deny/agreement-terminated", suspendAgreement(agreements.StatusTerminated), agreements.CheckAgreementActive},
		{"deny/recipient-suspended", func(t *testing.T, r *rig) {
			r.setParty(t, police, func(p *agreements.Party) { p.Status = agreements.PartySuspended })
		}, agreements.CheckRecipientActive},
		{"deny/no-flow-any-more", func(t *testing.T, r *rig) {
			v1 := fixtureAgreements()[0]
			v1.Status = agreements.StatusSuperseded
			v2 := fixtureAgreements()[0]
			v2.Version, v2.Flows = 2, v2.Flows[1:]
			require.NoError(t, r.db.PutAgreement(r.ctx, v1))
			require.NoError(t, r.db.PutAgreement(r.ctx, v2))
		}, agreements.CheckFlowPermitted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			e := r.deliver(t, []byte("payload"))
			tt.change(t, r)
			_, envErr := r.svc.Envelope(r.ctx, police, e.ID)
			payErr := openAndClose(r, e.ID, nil)
			if tt.failed == "" {
				require.NoError(t, envErr)
				require.NoError(t, payErr)
				return
			}
			for _, err := range []error{envErr, payErr} {
				var refused *exchange.RefusedError
				require.ErrorAs(t, err, &refused)
				require.Equal(t, []string{tt.failed}, refused.Decision.FailedCodes())
			}
			require.Equal(t, exchange.StateDelivered, r.exchange(t, e.ID).State, "nothing was fetched")
			require.Empty(t, r.entries(t, audit.TypeExchangeFetched, audit.TypeEnvelopeFetched))
			decided := r.entries(t, audit.TypeExchangeDecided)
			require.Len(t, decided, 3, "the declaration, and the two refused fetches")
			for i, stage := range []string{"envelope", "payload"} {
				d := decided[1+i]
				require.Equal(t, "deny", d.Outcome)
				require.Equal(t, police, d.Actor)
				require.Equal(t, stage, d.Detail["stage"])
				require.Equal(t, []string{tt.failed}, d.Failed)
				require.Equal(t, e.Meta.SubjectKeys, d.Subjects)
			}

			// Only a DPO releases, with a reason; then the recipient fetches.
			_, err := r.svc.Release(r.ctx, agreements.Actor{Subject: "alice", Roles: []string{"admin"}}, e.ID, "Needed for a live case")
			require.ErrorIs(t, err, agreements.ErrForbidden)
			dpo := agreements.Actor{Subject: "dana", Name: "Dana Price", Roles: []string{"dpo"}}
			_, err = r.svc.Release(r.ctx, dpo, e.ID, "")
			var v valid.Errors
			require.ErrorAs(t, err, &v)
			released, err := r.svc.Release(r.ctx, dpo, e.ID, "Needed for a live child protection case")
			require.NoError(t, err)
			require.Equal(t, "dana", released.Release.By)
			require.Equal(t, "dana", r.exchange(t, e.ID).Release.By, "the release is stored")
			_, err = r.svc.Release(r.ctx, dpo, e.ID, "again")
			require.NoError(t, err, "releasing twice changes nothing")
			rel := r.entries(t, exchange.TypeReleased)
			require.Len(t, rel, 1)
			require.Equal(t, "dana", rel[0].Actor)
			require.Equal(t, "Needed for a live child protection case", rel[0].Detail["reason"])
			m, plain := r.open(t, police, e.ID)
			require.Equal(t, []byte("payload"), plain)
			require.Equal(t, e.ID, m.Exchange)
		})
	}
}

// A fetch is recorded only once the object is open: a store that cannot
// give the object records no fetch and moves nothing to fetched.
func TestFetchRecordedOnlyWhenOpened(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	e := r.deliver(t, []byte("payload"))
	r.objects.fail(nil, 0, errors.New("object store down"), nil)
	require.ErrorIs(t, openAndClose(r, e.ID, nil), exchange.ErrUnavailable)
	require.Empty(t, r.entries(t, audit.TypeExchangeFetched))
	require.Equal(t, exchange.StateDelivered, r.exchange(t, e.ID).State)
	r.objects.fail(nil, 0, nil, nil)
	require.NoError(t, openAndClose(r, e.ID, nil))
	require.Len(t, r.entries(t, audit.TypeExchangeFetched), 1)
}
