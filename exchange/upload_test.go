package exchange_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/exchange/minimise"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// failedReason is the reason the last exchange.failed entry of id gives.
func (r *rig) failedReason(t *testing.T, id string) string {
	t.Helper()
	reason := ""
	for _, e := range r.entries(t, audit.TypeExchangeFailed) {
		if e.Exchange == id {
			reason = e.Detail["reason"]
		}
	}
	return reason
}

// Only the sender uploads, and only to an exchange awaiting its payload.
func TestUploadStateRules(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	byState := r.inEveryState(t)
	for state, e := range byState {
		body := bytes.Repeat([]byte("u"), int(e.Meta.DeclaredSize))
		// Anyone but the sender is told the exchange does not exist, in
		// every state, and changes nothing.
		for _, caller := range []string{police, dwp, legal} {
			t.Run(string(state)+"/deny/"+caller, func(t *testing.T) {
				_, err := r.svc.Upload(r.ctx, caller, e.ID, bytes.NewReader(body), int64(len(body)))
				require.ErrorIs(t, err, exchange.ErrNotFound)
				require.Equal(t, state, r.exchange(t, e.ID).State)
			})
		}
		if state.Uploadable() {
			t.Run(string(state)+"/ok/sender", func(t *testing.T) {
				got := r.upload(t, revenues, e.ID, body)
				require.Equal(t, exchange.StateDelivered, r.exchange(t, got.ID).State)
			})
			continue
		}
		t.Run(string(state)+"/err/sender", func(t *testing.T) {
			before := r.objects.Keys()
			_, err := r.svc.Upload(r.ctx, revenues, e.ID, bytes.NewReader(body), int64(len(body)))
			require.ErrorIs(t, err, exchange.ErrState)
			stored := r.exchange(t, e.ID)
			require.Equal(t, state, stored.State)
			want := e.Payload
			want.SHA256 = "" // never stored
			require.Equal(t, want, stored.Payload, "the payload delivered stays")
			require.Equal(t, before, r.objects.Keys())
		})
	}
}

