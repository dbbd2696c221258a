package transfer

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// ErrNotEmpty is returned (wrapped) by Restore for a target that holds data
// when Options.Force is not set.
var ErrNotEmpty = errors.New("transfer: the target store is not empty")

// Restore restores the archive that open reads (it is read twice) into
// store and files (nil: the archive's files are verified, not restored).
// It verifies every checksum of the archive before writing anything, and
// the target afterwards.
func Restore(ctx context.Context, open func() (io.ReadCloser, error), store *bunstore.Store, files parts.FileStore, o *Options) (*Report, error) {
	m, err := verifyArchive(open)
	if err != nil {
		return nil, err
	}
	after, err := store.MaxIDs(ctx)
	if err != nil {
		return nil, err
	}
	empty := !slices.ContainsFunc(bunstore.DataTables, func(t bunstore.Table) bool { return after[t.Name] > 0 })
	if empty && files != nil {
		objs, err := files.List(ctx, "")
		if err != nil {
			return nil, fmt.Errorf("list target files: %w", err)
		}
		empty = len(objs) == 0
	}
	if !empty && (o == nil || !o.Force) {
		return nil, fmt.Errorf("%w (restore into an empty database and file store, or force it)", ErrNotEmpty)
	}
	rep := &Report{Copied: map[string]int64{}}
	types := map[string]string{}
	for _, f := range m.Files {
		types[f.Key] = f.ContentType
	}
	if err := applyArchive(ctx, open, store, files, after, types, rep, o); err != nil {
		return rep, err
	}
	if err := store.SetLastIDs(ctx, lastIDs(m.Tables)); err != nil {
		return rep, err
	}
	if rep.Tables, err = store.Summaries(ctx); err != nil {
		return rep, err
	}
	if empty {
		if err := compareTables(rep.Tables, m.Tables); err != nil {
			return rep, err
		}
	}
	if files != nil {
		for _, f := range m.Files {
			n, sum, err := fileSHA256(ctx, files, f.Key)
			if err != nil {
				return rep, err
			}
			if n != f.Size || sum != f.SHA256 {
				return rep, fmt.Errorf("%w: restored file %s has %d bytes (sha256 %.12s…), archive %d (%.12s…)", ErrMismatch, f.Key, n, sum, f.Size, f.SHA256)
			}
			rep.Files = append(rep.Files, f)
		}
	}
	return rep, nil
}

// walkArchive calls fn for every entry of the archive.
func walkArchive(open func() (io.ReadCloser, error), fn func(name string, r io.Reader) error) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			return fmt.Errorf("archive: unexpected entry %q (not a regular file)", h.Name)
		}
		if err := fn(h.Name, tr); err != nil {
			return err
		}
	}
}

// entryKind classifies an archive entry: a table (with its definition),
// a file (with its key) or the manifest.
func entryKind(name string) (table *bunstore.Table, key string, manifest bool, err error) {
	if name == "manifest.json" {
		return nil, "", true, nil
	}
	if k, ok := strings.CutPrefix(name, "files/"); ok {
		if !fs.ValidPath(k) || k == "." {
			return nil, "", false, fmt.Errorf("archive: invalid file key %q", k)
		}
		return nil, k, false, nil
	}
	if t, ok := strings.CutPrefix(name, "tables/"); ok {
		i := slices.IndexFunc(bunstore.DataTables, func(d bunstore.Table) bool { return d.Name+".jsonl" == t })
		if i >= 0 {
			return &bunstore.DataTables[i], "", false, nil
		}
	}
	return nil, "", false, fmt.Errorf("archive: unexpected entry %q", name)
}

