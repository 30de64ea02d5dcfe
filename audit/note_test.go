package audit_test

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
)

// The checkpoint key and note of a known seed (bytes 0…31), as Python's
// cryptography package computes them (Ed25519 signatures are
// deterministic): the C2SP tlog-checkpoint text, the signed-note key hash
// (SHA-256 of name, newline, 0x01 and the public key, first four bytes)
// and the signature line.
const (
	katSKey   = "PRIVATE+KEY+council.example/gatehouse/audit+c68e75b0+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f"
	katVKey   = "council.example/gatehouse/audit+c68e75b0+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
	katOrigin = "council.example/gatehouse/audit"
	katRoot   = "NmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE="
	katNote   = "council.example/gatehouse/audit\n3\nNmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE=\n\n" +
		"— council.example/gatehouse/audit xo51sC+FJmoAf2oJChXujNptFtV0J8mC/G7MGJ7/n+foXL2fYOvdZ7v+j+vAQrsgGWCky+QhSRlUeoz76OJDUBfY3g8=\n"
)

func TestCheckpointNoteKnownAnswer(t *testing.T) {
	key, err := audit.ParseCheckpointKey(katSKey)
	require.NoError(t, err)
	require.Equal(t, katVKey, key.VerifierKey)
	root, _ := base64.StdEncoding.DecodeString(katRoot)
	note, err := audit.SignTreeHead(key.Signer, audit.TreeHead{Origin: katOrigin, Size: 3, Root: root})
	require.NoError(t, err)
	require.Equal(t, katNote, note)

	v, err := audit.NewCheckpointVerifier(katVKey)
	require.NoError(t, err)
	th, err := audit.OpenTreeHead([]byte(katNote), katOrigin, v)
	require.NoError(t, err)
	require.Equal(t, uint64(3), th.Size)
	require.Equal(t, root, th.Root)
}

func TestOpenTreeHeadRefuses(t *testing.T) {
	key, err := audit.ParseCheckpointKey(katSKey)
	require.NoError(t, err)
	_, other, err := audit.GenerateCheckpointKey(katOrigin)
	require.NoError(t, err)
	otherV, err := audit.NewCheckpointVerifier(other)
	require.NoError(t, err)
	_, elsewhere, err := audit.GenerateCheckpointKey("elsewhere.example/log")
	require.NoError(t, err)
	elsewhereV, err := audit.NewCheckpointVerifier(elsewhere)
	require.NoError(t, err)
	elsewhereKey, _, _ := audit.GenerateCheckpointKey("elsewhere.example/log")
	ek, err := audit.ParseCheckpointKey(elsewhereKey)
	require.NoError(t, err)
	root, _ := base64.StdEncoding.DecodeString(katRoot)
	wrongOrigin, err := audit.SignTreeHead(ek.Signer, audit.TreeHead{Origin: "elsewhere.example/log", Size: 3, Root: root})
	require.NoError(t, err)

	for name, c := range map[string]struct {
		note   string
		origin string
	}{
		"deny/edited-size":    {katNote[:len(katOrigin)+1] + "4" + katNote[len(katOrigin)+2:], katOrigin},
		"deny/another-key":    {katNote, "use-other"},
		"deny/another-log":    {wrongOrigin, katOrigin},
		"deny/not-a-note":     {"hello", katOrigin},
		"deny/four-text-line": {"a\nb\n", katOrigin},
	} {
		switch c.origin {
		case "use-other":
			_, err = audit.OpenTreeHead([]byte(c.note), katOrigin, otherV)
		default:
			_, err = audit.OpenTreeHead([]byte(c.note), c.origin, key.Verifier, elsewhereV)
		}
		require.ErrorIs(t, err, audit.ErrNote, name)
	}
	_, err = audit.SignTreeHead(key.Signer, audit.TreeHead{Origin: "another", Size: 1, Root: root})
	require.Error(t, err, "deny/a key signs only for its own origin")
}

func TestParseTreeHead(t *testing.T) {
	root := "NmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE="
	for name, c := range map[string]struct {
		text string
		ok   bool
	}{
		"ok/three-lines":       {"log\n3\n" + root + "\n", true},
		"ok/extension-line":    {"log\n3\n" + root + "\nextra\n", true},
		"deny/leading-zero":    {"log\n03\n" + root + "\n", false},
		"deny/negative":        {"log\n-3\n" + root + "\n", false},
		"deny/no-final-eol":    {"log\n3\n" + root, false},
		"deny/short-root":      {"log\n3\nAAAA\n", false},
		"deny/empty-origin":    {"\n3\n" + root + "\n", false},
		"deny/not-base64-root": {"log\n3\n!!!!\n", false},
	} {
		_, err := audit.ParseTreeHead(c.text)
		if c.ok {
			require.NoError(t, err, name)
		} else {
			require.ErrorIs(t, err, audit.ErrNote, name)
		}
	}
}

func FuzzParseTreeHead(f *testing.F) {
	f.Add("log\n3\nNmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE=\n")
	f.Add(katNote)
	f.Fuzz(func(t *testing.T, text string) {
		th, err := audit.ParseTreeHead(text)
		if err != nil {
			return
		}
		again, err := audit.ParseTreeHead(th.Text())
		require.NoError(t, err)
		require.Equal(t, th, again)
	})
}