func TestUploadSizeMustMatchTheDeclaration(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const size = 1000
	payload := randomBytes(t, size)
	tests := []struct {
		name          string
		body          io.Reader
		contentLength int64
		// failed: the upload was attempted and recorded as failed; false
		// means it was refused before a byte was read.
		err    error
		failed bool
	}{
		{"ok/exact-with-content-length", bytes.NewReader(payload), size, nil, false},
		{"ok/exact-without-content-length", bytes.NewReader(payload), -1, nil, false},
		{"err/content-length-shorter", bytes.NewReader(payload[:size-1]), size - 1, exchange.ErrSizeMismatch, false},
		{"err/content-length-longer", io.MultiReader(bytes.NewReader(payload), strings.NewReader("x")), size + 1, exchange.ErrSizeMismatch, false},
		{"err/body-shorter", bytes.NewReader(payload[:size-1]), -1, exchange.ErrSizeMismatch, true},
		{"err/body-longer", io.MultiReader(bytes.NewReader(payload), strings.NewReader("x")), -1, exchange.ErrSizeMismatch, true},
		{"err/body-much-longer", io.MultiReader(bytes.NewReader(payload), bytes.NewReader(randomBytes(t, 300_000))), -1, exchange.ErrSizeMismatch, true},
		{"err/body-shorter-than-its-content-length", bytes.NewReader(payload[:size/2]), size, exchange.ErrSizeMismatch, true},
		{"err/empty-body", bytes.NewReader(nil), -1, exchange.ErrSizeMismatch, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := r.declare(t, revenues, withDigest(policeDisclosure(size), payload))
			got, err := r.svc.Upload(r.ctx, revenues, e.ID, tt.body, tt.contentLength)
			if tt.err == nil {
				require.NoError(t, err)
				require.Equal(t, exchange.StateDelivered, got.State)
				require.Equal(t, int64(size), got.Payload.Size)
				_, plain := r.open(t, police, e.ID)
				require.Equal(t, payload, plain)
				return
			}
			require.ErrorIs(t, err, tt.err)
			r.noPayloadObjects(t, e.ID)
			if tt.failed {
				require.Equal(t, exchange.StateFailed, r.exchange(t, e.ID).State)
				require.Equal(t, "size-mismatch", r.failedReason(t, e.ID))
			} else {
				require.Equal(t, exchange.StateDeclared, r.exchange(t, e.ID).State)
				require.Equal(t, []string{audit.TypeExchangeDecided}, r.entriesFor(t, e.ID), "nothing was attempted")
			}
			// Nothing was lost: the right body is accepted after it.
			r.upload(t, revenues, e.ID, payload)
		})
	}
	// At a segment boundary one byte too many completes the ciphertext the
	// store was told to expect: the store takes it, and the upload must
	// still fail and remove it.
	t.Run("err/one-byte-more-at-a-segment-boundary", func(t *testing.T) {
		// overhead(n) = header + one tag per segment: the first n with
		// more overhead than an empty payload starts a second segment.
		overhead := func(n int64) int64 {
			c, err := seal.CiphertextSize(n)
			require.NoError(t, err)
			return c - n
		}
		lo, hi := int64(0), int64(defaultMaxPayload)
		for lo+1 < hi {
			if mid := (lo + hi) / 2; overhead(mid) > overhead(0) {
				hi = mid
			} else {
				lo = mid
			}
		}
		n := lo // fills its only segment
		require.Greater(t, overhead(n+1), overhead(n))
		body := randomBytes(t, int(n+1))
		e := r.declare(t, revenues, policeDisclosure(n))
		_, err := r.svc.Upload(r.ctx, revenues, e.ID, bytes.NewReader(body), -1)
		require.ErrorIs(t, err, exchange.ErrSizeMismatch)
		require.Equal(t, exchange.StateFailed, r.exchange(t, e.ID).State)
		r.noPayloadObjects(t, e.ID)
		r.upload(t, revenues, e.ID, body[:n])
	})
	empty := r.declare(t, revenues, withDigest(policeDisclosure(0), nil))
	t.Run("ok/empty-payload", func(t *testing.T) {
		got := r.upload(t, revenues, empty.ID, nil)
		want, err := seal.CiphertextSize(0)
		require.NoError(t, err)
		require.Equal(t, want, got.Payload.CiphertextSize)
		_, plain := r.open(t, police, empty.ID)
		require.Empty(t, plain)
	})
}

// limits.max_payload_size holds at declaration and again at upload, so a
// lowered limit applies to exchanges declared before it.
func TestUploadMaxPayloadSize(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	before := r.declare(t, revenues, policeDisclosure(100))
	smaller := r.service(50)
	tests := []struct {
		name string
		size int64
		id   string // an exchange declared under the old limit
		err  error
	}{
		{"ok/at-the-limit", 50, "", nil},
		{"err/declared-over-the-limit", 51, "", exchange.ErrTooLarge},
		{"err/declared-before-the-limit-was-lowered", 100, before.ID, exchange.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := randomBytes(t, int(tt.size))
			id := tt.id
			if id == "" {
				e, err := smaller.Declare(r.ctx, revenues, policeDisclosure(tt.size), "")
				if tt.err != nil {
					require.ErrorIs(t, err, tt.err)
					return
				}
				require.NoError(t, err)
				id = e.ID
			}
			got, err := smaller.Upload(r.ctx, revenues, id, bytes.NewReader(body), tt.size)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.Equal(t, exchange.StateDeclared, r.exchange(t, id).State)
				r.noPayloadObjects(t, id)
				return
			}
			require.NoError(t, err)
			require.Equal(t, exchange.StateDelivered, got.State)
		})
	}
}