// verifyArchive reads the whole archive and checks every table's and
// file's checksum against the manifest.
func verifyArchive(open func() (io.ReadCloser, error)) (*Manifest, error) {
	var m *Manifest
	tables := map[string]bunstore.TableSummary{}
	files := map[string]parts.FileObject{}
	err := walkArchive(open, func(name string, r io.Reader) error {
		t, key, isManifest, err := entryKind(name)
		switch {
		case err != nil:
			return err
		case isManifest:
			m = &Manifest{}
			if err := json.NewDecoder(r).Decode(m); err != nil {
				return fmt.Errorf("archive: manifest: %w", err)
			}
		case t != nil:
			d := bunstore.NewDigest(t.Name)
			if err := eachRow(r, *t, func(row bunstore.Row) error { return d.Add(row) }); err != nil {
				return err
			}
			tables[t.Name] = d.Summary()
		default:
			h := sha256.New()
			n, err := io.Copy(h, r)
			if err != nil {
				return fmt.Errorf("archive: %s: %w", name, err)
			}
			files[key] = parts.FileObject{Key: key, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m == nil || m.Format != Format {
		return nil, fmt.Errorf("%w: not a %s archive (no manifest or another format)", ErrMismatch, Format)
	}
	return m, checkManifest(m, tables, files)
}

// checkManifest compares what the archive holds with its manifest.
func checkManifest(m *Manifest, tables map[string]bunstore.TableSummary, files map[string]parts.FileObject) error {
	var errs []error
	for _, want := range m.Tables {
		got := tables[want.Table]
		if got.Rows != want.Rows || got.SHA256 != want.SHA256 {
			errs = append(errs, fmt.Errorf("table %s: archive holds %d rows (sha256 %.12s…), manifest says %d (%.12s…)",
				want.Table, got.Rows, got.SHA256, want.Rows, want.SHA256))
		}
	}
	if len(m.Tables) != len(tables) {
		errs = append(errs, fmt.Errorf("archive holds %d tables, manifest lists %d", len(tables), len(m.Tables)))
	}
	for _, want := range m.Files {
		got, ok := files[want.Key]
		if !ok || got.Size != want.Size || got.SHA256 != want.SHA256 {
			errs = append(errs, fmt.Errorf("file %s: archive holds %d bytes (sha256 %.12s…), manifest says %d (%.12s…)",
				want.Key, got.Size, got.SHA256, want.Size, want.SHA256))
		}
	}
	if len(m.Files) != len(files) {
		errs = append(errs, fmt.Errorf("archive holds %d files, manifest lists %d", len(files), len(m.Files)))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrMismatch, errors.Join(errs...))
	}
	return nil
}

// eachRow decodes the JSON lines of table t.
func eachRow(r io.Reader, t bunstore.Table, fn func(bunstore.Row) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for line := 1; sc.Scan(); line++ {
		row, err := parseRow(sc.Bytes(), t)
		if err != nil {
			return fmt.Errorf("archive: %s line %d: %w", t.Name, line, err)
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return sc.Err()
}

// parseRow decodes one row, typing each value by its column.
func parseRow(b []byte, t bunstore.Table) (bunstore.Row, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw []any
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	if len(raw) != len(t.Columns) {
		return nil, fmt.Errorf("%d values for %d columns", len(raw), len(t.Columns))
	}
	row := make(bunstore.Row, len(raw))
	for i, c := range t.Columns {
		switch v := raw[i].(type) {
		case nil:
			if !c.Nullable {
				return nil, fmt.Errorf("column %s: null", c.Name)
			}
		case json.Number:
			n, err := v.Int64()
			if err != nil || c.Kind != bunstore.KindInt {
				return nil, fmt.Errorf("column %s: unexpected number %s", c.Name, v)
			}
			row[i] = n
		case string:
			if c.Kind != bunstore.KindText {
				return nil, fmt.Errorf("column %s: unexpected text", c.Name)
			}
			row[i] = v
		default:
			return nil, fmt.Errorf("column %s: unexpected value %v", c.Name, v)
		}
	}
	if _, ok := row[0].(int64); !ok {
		return nil, errors.New("row without an id")
	}
	return row, nil
}

// applyArchive writes the archive's rows above after and its files into
// the target.
func applyArchive(ctx context.Context, open func() (io.ReadCloser, error), store *bunstore.Store, files parts.FileStore,
	after map[string]int64, types map[string]string, rep *Report, o *Options) error {
	p := newProgress(o)
	w := &batchWriter{dst: store, size: o.batch(), rep: rep, p: p, total: map[string]int64{}}
	err := walkArchive(open, func(name string, r io.Reader) error {
		t, key, isManifest, err := entryKind(name)
		switch {
		case err != nil || isManifest:
			return err
		case t != nil:
			return eachRow(r, *t, func(row bunstore.Row) error {
				if row[0].(int64) <= after[t.Name] {
					return nil // there already (a resumed or forced restore)
				}
				return w.add(ctx, *t, row)
			})
		}
		if err := w.flush(ctx); err != nil {
			return err
		}
		if files == nil {
			return nil
		}
		if _, err := files.Put(ctx, key, r, types[key]); err != nil {
			return fmt.Errorf("restore file %s: %w", key, err)
		}
		rep.Copied["files"]++
		p.step("files", rep.Copied["files"], 0, false)
		return nil
	})
	if err == nil {
		err = w.flush(ctx)
	}
	return err
}
