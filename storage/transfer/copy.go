package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// Options configure Copy, Backup and Restore. A nil *Options gives the
// defaults.
type Options struct {
	// Progress receives one line per step and, at most every Interval, a
	// line of how far the current step is; nil is silent.
	Progress io.Writer
	// Interval between progress lines of one step; default 2s.
	Interval time.Duration
	// BatchSize is the number of rows written per transaction; default 1,000.
	BatchSize int
	// Force lets Restore write into a store that holds data already.
	Force bool
}

func (o *Options) batch() int {
	if o == nil || o.BatchSize <= 0 {
		return 1000
	}
	return o.BatchSize
}

// progress prints a step's progress at most every interval.
type progress struct {
	w        io.Writer
	interval time.Duration
	last     time.Time
}

func newProgress(o *Options) *progress {
	p := &progress{w: io.Discard, interval: 2 * time.Second}
	if o != nil && o.Progress != nil {
		p.w = o.Progress
	}
	if o != nil && o.Interval > 0 {
		p.interval = o.Interval
	}
	return p
}

// step reports done of total in step, now and then (always when final).
func (p *progress) step(step string, done, total int64, final bool) {
	if !final && time.Since(p.last) < p.interval {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "%s: %d/%d\n", step, done, total)
}

// Report is what a Copy or Restore did and found.
type Report struct {
	// Copied counts the rows written per table and the files copied.
	Copied map[string]int64
	// Tables are the target's table summaries after the copy, which
	// matched the source's.
	Tables []bunstore.TableSummary
	// Files are the target's files after the copy, with their SHA-256,
	// which matched the source's.
	Files []parts.FileObject
}

// ErrMismatch is returned (wrapped) when a verification finds that the
// target differs from the source or the archive.
var ErrMismatch = errors.New("transfer: verification failed")

