package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// writeConfig writes a valid configuration plus extra YAML into a folder
// that also holds the files it names.
func writeConfig(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"gw.crt", "gw.key", "ca.crt", "signing.jwk", "subject.key", "pseudonym.key", "audit.jwk", "checkpoint.key"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600))
	}
	base := `listen: 127.0.0.1:8443
trust_domain: northshire.test
tls:
  cert_file: gw.crt
  key_file: gw.key
  client_ca_files: [ca.crt]
database:
  driver: sqlite
  dsn: data/gatehouse.db
objects:
  endpoint: 127.0.0.1:9000
  access_key: minio
  secret_key: minio-secret
keys:
  signing_key_file: signing.jwk
  subject_key_file: subject.key
  pseudonym_key_file: pseudonym.key
  audit_key_file: audit.jwk
  checkpoint_key_file: checkpoint.key
`
	p := filepath.Join(dir, "gatehouse.yaml")
	require.NoError(t, os.WriteFile(p, []byte(base+extra), 0o600))
	return p
}

func TestLoadValid(t *testing.T) {
	p := writeConfig(t, "limits:\n  max_payload_size: 2GiB\n  idle_timeout: 30s\n")
	c, err := Load(p, nil)
	require.NoError(t, err)
	require.Equal(t, ByteSize(2<<30), c.Limits.MaxPayloadSize)
	require.Equal(t, 30*time.Second, c.Limits.IdleTimeout)
	require.Equal(t, filepath.Join(filepath.Dir(p), "gw.crt"), c.TLS.CertFile, "relative paths are relative to the file")
	require.Equal(t, filepath.Join(filepath.Dir(p), "data/gatehouse.db"), c.Database.DSN)
	require.Equal(t, "gatehouse-payloads", c.Objects.Bucket, "defaults fill the gaps")
	require.Equal(t, ByteSize(1<<20), c.Limits.MaxJSONBody)
	require.Equal(t, "gatehouse/audit", c.Audit.Origin, "the log's origin derives from the issuer")
	require.Equal(t, time.Minute, c.Audit.CheckpointInterval)
}

func TestLoadRejectsUnknownKeysWithPath(t *testing.T) {
	p := writeConfig(t, "database2: {}\nlimits:\n  max_payload: 1GiB\n")
	_, err := Load(p, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "database2: is not a setting (line 20)")
	require.Contains(t, err.Error(), "limits.max_payload: is not a setting (line 22)")
}

func TestLoadNamesTypeErrors(t *testing.T) {
	p := writeConfig(t, "limits:\n  idle_timeout: soon\n  max_payload_size: lots\n")
	_, err := Load(p, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "limits.idle_timeout")
	require.Contains(t, err.Error(), "limits.max_payload_size")
}