func TestUploadDigestMustMatchTheDeclaration(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	payload := randomBytes(t, 4096)
	wrong := bytes.Clone(payload)
	wrong[4095] ^= 1
	tests := []struct {
		name     string
		declared []byte // the body whose digest is declared; nil: none declared
		body     []byte
		err      error
	}{
		{"ok/declared-digest", payload, payload, nil},
		{"ok/no-digest-declared", nil, wrong, nil},
		{"err/one-bit-differs", payload, wrong, exchange.ErrDigestMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := policeDisclosure(int64(len(tt.body)))
			if tt.declared != nil {
				withDigest(d, tt.declared)
			}
			e := r.declare(t, revenues, d)
			got, err := r.svc.Upload(r.ctx, revenues, e.ID, bytes.NewReader(tt.body), int64(len(tt.body)))
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.Equal(t, exchange.StateFailed, r.exchange(t, e.ID).State)
				require.Equal(t, "digest-mismatch", r.failedReason(t, e.ID))
				r.noPayloadObjects(t, e.ID)
				r.upload(t, revenues, e.ID, tt.declared)
				return
			}
			require.NoError(t, err)
			require.Equal(t, sha256Hex(tt.body), got.Payload.SHA256)
			sealed := r.entries(t, audit.TypeExchangeSealed)
			require.Equal(t, payloadDigest(sha256Hex(tt.body)), sealed[len(sealed)-1].Detail["received_digest"])
		})
	}
}

// The payload is sealed for its recipient: stored encrypted, bound to the
// exchange, agreement and recipient, locked until its retention ends, and
// described by a manifest only the recipient can open.
func TestUploadSealsThePayloadForTheRecipient(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	payload := []byte(strings.Repeat("Named suspect: J. Smith, 1 High Street. ", 3000))
	e := r.deliver(t, payload)

	require.Equal(t, t0, e.DeliveredAt)
	require.Equal(t, t0.Add(90*24*time.Hour), e.ExpiresAt, "police-crime keeps payloads 90 days")
	stored := r.exchange(t, e.ID)
	storedPayload := e.Payload
	storedPayload.SHA256 = "" // the answer's alone: never stored
	require.Equal(t, storedPayload, stored.Payload)
	require.Equal(t, e.Envelope, stored.Envelope)

	object, retainUntil, ok := r.objects.Object(e.Payload.ObjectKey, e.Payload.ObjectVersion)
	require.True(t, ok)
	require.Equal(t, e.ExpiresAt, retainUntil, "the object is locked until the retention ends")
	require.Equal(t, e.Payload.CiphertextSize, int64(len(object)))
	require.NotContains(t, string(object), "J. Smith", "never stored in clear")
	want, err := seal.CiphertextSize(int64(len(payload)))
	require.NoError(t, err)
	require.Equal(t, want, int64(len(object)))

	m, plain := r.open(t, police, e.ID)
	require.Equal(t, payload, plain)
	require.Equal(t, "gatehouse.test", m.Issuer)
	require.Equal(t, "police-crime@1", m.Agreement)
	require.Equal(t, revenues, m.Sender)
	require.Equal(t, "crime-prevention-detection", m.Purpose)
	require.Equal(t, "text/plain", m.ContentType)
	require.Equal(t, seal.Object{Bucket: "payloads-test", Key: e.Payload.ObjectKey, Version: e.Payload.ObjectVersion}, m.Object)
	require.Equal(t, seal.AAD(e.ID, "police-crime@1", police), []byte(m.Encryption.AAD))
	require.Nil(t, m.Minimised)
	require.Equal(t, seal.ManifestVersion, m.Version)
	objectSum := sha256.Sum256(object)
	require.Equal(t, seal.Digest{Size: int64(len(object)), SHA256: hex.EncodeToString(objectSum[:])}, m.Ciphertext,
		"the manifest gives the stored ciphertext's size and SHA-256")

	// Bound to its recipient: another party's key does not open the
	// envelope, and the ciphertext does not open under another binding.
	_, err = seal.OpenEnvelope(e.Envelope, r.keys[dwp], r.gatewayKeys)
	require.ErrorIs(t, err, seal.ErrEnvelope)
	other, err := seal.Decrypt(bytes.NewReader(object), m.Encryption.Key, seal.AAD(e.ID, "police-crime@1", dwp))
	require.NoError(t, err)
	_, err = io.ReadAll(other)
	require.Error(t, err)

	sealed := r.entries(t, audit.TypeExchangeSealed)
	require.Len(t, sealed, 1)
	require.Equal(t, e.ID, sealed[0].Exchange)
	require.Equal(t, revenues, sealed[0].Actor)
	require.Equal(t, payloadDigest(sha256Hex(payload)), sealed[0].PayloadDigest)
	require.Empty(t, sealed[0].PayloadHash, "the plaintext digest is not in the record")
	require.Equal(t, int64(len(payload)), sealed[0].PayloadSize)
	require.Equal(t, e.Payload.ObjectKey, sealed[0].Detail["object"])
	require.Equal(t, e.Payload.ObjectVersion, sealed[0].Detail["object_version"])
	require.Equal(t, e.Meta.SubjectKeys, sealed[0].Subjects)
}

