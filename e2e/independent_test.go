package e2e_test

// This file checks the gateway's receipts, checkpoints and proofs as an
// outsider would: with transparency-dev/merkle's proof verification,
// golang.org/x/mod/sumdb/note and a JOSE library, and nothing of the
// gateway's own audit or tlog code.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/stretchr/testify/require"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

func outsiderDisclosure() *api.ExchangeDeclaration {
	return &api.ExchangeDeclaration{
		Agreement: "police-crime", Recipient: "police.northshire", Purpose: "crime-prevention-detection",
		LawfulBasis: "A6-1-e", Exemption: "DPA-S2-P1-2", Instrument: "CDA-1998-S115",
		CriminalOffence: []string{"A10", "DPA-S1-P2-10"}, DataCategories: []string{"identity", "financial"},
		Subjects:      []api.Subject{{Type: "nino", Value: "QQ123456C"}},
		Justification: "Named suspect in fraud investigation NP-2026-0142",
		Authoriser:    &api.Authoriser{Name: "Priya Shah", Rank: "service-manager"},
		ContentType:   "text/plain", Size: 4,
	}
}

type outsiderReceipt struct {
	Log      string `json:"log"`
	Index    uint64 `json:"index"`
	LeafHash string `json:"leaf_hash"`
	Time     string `json:"time"`
}

// openReceipt verifies a receipt's ES256 signature with the key its kid
// names in the gateway's JWKS and reads its claims.
func openReceipt(t *testing.T, keys jwk.Set, compact string) outsiderReceipt {
	t.Helper()
	msg, err := jws.Parse([]byte(compact))
	require.NoError(t, err)
	hdr := msg.Signatures()[0].ProtectedHeaders()
	typ, _ := hdr.Type()
	require.Equal(t, "gatehouse-receipt+jws", typ)
	kid, _ := hdr.KeyID()
	key, ok := keys.LookupKeyID(kid)
	require.True(t, ok, "the receipt's kid %q is in the JWKS", kid)
	payload, err := jws.Verify([]byte(compact), jws.WithKey(jwa.ES256(), key))
	require.NoError(t, err)
	var r outsiderReceipt
	require.NoError(t, json.Unmarshal(payload, &r))
	return r
}

type outsiderHead struct {
	origin string
	size   uint64
	root   []byte
}

// openCheckpoint verifies a C2SP checkpoint note with the published key
// and reads its three lines.
func openCheckpoint(t *testing.T, vkey, text string) outsiderHead {
	t.Helper()
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	require.NoError(t, err)
	n, err := note.Open([]byte(text), note.VerifierList(v))
	require.NoError(t, err)
	lines := strings.Split(n.Text, "\n")
	require.GreaterOrEqual(t, len(lines), 4)
	require.Equal(t, v.Name(), lines[0], "the key is named after the log's origin")
	size, err := strconv.ParseUint(lines[1], 10, 64)
	require.NoError(t, err)
	root, err := base64.StdEncoding.DecodeString(lines[2])
	require.NoError(t, err)
	return outsiderHead{origin: lines[0], size: size, root: root}
}

func b64s(t *testing.T, hs []string) [][]byte {
	t.Helper()
	out := make([][]byte, len(hs))
	for i, h := range hs {
		b, err := base64.StdEncoding.DecodeString(h)
		require.NoError(t, err)
		out[i] = b
	}
	return out
}

func fetchText(t *testing.T, gw *testenv.Gateway, path string) string {
	t.Helper()
	resp, err := testenv.HTTPClient(t, gw.Env.CAFile()).Get(gw.AdminURL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, b.String())
	return b.String()
}

