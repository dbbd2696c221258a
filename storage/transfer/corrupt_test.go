package transfer_test

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"strings"
)

// corrupt copies the archive at from to to, flipping the first byte of the
// first file entry.
func corrupt(from, to string) error {
	done := false
	return rewrite(from, to, func(name string, b []byte) ([]byte, bool) {
		if !done && strings.HasPrefix(name, "files/") && len(b) > 0 {
			b[0] ^= 0xff
			done = true
		}
		return b, true
	})
}

// rewrite copies the archive at from to to, passing each entry through
// edit, which returns the entry's new bytes and whether to keep it.
func rewrite(from, to string, edit func(name string, b []byte) ([]byte, bool)) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return err
	}
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	defer out.Close()
	zw := gzip.NewWriter(out)
	tw := tar.NewWriter(zw)
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		b, keep := edit(h.Name, b)
		if !keep {
			continue
		}
		h.Size = int64(len(b))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}