// An upload is a request: it is decided again, so a suspension or a new
// agreement version takes effect on it.
func TestUploadDecidesAgain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(t *testing.T, r *rig)
		failed string // "" for allowed
		ref    string
	}{
		{"ok/nothing-changed", func(*testing.T, *rig) {}, "", "police-crime@1"},
		{"ok/under-the-version-now-in-force", func(t *testing.T, r *rig) {
			v1 := fixtureAgreements()[0]
			v1.Status = agreements.StatusSuperseded
			v2 := fixtureAgreements()[0]
			v2.Version = 2
			require.NoError(t, r.db.PutAgreement(r.ctx, v1))
			require.NoError(t, r.db.PutAgreement(r.ctx, v2))
		}, "", "police-crime@2"},
		{"deny/sender-suspended", func(t *testing.T, r *rig) {
			r.setParty(t, revenues, func(p *agreements.Party) { p.Status = agreements.PartySuspended })
		}, agreements.CheckPartyIdentified, ""},
		{"deny/recipient-suspended", func(t *testing.T, r *rig) {
			r.setParty(t, police, func(p *agreements.Party) { p.Status = agreements.PartySuspended })
		}, agreements.CheckRecipientActive, ""},
		{"deny/agreement-suspended", func(t *testing.T, r *rig) {
			a := fixtureAgreements()[0]
			a.Status = agreements.StatusSuspended
			require.NoError(t, r.db.PutAgreement(r.ctx, a))
		}, agreements.CheckAgreementActive, ""},
		{"deny/review-lapsed-since", func(t *testing.T, r *rig) {
			r.clock.Advance(250 * 24 * time.Hour) // past review_by 2027-06-30 and its grace
		}, agreements.CheckAgreementReview, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			payload := []byte("payload")
			e := r.declare(t, revenues, policeDisclosure(int64(len(payload))))
			tt.change(t, r)
			got, err := r.svc.Upload(r.ctx, revenues, e.ID, bytes.NewReader(payload), int64(len(payload)))
			if tt.failed == "" {
				require.NoError(t, err)
				require.Equal(t, tt.ref, got.AgreementRef())
				require.Equal(t, tt.ref, got.Decision.Agreement)
				m, _ := r.open(t, police, e.ID)
				require.Equal(t, tt.ref, m.Agreement)
				require.Equal(t, seal.AAD(e.ID, tt.ref, police), []byte(m.Encryption.AAD))
				return
			}
			var refused *exchange.RefusedError
			require.ErrorAs(t, err, &refused)
			require.Contains(t, refused.Decision.FailedCodes(), tt.failed)
			require.Equal(t, exchange.StateDeclared, r.exchange(t, e.ID).State, "a refusal changes nothing")
			require.Empty(t, r.objects.Keys())
			require.Equal(t, []string{audit.TypeExchangeDecided, audit.TypeExchangeDecided}, r.entriesFor(t, e.ID))
			decided := r.entries(t, audit.TypeExchangeDecided)
			last := decided[len(decided)-1]
			require.Equal(t, "deny", last.Outcome)
			require.Equal(t, "upload", last.Detail["stage"])
		})
	}
}

