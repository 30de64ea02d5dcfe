// Package testenv gives tests real parts: a MinIO server started from the
// pinned binary on a free loopback port, and a fresh PostgreSQL database on
// the local server. Packages that use MinIO call testenv.Main from TestMain
// so the server is stopped when the tests end.
package testenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/store/objectstore"
)

var (
	minioOnce sync.Once
	minioSrv  *devenv.MinIO
	minioErr  error
	minioDir  string
)

// Main runs the tests of a package and stops the shared MinIO afterwards.
func Main(m *testing.M) {
	code := m.Run()
	if minioSrv != nil {
		_ = minioSrv.Stop()
	}
	if minioDir != "" {
		os.RemoveAll(minioDir)
	}
	os.Exit(code)
}

// S3Env names the S3 server the tests run against: unset or "minio" for the
// pinned MinIO, "versitygw" for the Versity S3 gateway (make test runs the
// object-store and Object Lock tests against both).
const S3Env = "GATEHOUSE_TEST_S3"

// startS3 starts the S3 server S3Env names, with its data under dataDir.
func startS3(ctx context.Context, dataDir string, log io.Writer) (*devenv.MinIO, error) {
	switch kind := os.Getenv(S3Env); kind {
	case "", "minio":
		bin, err := devenv.MinIOBinary()
		if err != nil {
			return nil, err
		}
		return devenv.StartMinIO(ctx, bin, dataDir, "", "gatehouse-test", RandomHex(12), log)
	case "versitygw":
		bin, err := devenv.VersityGWBinary()
		if err != nil {
			return nil, err
		}
		return devenv.StartVersityGW(ctx, bin, dataDir, "", "gatehouse-test", RandomHex(12), log)
	default:
		return nil, fmt.Errorf("%s=%q: want minio or versitygw", S3Env, kind)
	}
}

// MinIO returns the package's S3 server (MinIO unless S3Env says otherwise),
// starting it on first use.
func MinIO(t testing.TB) *devenv.MinIO {
	t.Helper()
	minioOnce.Do(func() {
		var err error
		minioDir, err = os.MkdirTemp("", "gatehouse-minio-*")
		if err != nil {
			minioErr = err
			return
		}
		log := io.Discard
		if os.Getenv("GATEHOUSE_TEST_MINIO_LOG") != "" {
			log = os.Stderr
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		minioSrv, minioErr = startS3(ctx, filepath.Join(minioDir, "data"), log)
	})
	if minioErr != nil {
		t.Fatalf("MinIO: %v", minioErr)
	}
	return minioSrv
}

// OwnMinIO starts a MinIO server for this test alone, stopped when the test
// ends: for tests that pause or stop it.
func OwnMinIO(t testing.TB) *devenv.MinIO {
	t.Helper()
	return OwnMinIOAt(t, filepath.Join(t.TempDir(), "data"))
}

// OwnMinIOAt is OwnMinIO with its data in dataDir: for tests that fill the
// file system under it.
func OwnMinIOAt(t testing.TB, dataDir string) *devenv.MinIO {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	m, err := startS3(ctx, dataDir, io.Discard)
	if err != nil {
		t.Fatalf("MinIO: %v", err)
	}
	t.Cleanup(func() { _ = m.Stop() })
	return m
}

// Bucket returns an object store on a new, versioned bucket of the
// package's MinIO.
func Bucket(t testing.TB) *objectstore.Store {
	t.Helper()
	m := MinIO(t)
	s, err := objectstore.New(objectstore.Config{
		Endpoint: m.Endpoint, Bucket: "test-" + RandomHex(6), Region: "us-east-1",
		AccessKey: m.AccessKey, SecretKey: m.SecretKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.EnsureBucket(ctx, false); err != nil {
		t.Fatal(err)
	}
	return s
}

// RandomHex returns 2n random hex digits.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// PostgresAdminDSN is the database tests connect to in order to create
// their own: $GATEHOUSE_TEST_POSTGRES, or the local server's test database.
func PostgresAdminDSN() string {
	if dsn := os.Getenv("GATEHOUSE_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// Postgres creates a fresh database for the test, dropped when it ends, and
// returns its DSN. make test starts PostgreSQL if it is not running.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := PostgresAdminDSN()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := "gatehouse_test_" + RandomHex(6)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("PostgreSQL at %s: %v (make test starts it; or set GATEHOUSE_TEST_POSTGRES)", redact(admin), err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil || u.Scheme == "" {
		t.Fatalf("GATEHOUSE_TEST_POSTGRES must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String()
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxx")
	}
	return strings.TrimSpace(fmt.Sprint(u))
}

// SetBucketQuota sets a hard quota (bytes) on a bucket of m through MinIO's
// admin API, so that a test can see the store refuse writes for real.
func SetBucketQuota(t testing.TB, m *devenv.MinIO, bucket string, bytes int64) {
	t.Helper()
	body := []byte(fmt.Sprintf(`{"quota":%d,"quotatype":"hard"}`, bytes))
	req, err := http.NewRequest(http.MethodPut, "http://"+m.Endpoint+"/minio/admin/v3/set-bucket-quota?bucket="+url.QueryEscape(bucket), strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	req = signer.SignV4(*req, m.AccessKey, m.SecretKey, "", "us-east-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("MinIO set-bucket-quota: %s: %s", resp.Status, msg)
	}
}
