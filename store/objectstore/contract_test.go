package objectstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/audit"
	"github.com/gatehouse-gw/gatehouse/devenv"
	"github.com/gatehouse-gw/gatehouse/store/objectstore"
)

// servers are the real S3 stores the contract runs against: the pinned
// MinIO, and the Versity S3 gateway on its posix backend. The README's
// promise is "any S3-compatible store with versioning and Object Lock";
// these two are the ones it is held to.
var servers = []struct {
	name  string
	start func(ctx context.Context, t *testing.T, dir string) (*devenv.MinIO, error)
}{
	{"minio", func(ctx context.Context, t *testing.T, dir string) (*devenv.MinIO, error) {
		bin, err := devenv.MinIOBinary()
		if err != nil {
			return nil, err
		}
		return devenv.StartMinIO(ctx, bin, dir, "", "contract", devenv.RandomSecret(12), io.Discard)
	}},
	{"versitygw", func(ctx context.Context, t *testing.T, dir string) (*devenv.MinIO, error) {
		bin, err := devenv.VersityGWBinary()
		if err != nil {
			return nil, err
		}
		return devenv.StartVersityGW(ctx, bin, dir, "", "contract", devenv.RandomSecret(12), io.Discard)
	}},
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func bucketName() string { return "contract-" + hex.EncodeToString(randomBytes(4)) }

// readAll(t)(s.Get(…)) is everything the reader gives.
func readAll(t *testing.T) func(io.ReadCloser, error) []byte {
	return func(r io.ReadCloser, err error) []byte {
		t.Helper()
		require.NoError(t, err)
		defer r.Close()
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		return b
	}
}

// TestObjectStoreContract holds every S3 server to what the gateway relies
// on: versioned buckets with Object Lock, exact-size puts (single and
// multipart) that leave nothing behind when they fail, ranged reads,
// retention in both modes, governance bypass, listing every version, and
// aborting stale multipart uploads.
func TestObjectStoreContract(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			m, err := srv.start(ctx, t, filepath.Join(t.TempDir(), "data"))
			require.NoError(t, err)
			t.Cleanup(func() { _ = m.Stop() })
			open := func(t *testing.T, lock bool, mode string) *objectstore.Store {
				t.Helper()
				s, err := objectstore.New(objectstore.Config{
					Endpoint: m.Endpoint, Region: "us-east-1", Bucket: bucketName(),
					AccessKey: m.AccessKey, SecretKey: m.SecretKey, PartSize: 5 << 20, LockMode: mode,
				})
				require.NoError(t, err)
				require.NoError(t, s.EnsureBucket(ctx, lock))
				require.NoError(t, s.EnsureBucket(ctx, lock), "EnsureBucket on an existing bucket")
				got, err := s.DetectObjectLock(ctx)
				require.NoError(t, err)
				require.Equal(t, lock, got, "Object Lock detected")
				require.NoError(t, s.Ping(ctx))
				return s
			}

			t.Run("ok/put-get-range", func(t *testing.T) {
				s := open(t, false, "")
				body := randomBytes(100 << 10)
				info, err := s.Put(ctx, "payloads/a", bytes.NewReader(body), int64(len(body)), time.Time{})
				require.NoError(t, err)
				require.Equal(t, int64(len(body)), info.Size)
				require.NotEmpty(t, info.Version, "versioned bucket: every object has a version id")
				require.Equal(t, body, readAll(t)(s.Get(ctx, "payloads/a", info.Version, 0, -1)))
				require.Equal(t, body[1000:1100], readAll(t)(s.Get(ctx, "payloads/a", info.Version, 1000, 100)))
				require.Equal(t, body[99<<10:], readAll(t)(s.Get(ctx, "payloads/a", info.Version, 99<<10, -1)))
				require.Empty(t, readAll(t)(s.Get(ctx, "payloads/a", info.Version, 5, 0)))
				ok, err := s.Exists(ctx, "payloads/a")
				require.NoError(t, err)
				require.True(t, ok)

				// A second version keeps the first readable by its id.
				second := randomBytes(10)
				info2, err := s.Put(ctx, "payloads/a", bytes.NewReader(second), 10, time.Time{})
				require.NoError(t, err)
				require.NotEqual(t, info.Version, info2.Version)
				require.Equal(t, body, readAll(t)(s.Get(ctx, "payloads/a", info.Version, 0, -1)))
				require.Equal(t, second, readAll(t)(s.Get(ctx, "payloads/a", "", 0, -1)))
				keys, err := s.Keys(ctx, "payloads/")
				require.NoError(t, err)
				require.Equal(t, []string{"payloads/a", "payloads/a"}, keys, "both versions listed")
				vs, next, err := s.PayloadVersions(ctx, "", 100)
				require.NoError(t, err)
				require.Empty(t, next)
				require.Len(t, vs, 2)

				require.NoError(t, s.Remove(ctx, "payloads/a", info.Version))
				require.NoError(t, s.Remove(ctx, "payloads/a", info2.Version))
				ok, err = s.Exists(ctx, "payloads/a")
				require.NoError(t, err)
				require.False(t, ok, "every version removed")
			})

			t.Run("ok/multipart", func(t *testing.T) {
				s := open(t, false, "")
				body := randomBytes(11 << 20) // three 5 MiB parts
				info, err := s.Put(ctx, "payloads/big", bytes.NewReader(body), int64(len(body)), time.Time{})
				require.NoError(t, err)
				require.Equal(t, int64(len(body)), info.Size)
				require.Equal(t, body, readAll(t)(s.Get(ctx, "payloads/big", info.Version, 0, -1)))
				require.Equal(t, body[(5<<20)-10:(5<<20)+10], readAll(t)(s.Get(ctx, "payloads/big", info.Version, (5<<20)-10, 20)), "a range across parts")
			})

			t.Run("err/short-body-leaves-nothing", func(t *testing.T) {
				s := open(t, false, "")
				for _, n := range []int{1000, 7 << 20} { // single put, multipart
					_, err := s.Put(ctx, "payloads/short", bytes.NewReader(randomBytes(n)), int64(n)+1, time.Time{})
					require.Error(t, err)
				}
				keys, err := s.Keys(ctx, "")
				require.NoError(t, err)
				require.Empty(t, keys, "no object or version of a failed put")
				n, err := s.AbortStale(ctx, time.Now().Add(time.Hour))
				require.NoError(t, err)
				require.Zero(t, n, "failed multipart uploads are aborted at once")
			})

			t.Run("err/missing", func(t *testing.T) {
				s := open(t, false, "")
				_, err := s.Get(ctx, "payloads/none", "", 0, -1)
				require.True(t, errors.Is(err, objectstore.ErrNoObject), "%v", err)
				ok, err := s.Exists(ctx, "payloads/none")
				require.NoError(t, err)
				require.False(t, ok)
			})

			t.Run("ok/abort-stale", func(t *testing.T) {
				s := open(t, false, "")
				core := minio.Core{Client: s.Client()}
				_, err := core.NewMultipartUpload(ctx, s.Bucket(), "payloads/left", minio.PutObjectOptions{})
				require.NoError(t, err)
				n, err := s.AbortStale(ctx, time.Now().Add(-time.Hour))
				require.NoError(t, err)
				require.Zero(t, n, "a recent upload is left alone")
				n, err = s.AbortStale(ctx, time.Now().Add(time.Hour))
				require.NoError(t, err)
				require.Equal(t, 1, n)
			})

			t.Run("ok/governance-lock", func(t *testing.T) {
				s := open(t, true, "governance")
				until := time.Now().Add(24 * time.Hour).Truncate(time.Second)
				info, err := s.Put(ctx, "payloads/locked", bytes.NewReader([]byte("sealed")), 6, until)
				require.NoError(t, err)
				mode, got, err := s.Retention(ctx, "payloads/locked", info.Version)
				require.NoError(t, err)
				require.Equal(t, "GOVERNANCE", mode)
				require.WithinDuration(t, until, got, time.Second)
				err = s.Client().RemoveObject(ctx, s.Bucket(), "payloads/locked", minio.RemoveObjectOptions{VersionID: info.Version})
				require.Error(t, err, "the lock holds against a plain delete")
				require.NoError(t, s.Remove(ctx, "payloads/locked", info.Version), "governance bypass")
				ok, err := s.Exists(ctx, "payloads/locked")
				require.NoError(t, err)
				require.False(t, ok)

				// Multipart under a lock, and a segment of the audit archive.
				body := randomBytes(6 << 20)
				info, err = s.Put(ctx, "payloads/locked-big", bytes.NewReader(body), int64(len(body)), until)
				require.NoError(t, err)
				mode, _, err = s.Retention(ctx, "payloads/locked-big", info.Version)
				require.NoError(t, err)
				require.Equal(t, "GOVERNANCE", mode)
				v, err := s.PutSegment(ctx, audit.SegmentPrefix+"000001.ndjson", []byte("{}\n"), until)
				require.NoError(t, err)
				segs, err := s.SegmentVersions(ctx)
				require.NoError(t, err)
				require.Len(t, segs, 1)
				require.Equal(t, v, segs[0].Version)
				require.Equal(t, []byte("{}\n"), readAll(t)(s.OpenSegment(ctx, segs[0].Key, v)))
			})

			t.Run("ok/compliance-lock", func(t *testing.T) {
				s := open(t, true, "compliance")
				until := time.Now().Add(time.Hour)
				info, err := s.Put(ctx, "payloads/kept", bytes.NewReader([]byte("sealed")), 6, until)
				require.NoError(t, err)
				mode, _, err := s.Retention(ctx, "payloads/kept", info.Version)
				require.NoError(t, err)
				require.Equal(t, "COMPLIANCE", mode)
				err = s.Client().RemoveObject(ctx, s.Bucket(), "payloads/kept", minio.RemoveObjectOptions{VersionID: info.Version, GovernanceBypass: true})
				require.Error(t, err, "no bypass of a compliance lock")
				ok, err := s.Exists(ctx, "payloads/kept")
				require.NoError(t, err)
				require.True(t, ok)
			})
		})
	}
}