func TestValidateReportsEveryProblem(t *testing.T) {
	p := writeConfig(t, "log:\n  level: loud\naudit:\n  bucket: gatehouse-payloads\n  lock_mode: off\n  checkpoint_every: -1\n  origin: council audit+log\n")
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	bad := strings.Replace(string(raw), "driver: sqlite", "driver: mysql", 1)
	bad = strings.Replace(bad, "cert_file: gw.crt", "cert_file: missing.crt", 1)
	bad = strings.Replace(bad, "endpoint: 127.0.0.1:9000", "endpoint: http://127.0.0.1:9000", 1)
	require.NoError(t, os.WriteFile(p, []byte(bad), 0o600))
	_, err = Load(p, nil)
	require.Error(t, err)
	for _, want := range []string{
		`database.driver: "mysql" is not one of sqlite, postgres`,
		"tls.cert_file: cannot read",
		"objects.endpoint: is host:port without a scheme",
		`log.level: "loud" is not one of debug, info, warn, error`,
		"audit.bucket: must differ from objects.bucket",
		`audit.lock_mode: "off" is not one of compliance, governance, none`,
		"audit.checkpoint_every: must be between 1 and 1000000",
		`audit.origin: "council audit+log" must be 1 to 255 characters with no white space, control character or '+'`,
	} {
		require.Contains(t, err.Error(), want)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	p := writeConfig(t, "")
	c, err := Load(p, []string{
		"GATEHOUSE_DATABASE_DRIVER=postgres",
		"GATEHOUSE_DATABASE_DSN=postgres://gh:s3cret@db:5432/gatehouse",
		"GATEHOUSE_OBJECTS_TLS=true",
		"GATEHOUSE_LIMITS_MAX_PAYLOAD_SIZE=10GiB",
		"GATEHOUSE_LIMITS_IDLE_TIMEOUT=45s",
		"PATH=/usr/bin",
	})
	require.NoError(t, err)
	require.Equal(t, "postgres", c.Database.Driver)
	require.Equal(t, "postgres://gh:s3cret@db:5432/gatehouse", c.Database.DSN)
	require.True(t, c.Objects.TLS)
	require.Equal(t, ByteSize(10<<30), c.Limits.MaxPayloadSize)
	require.Equal(t, 45*time.Second, c.Limits.IdleTimeout)

	r := c.Redacted()
	require.Equal(t, "REDACTED", r.Objects.SecretKey)
	require.NotContains(t, r.Database.DSN, "s3cret")
	require.Equal(t, "minio-secret", c.Objects.SecretKey, "redaction does not touch the original")

	_, err = Load(p, []string{"GATEHOUSE_OBJECTS_TLS=maybe"})
	require.ErrorContains(t, err, "objects.tls: GATEHOUSE_OBJECTS_TLS")
	require.Equal(t, []string{"GATEHOUSE_DATABSE_DSN"}, UnknownEnv([]string{"GATEHOUSE_DATABSE_DSN=x", "GATEHOUSE_CLIENT_CERT=y", "GATEHOUSE_LOG_LEVEL=debug"}))
}

func FuzzDecodeStrict(f *testing.F) {
	f.Add([]byte("listen: 127.0.0.1:8443\nlimits:\n  max_payload_size: 1GiB\n"))
	f.Add([]byte("tls:\n  client_ca_files: [a, b]\n"))
	f.Add([]byte("database: [1, 2]\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Config
		_ = decodeStrict(data, &c) // must not panic
	})
}

// Every setting the reference lists with an environment variable can be
// set through it.
func TestEveryLeafSettableFromEnvironment(t *testing.T) {
	var c Config
	eachLeaf(reflect.ValueOf(&c).Elem(), "", func(path string, v reflect.Value) {
		if v.Kind() == reflect.Map || (v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct) {
			return // per-party and per-agreement rates, alert webhooks: file only
		}
		sample := map[reflect.Kind]string{reflect.Bool: "true", reflect.Float64: "0.5", reflect.Int: "3", reflect.Int64: "3", reflect.Slice: "1,2", reflect.Pointer: "false"}[v.Kind()]
		switch {
		case v.Type() == reflect.TypeOf(time.Duration(0)):
			sample = "5s"
		case v.Type() == reflect.TypeOf(ByteSize(0)):
			sample = "1MiB"
		case v.Kind() == reflect.String:
			sample = "x"
		}
		var fresh Config
		require.NoError(t, applyEnv(&fresh, []string{EnvName(path) + "=" + sample}), path)
	})
}

// admin.issuers: each entry is checked at its own path, an issuer is
// listed once, and a valid list loads with admin's claim defaults.
func TestAdminIssuers(t *testing.T) {
	admin := "admin:\n  listen: 127.0.0.1:8444\n  jwks_file: signing.jwk\n  issuer: gatehouse-dev\n  audience: gatehouse-admin\n  issuers:\n"
	p := writeConfig(t, admin+"    - issuer: http://127.0.0.1:8445\n      audience: gatehouse-cli\n      jwks_url: http://127.0.0.1:8445/keys\n      id_claim: oid\n")
	c, err := Load(p, nil)
	require.NoError(t, err)
	require.Len(t, c.Admin.TokenIssuers(), 2)
	ti := c.Admin.TokenIssuers()[1]
	require.Equal(t, "oid", ti.IDClaim)
	require.Equal(t, "roles", ti.RolesClaim, "admin's default")
	require.Equal(t, []string{"name", "preferred_username"}, ti.NameClaims)

	p = writeConfig(t, admin+`    - issuer: gatehouse-dev
      audience: x
      jwks_file: signing.jwk
    - audience: ""
      jwks_url: http://idp.example/keys
      group_roles: [g=owner]
`)
	_, err = Load(p, nil)
	require.Error(t, err)
	for _, want := range []string{
		`admin.issuers[0].issuer: "gatehouse-dev" is trusted already`,
		"admin.issuers[1].issuer: is required",
		"admin.issuers[1].audience: is required",
		"admin.issuers[1].jwks_url: must be an https:// URL",
		"admin.issuers[1].groups_claim: admin.issuers[1].groups_claim is required",
		`admin.issuers[1].group_roles[0]: role "owner" is not one of admin, dpo, auditor`,
	} {
		require.Contains(t, err.Error(), want)
	}
}
