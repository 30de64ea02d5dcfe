package exchange_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/tlog"
)

const receiptOrigin = "gatehouse.test/audit"

// checkReceipt verifies a receipt with the gateway's audit key and holds
// it to the stored record: the entry at its index has its leaf hash and
// the expected type.
func (r *rig) checkReceipt(t *testing.T, compact, wantType string) *tlog.Receipt {
	t.Helper()
	require.NotEmpty(t, compact, "an answer that recorded %s carries its receipt", wantType)
	rc, err := tlog.ParseReceipt(compact, r.gatewayKeys)
	require.NoError(t, err)
	require.Equal(t, receiptOrigin, rc.Log)
	recs, err := r.db.AuditRecords(r.ctx, rc.Seq()-1, 1)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, rc.Seq(), recs[0].Seq)
	require.Equal(t, wantType, recs[0].Type)
	require.Equal(t, base64.StdEncoding.EncodeToString(tlog.LeafHash(recs[0].Body)), rc.LeafHash)
	require.True(t, recs[0].Time.Equal(rc.Time))
	return rc
}

// Every answer that records a decision or a delivery carries the signed
// receipt of the entry it recorded, and only of an entry that is there.
func TestReceipts(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.svc.SetReceipts(&audit.Receipts{Signer: r.signer, Origin: receiptOrigin})
	body := []byte("name,nino\nJane Doe,QQ123456C\n")

	e, err := r.svc.Declare(r.ctx, revenues, withDigest(policeDisclosure(int64(len(body))), body), "")
	require.NoError(t, err)
	require.Len(t, e.Receipts, 1)
	r.checkReceipt(t, e.Receipts[0], audit.TypeExchangeDecided)

	sealed, err := r.svc.Upload(r.ctx, revenues, e.ID, bytes.NewReader(body), int64(len(body)))
	require.NoError(t, err)
	require.Len(t, sealed.Receipts, 1)
	r.checkReceipt(t, sealed.Receipts[0], audit.TypeExchangeSealed)

	env, err := r.svc.Envelope(r.ctx, police, e.ID)
	require.NoError(t, err)
	r.checkReceipt(t, env.Receipts[0], audit.TypeEnvelopeFetched)

	got, _, rc, err := r.svc.OpenPayload(r.ctx, police, e.ID, nil)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	r.checkReceipt(t, got.Receipts[0], audit.TypeExchangeFetched)

	acked, err := r.svc.Acknowledge(r.ctx, police, e.ID)
	require.NoError(t, err)
	r.checkReceipt(t, acked.Receipts[0], exchange.TypeAcknowledged)
	again, err := r.svc.Acknowledge(r.ctx, police, e.ID)
	require.NoError(t, err)
	require.Empty(t, again.Receipts, "a repeated acknowledgement records nothing, so has no receipt")

	read, err := r.svc.Get(r.ctx, revenues, e.ID)
	require.NoError(t, err)
	require.Empty(t, read.Receipts, "a read records nothing")

	t.Run("refusal", func(t *testing.T) {
		d := policeDisclosure(10)
		d.Purpose = "marketing"
		_, err := r.svc.Declare(r.ctx, revenues, d, "")
		var refused *exchange.RefusedError
		require.ErrorAs(t, err, &refused)
		r.checkReceipt(t, refused.Receipt, audit.TypeExchangeDecided)
	})
	t.Run("one-request", func(t *testing.T) {
		small := []byte("x")
		sent, err := r.svc.Send(r.ctx, revenues, withDigest(policeDisclosure(1), small), "", func() (io.Reader, error) { return bytes.NewReader(small), nil })
		require.NoError(t, err)
		require.Len(t, sent.Receipts, 2, "the decision, then the delivery")
		first := r.checkReceipt(t, sent.Receipts[0], audit.TypeExchangeDecided)
		second := r.checkReceipt(t, sent.Receipts[1], audit.TypeExchangeSealed)
		require.Less(t, first.Index, second.Index)
	})
	t.Run("request", func(t *testing.T) {
		q, err := r.svc.SubmitRequest(r.ctx, police, policeRequest(), "")
		require.NoError(t, err)
		r.checkReceipt(t, q.Receipt, exchange.TypeRequestDecided)
		bad := policeRequest()
		bad.Purpose = "tax-assessment-collection"
		_, err = r.svc.SubmitRequest(r.ctx, police, bad, "")
		var refused *exchange.RefusedError
		require.ErrorAs(t, err, &refused)
		r.checkReceipt(t, refused.Receipt, exchange.TypeRequestDecided)
		accepted, err := r.svc.RespondRequest(r.ctx, legal, q.ID, true, "")
		require.NoError(t, err)
		r.checkReceipt(t, accepted.Receipt, exchange.TypeRequestAccepted)
	})
	t.Run("replay", func(t *testing.T) {
		d := policeDisclosure(3)
		first, err := r.svc.Declare(r.ctx, revenues, d, "receipt-replay")
		require.NoError(t, err)
		require.Len(t, first.Receipts, 1)
		replayed, err := r.svc.Declare(r.ctx, revenues, policeDisclosure(3), "receipt-replay")
		require.NoError(t, err)
		require.True(t, replayed.Replayed)
		require.Empty(t, replayed.Receipts, "a replay records nothing new")
	})
}

// The plaintext's SHA-256 is neither in the database nor in the record:
// only its keyed digest is. The sender gets it in the upload's answer, the
// recipient in the manifest.
func TestPayloadDigestIsKeyed(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	body := []byte("name,nino\nJane Doe,QQ123456C\n")
	sum := sha256Hex(body)
	e := r.declare(t, revenues, withDigest(policeDisclosure(int64(len(body))), body))
	sealed := r.upload(t, revenues, e.ID, body)
	require.Equal(t, sum, sealed.Payload.SHA256, "the upload's answer says what was sealed")
	m, _ := r.open(t, police, e.ID)
	_, err := r.svc.Acknowledge(r.ctx, police, e.ID)
	require.NoError(t, err)
	require.Equal(t, sum, m.Plaintext.SHA256, "the recipient has it in the manifest")

	stored := r.exchange(t, e.ID)
	require.Empty(t, stored.Payload.SHA256)
	require.Equal(t, payloadDigest(sum), stored.Payload.Digest)
	require.Equal(t, payloadDigest(sum), stored.Meta.DeclaredSHA256, "the declared digest is keyed too")
	recs, err := r.db.AuditRecords(r.ctx, 0, 1000)
	require.NoError(t, err)
	for _, rec := range recs {
		require.NotContains(t, string(rec.Body), sum, "entry %d", rec.Seq)
	}
	var row string
	require.NoError(t, r.db.SQL().QueryRow("SELECT payload_sha256 || meta FROM exchanges WHERE id = $1", e.ID).Scan(&row))
	require.NotContains(t, row, sum)
}