// Receipts, checkpoints and both kinds of proof check out with the
// reference libraries alone, on SQLite and PostgreSQL; a partner gets
// proofs only about its own exchanges.
func TestProofsVerifyIndependently(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := map[bool]string{false: "sqlite", true: "postgres"}[pg]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			gw := testenv.StartGateway(t, testenv.GatewayOptions{Postgres: pg, Configure: func(c *config.Config) {
				c.Audit.CheckpointInterval = 3600e9 // only the forced rounds sign
			}})
			ctx := context.Background()
			council, police, dwp := gw.Client(t, "council.revenues"), gw.Client(t, "police.northshire"), gw.Client(t, "dwp")
			auditor := gw.Admin(t, "ivy", "auditor")

			_, err := police.Checkpoint(ctx)
			var p *api.Problem
			require.True(t, errors.As(err, &p), "%v", err)
			require.Equal(t, "checkpoint-not-found", p.Code)

			var receipts []string
			for range 3 {
				e, err := council.Send(ctx, outsiderDisclosure(), strings.NewReader("data"))
				require.NoError(t, err)
				receipts = append(receipts, e.Receipts...)
				acked, err := police.Acknowledge(ctx, e.ID)
				require.NoError(t, err)
				receipts = append(receipts, acked.Receipt)
			}
			refused := outsiderDisclosure()
			refused.Purpose = "marketing"
			_, err = council.Declare(ctx, refused)
			require.True(t, errors.As(err, &p))
			require.NotEmpty(t, p.Receipt, "a 403 carries the refusal's receipt")
			receipts = append(receipts, p.Receipt)
			require.Len(t, receipts, 10)

			_, err = gw.App.Checkpointer.Once(ctx, true)
			require.NoError(t, err)

			keys, err := jwk.Parse([]byte(fetchText(t, gw, "/.well-known/jwks.json")))
			require.NoError(t, err)
			vkey := fetchText(t, gw, "/.well-known/gatehouse-checkpoint-key")
			cp, err := council.Checkpoint(ctx)
			require.NoError(t, err)
			head := openCheckpoint(t, vkey, cp.Note)
			require.Equal(t, cp.TreeSize, head.size)
			require.Equal(t, cp.Origin, head.origin)

			for _, compact := range receipts {
				r := openReceipt(t, keys, compact)
				require.Equal(t, head.origin, r.Log)
				leaf, err := base64.StdEncoding.DecodeString(r.LeafHash)
				require.NoError(t, err)
				in, err := council.InclusionProof(ctx, r.Index, head.size)
				require.NoError(t, err, "the sender may prove every entry of its own exchanges")
				require.Equal(t, r.LeafHash, in.LeafHash)
				require.NoError(t, proof.VerifyInclusion(rfc6962.DefaultHasher, r.Index, head.size, leaf, b64s(t, in.Hashes), head.root),
					"entry %d is in the signed tree", r.Index+1)
				in, err = auditor.InclusionProof(ctx, r.Index, head.size)
				require.NoError(t, err, "an auditor may prove any entry")
				require.NoError(t, proof.VerifyInclusion(rfc6962.DefaultHasher, r.Index, head.size, leaf, b64s(t, in.Hashes), head.root))

				_, err = dwp.InclusionProof(ctx, r.Index, head.size)
				require.True(t, errors.As(err, &p), "%v", err)
				require.Equal(t, "audit-entry-not-found", p.Code, "another party learns nothing of these entries")
			}

			// More entries, a new checkpoint: it extends the old one.
			for range 2 {
				_, err := council.Send(ctx, outsiderDisclosure(), strings.NewReader("data"))
				require.NoError(t, err)
			}
			_, err = gw.App.Checkpointer.Once(ctx, true)
			require.NoError(t, err)
			cp2, err := auditor.Checkpoint(ctx)
			require.NoError(t, err)
			head2 := openCheckpoint(t, vkey, cp2.Note)
			require.Greater(t, head2.size, head.size)
			for _, c := range []interface {
				ConsistencyProof(context.Context, uint64, uint64) (*api.ConsistencyProof, error)
			}{dwp, auditor} {
				cons, err := c.ConsistencyProof(ctx, head.size, head2.size)
				require.NoError(t, err)
				require.NoError(t, proof.VerifyConsistency(rfc6962.DefaultHasher, head.size, head2.size, b64s(t, cons.Hashes), head.root, head2.root))
				require.Error(t, proof.VerifyConsistency(rfc6962.DefaultHasher, head.size, head2.size, b64s(t, cons.Hashes), head2.root, head2.root),
					"the proof holds only for the real roots")
			}

			_, err = council.InclusionProof(ctx, head2.size, head2.size)
			require.True(t, errors.As(err, &p))
			require.Equal(t, "invalid-request", p.Code)
			_, err = council.ConsistencyProof(ctx, 1, head2.size+1000)
			require.True(t, errors.As(err, &p))
			require.Equal(t, "audit-entry-not-found", p.Code)
		})
	}
}
