package blobfiles

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/parts/partstest"
)

// writeOnly hides a bucket's StreamWriter, so the Store spools for it as it
// does for S3.
type writeOnly struct{ Bucket }

// spooledDirStore is a file:// store that spools uploads first, as every
// Put did before buckets could stream.
func spooledDirStore(t testing.TB) *Store {
	dir := t.TempDir()
	b, err := openDirBucket(dir)
	if err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(dir, spoolName)
	if err := os.Mkdir(spool, 0o700); err != nil {
		t.Fatal(err)
	}
	s := &Store{bucket: writeOnly{b}, spoolDir: spool, dir: dir}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSpooledPutConformance(t *testing.T) {
	partstest.RunFileStore(t, func(t *testing.T) parts.FileStore { return spooledDirStore(t) })
}

// BenchmarkPut1MiB compares a 1 MiB Put on disk streamed into the object
// (each byte written once) with the spooled path (written twice).
func BenchmarkPut1MiB(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	for _, bc := range []struct {
		name string
		open func(testing.TB) *Store
	}{
		{"spooled", spooledDirStore},
		{"streamed", func(t testing.TB) *Store {
			s, err := Open(t.Context(), "file://"+filepath.ToSlash(t.TempDir()), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := bc.open(b)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				key := fmt.Sprintf("bench/%d.bin", i%32)
				if _, err := s.Put(b.Context(), key, bytes.NewReader(data), "application/octet-stream"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