// Copy copies the data tables of src into dst and, when both file stores
// are given, the files of srcFiles into dstFiles; then verifies both. See
// the package documentation for resuming and what is verified.
func Copy(ctx context.Context, dst, src *bunstore.Store, dstFiles, srcFiles parts.FileStore, o *Options) (*Report, error) {
	rep := &Report{Copied: map[string]int64{}}
	if err := copyTables(ctx, dst, src, rep, o); err != nil {
		return rep, err
	}
	if srcFiles != nil && dstFiles != nil {
		if err := copyFiles(ctx, dstFiles, srcFiles, rep, o); err != nil {
			return rep, err
		}
	}
	want, err := src.Summaries(ctx)
	if err != nil {
		return rep, err
	}
	if rep.Tables, err = dst.Summaries(ctx); err != nil {
		return rep, err
	}
	if err := compareTables(rep.Tables, want); err != nil {
		return rep, err
	}
	if srcFiles != nil && dstFiles != nil {
		if rep.Files, err = verifyFiles(ctx, dstFiles, srcFiles, o); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// copyTables copies the rows dst lacks, table by table, in batches.
func copyTables(ctx context.Context, dst, src *bunstore.Store, rep *Report, o *Options) error {
	after, err := dst.MaxIDs(ctx)
	if err != nil {
		return err
	}
	if err := checkPrefix(ctx, dst, src, after); err != nil {
		return err
	}
	total, err := src.Summaries(ctx)
	if err != nil {
		return err
	}
	p := newProgress(o)
	w := &batchWriter{dst: dst, size: o.batch(), rep: rep, p: p, total: map[string]int64{}}
	for _, s := range total {
		w.total[s.Table] = s.Rows
	}
	err = src.ReadTables(ctx, after, func(t bunstore.Table, row bunstore.Row) error { return w.add(ctx, t, row) })
	if err == nil {
		err = w.flush(ctx)
	}
	if err != nil {
		return err
	}
	return dst.SetLastIDs(ctx, lastIDs(total))
}

// checkPrefix makes sure that what dst holds already is a copy of src's
// rows up to the same ids (an earlier, interrupted run), so that a copy
// never mixes two deployments' data.
func checkPrefix(ctx context.Context, dst, src *bunstore.Store, after map[string]int64) error {
	var some bool
	for _, id := range after {
		some = some || id > 0
	}
	if !some {
		return nil
	}
	have, err := dst.Summaries(ctx)
	if err != nil {
		return err
	}
	ds := map[string]*bunstore.Digest{}
	for _, t := range bunstore.DataTables {
		ds[t.Name] = bunstore.NewDigest(t.Name)
	}
	err = src.ReadTables(ctx, nil, func(t bunstore.Table, row bunstore.Row) error {
		if row[0].(int64) > after[t.Name] {
			return nil
		}
		return ds[t.Name].Add(row)
	})
	if err != nil {
		return err
	}
	for _, h := range have {
		w := ds[h.Table].Summary()
		if h.Rows != w.Rows || h.SHA256 != w.SHA256 {
			return fmt.Errorf("%w: the target's %s (%d rows up to id %d) is not a copy of the source's; "+
				"copy into an empty database, or into the target of an interrupted copy of this source", ErrMismatch, h.Table, h.Rows, h.MaxID)
		}
	}
	return nil
}

// lastIDs maps each table to the largest id it handed out.
func lastIDs(sums []bunstore.TableSummary) map[string]int64 {
	out := map[string]int64{}
	for _, s := range sums {
		out[s.Table] = s.LastID
	}
	return out
}

// batchWriter writes rows to dst in batches of size, one transaction each.
type batchWriter struct {
	dst   *bunstore.Store
	size  int
	rep   *Report
	p     *progress
	total map[string]int64
	table string
	rows  []bunstore.Row
}

func (w *batchWriter) add(ctx context.Context, t bunstore.Table, row bunstore.Row) error {
	if t.Name != w.table || len(w.rows) >= w.size {
		if err := w.flush(ctx); err != nil {
			return err
		}
		w.table = t.Name
	}
	w.rows = append(w.rows, row)
	return nil
}

func (w *batchWriter) flush(ctx context.Context) error {
	if len(w.rows) == 0 {
		return nil
	}
	if err := w.dst.WriteRows(ctx, w.table, w.rows); err != nil {
		return err
	}
	w.rep.Copied[w.table] += int64(len(w.rows))
	w.p.step("table "+w.table, w.rep.Copied[w.table], w.total[w.table], len(w.rows) < w.size)
	w.rows = w.rows[:0]
	return nil
}

// compareTables checks got against want, table by table (by name: an
// archive made before a table existed lists fewer tables than the store
// has, and those must then be empty).
func compareTables(got, want []bunstore.TableSummary) error {
	listed := map[string]bunstore.TableSummary{}
	for _, w := range want {
		listed[w.Table] = w
	}
	var errs []error
	for _, g := range got {
		w, ok := listed[g.Table]
		if !ok {
			w = bunstore.TableSummary{Table: g.Table, SHA256: bunstore.NewDigest(g.Table).Summary().SHA256}
		}
		delete(listed, g.Table)
		if g.Rows != w.Rows || g.SHA256 != w.SHA256 || (ok && g.LastID != w.LastID) {
			errs = append(errs, fmt.Errorf("table %s: target has %d rows (sha256 %.12s…, last id %d), source %d (sha256 %.12s…, last id %d)",
				w.Table, g.Rows, g.SHA256, g.LastID, w.Rows, w.SHA256, w.LastID))
		}
	}
	for name := range listed {
		errs = append(errs, fmt.Errorf("table %s: the source has it, the target does not", name))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrMismatch, errors.Join(errs...))
	}
	return nil
}

// copyFiles copies every file of src that dst lacks or holds with other
// contents.
func copyFiles(ctx context.Context, dst, src parts.FileStore, rep *Report, o *Options) error {
	objs, err := src.List(ctx, "")
	if err != nil {
		return fmt.Errorf("list source files: %w", err)
	}
	p := newProgress(o)
	for i, obj := range objs {
		if same, err := sameFile(ctx, dst, obj); err != nil || same {
			if err != nil {
				return err
			}
			continue
		}
		if err := copyFile(ctx, dst, src, obj.Key); err != nil {
			return err
		}
		rep.Copied["files"]++
		p.step("files", int64(i+1), int64(len(objs)), false)
	}
	p.step("files", int64(len(objs)), int64(len(objs)), true)
	return nil
}

// sameFile reports whether dst holds obj's key with the same size and, when
// both stores know it, the same SHA-256.
func sameFile(ctx context.Context, dst parts.FileStore, obj parts.FileObject) (bool, error) {
	got, err := dst.Stat(ctx, obj.Key)
	if errors.Is(err, parts.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", obj.Key, err)
	}
	if got.Size != obj.Size {
		return false, nil
	}
	return got.SHA256 == "" || obj.SHA256 == "" || got.SHA256 == obj.SHA256, nil
}

func copyFile(ctx context.Context, dst, src parts.FileStore, key string) error {
	r, obj, err := src.Open(ctx, key)
	if err != nil {
		return fmt.Errorf("open %s: %w", key, err)
	}
	defer r.Close()
	if _, err := dst.Put(ctx, key, r, obj.ContentType); err != nil {
		return fmt.Errorf("copy %s: %w", key, err)
	}
	return nil
}

// fileSHA256 reads the file at key and returns its size and SHA-256.
func fileSHA256(ctx context.Context, fs parts.FileStore, key string) (int64, string, error) {
	r, _, err := fs.Open(ctx, key)
	if err != nil {
		return 0, "", fmt.Errorf("open %s: %w", key, err)
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", key, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// verifyFiles reads every file of src and its copy in dst and compares
// their SHA-256; it returns dst's files.
func verifyFiles(ctx context.Context, dst, src parts.FileStore, o *Options) ([]parts.FileObject, error) {
	objs, err := src.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list source files: %w", err)
	}
	p := newProgress(o)
	var errs []error
	out := make([]parts.FileObject, 0, len(objs))
	for i, obj := range objs {
		wn, want, err := fileSHA256(ctx, src, obj.Key)
		if err != nil {
			return nil, err
		}
		gn, got, err := fileSHA256(ctx, dst, obj.Key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if gn != wn || got != want {
			errs = append(errs, fmt.Errorf("file %s: target has %d bytes (sha256 %.12s…), source %d (sha256 %.12s…)", obj.Key, gn, got, wn, want))
		}
		out = append(out, parts.FileObject{Key: obj.Key, Size: gn, SHA256: got, ContentType: obj.ContentType})
		p.step("verify files", int64(i+1), int64(len(objs)), false)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrMismatch, errors.Join(errs...))
	}
	return out, nil
}
