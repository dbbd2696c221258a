package parts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/partflow/partflow/convert"
)

// ConverterSource finds the converter for a conversion. *convert.Registry
// implements it.
type ConverterSource interface {
	// Lookup returns the converter for from -> to, or an error wrapping
	// convert.ErrUnsupportedFormat.
	Lookup(from, to convert.Format) (convert.Converter, error)
}

// ConvertOptions configure the conversion pipeline. Zero fields get defaults.
type ConvertOptions struct {
	// Converters turns CAD files into GLB models. Nil disables conversion:
	// models stay ModelNone and ConvertNow returns convert.ErrUnavailable.
	Converters ConverterSource
	// Options are passed to every conversion (tolerances, merging); they are
	// part of the cache key.
	Options convert.Options
	// WorkDir holds the private job directories of running conversions.
	// Default os.TempDir().
	WorkDir string
	// Timeout bounds one conversion. Default 10 minutes (plugins have their
	// own, shorter deadline).
	Timeout time.Duration
	// MaxAttempts is how often a job is tried before it is marked failed, so
	// a file that kills the server cannot do so forever. Default 3.
	MaxAttempts int
	// PollInterval is how often idle workers look for jobs queued by other
	// processes. Default 2 seconds.
	PollInterval time.Duration
	// Owner names this server in job leases (its replica id). Default: a
	// random id made at start.
	Owner string
	// Lease is how long a claimed job stays this server's without renewal;
	// workers renew it every third of it while converting. A job whose
	// server died is taken up by another server once its lease ends.
	// Default 30 seconds.
	Lease time.Duration
	// OnConversion, when set, is called after each converter run with the
	// converter's name, how long it took and its error (nil on success),
	// for metrics.
	OnConversion func(converter string, took time.Duration, err error)
}

// cachePrefix is where converted models are kept, keyed by what made them.
// Parts hold their own copy, so removing a part never touches the cache.
const cachePrefix = "cache/models/"

// pipeline is the conversion state of a Service.
type pipeline struct {
	opts ConvertOptions
	wake chan struct{} // a job was queued

	mu       sync.Mutex
	waiters  map[int64][]chan struct{} // part id -> waiting for its model
	inflight map[string]*flight        // cache key -> conversion under way
	jobs     map[string]bool           // job directories of running conversions
}

// flight is one conversion that concurrent callers share.
type flight struct {
	done chan struct{}
	file File
	err  error
}

