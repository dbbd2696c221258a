package parts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Reading and deleting a part's stored files.

// OpenFile opens the part's file with the given served name. A name the part
// does not hold gives ErrFileNotFound (matching ErrNotFound), whatever the
// part's File field says; a missing part gives ErrNotFound. The caller closes
// the reader.
func (s *Service) OpenFile(ctx context.Context, id int64, name string) (io.ReadSeekCloser, File, error) {
	return s.openFile(ctx, id, fmt.Sprintf("file %q", name), func(p *Part) (File, bool) { return p.FileByName(name) })
}

// OpenMainFile opens the file GET /download serves (see Part.MainFile), or
// returns ErrFileNotFound when the part holds no CAD or drawing file.
func (s *Service) OpenMainFile(ctx context.Context, id int64) (io.ReadSeekCloser, File, error) {
	return s.openFile(ctx, id, "main file", (*Part).MainFile)
}

// OpenView opens preview image i of the part, or returns ErrFileNotFound.
func (s *Service) OpenView(ctx context.Context, id int64, i int) (io.ReadSeekCloser, File, error) {
	return s.openFile(ctx, id, fmt.Sprintf("view %d", i), func(p *Part) (File, bool) { return p.ViewFile(i) })
}

// OpenFileOfKind opens the part's file of the given kind (the first view for
// FileView), or returns ErrFileNotFound.
func (s *Service) OpenFileOfKind(ctx context.Context, id int64, kind FileKind) (io.ReadSeekCloser, File, error) {
	return s.openFile(ctx, id, string(kind)+" file", func(p *Part) (File, bool) { return p.FileByKind(kind) })
}

func (s *Service) openFile(ctx context.Context, id int64, what string, pick func(*Part) (File, bool)) (io.ReadSeekCloser, File, error) {
	if s.files == nil {
		return nil, File{}, errNoFileStore
	}
	for attempt := 0; ; attempt++ {
		p, err := s.store.FindPartByID(ctx, id)
		if err != nil {
			return nil, File{}, fmt.Errorf("open %s of part %d: %w", what, id, err)
		}
		f, ok := pick(p)
		if !ok {
			return nil, File{}, fmt.Errorf("part %d has no %s: %w", id, what, ErrFileNotFound)
		}
		rc, _, err := s.files.Open(ctx, f.Key)
		if errors.Is(err, ErrNotFound) && attempt == 0 {
			continue // replaced between reading the part and opening: look again
		}
		if errors.Is(err, ErrNotFound) {
			return nil, File{}, fmt.Errorf("open %s of part %d: bytes missing from the file store: %w", what, id, ErrFileNotFound)
		}
		if err != nil {
			return nil, File{}, fmt.Errorf("open %s of part %d: %w", what, id, err)
		}
		return rc, f, nil
	}
}

// DeleteFile removes the part's file with the given served name: the part
// loses it in one transaction (with a "file.deleted" event; a deleted view
// also leaves miscInfo.views; the main File name moves to the remaining CAD
// or drawing file, or is cleared) and the bytes are deleted after the
// commit. A name the part does not hold gives ErrFileNotFound.
func (s *Service) DeleteFile(ctx context.Context, id int64, name, actor string) (*Part, error) {
	if s.files == nil {
		return nil, errNoFileStore
	}
	var out *Part
	var gone File
	err := s.retryTx(ctx, 0, func(ctx context.Context, tx Tx) error {
		cur, err := tx.FindPartByID(ctx, id)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(cur.Files, func(f File) bool { return f.Name == name })
		if i < 0 {
			return fmt.Errorf("part %d has no file %q: %w", id, name, ErrFileNotFound)
		}
		now := s.clock()
		next := cur.Clone()
		gone = next.Files[i]
		next.Files = slices.Delete(next.Files, i, i+1)
		if gone.Kind == FileView {
			next.MiscInfo = removeView(next.MiscInfo, gone.View, now)
		}
		if gone.Kind == FileModel || gone.Kind == FileCAD {
			next.Model = Model{State: ModelNone} // there is no model of the current CAD file now
		}
		if next.File == gone.Name {
			next.File = ""
			if main, ok := next.defaultMainFile(); ok {
				next.File = main.Name
			}
		}
		next.normalize()
		out = next
		return writeNext(ctx, tx, cur, next, now, "file.deleted", actor,
			Change{Field: "files/" + gone.Name, Before: fileSummary(&gone)})
	})
	if err != nil {
		return nil, fmt.Errorf("delete file %q of part %d: %w", name, id, err)
	}
	s.deleteObjects(ctx, "delete file", []File{gone})
	return out.Clone(), nil
}