// The daily volume counts the other exchanges of the day, not the one
// being uploaded.
func TestUploadDailyVolumeCountsOthers(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	body := []byte(`{"name":"A"}`)
	var ids []string
	for range 2 {
		ids = append(ids, r.declare(t, revenues, benefitsDisclosure("application/json", int64(len(body)))).ID)
	}
	for _, id := range ids {
		r.upload(t, revenues, id, body)
	}
}

func TestUploadNeedsTheRecipientsKey(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	d := policeDisclosure(4)
	d.Agreement, d.Recipient, d.Purpose = "hmrc-tax", hmrc, "tax-assessment-collection"
	e := r.declare(t, revenues, d)
	_, err := r.svc.Upload(r.ctx, revenues, e.ID, strings.NewReader("data"), 4)
	require.ErrorIs(t, err, exchange.ErrRecipientKey)
	require.Equal(t, exchange.StateDeclared, r.exchange(t, e.ID).State)
	require.Empty(t, r.objects.Keys())
}

// A storage failure or a client that goes away leaves no object, records
// the failed attempt, and the next upload succeeds.
func TestUploadStorageAndBodyFailures(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const size = 64 << 10
	payload := randomBytes(t, size)
	tests := []struct {
		name   string
		fault  func()
		body   func() io.Reader
		err    error
		reason string
	}{
		{"err/storage-full", func() { r.objects.setCapacity(size) }, nil, exchange.ErrStorageFull, "storage-full"},
		{"err/store-unreachable", func() { r.objects.fail(errors.New("connection refused"), 0, nil, nil) }, nil, exchange.ErrUnavailable, "storage-unavailable"},
		{"err/store-stops-mid-upload", func() { r.objects.fail(errors.New("connection reset"), 1000, nil, nil) }, nil, exchange.ErrUnavailable, "storage-unavailable"},
		{"err/client-goes-away", func() {}, func() io.Reader {
			return io.MultiReader(bytes.NewReader(payload[:size/2]), iotestErrReader{errors.New("connection reset by peer")})
		}, &exchange.BodyError{}, "body-interrupted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := r.declare(t, revenues, withDigest(policeDisclosure(size), payload))
			tt.fault()
			body := io.Reader(bytes.NewReader(payload))
			if tt.body != nil {
				body = tt.body()
			}
			_, err := r.svc.Upload(r.ctx, revenues, e.ID, body, size)
			var be *exchange.BodyError
			if errors.As(tt.err, &be) {
				require.ErrorAs(t, err, &be)
				require.Equal(t, "reading payload: connection reset by peer", err.Error())
			} else {
				require.ErrorIs(t, err, tt.err)
			}
			require.Equal(t, exchange.StateFailed, r.exchange(t, e.ID).State)
			require.Equal(t, tt.reason, r.failedReason(t, e.ID))
			r.noPayloadObjects(t, e.ID)

			r.objects.setCapacity(0)
			r.objects.fail(nil, 0, nil, nil)
			r.upload(t, revenues, e.ID, payload)
		})
	}
}

// iotestErrReader fails every read with err.
type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