func newPipeline(o ConvertOptions) *pipeline {
	if o.WorkDir == "" {
		o.WorkDir = os.TempDir()
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.Owner == "" {
		o.Owner = NewOwnerID()
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	return &pipeline{opts: o, wake: make(chan struct{}, 1),
		waiters: map[int64][]chan struct{}{}, inflight: map[string]*flight{}, jobs: map[string]bool{}}
}

// ConversionError is why a model could not be made. It wraps the
// converter's sentinel (convert.ErrInvalidInput, ErrTimeout, ErrCrashed,
// ErrUnavailable, ErrUnsupportedFormat).
type ConversionError struct {
	// Message is one human sentence for users, without the converter's
	// internals (paths, process ids, its output); when Ref is set it ends
	// with "(reference Ref)".
	Message string
	// Ref, when set, is the correlation id of the server log line that
	// holds the detail of the failure ("conversion failed", key "ref").
	Ref string
	// Err is the detailed error; it is logged, never shown to users.
	Err error
}

// Error implements error.
func (e *ConversionError) Error() string { return e.Message }

// Unwrap returns the converter's error.
func (e *ConversionError) Unwrap() error { return e.Err }

// cadFormat returns the converter format of a CAD file by its name.
func cadFormat(f File) (convert.Format, error) {
	return convert.FormatFromPath(f.Name)
}

// converterFor returns the converter of a CAD file, or a *ConversionError
// wrapping convert.ErrUnavailable that says how to enable one.
func (s *Service) converterFor(f File) (convert.Converter, convert.Format, error) {
	from, err := cadFormat(f)
	if err != nil {
		return nil, "", &ConversionError{Message: fmt.Sprintf("%s files cannot be converted", newFileName(f.Name).ext), Err: err}
	}
	if s.pipe.opts.Converters == nil {
		return nil, from, &ConversionError{Err: convert.ErrUnavailable,
			Message: "no converter is configured: install the cascadio plugin (make venv) or configure plugins"}
	}
	conv, err := s.pipe.opts.Converters.Lookup(from, convert.FormatGLB)
	if err != nil {
		return nil, from, &ConversionError{Err: errors.Join(convert.ErrUnavailable, err),
			Message: fmt.Sprintf("no converter for %s files is configured", from)}
	}
	return conv, from, nil
}

// queueConversion is the OnCADStored hook: inside the upload's transaction it
// marks the model pending and queues a durable job, or records that no
// converter handles the file.
func (s *Service) queueConversion(ctx context.Context, tx Tx, next *Part, cad File) error {
	if _, _, err := s.converterFor(cad); err != nil {
		next.Model = Model{State: ModelNone, Error: err.Error(), Source: cad.SHA256}
		return nil
	}
	next.Model = Model{State: ModelPending, Source: cad.SHA256}
	return tx.EnqueueJob(ctx, &Job{PartID: next.ID, Source: cad.SHA256, State: JobQueued})
}

// signal wakes an idle worker.
func (p *pipeline) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// notify wakes everyone waiting for part id's model.
func (p *pipeline) notify(id int64) {
	p.mu.Lock()
	ws := p.waiters[id]
	delete(p.waiters, id)
	p.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// RequestConversion queues a conversion of the part's CAD file unless its
// model is ready or pending already, or its conversion failed (the recorded
// failure stands until the CAD file changes or ConvertNow asks again), and
// returns the part. A part without a CAD file gives ErrFileNotFound.
func (s *Service) RequestConversion(ctx context.Context, id int64, actor string) (*Part, error) {
	p, err := s.mutateTx(ctx, id, 0, actor, "model.requested", func(ctx context.Context, tx Tx, cur *Part, now time.Time) (*Part, bool, error) {
		cad, ok := cur.FileByKind(FileCAD)
		if !ok {
			return nil, false, fmt.Errorf("part %d has no CAD file: %w", id, ErrFileNotFound)
		}
		_, hasModel := cur.FileByKind(FileModel)
		if cur.Model.Source == cad.SHA256 && ((cur.Model.State == ModelReady && hasModel) ||
			cur.Model.State == ModelPending || cur.Model.State == ModelFailed) {
			return cur, false, nil
		}
		next := cur.Clone()
		if err := s.queueConversion(ctx, tx, next, cad); err != nil {
			return nil, false, err
		}
		return next, !samePart(cur, next), nil
	})
	if err != nil {
		return nil, fmt.Errorf("request conversion of part %d: %w", id, err)
	}
	if p.Model.State == ModelPending {
		s.pipe.signal()
	}
	return p, nil
}

// WaitModel returns the part once its model is no longer pending, or when
// wait has passed (the part is then still pending), whichever comes first.
func (s *Service) WaitModel(ctx context.Context, id int64, wait time.Duration) (*Part, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		ch := s.pipe.wait(id)
		p, err := s.FindPartByID(ctx, id)
		if err != nil || p.Model.State != ModelPending {
			s.pipe.unwait(id, ch)
			return p, err
		}
		select {
		case <-ch:
		case <-timer.C:
			s.pipe.unwait(id, ch)
			return p, nil
		case <-ctx.Done():
			s.pipe.unwait(id, ch)
			return nil, ctx.Err()
		}
	}
}

// wait registers a channel that notify(id) closes.
func (p *pipeline) wait(id int64) chan struct{} {
	ch := make(chan struct{})
	p.mu.Lock()
	p.waiters[id] = append(p.waiters[id], ch)
	p.mu.Unlock()
	return ch
}

// unwait removes a channel that is no longer waited on (notify may have
// taken it already).
func (p *pipeline) unwait(id int64, ch chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ws := slices.DeleteFunc(p.waiters[id], func(c chan struct{}) bool { return c == ch })
	if len(ws) == 0 {
		delete(p.waiters, id)
	} else {
		p.waiters[id] = ws
	}
}

// ConvertNow converts the part's CAD file to GLB right away (or takes the
// cached result) and records the model on the part. It returns the part;
// when the conversion fails the part records the failure and the error is
// a *ConversionError. A part without a CAD file gives ErrFileNotFound.
func (s *Service) ConvertNow(ctx context.Context, id int64, actor string) (*Part, error) {
	p, err := s.FindPartByID(ctx, id)
	if err != nil {
		return nil, err
	}
	cad, ok := p.FileByKind(FileCAD)
	if !ok {
		return nil, fmt.Errorf("part %d has no CAD file: %w", id, ErrFileNotFound)
	}
	if p.Model.State == ModelReady && p.Model.Source == cad.SHA256 {
		if _, ok := p.FileByKind(FileModel); ok {
			return p, nil
		}
	}
	return s.convertAndRecord(ctx, p, cad, actor)
}

// convertAndRecord converts cad and records the outcome on part p, unless
// the part has moved on to another CAD file meanwhile.
func (s *Service) convertAndRecord(ctx context.Context, p *Part, cad File, actor string) (*Part, error) {
	model, convErr := s.convertCAD(ctx, cad)
	if convErr == nil {
		next, err := s.attachModel(ctx, p.ID, cad, model, actor)
		s.pipe.notify(p.ID)
		return next, err
	}
	var ce *ConversionError
	if !errors.As(convErr, &ce) {
		if ctx.Err() != nil {
			return nil, convErr
		}
		from, _ := cadFormat(cad)
		ce = s.conversionFailed(convErr, from, cad)
	}
	next, err := s.mutate(ctx, p.ID, 0, actor, "model.failed", func(cur *Part, now time.Time) (*Part, bool, error) {
		if c, ok := cur.FileByKind(FileCAD); !ok || c.SHA256 != cad.SHA256 {
			return cur, false, nil
		}
		next := cur.Clone()
		next.Model = Model{State: ModelFailed, Error: ce.Message, Source: cad.SHA256}
		if errors.Is(ce, convert.ErrUnavailable) {
			next.Model.State = ModelNone
		}
		return next, true, nil
	})
	s.pipe.notify(p.ID)
	if err != nil {
		return nil, err
	}
	return next, ce
}

// attachModel copies the converted model into the part as its FileModel,
// if the part still holds the CAD file it was made from. Concurrent edits of
// the part are retried.
func (s *Service) attachModel(ctx context.Context, id int64, cad File, model FileObject, actor string) (*Part, error) {
	name := strings.TrimSuffix(cad.Name, filepath.Ext(cad.Name)) + ".glb"
	for attempt := 0; ; attempt++ {
		cur, err := s.FindPartByID(ctx, id)
		if err != nil {
			return nil, err
		}
		if c, ok := cur.FileByKind(FileCAD); !ok || c.SHA256 != cad.SHA256 {
			return cur, nil // the part has moved on; its own job handles the new file
		}
		if m, ok := cur.FileByKind(FileModel); ok && cur.Model.State == ModelReady && cur.Model.Source == cad.SHA256 && m.SHA256 == model.SHA256 {
			return cur, nil
		}
		rc, _, err := s.files.Open(ctx, model.Key)
		if err != nil {
			return nil, fmt.Errorf("open converted model: %w", err)
		}
		res, err := s.UploadFile(ctx, id, Upload{Name: name, Kind: FileModel, Body: rc, Actor: actor,
			IfVersion: cur.Version, Model: &Model{State: ModelReady, Source: cad.SHA256}})
		rc.Close()
		var stale *StaleError
		if errors.As(err, &stale) && attempt < maxRetries {
			continue
		}
		if err != nil {
			return nil, err
		}
		return res.Part, nil
	}
}

// cacheKey names the cached model made from input by converter info with opts.
func cacheKey(input string, info convert.Info, opts convert.Options) string {
	h := sha256.New()
	f := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatFloat(*p, 'g', -1, 64)
	}
	b := func(p *bool) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatBool(*p)
	}
	fmt.Fprintf(h, "%s\n%s\n%s\n%s %s %s %s\n", input, info.Name, info.Version,
		f(opts.LinearTolerance), f(opts.AngularTolerance), b(opts.RelativeTolerance), b(opts.MergePrimitives))
	// Bounds may coarsen the model; keys without bounds stay as they were.
	if opts.MaxTriangles != nil || opts.MaxOutputBytes != nil {
		n := func(p *int64) string {
			if p == nil {
				return "-"
			}
			return strconv.FormatInt(*p, 10)
		}
		fmt.Fprintf(h, "max %s %s\n", n(opts.MaxTriangles), n(opts.MaxOutputBytes))
	}
	return cachePrefix + hex.EncodeToString(h.Sum(nil)) + ".glb"
}

