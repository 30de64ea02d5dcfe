package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

// A party's encryption key and trust anchors change only when a second
// person approves the proposal by its digest: proposed, the gateway still
// seals to the old key and trusts the old anchor; the proposer cannot
// approve; a wrong digest is refused; approved, the new key and anchor are
// in effect on the next request; every step is in the audit chain.
func TestPartyChangeNeedsSecondPerson(t *testing.T) {
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	alice := gw.Admin(t, "alice", "admin")
	dana := gw.Admin(t, "dana", "dpo")
	council := gw.Client(t, "council.revenues")
	police := gw.Client(t, "police.northshire")
	oldKey := gw.DecryptKey(t, "police.northshire")
	newKey, err := seal.GenerateKey(seal.UseEncryption)
	require.NoError(t, err)
	newPub, err := seal.PublicJSON(newKey)
	require.NoError(t, err)

	// A direct PUT of a new key is refused and changes nothing.
	cur, err := alice.Party(ctx, "police.northshire")
	require.NoError(t, err)
	put := api.PartyRegistration{ID: cur.ID, Kind: cur.Kind, Name: "Northshire Constabulary", TrustAnchors: cur.TrustAnchors,
		RevocationHosts: cur.RevocationHosts, EncryptionKey: newPub}
	status, p := putParty(t, gw, put)
	require.Equal(t, http.StatusConflict, status)
	require.Equal(t, "party-change-needs-approval", p.Code)
	require.Contains(t, p.Detail, "encryption_key")
	put.EncryptionKey = cur.EncryptionKey
	status, _ = putParty(t, gw, put)
	require.Equal(t, http.StatusOK, status, "the display name is a direct change")

	// Proposed: nothing the gateway uses has changed.
	ch, err := alice.ProposePartyChange(ctx, "police.northshire", &api.PartyChangeProposal{EncryptionKey: newPub, Reason: "annual key rotation"})
	require.NoError(t, err)
	require.Equal(t, "proposed", ch.Status)
	require.Equal(t, []string{"encryption_key"}, ch.Fields)
	require.Len(t, ch.SHA256, 64)
	e, err := council.Send(ctx, policeDisclosure(4), strings.NewReader("data"))
	require.NoError(t, err)
	_, err = police.OpenEnvelope(ctx, e.ID, oldKey)
	require.NoError(t, err, "sealed to the key in force, not the proposed one")
	_, err = police.OpenEnvelope(ctx, e.ID, newKey)
	require.Error(t, err)

	// The proposer cannot approve; an auditor cannot; a wrong digest is refused.
	_, err = alice.ApprovePartyChange(ctx, ch.ID, ch.SHA256)
	requireProblem(t, err, http.StatusForbidden, "two-person-rule")
	_, err = gw.Admin(t, "Alice ", "admin", "dpo").ApprovePartyChange(ctx, ch.ID, ch.SHA256)
	requireProblem(t, err, http.StatusForbidden, "two-person-rule")
	_, err = gw.Admin(t, "aziz", "auditor").ApprovePartyChange(ctx, ch.ID, ch.SHA256)
	requireProblem(t, err, http.StatusForbidden, "role-forbidden")
	wrong := strings.Repeat("0", 64)
	_, err = dana.ApprovePartyChange(ctx, ch.ID, wrong)
	requireProblem(t, err, http.StatusConflict, "party-change-digest-mismatch")
	e2, err := council.Send(ctx, policeDisclosure(4), strings.NewReader("data"))
	require.NoError(t, err)
	_, err = police.OpenEnvelope(ctx, e2.ID, oldKey)
	require.NoError(t, err, "refused approvals change nothing")

	pending, err := dana.PartyChanges(ctx, "", "proposed")
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, ch.SHA256, pending[0].SHA256)

	// A second person approves what they were shown: in effect at once.
	done, err := dana.ApprovePartyChange(ctx, ch.ID, pending[0].SHA256)
	require.NoError(t, err)
	require.Equal(t, "approved", done.Status)
	require.Equal(t, "dana", done.DecidedBy)
	e3, err := council.Send(ctx, policeDisclosure(4), strings.NewReader("data"))
	require.NoError(t, err)
	_, err = police.OpenEnvelope(ctx, e3.ID, newKey)
	require.NoError(t, err, "sealed to the approved key")
	_, err = police.OpenEnvelope(ctx, e3.ID, oldKey)
	require.Error(t, err)
	// Her retry, as if the answer had been lost, answers as the first did
	// and records nothing; anyone else's, or another digest, is refused.
	again, err := dana.ApprovePartyChange(ctx, ch.ID, ch.SHA256)
	require.NoError(t, err)
	require.Equal(t, done, again)
	bob := gw.Admin(t, "bob", "admin")
	_, err = bob.ApprovePartyChange(ctx, ch.ID, ch.SHA256)
	requireProblem(t, err, http.StatusConflict, "party-change-state")
	_, err = dana.ApprovePartyChange(ctx, ch.ID, wrong)
	requireProblem(t, err, http.StatusConflict, "party-change-state")

	// Trust anchors: a party with its own CA moves to a new CA.
	oldCA, newCA := newCA(t, "Testshire Police CA 2025"), newCA(t, "Testshire Police CA 2026")
	registerParty(t, gw, "police.testshire", agreements.KindPolice, oldCA, agreements.IdentityRule{})
	reloadWithCRLs(t, gw, []string{emptyCRL(t, oldCA), emptyCRL(t, newCA)})
	oldCert := oldCA.issue(t, leafOpts{uris: []string{partyURI("police.testshire")}})
	newCert := newCA.issue(t, leafOpts{uris: []string{partyURI("police.testshire")}})
	requireParty := func(cert *tls.Certificate, want string) {
		t.Helper()
		party, _, _ := dial(t, gw, cert, nil)
		require.Equal(t, want, party)
	}
	requireParty(&oldCert, "police.testshire")
	requireParty(&newCert, "")
	anchors := newCA.pem()
	ch2, err := alice.ProposePartyChange(ctx, "police.testshire", &api.PartyChangeProposal{TrustAnchors: &anchors, Reason: "their CA renewed"})
	require.NoError(t, err)
	_, err = alice.ProposePartyChange(ctx, "police.testshire", &api.PartyChangeProposal{Kind: ptrTo("court"), Reason: "second"})
	requireProblem(t, err, http.StatusConflict, "party-change-state")
	requireParty(&oldCert, "police.testshire")
	requireParty(&newCert, "")
	_, err = bob.ApprovePartyChange(ctx, ch2.ID, ch2.SHA256)
	require.NoError(t, err, "another administrator may approve")
	requireParty(&newCert, "police.testshire")
	requireParty(&oldCert, "")

	// Every step in the chain, with the digest.
	entries := adminEntries(t, gw)
	proposed, approved := entries[agreements.AuditPartyChangeProposed], entries[agreements.AuditPartyChangeApproved]
	require.Len(t, proposed, 2)
	require.Len(t, approved, 2, "once each, the retry recorded nothing")
	require.Equal(t, "alice", proposed[0].Actor)
	require.Equal(t, "police.northshire", proposed[0].Recipient)
	require.Equal(t, ch.SHA256, proposed[0].Detail["sha256"])
	require.Equal(t, "dana", approved[0].Actor)
	require.Equal(t, ch.SHA256, approved[0].Detail["sha256"])
	require.Equal(t, "encryption_key", approved[0].Detail["fields"])
	require.Equal(t, "bob", approved[1].Actor)
	require.Equal(t, "trust_anchors", approved[1].Detail["fields"])
	require.Empty(t, entries["admin.party.updated"][0].Detail["sha256"])
	refused := entries[agreements.AuditPartyChangeApprovalRefused]
	var why []string
	for _, r := range refused {
		require.Equal(t, "refused", r.Outcome)
		require.Equal(t, ch.ID, r.Detail["change"])
		require.Equal(t, "police.northshire", r.Recipient)
		why = append(why, r.Actor+" "+r.Detail["refused"])
	}
	require.Equal(t, []string{"alice proposer", "Alice proposer", "aziz role", "dana digest", "bob state", "dana state"}, why,
		"the proposer twice, the auditor, the wrong digest, approvals of a change no longer open other than its approver's retry")
	require.Equal(t, wrong, refused[3].Detail["sha256"])
	require.Equal(t, ch.SHA256, refused[3].Detail["expected_sha256"])
	require.Equal(t, "approved", refused[4].Detail["status"])
	require.Equal(t, wrong, refused[5].Detail["sha256"])
}