// No record, no delivery: if an upload's entries cannot be written the
// exchange is unchanged and no object is left.
func TestUploadFailsClosedWithoutAudit(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	payload := []byte("payload")
	tests := []struct {
		name  string
		fails string
		edit  func(t *testing.T, r *rig)
		body  []byte
		err   error
	}{
		{"err/sealed-entry", audit.TypeExchangeSealed, nil, payload, exchange.ErrUnavailable},
		{"err/refusal-entry", audit.TypeExchangeDecided, func(t *testing.T, r *rig) {
			r.setParty(t, police, func(p *agreements.Party) { p.Status = agreements.PartySuspended })
		}, payload, exchange.ErrUnavailable},
		// A failed attempt that cannot be recorded is still reported (the
		// exchange stays uploadable, nothing was delivered).
		{"err/failure-entry", audit.TypeExchangeFailed, nil, []byte("payloa"), exchange.ErrSizeMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := r.declare(t, revenues, policeDisclosure(int64(len(payload))))
			if tt.edit != nil {
				tt.edit(t, r)
			}
			r.store.failAuditOf(tt.fails)
			_, err := r.svc.Upload(r.ctx, revenues, e.ID, bytes.NewReader(tt.body), -1)
			require.ErrorIs(t, err, tt.err)
			var refused *exchange.RefusedError
			require.NotErrorAs(t, err, &refused)
			r.store.failAuditOf()

			stored := r.exchange(t, e.ID)
			require.Equal(t, exchange.StateDeclared, stored.State)
			require.Empty(t, stored.Payload.ObjectKey)
			require.Empty(t, stored.Envelope)
			require.Equal(t, []string{audit.TypeExchangeDecided}, r.entriesFor(t, e.ID))
			r.noPayloadObjects(t, e.ID)
			if tt.edit != nil {
				r.setParty(t, police, func(p *agreements.Party) { p.Status = agreements.PartyActive })
			}
			r.upload(t, revenues, e.ID, payload)
		})
	}
}

// Uploads racing for one exchange deliver it once and leave one object.
func TestConcurrentUploadsDeliverOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	payload := randomBytes(t, 200_000)
	e := r.declare(t, revenues, withDigest(policeDisclosure(int64(len(payload))), payload))
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = r.svc.Upload(r.ctx, revenues, e.ID, bytes.NewReader(payload), int64(len(payload)))
		})
	}
	wg.Wait()
	delivered := 0
	for _, err := range errs {
		if err == nil {
			delivered++
			continue
		}
		require.ErrorIs(t, err, exchange.ErrState)
	}
	require.Equal(t, 1, delivered)
	stored := r.exchange(t, e.ID)
	require.Equal(t, []string{stored.Payload.ObjectKey}, r.objects.Keys(), "only the delivered object remains")
	require.Len(t, r.entries(t, audit.TypeExchangeSealed), 1)
	_, plain := r.open(t, police, e.ID)
	require.Equal(t, payload, plain)
}

// On a flow that keeps only listed fields, the fields outside the list are
// stripped before sealing; the declared size and digest are the body's.
func TestUploadMinimisesStructuredPayloads(t *testing.T) {
	t.Parallel()
	body := []byte(`[{"name":"A. Jones","nino":"QQ123456C","phone":"07700 900123"},{"name":"B. Khan","nino":"QQ654321B","phone":"07700 900456"}]`)
	tests := []struct {
		name string
		body []byte
		err  error
	}{
		{"ok/extra-fields-stripped", body, nil},
		{"err/longer-than-declared", append(bytes.Clone(body), ' '), exchange.ErrSizeMismatch},
		{"err/not-json", bytes.Repeat([]byte("x"), len(body)), minimise.ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			e := r.declare(t, revenues, withDigest(benefitsDisclosure("application/json", int64(len(body))), body))
			got, err := r.svc.Upload(r.ctx, revenues, e.ID, bytes.NewReader(tt.body), -1)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.Equal(t, exchange.StateFailed, r.exchange(t, e.ID).State)
				r.noPayloadObjects(t, e.ID)
				r.upload(t, revenues, e.ID, body)
				return
			}
			require.NoError(t, err)
			m, plain := r.open(t, dwp, e.ID)
			var records []map[string]string
			require.NoError(t, json.Unmarshal(plain, &records))
			require.Equal(t, []map[string]string{{"name": "A. Jones", "nino": "QQ123456C"}, {"name": "B. Khan", "nino": "QQ654321B"}}, records)
			require.NotNil(t, m.Minimised)
			require.Equal(t, int64(2), m.Minimised.Records)
			require.Equal(t, []string{"phone"}, m.Minimised.Stripped)
			require.Equal(t, int64(len(plain)), got.Payload.Size, "the size sealed")
			require.Equal(t, sha256Hex(plain), got.Payload.SHA256, "the digest sealed")
			sealed := r.entries(t, audit.TypeExchangeSealed)
			require.Equal(t, payloadDigest(sha256Hex(body)), sealed[len(sealed)-1].Detail["received_digest"], "the digest received")
			require.Contains(t, sealed[len(sealed)-1].Detail["minimised"], "stripped phone")
		})
	}
}

