package exchange_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
)

// BenchmarkSmallExchange is target P2 inside the service: a 1 KiB
// disclosure declared, decided, sealed, stored and recorded, from 8
// senders at once (as make bench runs it), on SQLite in a temporary folder
// with the objects in memory. It counts the service's own work: no TLS, no
// HTTP, no S3.
func BenchmarkSmallExchange(b *testing.B) {
	payload := make([]byte, 1024)
	_, _ = rand.Read(payload)
	b.Run("two-requests", func(b *testing.B) {
		r := newRig(b)
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				e, err := r.svc.Declare(r.ctx, revenues, policeDisclosure(int64(len(payload))), "")
				if err != nil {
					b.Error(err)
					return
				}
				if _, err := r.svc.Upload(r.ctx, revenues, e.ID, bytes.NewReader(payload), int64(len(payload))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("one-request", func(b *testing.B) {
		r := newRig(b)
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := r.svc.Send(r.ctx, revenues, policeDisclosure(int64(len(payload))), "", func() (io.Reader, error) {
					return bytes.NewReader(payload), nil
				}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
