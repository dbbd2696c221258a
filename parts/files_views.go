package parts

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Preview images: the views a client renders for a part.

// ViewFile returns the part's preview image with index i.
func (p *Part) ViewFile(i int) (File, bool) {
	for _, f := range p.Files {
		if f.Kind == FileView && f.View == i {
			return f, true
		}
	}
	return File{}, false
}

// ViewUpload is one preview image of an UploadViews call.
type ViewUpload struct {
	// Index is the view number, 0..MaxViews-1 (form field view_<Index>).
	Index int
	// Name is the uploader's file name, kept for the record.
	Name string
	// Body is the PNG image.
	Body io.Reader
}

// UploadViews stores preview images for part id. next returns the views one
// at a time and io.EOF after the last (so a multipart body can be streamed
// view by view); each is checked (PNG signature, UploadOptions.MaxViewSize)
// and stored under a fresh key. Then one transaction replaces the part's
// views of the same indexes and merges them into miscInfo.views:
//
//	{"files": {"0": {"filename": "view_0.png", "timestamp": "..."}, ...}, "updated_at": "..."}
//
// Views of other indexes and other miscInfo keys stay. On any error nothing
// is recorded and every view stored by this call is deleted. No views at all
// is a *ValidationError; an index outside 0..MaxViews-1 too.
func (s *Service) UploadViews(ctx context.Context, id int64, next func() (ViewUpload, error), actor string) (*Part, error) {
	p, err := s.uploadViews(ctx, id, next, actor)
	if err != nil {
		return nil, fmt.Errorf("upload views to part %d: %w", id, err)
	}
	return p, nil
}

func (s *Service) uploadViews(ctx context.Context, id int64, next func() (ViewUpload, error), actor string) (*Part, error) {
	if s.files == nil {
		return nil, errNoFileStore
	}
	if _, err := s.store.FindPartByID(ctx, id); err != nil {
		return nil, err
	}
	var all []*staged
	defer func() {
		for _, st := range all {
			st.discard(ctx, s)
		}
	}()
	byIndex := map[int]*staged{}
	for {
		v, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if v.Index < 0 || v.Index >= MaxViews {
			return nil, invalid("views", "view index %d is out of range (view_0 .. view_%d)", v.Index, MaxViews-1)
		}
		st, err := s.stage(ctx, id, newFileName(v.Name), formatPNG, s.uploads.MaxViewSize, v.Index)
		if err != nil {
			return nil, err
		}
		all = append(all, st)
		if err := st.put(ctx, s, v.Body); err != nil {
			return nil, fmt.Errorf("view_%d: %w", v.Index, err)
		}
		if prev := byIndex[v.Index]; prev != nil {
			prev.discard(ctx, s) // the same index twice: the last one wins
			prev.written = false
		}
		byIndex[v.Index] = st
	}
	if len(byIndex) == 0 {
		return nil, invalid("views", "No views given (form fields view_0 .. view_%d)", MaxViews-1)
	}
	var added []File
	for i := range MaxViews {
		if st := byIndex[i]; st != nil {
			added = append(added, st.file)
		}
	}
	p, _, err := s.commitFiles(ctx, id, 0, actor, added, func(next *Part, now time.Time) {
		next.MiscInfo = mergeViews(next.MiscInfo, added, now)
	})
	if err != nil {
		return nil, err
	}
	for _, st := range byIndex {
		st.committed = true
	}
	return p, nil
}

// mergeViews returns misc with the views manifest updated for views.
func mergeViews(misc map[string]any, views []File, now time.Time) map[string]any {
	out := cloneMisc(misc)
	if out == nil {
		out = map[string]any{}
	}
	manifest, _ := out["views"].(map[string]any)
	manifest = cloneMisc(manifest)
	if manifest == nil {
		manifest = map[string]any{}
	}
	files, _ := manifest["files"].(map[string]any)
	files = cloneMisc(files)
	if files == nil {
		files = map[string]any{}
	}
	ts := now.UTC().Format(time.RFC3339Nano)
	for _, v := range views {
		files[strconv.Itoa(v.View)] = map[string]any{"filename": v.Name, "timestamp": ts}
	}
	manifest["files"] = files
	manifest["updated_at"] = ts
	out["views"] = manifest
	return out
}

// removeView drops view i from the views manifest.
func removeView(misc map[string]any, i int, now time.Time) map[string]any {
	manifest, _ := misc["views"].(map[string]any)
	files, _ := manifest["files"].(map[string]any)
	if _, ok := files[strconv.Itoa(i)]; !ok {
		return misc
	}
	out := cloneMisc(misc)
	m := out["views"].(map[string]any)
	fs := m["files"].(map[string]any)
	delete(fs, strconv.Itoa(i))
	m["updated_at"] = now.UTC().Format(time.RFC3339Nano)
	return out
}
