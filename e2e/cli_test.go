package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/cmd/gatehouse/cli"
	"github.com/gatehouse-gw/gatehouse/config"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
	"github.com/gatehouse-gw/gatehouse/exchange/seal"
)

// gatehouse runs the command line in-process and returns what it printed.
func gatehouse(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := cli.NewRoot(&out, &errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestCommandLine(t *testing.T) {
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	dir := t.TempDir()
	partner := func(party string) []string {
		return []string{"--gateway", gw.URL, "--cert", gw.Env.CertFile(party), "--key", gw.Env.KeyFile(party), "--ca", gw.Env.CAFile()}
	}

	// Mint an admin token and use it.
	tok, _, err := gatehouse(t, "token", "mint", "--key", gw.Env.AdminTokenKeyFile(), "--subject", "alice", "--role", "admin")
	require.NoError(t, err)
	t.Setenv("GATEHOUSE_ADMIN_URL", gw.AdminURL)
	t.Setenv("GATEHOUSE_ADMIN_CA", gw.Env.CAFile())
	t.Setenv("GATEHOUSE_ADMIN_TOKEN", strings.TrimSpace(tok))
	out, _, err := gatehouse(t, "agreements", "list")
	require.NoError(t, err)
	require.Contains(t, out, "police-crime")
	require.Contains(t, out, "REVIEW BY")
	out, _, err = gatehouse(t, "agreements", "show", "nfi")
	require.NoError(t, err)
	require.Contains(t, out, "# nfi@1: active")
	require.Contains(t, out, "Local Audit and Accountability Act 2014 Sch 9")
	out, _, err = gatehouse(t, "parties", "list")
	require.NoError(t, err)
	require.Contains(t, out, "cabinet-office.nfi")

	// Register, and see a refusal explained.
	agreementFile := filepath.Join(dir, "youth.yaml")
	require.NoError(t, os.WriteFile(agreementFile, []byte(youthJusticeYAML), 0o600))
	out, _, err = gatehouse(t, "agreements", "register", "-f", agreementFile)
	require.NoError(t, err)
	require.Contains(t, out, "registered youth-justice@1 as a draft")
	// Without the version and digest read, approve shows them and changes
	// nothing; with them, the service decides (an admin is not a DPO).
	_, errOut, err := gatehouse(t, "agreements", "approve", "youth-justice")
	require.ErrorContains(t, err, "nothing was changed")
	digest := regexp.MustCompile(`--version 1 --sha256 ([0-9a-f]{64})`).FindStringSubmatch(errOut)
	require.NotNil(t, digest, "the command to run is shown: %s", errOut)
	require.Contains(t, errOut, "# sha256 "+digest[1])
	require.Contains(t, errOut, "title: Youth offending team referrals", "the document is shown")
	_, _, err = gatehouse(t, "agreements", "approve", "youth-justice", "--version", "1", "--sha256", digest[1])
	require.ErrorContains(t, err, "role-forbidden")

	reqFile := filepath.Join(dir, "request.json")
	d := policeDisclosure(100)
	d.Authoriser.Rank = "sergeant"
	b, err := json.Marshal(d)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(reqFile, b, 0o600))
	out, _, err = gatehouse(t, "agreements", "check", "-f", reqFile, "--as", "council.revenues")
	require.ErrorContains(t, err, "would be refused")
	require.Contains(t, out, "DENY under police-crime@1")
	require.Contains(t, out, "✗ authoriser.rank")
	require.Contains(t, out, "✓ flow.permitted")

	// A partner sends, the recipient lists and fetches.
	payloadFile := filepath.Join(dir, "case.csv")
	require.NoError(t, os.WriteFile(payloadFile, []byte("nino,amount\nQQ123456C,1200\n"), 0o600))
	send := append(partner("council.revenues"), "send", payloadFile, "--agreement", "police-crime", "--to", "police.northshire",
		"--purpose", "crime-prevention-detection", "--basis", "A6-1-e", "--exemption", "DPA-S2-P1-2", "--instrument", "CDA-1998-S115",
		"--category", "identity,financial", "--subject", "nino=QQ123456C", "--authoriser", "Priya Shah", "--rank", "service-manager",
		"--justification", "Named suspect", "--json")
	out, errOut, err = gatehouse(t, append([]string{"client"}, send...)...)
	require.NoError(t, err)
	require.Contains(t, errOut, "hint: --subject nino:… is the usual form", "TYPE=VALUE is read, with a hint")
	var sent api.Exchange
	require.NoError(t, json.Unmarshal([]byte(out), &sent))
	require.Equal(t, "delivered", sent.State)
	require.Equal(t, "text/csv; charset=utf-8", sent.Payload.ContentType)

	out, _, err = gatehouse(t, append([]string{"client"}, append(partner("police.northshire"), "inbox")...)...)
	require.NoError(t, err)
	require.Contains(t, out, sent.ID)
	require.Contains(t, out, "council.revenues")

	fetched := filepath.Join(dir, "fetched.csv")
	out, _, err = gatehouse(t, append([]string{"client"}, append(partner("police.northshire"), "fetch", sent.ID,
		"--decrypt-key", gw.Env.EncryptionKeyFile("police.northshire"), "--out", fetched)...)...)
	require.NoError(t, err)
	require.Contains(t, out, "verified")
	got, err := os.ReadFile(fetched)
	require.NoError(t, err)
	require.Equal(t, "nino,amount\nQQ123456C,1200\n", string(got))

	// The wrong key leaves no file behind.
	wrong := filepath.Join(dir, "wrong.csv")
	_, _, err = gatehouse(t, append([]string{"client"}, append(partner("police.northshire"), "fetch", sent.ID,
		"--decrypt-key", gw.Env.EncryptionKeyFile("dwp"), "--out", wrong)...)...)
	require.Error(t, err)
	_, statErr := os.Stat(wrong)
	require.True(t, os.IsNotExist(statErr))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.Contains(e.Name(), ".part-"), "partial file left: %s", e.Name())
	}

	// A refused send prints the failing checks.
	_, _, err = gatehouse(t, append([]string{"client"}, append(partner("council.revenues"), "send", payloadFile, "--agreement", "police-crime",
		"--to", "dwp", "--purpose", "marketing", "--basis", "A6-1-e", "--category", "identity")...)...)
	require.ErrorContains(t, err, "flow.permitted")
}

