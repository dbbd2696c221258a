package parts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Garbage collection of stored objects no part references.

// GC removes FileStore objects under the library's key prefix ("parts/")
// whose part no longer exists or that their part does not reference: files
// left behind by a failed delete, a crash between storing and recording an
// upload, or a replaced file whose deletion failed. Objects younger than
// UploadOptions.GCGrace (by the service clock), or without a modification
// time, are skipped so an upload in flight is never collected. Converted
// models in the conversion cache ("cache/models/") are removed once older
// than CacheRetention; other keys are never touched. It also removes, when
// older than the grace period, the debris of interrupted writes (if the
// FileStore is a DebrisSweeper) and conversion job directories left in
// ConvertOptions.WorkDir by a process that died. It returns the removed
// keys and paths, sorted; on errors it carries on and returns them joined.
func (s *Service) GC(ctx context.Context) (removed []string, err error) {
	if s.files == nil {
		return nil, errNoFileStore
	}
	objs, err := s.files.List(ctx, keyPrefix)
	if err != nil {
		return nil, fmt.Errorf("gc: list files: %w", err)
	}
	cutoff := s.clock().Add(-s.uploads.GCGrace)
	refs := map[int64]map[string]bool{} // part id -> referenced keys; nil: no such part
	var errs []error
	for _, o := range objs {
		if o.ModTime.IsZero() || o.ModTime.After(cutoff) {
			continue
		}
		id, ok := partIDFromKey(o.Key)
		if !ok {
			continue
		}
		keys, seen := refs[id]
		if !seen {
			p, err := s.store.FindPartByID(ctx, id)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				return removed, fmt.Errorf("gc: find part %d: %w", id, err)
			default:
				keys = map[string]bool{}
				for _, f := range p.Files {
					keys[f.Key] = true
				}
			}
			refs[id] = keys
		}
		if keys[o.Key] {
			continue
		}
		if err := s.files.Delete(ctx, o.Key); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("gc: delete %s: %w", o.Key, err))
			continue
		}
		removed = append(removed, o.Key)
	}
	// Cached models are not referenced by parts (each part holds a copy);
	// they are kept for CacheRetention after they were made.
	cached, err := s.files.List(ctx, cachePrefix)
	if err != nil {
		errs = append(errs, fmt.Errorf("gc: list cached models: %w", err))
	}
	expire := s.clock().Add(-CacheRetention)
	for _, o := range cached {
		if o.ModTime.IsZero() || o.ModTime.After(expire) {
			continue
		}
		if err := s.files.Delete(ctx, o.Key); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("gc: delete %s: %w", o.Key, err))
			continue
		}
		removed = append(removed, o.Key)
	}
	debris, err := s.sweepDebris(ctx, cutoff)
	removed = append(removed, debris...)
	if err != nil {
		errs = append(errs, err)
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	slices.Sort(removed)
	return removed, errors.Join(errs...)
}

// CacheRetention is how long GC keeps a converted model in the conversion
// cache; re-uploading the same file within it does no conversion work.
const CacheRetention = 30 * 24 * time.Hour
