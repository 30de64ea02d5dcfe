package objectstore

import "testing"

// An object gets the store's part size unless it would need more than
// S3's 10,000 parts of it; one of unknown size gets parts large enough for
// 156 GiB.
func TestPartSizeFor(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	s := &Store{partSize: DefaultPartSize}
	tests := []struct {
		name string
		size int64
		want uint64
	}{
		{"small", 1 << 10, 8 * mib},
		{"4 GiB", 4 << 30, 8 * mib},
		{"exactly 10,000 parts", 10000 * 8 * mib, 8 * mib},
		{"one byte more", 10000*8*mib + 1, 9 * mib},
		{"100 GiB", 100 << 30, 11 * mib},
		{"unknown", -1, 16 * mib},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := s.partSizeFor(tc.size)
			if got != tc.want {
				t.Fatalf("partSizeFor(%d) = %d MiB, want %d MiB", tc.size, got/mib, tc.want/mib)
			}
			if tc.size >= 0 && (uint64(tc.size)+got-1)/got > maxParts {
				t.Fatalf("partSizeFor(%d) = %d needs more than %d parts", tc.size, got, maxParts)
			}
		})
	}
	configured := &Store{partSize: 5 * mib}
	if got := configured.partSizeFor(1 << 10); got != 5*mib {
		t.Fatalf("a configured part size is kept: got %d", got)
	}
}