func TestCommandLineRequests(t *testing.T) {
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	as := func(party string, args ...string) (string, error) {
		base := []string{"client", "--gateway", gw.URL, "--cert", gw.Env.CertFile(party), "--key", gw.Env.KeyFile(party), "--ca", gw.Env.CAFile()}
		out, _, err := gatehouse(t, append(base, args...)...)
		return out, err
	}
	out, err := as("police.northshire", "request", "--agreement", "police-crime", "--purpose", "crime-prevention-detection",
		"--basis", "DPA-S35-2-b", "--category", "identity,address-history",
		"--data-sought", "Current address", "--subject", "name-dob=Jane Doe 1990-04-01", "--offence", "Burglary",
		"--necessity", "To locate the suspect", "--authoriser", "DI R. Shaw", "--rank", "inspector", "--deadline", "2030-01-01", "--json")
	require.NoError(t, err)
	var r api.Request
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, "council.legal", r.Handler)

	out, err = as("council.legal", "inbox")
	require.NoError(t, err)
	require.Contains(t, out, "REQUEST")
	require.Contains(t, out, r.ID)
	out, err = as("council.legal", "accept", r.ID)
	require.NoError(t, err)
	require.Contains(t, out, "is now accepted")

	dir := t.TempDir()
	file := filepath.Join(dir, "answer.txt")
	require.NoError(t, os.WriteFile(file, []byte("12 Mill Lane"), 0o600))
	out, err = as("council.legal", "send", file, "--agreement", "police-crime", "--to", "police.northshire",
		"--purpose", "crime-prevention-detection", "--basis", "A6-1-e", "--exemption", "DPA-S2-P1-2",
		"--category", "identity,address-history", "--subject", "name-dob=Jane Doe 1990-04-01",
		"--authoriser", "M. Ade", "--rank", "Head of Service", "--justification", "Answering "+r.ID, "--request-ref", r.ID, "--json")
	require.NoError(t, err)
	var e api.Exchange
	require.NoError(t, json.Unmarshal([]byte(out), &e))

	out, err = as("police.northshire", "status", r.ID)
	require.NoError(t, err)
	require.Contains(t, out, "answered")
	require.Contains(t, out, "answered by exchange "+e.ID)

	fetched := filepath.Join(dir, "got.txt")
	_, err = as("police.northshire", "fetch", e.ID, "--decrypt-key", gw.Env.EncryptionKeyFile("police.northshire"), "-o", fetched)
	require.NoError(t, err)
	out, err = as("police.northshire", "ack", e.ID)
	require.NoError(t, err)
	require.Contains(t, out, "acknowledged")
}