// convertCAD returns the cached model of cad, converting it first if needed.
// Concurrent calls for the same input share one conversion.
func (s *Service) convertCAD(ctx context.Context, cad File) (FileObject, error) {
	if s.files == nil {
		return FileObject{}, errNoFileStore
	}
	conv, from, err := s.converterFor(cad)
	if err != nil {
		return FileObject{}, err
	}
	info, err := conv.Info(ctx)
	if err != nil {
		return FileObject{}, s.conversionFailed(errors.Join(convert.ErrUnavailable, err), from, cad)
	}
	key := cacheKey(cad.SHA256, info, s.pipe.opts.Options)
	if obj, err := s.files.Stat(ctx, key); err == nil {
		return obj, nil
	}
	s.pipe.mu.Lock()
	for {
		f, ok := s.pipe.inflight[key]
		if !ok {
			break
		}
		s.pipe.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return FileObject{}, ctx.Err()
		}
		// The conversion this call shared ended because its own caller went
		// away: that is not this caller's failure, so run it again.
		if errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded) {
			s.pipe.mu.Lock()
			continue
		}
		return FileObject{Key: key, SHA256: f.file.SHA256, Size: f.file.Size}, f.err
	}
	f := &flight{done: make(chan struct{})}
	s.pipe.inflight[key] = f
	s.pipe.mu.Unlock()
	obj, err := s.runConverter(ctx, conv, info, from, cad, key)
	f.file, f.err = File{SHA256: obj.SHA256, Size: obj.Size}, err
	s.pipe.mu.Lock()
	delete(s.pipe.inflight, key)
	s.pipe.mu.Unlock()
	close(f.done)
	return obj, err
}