// putParty sends PUT /admin/v1/parties/{id} as alice, an administrator.
func putParty(t *testing.T, gw *testenv.Gateway, p api.PartyRegistration) (int, *api.Problem) {
	t.Helper()
	body, err := json.Marshal(p)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPut, gw.AdminURL+"/admin/v1/parties/"+p.ID, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+gw.Token(t, "alice", "admin"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := testenv.HTTPClient(t, gw.Env.CAFile()).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var prob api.Problem
	if resp.StatusCode != http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&prob))
	}
	return resp.StatusCode, &prob
}

// emptyCRL writes a current CRL of c that revokes nothing.
func emptyCRL(t *testing.T, c *ca) string {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour)}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, c.cert, c.key)
	require.NoError(t, err)
	f := filepath.Join(t.TempDir(), "crl.pem")
	require.NoError(t, os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o600))
	return f
}

func ptrTo[T any](v T) *T { return &v }

// The command line: an administrator proposes a new key and is told how
// the approval goes; the listing shows the key's thumbprint before and
// after; she cannot approve it; a DPO approves it by the digest shown.
func TestCommandLinePartyChange(t *testing.T) {
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	key, err := seal.GenerateKey(seal.UseEncryption)
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "dwp.enc.jwk")
	require.NoError(t, seal.WriteKey(keyFile, key))
	pub, err := seal.PublicJSON(key)
	require.NoError(t, err)
	t.Setenv("GATEHOUSE_ADMIN_URL", gw.AdminURL)
	t.Setenv("GATEHOUSE_ADMIN_CA", gw.Env.CAFile())
	t.Setenv("GATEHOUSE_ADMIN_TOKEN", gw.Token(t, "alice", "admin"))

	out, _, err := gatehouse(t, "parties", "propose", "dwp", "--encryption-key", keyFile, "--reason", "DWP annual key rotation")
	require.NoError(t, err)
	require.Contains(t, out, "Nothing has changed yet")
	m := regexp.MustCompile(`gatehouse parties approve (\S+) --sha256 ([0-9a-f]{64})`).FindStringSubmatch(out)
	require.Len(t, m, 3, out)
	out, _, err = gatehouse(t, "parties", "changes", "--status", "proposed")
	require.NoError(t, err)
	require.Contains(t, out, "encryption key:")
	require.Contains(t, out, "thumbprint "+agreements.KeyFingerprint(pub))
	require.Regexp(t, `sha256:\s+`+m[2], out)
	_, _, err = gatehouse(t, "parties", "approve", m[1], "--sha256", m[2])
	requireProblem(t, err, http.StatusForbidden, "two-person-rule")

	t.Setenv("GATEHOUSE_ADMIN_TOKEN", gw.Token(t, "dana", "dpo"))
	out, _, err = gatehouse(t, "parties", "approve", m[1], "--sha256", m[2])
	require.NoError(t, err)
	require.Equal(t, "approved: encryption_key of dwp changed ("+m[1]+")\n", out)
	out, _, err = gatehouse(t, "parties", "changes", "dwp", "--json")
	require.NoError(t, err)
	var list []api.PartyChange
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Equal(t, "approved", list[0].Status)
	require.Equal(t, "dana", list[0].DecidedBy)
}