// An emergency disclosure under no agreement is decided again at upload
// (still an override) and kept for the gateway's default retention.
func TestUploadEmergencyUnderNoAgreement(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	d := policeDisclosure(6)
	d.Agreement, d.Purpose, d.Urgency, d.LawfulBasis = "", "safeguarding-child", exchange.UrgencyEmergency, "A6-1-d"
	d.Authoriser = &api.Authoriser{Name: "DI Sam Patel", Rank: "inspector"}
	e := r.declare(t, revenues, d)
	r.clock.Advance(time.Hour)
	got := r.upload(t, revenues, e.ID, []byte("urgent"))
	require.Equal(t, agreements.AllowOverride, got.Decision.Outcome)
	require.Empty(t, got.AgreementRef())
	require.Equal(t, r.clock.Now().Add(30*24*time.Hour), got.ExpiresAt, "the default retention")
	m, plain := r.open(t, police, e.ID)
	require.Equal(t, []byte("urgent"), plain)
	require.Empty(t, m.Agreement)
	require.Equal(t, seal.AAD(e.ID, "", police), []byte(m.Encryption.AAD))
}

// An upload whose re-decision is worse than its declaration is refused:
// a declaration allowed without an override never goes as one at upload,
// which would deliver it with no DPO review. An override declared stays
// the override recorded.
func TestUploadNeverBecomesAnOverride(t *testing.T) {
	t.Parallel()
	emergency := func() *api.ExchangeDeclaration {
		d := policeDisclosure(6)
		d.Purpose, d.Urgency, d.LawfulBasis = "safeguarding-child", exchange.UrgencyEmergency, "A6-1-e"
		d.Authoriser = &api.Authoriser{Name: "DI Sam Patel", Rank: "inspector"}
		return d
	}
	t.Run("deny/allowed-then-agreement-suspended", func(t *testing.T) {
		t.Parallel()
		r := newRig(t)
		e := r.declare(t, revenues, emergency())
		require.Equal(t, agreements.Allow, e.Decision.Outcome)
		a := fixtureAgreements()[0]
		a.Status = agreements.StatusSuspended
		require.NoError(t, r.db.PutAgreement(r.ctx, a))

		_, err := r.svc.Upload(r.ctx, revenues, e.ID, strings.NewReader("urgent"), 6)
		var refused *exchange.RefusedError
		require.ErrorAs(t, err, &refused)
		require.Equal(t, agreements.Deny, refused.Decision.Outcome)
		require.Contains(t, refused.Decision.FailedCodes(), agreements.CheckAgreementActive)
		require.Contains(t, refused.Decision.FailedCodes(), agreements.CheckOverrideEmergency)
		require.Zero(t, refused.Decision.ReviewBy)
		require.Equal(t, exchange.StateDeclared, r.exchange(t, e.ID).State)
		require.Empty(t, r.objects.Keys())
		decided := r.entries(t, audit.TypeExchangeDecided)
		last := decided[len(decided)-1]
		require.Equal(t, "deny", last.Outcome)
		require.Equal(t, "upload", last.Detail["stage"])
		require.Contains(t, last.Failed, agreements.CheckAgreementActive)
		require.Empty(t, r.entries(t, audit.TypeExchangeSealed))
	})
	t.Run("ok/override-declared-stays-the-override", func(t *testing.T) {
		t.Parallel()
		r := newRig(t)
		a := fixtureAgreements()[0]
		a.Status = agreements.StatusSuspended
		require.NoError(t, r.db.PutAgreement(r.ctx, a))
		d := emergency()
		d.Agreement, d.Instrument = "", "CA-2004-S11" // A6-1-e under a safeguarding power
		e := r.declare(t, revenues, d)
		require.Equal(t, agreements.AllowOverride, e.Decision.Outcome)
		r.clock.Advance(time.Hour)
		got := r.upload(t, revenues, e.ID, []byte("urgent"))
		require.Equal(t, agreements.AllowOverride, got.Decision.Outcome)
		require.Equal(t, e.Decision.ReviewBy, got.Decision.ReviewBy, "the review the declaration set")
	})
}

