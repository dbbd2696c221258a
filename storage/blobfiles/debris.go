package blobfiles

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/partflow/partflow/parts"
)

var _ parts.DebrisSweeper = (*Store)(nil)

// SweepDebris removes, from a file:// store, the partial files of writes a
// crash interrupted ("<name>.<hex>.tmp" next to the object) and upload
// spool files (".spool/put-*"), when last modified before cutoff. It
// returns their paths relative to the store's root, sorted. Other stores
// keep no debris of their own and return nothing.
func (s *Store) SweepDebris(ctx context.Context, cutoff time.Time) ([]string, error) {
	if s.dir == "" {
		return nil, nil
	}
	var removed []string
	var errs []error
	walkErr := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			errs = append(errs, err)
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() || !isDebris(s.dir, path) {
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			return nil
		}
		rel, _ := filepath.Rel(s.dir, path)
		removed = append(removed, filepath.ToSlash(rel))
		return nil
	})
	if walkErr != nil {
		errs = append(errs, walkErr)
	}
	slices.Sort(removed)
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("blobfiles: sweep debris: %w", err)
	}
	return removed, nil
}

// isDebris reports whether path, a regular file under root, is a fileblob
// temporary file or a spool file.
func isDebris(root, path string) bool {
	if fileblobTemp.MatchString(path) {
		return true
	}
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return false
	}
	dir, name := filepath.Split(filepath.ToSlash(rel))
	return dir == spoolName+"/" && strings.HasPrefix(name, "put-")
}