// runConverter copies the CAD file into a private job directory, runs the
// converter, checks the output is a GLB and stores it under key.
func (s *Service) runConverter(ctx context.Context, conv convert.Converter, info convert.Info, from convert.Format,
	cad File, key string) (FileObject, error) {
	dir, err := os.MkdirTemp(s.pipe.opts.WorkDir, jobDirPrefix)
	if err != nil {
		return FileObject{}, fmt.Errorf("conversion job directory: %w", err)
	}
	s.pipe.jobStarted(dir)
	defer func() { os.RemoveAll(dir); s.pipe.jobDone(dir) }()
	in := filepath.Join(dir, "input"+from.Ext())
	out := filepath.Join(dir, "output.glb")
	if err := s.copyToFile(ctx, cad.Key, in); err != nil {
		return FileObject{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.pipe.opts.Timeout)
	defer cancel()
	start := time.Now()
	stats, err := conv.Convert(cctx, convert.Request{InputPath: in, OutputPath: out, From: from, To: convert.FormatGLB,
		Options: s.pipe.opts.Options})
	if hook := s.pipe.opts.OnConversion; hook != nil {
		hook(info.Name, time.Since(start), err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return FileObject{}, ctx.Err()
		}
		return FileObject{}, s.conversionFailed(fmt.Errorf("%s %s: %w", info.Name, info.Version, err), from, cad)
	}
	f, err := os.Open(out)
	if err != nil {
		return FileObject{}, &ConversionError{Message: info.Name + " produced no model", Err: convert.ErrInvalidInput}
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil || !isGLB(head) {
		return FileObject{}, &ConversionError{Message: info.Name + " produced a file that is not a GLB model", Err: convert.ErrCrashed}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return FileObject{}, err
	}
	obj, err := s.files.Put(ctx, key, f, "model/gltf-binary")
	if err != nil {
		return FileObject{}, fmt.Errorf("store converted model: %w", err)
	}
	s.log.Info("converted", "converter", info.Name, "version", info.Version, "input_sha256", cad.SHA256,
		"bytes", obj.Size, "duration", time.Since(start).String(), "triangles", statsTriangles(stats))
	return obj, nil
}

func statsTriangles(st *convert.Stats) int64 {
	if st == nil {
		return 0
	}
	return st.Triangles
}

// copyToFile writes the stored object key to a new file at path.
func (s *Service) copyToFile(ctx context.Context, key, path string) error {
	rc, _, err := s.files.Open(ctx, key)
	if err != nil {
		return fmt.Errorf("open CAD file: %w", err)
	}
	defer rc.Close()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return fmt.Errorf("copy CAD file: %w", err)
	}
	return f.Close()
}

// runJob does one job and returns its final state and message.
func (s *Service) runJob(ctx context.Context, job *Job) (JobState, string) {
	p, err := s.FindPartByID(ctx, job.PartID)
	if errors.Is(err, ErrNotFound) {
		return JobDone, "part deleted"
	}
	if err != nil {
		return JobFailed, err.Error()
	}
	cad, ok := p.FileByKind(FileCAD)
	if !ok || cad.SHA256 != job.Source {
		return JobDone, "obsolete: the part has another CAD file"
	}
	if job.Attempts > s.pipe.opts.MaxAttempts {
		msg := fmt.Sprintf("gave up after %d attempts: the converter kept failing or the server stopped during conversion", job.Attempts-1)
		_, _ = s.mutate(ctx, p.ID, 0, "converter", "model.failed", func(cur *Part, now time.Time) (*Part, bool, error) {
			next := cur.Clone()
			next.Model = Model{State: ModelFailed, Error: msg, Source: job.Source}
			return next, true, nil
		})
		s.pipe.notify(p.ID)
		return JobFailed, msg
	}
	if _, err := s.convertAndRecord(ctx, p, cad, "converter"); err != nil {
		return JobFailed, err.Error()
	}
	return JobDone, ""
}