func TestConfigCheck(t *testing.T) {
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	out, _, err := gatehouse(t, "config", "check", "--config", gw.Env.ConfigFile, "--connect")
	require.NoError(t, err, out)
	for _, want := range []string{"✓ configuration", "✓ keys.audit_key_file", "✓ keys.checkpoint_key_file: Ed25519 checkpoint key gatehouse-dev/audit+",
		"✓ database: sqlite reachable, schema version", "✓ audit.bucket:", "with Object Lock"} {
		require.Contains(t, out, want)
	}

	// A key file that is not a key, and a missing file: named by their settings.
	require.NoError(t, os.WriteFile(gw.Env.Config.Keys.PseudonymKeyFile+".bad", []byte("not hex"), 0o600))
	t.Setenv("GATEHOUSE_KEYS_PSEUDONYM_KEY_FILE", gw.Env.Config.Keys.PseudonymKeyFile+".bad")
	out, _, err = gatehouse(t, "config", "check", "--config", gw.Env.ConfigFile, "--json")
	require.Error(t, err)
	var res struct {
		OK     bool `json:"ok"`
		Checks []struct {
			Name, Error string
		} `json:"checks"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.False(t, res.OK)
	failed := map[string]string{}
	for _, c := range res.Checks {
		if c.Error != "" {
			failed[c.Name] = c.Error
		}
	}
	require.Contains(t, failed, "keys.pseudonym_key_file")

	// A checkpoint key named for another log than audit.origin.
	t.Setenv("GATEHOUSE_AUDIT_ORIGIN", "council.elsewhere/audit")
	out, _, err = gatehouse(t, "config", "check", "--config", gw.Env.ConfigFile)
	require.Error(t, err)
	require.Contains(t, out, `the key is named "gatehouse-dev/audit" but audit.origin is "council.elsewhere/audit"`)
	t.Setenv("GATEHOUSE_AUDIT_ORIGIN", "gatehouse-dev/audit")
	t.Setenv("GATEHOUSE_KEYS_AUDIT_KEY_FILE", filepath.Join(t.TempDir(), "missing.jwk"))
	_, _, err = gatehouse(t, "config", "check", "--config", gw.Env.ConfigFile)
	require.ErrorContains(t, err, "keys.audit_key_file")
}

// Rotating the manifest signing key: envelopes sealed before still verify
// while the old key is published as retired, and not once it is dropped.
func TestSigningKeyRotation(t *testing.T) {
	ctx := context.Background()
	first := testenv.StartGateway(t, testenv.GatewayOptions{})
	sent, err := first.Client(t, "council.revenues").Send(ctx, policeDisclosure(16), strings.NewReader("0123456789abcdef"))
	require.NoError(t, err)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, first.App.Shutdown(sctx))

	// The three steps of docs/operations.md.
	keys := filepath.Dir(first.Env.Config.Keys.SigningKeyFile)
	old, err := seal.ReadKey(first.Env.Config.Keys.SigningKeyFile)
	require.NoError(t, err)
	pub, err := old.PublicKey()
	require.NoError(t, err)
	set := jwk.NewSet()
	require.NoError(t, set.AddKey(pub))
	b, err := json.Marshal(set)
	require.NoError(t, err)
	retired := filepath.Join(keys, "signing-retired.jwks")
	require.NoError(t, os.WriteFile(retired, b, 0o600))
	require.NoError(t, os.Remove(first.Env.Config.Keys.SigningKeyFile))
	_, _, err = gatehouse(t, "keys", "init", "--dir", keys)
	require.NoError(t, err)

	restart := func(withRetired bool) *testenv.Gateway {
		return testenv.StartGateway(t, testenv.GatewayOptions{Dir: first.Env.Dir, Bucket: first.Env.Config.Objects.Bucket,
			Configure: func(c *config.Config) {
				if withRetired {
					c.Keys.SigningRetiredKeysFile = retired
				}
			}})
	}
	second := restart(true)
	var out bytes.Buffer
	_, err = second.Client(t, "police.northshire").Fetch(ctx, sent.ID, second.DecryptKey(t, "police.northshire"), &out)
	require.NoError(t, err, "the retired key is published")
	require.Equal(t, "0123456789abcdef", out.String())
	require.NoError(t, second.App.Shutdown(sctx))

	third := restart(false)
	_, err = third.Client(t, "police.northshire").Fetch(ctx, sent.ID, third.DecryptKey(t, "police.northshire"), io.Discard)
	require.ErrorIs(t, err, seal.ErrEnvelope, "without it the old envelope no longer verifies")
}
