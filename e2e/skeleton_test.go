package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// policeDisclosure is a lawful disclosure from council revenues to the
// police under the police-crime demo agreement.
func policeDisclosure(size int64) *api.ExchangeDeclaration {
	return &api.ExchangeDeclaration{
		Agreement:       "police-crime",
		Recipient:       "police.northshire",
		Purpose:         "crime-prevention-detection",
		LawfulBasis:     "A6-1-e",
		Exemption:       "DPA-S2-P1-2",
		Instrument:      "CDA-1998-S115",
		CriminalOffence: []string{"A10", "DPA-S1-P2-10"},
		DataCategories:  []string{"identity", "financial"},
		Subjects:        []api.Subject{{Type: "nino", Value: "QQ123456C"}},
		Justification:   "Named suspect in fraud investigation NP-2026-0142",
		Authoriser:      &api.Authoriser{Name: "Priya Shah", Rank: "service-manager"},
		ContentType:     "application/octet-stream",
		Size:            size,
	}
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func requireProblem(t *testing.T, err error, status int, code string) *api.Problem {
	t.Helper()
	var p *api.Problem
	require.True(t, errors.As(err, &p), "want a problem+json error, got %v", err)
	require.Equal(t, status, p.Status, "status of %s", p.Code)
	require.Equal(t, code, p.Code)
	require.NotEmpty(t, p.ErrorID)
	return p
}

func TestLawfulExchangeEndToEnd(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	council := gw.Client(t, "council.revenues")
	police := gw.Client(t, "police.northshire")
	dwp := gw.Client(t, "dwp")

	payload := randomBytes(t, 5<<20)
	sum := sha256.Sum256(payload)
	sent, err := council.Send(ctx, policeDisclosure(int64(len(payload))), bytes.NewReader(payload))
	require.NoError(t, err)
	require.Equal(t, "delivered", sent.State)
	require.Equal(t, "police-crime@1", sent.Agreement)
	require.Equal(t, hex.EncodeToString(sum[:]), sent.Payload.SHA256)

	// The police find it in their inbox, fetch it and decrypt it byte for byte.
	inbox, err := police.Inbox(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, inbox.Exchanges, 1)
	require.Equal(t, sent.ID, inbox.Exchanges[0].ID)
	require.Equal(t, "council.revenues", inbox.Exchanges[0].Sender)

	var got bytes.Buffer
	m, err := police.Fetch(ctx, sent.ID, gw.DecryptKey(t, "police.northshire"), &got)
	require.NoError(t, err)
	require.True(t, bytes.Equal(payload, got.Bytes()), "decrypted payload differs")
	require.Equal(t, "council.revenues", m.Sender)
	require.Equal(t, "police-crime@1", m.Agreement)
	after, err := police.Exchange(ctx, sent.ID)
	require.NoError(t, err)
	require.Equal(t, "fetched", after.State)

	// What is stored in MinIO is ciphertext, not the plaintext.
	obj, err := gw.App.Objects.Client().GetObject(ctx, m.Object.Bucket, m.Object.Key, minio.GetObjectOptions{VersionID: m.Object.Version})
	require.NoError(t, err)
	stored, err := io.ReadAll(obj)
	require.NoError(t, err)
	require.Equal(t, m.Ciphertext.Size, int64(len(stored)))
	require.False(t, bytes.Equal(payload, stored[:len(payload)]))
	require.False(t, bytes.Contains(stored, payload[:4096]), "the stored object contains plaintext")

	// DWP cannot see, open or download it: to them it does not exist.
	_, err = dwp.Exchange(ctx, sent.ID)
	requireProblem(t, err, http.StatusNotFound, "exchange-not-found")
	_, err = dwp.Envelope(ctx, sent.ID)
	requireProblem(t, err, http.StatusNotFound, "exchange-not-found")
	_, err = dwp.PayloadReader(ctx, sent.ID, 0)
	requireProblem(t, err, http.StatusNotFound, "exchange-not-found")
	_, err = dwp.Fetch(ctx, sent.ID, gw.DecryptKey(t, "dwp"), io.Discard)
	require.Error(t, err)
	dwpInbox, err := dwp.Inbox(ctx, "", 0)
	require.NoError(t, err)
	require.Empty(t, dwpInbox.Exchanges)

	// Even with the police's envelope, DWP's key cannot open it.
	env, err := police.Envelope(ctx, sent.ID)
	require.NoError(t, err)
	require.NotEmpty(t, env)

	// A resumed download: the last bytes only.
	rc, err := police.PayloadReader(ctx, sent.ID, m.Ciphertext.Size-100)
	require.NoError(t, err)
	tail, err := io.ReadAll(rc)
	rc.Close()
	require.NoError(t, err)
	require.Equal(t, stored[len(stored)-100:], tail)

	// Every step is in one unbroken audit chain, with subjects only as keyed hashes.
	recs, err := gw.App.DB.AuditRecords(ctx, 0, 1000)
	require.NoError(t, err)
	v := audit.NewVerifier()
	types := map[string]int{}
	for _, r := range recs {
		require.NoError(t, v.Next(r))
		types[r.Type]++
		require.NotContains(t, string(r.Body), "QQ123456C")
	}
	require.Equal(t, 1, types[audit.TypeExchangeDecided])
	require.Equal(t, 1, types[audit.TypeExchangeSealed])
	require.Equal(t, 2, types[audit.TypeExchangeFetched], "the full fetch and the resumed range")
	require.GreaterOrEqual(t, types[audit.TypeEnvelopeFetched], 2)
}

func TestRefusedWithoutAgreementStoresNothing(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	hmrc := gw.Client(t, "hmrc")

	// HMRC has no agreement that lets it disclose to the police.
	d := policeDisclosure(1024)
	_, err := hmrc.Declare(ctx, d)
	p := requireProblem(t, err, http.StatusForbidden, "refused")
	require.NotNil(t, p.Decision)
	require.Equal(t, "deny", p.Decision.Outcome)
	var failed []string
	for _, c := range p.Decision.Checks {
		if !c.Passed {
			failed = append(failed, c.Code)
		}
	}
	require.Contains(t, failed, "flow.permitted")

	// An agreement that does not exist.
	d.Agreement = "no-such-agreement"
	_, err = gw.Client(t, "council.revenues").Declare(ctx, d)
	p = requireProblem(t, err, http.StatusForbidden, "refused")
	failed = nil
	for _, c := range p.Decision.Checks {
		if !c.Passed {
			failed = append(failed, c.Code)
		}
	}
	require.Equal(t, []string{"agreement.exists"}, failed)

	n, err := gw.App.DB.CountExchanges(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a refusal leaves no exchange row")
	keys, err := gw.App.Objects.Keys(ctx, "")
	require.NoError(t, err)
	require.Empty(t, keys, "a refusal leaves no object")

	// The refusals are recorded.
	recs, err := gw.App.DB.AuditRecords(ctx, 0, 1000)
	require.NoError(t, err)
	var decided []string
	for _, r := range recs {
		if r.Type == audit.TypeExchangeDecided {
			decided = append(decided, string(r.Body))
		}
	}
	require.Len(t, decided, 2)
	for _, body := range decided {
		require.Contains(t, body, `"outcome":"deny"`)
	}
}

func TestUnregisteredPartyIsRefused(t *testing.T) {
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	_, err := gw.Client(t, testenv.Stranger).WhoAmI(context.Background())
	requireProblem(t, err, http.StatusForbidden, "party-unknown")

	w, err := gw.Client(t, "police.northshire").WhoAmI(context.Background())
	require.NoError(t, err)
	require.Equal(t, "police.northshire", w.Party)
	require.Equal(t, "police", w.Kind)
}

func TestClientWithoutCertificateCannotConnect(t *testing.T) {
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	caPEM, err := os.ReadFile(gw.Env.CAFile())
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: pool, MinVersion: version, MaxVersion: version,
		}}}
		resp, err := hc.Get(gw.URL + "/healthz")
		if resp != nil {
			resp.Body.Close()
		}
		require.Error(t, err, "TLS %x without a client certificate", version)
		require.Nil(t, resp)
	}
}
