package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// A bad upload stores nothing and leaves the exchange ready for a good one.
func TestUploadMustMatchDeclaration(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	council := gw.Client(t, "council.revenues")
	police := gw.Client(t, "police.northshire")
	payload := randomBytes(t, 300_000)
	sum := sha256.Sum256(payload)

	d := policeDisclosure(int64(len(payload)))
	d.SHA256 = hex.EncodeToString(sum[:])
	e, err := council.Declare(ctx, d)
	require.NoError(t, err)
	require.Equal(t, "declared", e.State)
	require.Equal(t, "/v1/exchanges/"+e.ID+"/payload", e.Links["upload"])

	noObjects := func() {
		t.Helper()
		keys, err := gw.App.Objects.Keys(ctx, "")
		require.NoError(t, err)
		require.Empty(t, keys)
	}

	// Content-Length other than the declared size.
	_, err = council.Upload(ctx, e.ID, bytes.NewReader(payload[:1000]), 1000)
	requireProblem(t, err, http.StatusBadRequest, "payload-size-mismatch")
	noObjects()

	// Chunked bodies, shorter and longer than declared.
	_, err = council.Upload(ctx, e.ID, io.MultiReader(bytes.NewReader(payload[:len(payload)-1])), -1)
	requireProblem(t, err, http.StatusBadRequest, "payload-size-mismatch")
	noObjects()
	_, err = council.Upload(ctx, e.ID, io.MultiReader(bytes.NewReader(payload), strings.NewReader("x")), -1)
	requireProblem(t, err, http.StatusBadRequest, "payload-size-mismatch")
	noObjects()

	// Right size, wrong content.
	wrong := bytes.Clone(payload)
	wrong[0] ^= 1
	_, err = council.Upload(ctx, e.ID, bytes.NewReader(wrong), int64(len(wrong)))
	requireProblem(t, err, http.StatusBadRequest, "payload-digest-mismatch")
	noObjects()

	// Only the sender may upload; to anyone else the exchange does not exist.
	_, err = police.Upload(ctx, e.ID, bytes.NewReader(payload), int64(len(payload)))
	requireProblem(t, err, http.StatusNotFound, "exchange-not-found")

	// Nothing was delivered, so the recipient sees nothing yet.
	_, err = police.Envelope(ctx, e.ID)
	requireProblem(t, err, http.StatusNotFound, "exchange-not-found")
	inbox, err := police.Inbox(ctx, "", 0)
	require.NoError(t, err)
	require.Empty(t, inbox.Exchanges)

	// The right body, chunked, is accepted after all those failures.
	got, err := council.Upload(ctx, e.ID, io.MultiReader(bytes.NewReader(payload)), -1)
	require.NoError(t, err)
	require.Equal(t, "delivered", got.State)

	// A second upload is a conflict.
	_, err = council.Upload(ctx, e.ID, bytes.NewReader(payload), int64(len(payload)))
	requireProblem(t, err, http.StatusConflict, "exchange-state")

	var out bytes.Buffer
	_, err = police.Fetch(ctx, e.ID, gw.DecryptKey(t, "police.northshire"), &out)
	require.NoError(t, err)
	require.True(t, bytes.Equal(payload, out.Bytes()))
	keys, err := gw.App.Objects.Keys(ctx, "")
	require.NoError(t, err)
	require.Len(t, keys, 1, "exactly one object: the delivered payload")
}

func TestEmptyPayload(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	e, err := gw.Client(t, "council.revenues").Send(ctx, policeDisclosure(0), bytes.NewReader(nil))
	require.NoError(t, err)
	var out bytes.Buffer
	m, err := gw.Client(t, "police.northshire").Fetch(ctx, e.ID, gw.DecryptKey(t, "police.northshire"), &out)
	require.NoError(t, err)
	require.Zero(t, out.Len())
	require.Equal(t, int64(56), m.Ciphertext.Size)
}

func TestBadDeclarationsNameTheField(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	council := gw.Client(t, "council.revenues")

	d := policeDisclosure(10)
	d.Recipient = "Police Northshire"
	d.DataCategories = nil
	d.Subjects[0].Value = ""
	d.Size = -1
	_, err := council.Declare(ctx, d)
	p := requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	fields := map[string]string{}
	for _, f := range p.Errors {
		fields[f.Field] = f.Rule
	}
	require.Equal(t, map[string]string{
		"recipient":         "format",
		"data_categories":   "required",
		"subjects[0].value": "required",
		"size":              "minimum",
	}, fields)

	// Unknown codes are named with the valid ones, as are unknown ranks;
	// the dry run answers the same.
	d = policeDisclosure(10)
	d.Purpose, d.LawfulBasis, d.Authoriser = "Marketing", "A6-1-z", &api.Authoriser{Name: "J. Bloggs", Rank: "captain"}
	for _, try := range []func() error{
		func() error { _, err := council.Declare(ctx, d); return err },
		func() error { _, err := council.Check(ctx, d); return err },
	} {
		p = requireProblem(t, try(), http.StatusBadRequest, "invalid-request")
		fields = map[string]string{}
		for _, f := range p.Errors {
			fields[f.Field] = f.Rule
			require.Contains(t, f.Message, "use one of", f.Field)
		}
		require.Equal(t, map[string]string{"purpose": "code", "lawful_basis": "code", "authoriser.rank": "code"}, fields)
	}

	d = policeDisclosure(1 << 62)
	_, err = council.Declare(ctx, d)
	requireProblem(t, err, http.StatusRequestEntityTooLarge, "payload-too-large")

	n, err := gw.App.DB.CountExchanges(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}
