package parts

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DebrisSweeper is an optional FileStore capability: removing the store's
// own leftovers of writes that a crash interrupted (partial temporary
// files, upload spool files), never an object. Service.GC calls it.
type DebrisSweeper interface {
	// SweepDebris removes leftovers last modified before cutoff and returns
	// their names (store-relative paths), sorted. Younger ones may belong
	// to a write in flight and are kept.
	SweepDebris(ctx context.Context, cutoff time.Time) ([]string, error)
}

// jobDirPrefix starts the name of a conversion's private directory in
// ConvertOptions.WorkDir.
const jobDirPrefix = "partflow-job-"

// sweepDebris removes what crashes leave outside the objects: the file
// store's debris (if it is a DebrisSweeper) and conversion job directories
// in WorkDir, both when older than cutoff. Job directories of conversions
// this Service is running are kept whatever their age.
func (s *Service) sweepDebris(ctx context.Context, cutoff time.Time) ([]string, error) {
	var removed []string
	var errs []error
	if ds, ok := s.files.(DebrisSweeper); ok {
		names, err := ds.SweepDebris(ctx, cutoff)
		removed = append(removed, names...)
		if err != nil {
			errs = append(errs, fmt.Errorf("gc: file store debris: %w", err))
		}
	}
	dir := s.pipe.opts.WorkDir
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("gc: read work directory: %w", err))
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), jobDirPrefix) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if s.pipe.jobLive(path) {
			continue
		}
		if info, err := e.Info(); err != nil || !info.ModTime().Before(cutoff) {
			continue
		}
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, fmt.Errorf("gc: remove %s: %w", path, err))
			continue
		}
		removed = append(removed, path)
	}
	return removed, errors.Join(errs...)
}

// jobStarted and jobDone track the job directories of running conversions,
// which GC must not remove however long they run.
func (p *pipeline) jobStarted(dir string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.jobs[dir] = true
}

func (p *pipeline) jobDone(dir string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.jobs, dir)
}

func (p *pipeline) jobLive(dir string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.jobs[dir]
}
