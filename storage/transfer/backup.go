package transfer

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// Format names the archive format in its manifest.
const Format = "partflow-backup/1"

// Manifest describes an archive: what it holds and the checksums Restore
// verifies.
type Manifest struct {
	Format  string                  `json:"format"`
	Created time.Time               `json:"created"`
	Engine  string                  `json:"engine"`
	Tables  []bunstore.TableSummary `json:"tables"`
	Files   []parts.FileObject      `json:"files"`
}

// Backup writes an archive of store's data tables (one snapshot) and every
// file of files (nil: no files) to w.
func Backup(ctx context.Context, w io.Writer, store *bunstore.Store, files parts.FileStore, o *Options) (*Manifest, error) {
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	m := &Manifest{Format: Format, Created: time.Now().UTC(), Engine: store.Engine()}
	p := newProgress(o)
	if err := backupTables(ctx, tw, store, m, p); err != nil {
		return nil, err
	}
	if files != nil {
		if err := backupFiles(ctx, tw, files, m, p); err != nil {
			return nil, err
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeEntry(tw, "manifest.json", b); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return m, nil
}

// backupTables spools each table's rows (read in one snapshot) to a
// temporary file, since a tar entry needs its size first, then adds it.
func backupTables(ctx context.Context, tw *tar.Writer, store *bunstore.Store, m *Manifest, p *progress) error {
	spool := map[string]*os.File{}
	bufs := map[string]*bufio.Writer{}
	digests := map[string]*bunstore.Digest{}
	defer func() {
		for _, f := range spool {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	for _, t := range bunstore.DataTables {
		f, err := os.CreateTemp("", "partflow-backup-*.jsonl")
		if err != nil {
			return err
		}
		spool[t.Name], bufs[t.Name], digests[t.Name] = f, bufio.NewWriter(f), bunstore.NewDigest(t.Name)
	}
	err := store.ReadTables(ctx, nil, func(t bunstore.Table, row bunstore.Row) error {
		b, err := json.Marshal(row)
		if err != nil {
			return err
		}
		bufs[t.Name].Write(append(b, '\n'))
		return digests[t.Name].Add(row)
	})
	if err != nil {
		return err
	}
	// Read after the snapshot: at least as large as the snapshot's ids.
	last, err := store.LastIDs(ctx)
	if err != nil {
		return err
	}
	for _, t := range bunstore.DataTables {
		if err := bufs[t.Name].Flush(); err != nil {
			return err
		}
		f := spool[t.Name]
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: "tables/" + t.Name + ".jsonl", Mode: 0o600, Size: st.Size(), ModTime: time.Now()}); err != nil {
			return err
		}
		if _, err := io.Copy(tw, f); err != nil {
			return err
		}
		sum := digests[t.Name].Summary()
		sum.LastID = max(sum.MaxID, last[t.Name])
		m.Tables = append(m.Tables, sum)
		p.step("table "+t.Name, sum.Rows, sum.Rows, true)
	}
	return nil
}

// backupFiles adds every file, hashing it on the way.
func backupFiles(ctx context.Context, tw *tar.Writer, files parts.FileStore, m *Manifest, p *progress) error {
	objs, err := files.List(ctx, "")
	if err != nil {
		return fmt.Errorf("list files: %w", err)
	}
	for i, obj := range objs {
		r, cur, err := files.Open(ctx, obj.Key)
		if err != nil {
			return fmt.Errorf("open %s: %w", obj.Key, err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: "files/" + obj.Key, Mode: 0o600, Size: cur.Size, ModTime: cur.ModTime}); err != nil {
			r.Close()
			return err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(tw, h), r)
		r.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", obj.Key, err)
		}
		if n != cur.Size {
			return fmt.Errorf("read %s: %d bytes, expected %d", obj.Key, n, cur.Size)
		}
		m.Files = append(m.Files, parts.FileObject{Key: obj.Key, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), ContentType: cur.ContentType})
		p.step("files", int64(i+1), int64(len(objs)), i+1 == len(objs))
	}
	return nil
}

func writeEntry(tw *tar.Writer, name string, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), ModTime: time.Now()}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}
