package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// An approval and an activation are bound to the document the person read:
// a DPO reads version 1 and its digest; the author registers a changed
// version 2; approving version 2 with what the DPO read is refused and
// recorded as refused; approving it with its own digest works, and the
// audit entry, the version and the disclosure register carry that digest;
// activating with another digest is refused the same way.
func TestApprovalBoundToDigest(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	alice, dana := gw.Admin(t, "alice", "admin"), gw.Admin(t, "dana", "dpo")
	aziz := gw.Admin(t, "aziz", "auditor")

	_, err := alice.Register(ctx, []byte(youthJusticeYAML), "application/yaml")
	require.NoError(t, err)
	// The DPO reads version 1 and the digest shown with it, which is the
	// documented digest of the document registered (docs/agreements.md).
	read, err := dana.Version(ctx, "youth-justice", 1)
	require.NoError(t, err)
	doc, err := agreements.DecodeYAML([]byte(youthJusticeYAML))
	require.NoError(t, err)
	doc.Version = 1
	require.Equal(t, agreements.Digest(doc), read.SHA256)
	read1 := read.SHA256

	// The author changes the draft before the DPO acts: a new version with
	// more data in it.
	v2, err := alice.Register(ctx, []byte(strings.Replace(youthJusticeYAML, "data_categories: [identity, family]", "data_categories: [identity, family, address-history]", 1)), "application/yaml")
	require.NoError(t, err)
	require.Equal(t, 2, v2.Version)
	require.NotEqual(t, read1, v2.SHA256)

	// Approving version 2 on the strength of version 1 is refused, names
	// both digests, changes nothing, and is recorded.
	_, err = dana.Approve(ctx, "youth-justice", 2, read1)
	p := requireProblem(t, err, http.StatusConflict, "agreement-digest-mismatch")
	require.Contains(t, p.Detail, read1)
	require.Contains(t, p.Detail, v2.SHA256)
	require.Equal(t, "sha256", p.Errors[0].Field)
	require.Equal(t, "matches", p.Errors[0].Rule)
	// Nor may a digest or version be left out, or malformed.
	_, err = dana.Approve(ctx, "youth-justice", 2, "")
	p = requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	require.Equal(t, []api.FieldError{{Field: "sha256", Rule: "required", Message: "is required: the SHA-256 of the version's document, as shown with it"}}, p.Errors)
	_, err = dana.Approve(ctx, "youth-justice", 0, v2.SHA256)
	p = requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	require.Equal(t, "version", p.Errors[0].Field)
	_, err = dana.Approve(ctx, "youth-justice", 2, strings.ToUpper(v2.SHA256))
	p = requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	require.Equal(t, "sha256", p.Errors[0].Field)
	require.Equal(t, "format", p.Errors[0].Rule)

	still, err := aziz.Version(ctx, "youth-justice", 2)
	require.NoError(t, err)
	require.Equal(t, "draft", still.Status)
	require.Empty(t, still.ApprovedSHA256)
	entries := youthJusticeEntries(t, gw)
	require.Empty(t, entries[agreements.AuditAgreementApproved], "nothing was approved")
	refused := entries[agreements.AuditAgreementApprovalRefused]
	require.Len(t, refused, 1)
	require.Equal(t, "youth-justice@2", refused[0].Agreement)
	require.Equal(t, "dana", refused[0].Actor)
	require.Equal(t, "refused", refused[0].Outcome)
	require.Equal(t, read1, refused[0].Detail["sha256"])
	require.Equal(t, v2.SHA256, refused[0].Detail["expected_sha256"])

	// The DPO reads version 2 and approves what she read.
	read, err = dana.Version(ctx, "youth-justice", 2)
	require.NoError(t, err)
	approved, err := dana.Approve(ctx, "youth-justice", 2, read.SHA256)
	require.NoError(t, err)
	require.Equal(t, "approved", approved.Status)
	require.Equal(t, v2.SHA256, approved.ApprovedSHA256)
	require.Equal(t, v2.SHA256, approved.SHA256, "approving leaves the document, and so its digest, as it was")
	entries = youthJusticeEntries(t, gw)
	require.Len(t, entries[agreements.AuditAgreementApproved], 1)
	require.Equal(t, "youth-justice@2", entries[agreements.AuditAgreementApproved][0].Agreement)
	require.Equal(t, v2.SHA256, entries[agreements.AuditAgreementApproved][0].Detail["sha256"])

	// Activating with another digest (version 1's) is refused and recorded;
	// with the version's own it is put in force, and the entry carries it.
	_, err = alice.Activate(ctx, "youth-justice", 2, read1)
	requireProblem(t, err, http.StatusConflict, "agreement-digest-mismatch")
	still, err = aziz.Version(ctx, "youth-justice", 2)
	require.NoError(t, err)
	require.Equal(t, "approved", still.Status)
	entries = youthJusticeEntries(t, gw)
	require.Empty(t, entries[agreements.AuditAgreementActivated])
	require.Len(t, entries[agreements.AuditAgreementActivationRefused], 1)
	require.Equal(t, read1, entries[agreements.AuditAgreementActivationRefused][0].Detail["sha256"])
	active, err := alice.Activate(ctx, "youth-justice", 2, v2.SHA256)
	require.NoError(t, err)
	require.Equal(t, "active", active.Status)
	entries = youthJusticeEntries(t, gw)
	require.Len(t, entries[agreements.AuditAgreementActivated], 1)
	require.Equal(t, v2.SHA256, entries[agreements.AuditAgreementActivated][0].Detail["sha256"])

	// A disclosure under it: the register names the version and the
	// digest its DPO approved.
	ex, err := gw.Client(t, "council.social-care").Declare(ctx, &api.ExchangeDeclaration{
		Agreement: "youth-justice", Recipient: "police.northshire", Purpose: "safeguarding-child", LawfulBasis: "A6-1-e",
		DataCategories: []string{"identity", "address-history"}, Subjects: []api.Subject{{Type: "council-ref", Value: "CS-1182"}},
		ContentType: "text/plain", Size: 3,
	})
	require.NoError(t, err)
	today := time.Now().UTC().Format(time.DateOnly)
	exp, err := aziz.Export(ctx, compliance.KindDisclosures, url.Values{"from": {today}, "to": {today}})
	row := rowWhere(t, download(t, gw, exp, err), "exchange", ex.ID)
	require.Equal(t, "youth-justice@2", row["agreement"])
	require.Equal(t, v2.SHA256, row["agreement_sha256"])
}

// youthJusticeEntries are the audit entries about youth-justice, by type
// (the demo agreements' own lifecycle is recorded too).
func youthJusticeEntries(t *testing.T, gw *testenv.Gateway) map[string][]audit.Entry {
	t.Helper()
	out := map[string][]audit.Entry{}
	for typ, es := range adminEntries(t, gw) {
		for _, e := range es {
			if strings.HasPrefix(e.Agreement, "youth-justice@") {
				out[typ] = append(out[typ], e)
			}
		}
	}
	return out
}