// A flow with field rules takes only payloads it can minimise, at upload as
// at declaration: a flow that gained a pseudonymisation rule since the
// declaration refuses the text payload declared under it.
func TestUploadNeedsAMinimisablePayload(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	d := policeDisclosure(9)
	e := r.declare(t, revenues, d)
	a := fixtureAgreements()[0]
	a.Flows[0].Fields = &agreements.FieldPolicy{Pseudonymise: []string{"nino"}}
	require.NoError(t, r.db.PutAgreement(r.ctx, a))

	_, err := r.svc.Upload(r.ctx, revenues, e.ID, strings.NewReader("QQ123456C"), 9)
	var v valid.Errors
	require.ErrorAs(t, err, &v)
	require.Equal(t, "content_type", v[0].Path)
	require.Equal(t, "structured", v[0].Rule)
	require.Empty(t, r.objects.Keys())
	_, err = r.svc.Declare(r.ctx, revenues, policeDisclosure(9), "")
	require.ErrorAs(t, err, &v, "nor is it declared again")
	require.Equal(t, "structured", v[0].Rule)
}

// A structured payload is about no more people than declared or the flow
// allows: 10 rows on a declaration of one subject are refused, unless the
// flow's subject field shows them to be about that one person.
func TestUploadCountsSubjects(t *testing.T) {
	t.Parallel()
	csvOf := func(nino string, n int) []byte {
		b := []byte("nino,amount\n")
		for i := range n {
			b = fmt.Appendf(b, "%s,%d\n", nino, i)
		}
		return b
	}
	t.Run("deny/records-past-the-declared-count", func(t *testing.T) {
		t.Parallel()
		r := newRig(t)
		body := csvOf("QQ123456C", 10)
		d := policeDisclosure(int64(len(body)))
		d.ContentType = "text/csv"
		e := r.declare(t, revenues, d)
		_, err := r.svc.Upload(r.ctx, revenues, e.ID, bytes.NewReader(body), int64(len(body)))
		var se *minimise.SubjectsError
		require.ErrorAs(t, err, &se)
		require.Equal(t, 1, se.Limit)
		require.Equal(t, exchange.StateFailed, r.exchange(t, e.ID).State)
		require.Equal(t, "subjects-exceeded", r.failedReason(t, e.ID))
		require.Empty(t, r.objects.Keys())
	})
	t.Run("ok/one-person-by-the-subject-field", func(t *testing.T) {
		t.Parallel()
		r := newRig(t)
		a := fixtureAgreements()[0]
		a.Flows[0].Fields = &agreements.FieldPolicy{Subject: "nino"}
		require.NoError(t, r.db.PutAgreement(r.ctx, a))
		body := csvOf("QQ123456C", 10)
		d := policeDisclosure(int64(len(body)))
		d.ContentType = "text/csv"
		e := r.declare(t, revenues, d)
		got := r.upload(t, revenues, e.ID, body)
		sealed := r.entriesFor(t, got.ID)
		require.Equal(t, audit.TypeExchangeSealed, sealed[len(sealed)-1])
		last := r.entries(t, audit.TypeExchangeSealed)
		require.Contains(t, last[len(last)-1].Detail["minimised"], "10 records")
		require.Contains(t, last[len(last)-1].Detail["minimised"], "1 subjects")
		m, plain := r.open(t, police, got.ID)
		require.Equal(t, body, plain)
		require.Equal(t, &seal.Minimisation{Format: "csv", Mode: minimise.CountOnly, Records: 10, Subjects: 1}, m.Minimised,
			"only counted: the manifest does not claim a strip")
	})
}
