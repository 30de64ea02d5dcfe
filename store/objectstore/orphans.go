package objectstore

import (
	"context"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/gatehouse-gw/gatehouse/exchange"
)

var _ exchange.Inventory = (*Store)(nil)

// PayloadVersions lists stored versions under exchange.PayloadPrefix after
// the key after: at least limit of them, and every version of the last key
// listed, so that the next call can start after that key.
func (s *Store) PayloadVersions(ctx context.Context, after string, limit int) ([]exchange.StoredObject, string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing when we stop reading it
	var out []exchange.StoredObject
	last := ""
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{
		Prefix: exchange.PayloadPrefix, Recursive: true, WithVersions: true, StartAfter: after,
	}) {
		if obj.Err != nil {
			return nil, "", obj.Err
		}
		if len(out) >= limit && obj.Key != last {
			return out, last, nil
		}
		last = obj.Key
		if obj.IsDeleteMarker {
			continue
		}
		out = append(out, exchange.StoredObject{Key: obj.Key, Version: obj.VersionID, Size: obj.Size, Modified: obj.LastModified.UTC()})
	}
	return out, "", nil
}

// Retention returns a version's Object Lock retention, if it has one.
func (s *Store) Retention(ctx context.Context, key, version string) (string, time.Time, error) {
	if s.lockMode == "" {
		return "", time.Time{}, nil // no Object Lock on the bucket
	}
	mode, until, err := s.c.GetObjectRetention(ctx, s.bucket, key, version)
	if err != nil {
		if code := minio.ToErrorResponse(err).Code; code == "NoSuchObjectLockConfiguration" || code == "ObjectLockConfigurationNotFoundError" {
			return "", time.Time{}, nil
		}
		return "", time.Time{}, err
	}
	var m string
	if mode != nil {
		m = string(*mode)
	}
	var u time.Time
	if until != nil {
		u = until.UTC()
	}
	return m, u, nil
}

// RemoveVersion deletes one version of an object without bypassing any
// Object Lock: the store refuses while one holds it.
func (s *Store) RemoveVersion(ctx context.Context, key, version string) error {
	return s.c.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{VersionID: version})
}