// The command line registers a party pending and says how it is approved;
// `parties show` gives the key's thumbprint and the digest; the registrant
// cannot approve it, a DPO can.
func TestCommandLinePartyRegistration(t *testing.T) {
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	key, err := seal.GenerateKey(seal.UseEncryption)
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "newshire.enc.jwk")
	require.NoError(t, seal.WriteKey(keyFile, key))
	pub, err := seal.PublicJSON(key)
	require.NoError(t, err)
	t.Setenv("GATEHOUSE_ADMIN_URL", gw.AdminURL)
	t.Setenv("GATEHOUSE_ADMIN_CA", gw.Env.CAFile())
	t.Setenv("GATEHOUSE_ADMIN_TOKEN", gw.Token(t, "alice", "admin"))

	out, _, err := gatehouse(t, "parties", "register", "--id", "police.newshire", "--kind", "police", "--name", "Newshire Police", "--encryption-key", keyFile)
	require.NoError(t, err)
	require.Contains(t, out, "registered police.newshire (police), pending")
	m := regexp.MustCompile(`gatehouse parties approve-registration police.newshire --sha256 ([0-9a-f]{64})`).FindStringSubmatch(out)
	require.Len(t, m, 2, out)
	out, _, err = gatehouse(t, "parties", "show", "police.newshire")
	require.NoError(t, err)
	require.Contains(t, out, "thumbprint "+agreements.KeyFingerprint(pub))
	require.Regexp(t, `registration sha256:\s+`+m[1], out)
	_, _, err = gatehouse(t, "parties", "approve-registration", "police.newshire", "--sha256", m[1])
	requireProblem(t, err, http.StatusForbidden, "two-person-rule")

	t.Setenv("GATEHOUSE_ADMIN_TOKEN", gw.Token(t, "dana", "dpo"))
	_, _, err = gatehouse(t, "parties", "approve-registration", "police.newshire", "--sha256", strings.Repeat("0", 64))
	requireProblem(t, err, http.StatusConflict, "party-change-digest-mismatch")
	out, _, err = gatehouse(t, "parties", "approve-registration", "police.newshire", "--sha256", m[1])
	require.NoError(t, err)
	require.Equal(t, "approved: police.newshire (police) is now active\n", out)
}
