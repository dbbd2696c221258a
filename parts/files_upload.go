package parts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Uploads: staging a file in the FileStore and committing it to its part.

// Upload is one file upload: a CAD file, a drawing, or a converted model.
type Upload struct {
	// Name is the uploader's file name. Only its last element is used (both
	// / and \ separate), and the served name is a safe ASCII version of it
	// (see SafeName); the original is kept for Content-Disposition.
	Name string
	// Kind is FileCAD, FileDrawing or FileModel; empty derives it from the
	// extension (step/stp/stl: CAD, pdf: drawing). FileModel must be given
	// explicitly and needs a .glb file. Views go through UploadViews.
	Kind FileKind
	// Body is streamed to the FileStore; it is read once, up to the limit.
	Body io.Reader
	// Model, for FileModel uploads, is recorded as the part's Model in the
	// same transaction (e.g. ModelReady with the CAD file's SHA-256 as Source).
	Model *Model
	// Actor is who uploads, for the history.
	Actor string
	// IfVersion, when non-zero, makes the upload fail with *StaleError unless
	// the part is at this version when the file is recorded.
	IfVersion int64
}

// UploadResult is what an upload did.
type UploadResult struct {
	// Part is the part after the upload.
	Part *Part
	// File is the new file.
	File File
	// Replaced is the file of the same kind the upload replaced, if any. Its
	// bytes have been deleted.
	Replaced *File
}

// UploadFile stores a file for part id and records it on the part, replacing
// the part's file of the same kind atomically: the bytes go to a fresh key
// first, then one transaction updates the part (Files, the main File name
// for CAD and drawing uploads, and a "file.uploaded" or "file.replaced"
// event with name, size and SHA-256), and only after the commit is the old
// object deleted. A CAD upload also drops the model converted from the
// previous CAD file and calls UploadOptions.OnCADStored. An upload of
// another kind leaves the other kinds alone (a PDF keeps the STEP).
//
// Checks, in order: the part exists (ErrNotFound); the name is not empty
// (*ValidationError, field file); the extension is allowed and matches Kind
// (ErrUnsupportedType); while streaming, the size limit (ErrTooLarge, as soon
// as it is passed) and the content (ErrUnsupportedType, e.g. a STEP file must
// start with ISO-10303-21;); an empty file is a *ValidationError. On any
// failure, including a body that breaks off, a cancelled context and a lost
// version race, nothing is left in the FileStore and the part is unchanged.
func (s *Service) UploadFile(ctx context.Context, id int64, u Upload) (*UploadResult, error) {
	res, err := s.uploadFile(ctx, id, u)
	if err != nil {
		return nil, fmt.Errorf("upload to part %d: %w", id, err)
	}
	if res.Part.Model.State == ModelPending {
		s.pipe.signal() // the job is committed: wake a conversion worker
	}
	return res, nil
}

func (s *Service) uploadFile(ctx context.Context, id int64, u Upload) (*UploadResult, error) {
	if s.files == nil {
		return nil, errNoFileStore
	}
	cur, err := s.store.FindPartByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.IfVersion != 0 && cur.Version != u.IfVersion {
		return nil, &StaleError{Expected: u.IfVersion, Actual: cur.Version}
	}
	name := newFileName(u.Name)
	f, err := s.uploadFormat(name, u.Kind)
	if err != nil {
		return nil, err
	}
	staged, err := s.stage(ctx, id, name, f, s.uploads.MaxSize, 0)
	if err != nil {
		return nil, err
	}
	defer staged.discard(ctx, s)
	if err := staged.put(ctx, s, u.Body); err != nil {
		return nil, err
	}
	next, replaced, err := s.commitFiles(ctx, id, u.IfVersion, u.Actor, []File{staged.file}, func(next *Part, now time.Time) {
		if u.Model != nil && staged.file.Kind == FileModel {
			next.Model = *u.Model
		}
	})
	if err != nil {
		return nil, err
	}
	staged.committed = true
	out := &UploadResult{Part: next, File: staged.file}
	for _, r := range replaced {
		if r.Kind == staged.file.Kind {
			out.Replaced = &r
		}
	}
	return out, nil
}

// uploadFormat checks the extension of name against the allow-list and the
// declared kind.
func (s *Service) uploadFormat(name fileName, kind FileKind) (format, error) {
	base, ext := name.base, name.ext
	if base == "" || strings.Trim(base, ". ") == "" {
		return format{}, invalid("file", "No file name given")
	}
	allowed := "." + strings.Join(s.uploads.Extensions, ", .")
	if kind == FileModel {
		if ext != formatGLB.ext {
			return format{}, &FileTypeError{Extension: true, Reason: fmt.Sprintf("a converted model must be a .glb file, not %q", base)}
		}
		return formatGLB, nil
	}
	if kind == FileView {
		return format{}, invalid("kind", "preview images are uploaded with UploadViews")
	}
	if kind != "" && kind != FileCAD && kind != FileDrawing {
		return format{}, invalid("kind", "unknown file kind %q", kind)
	}
	f, known := uploadFormats[ext]
	if ext == "" || !known || !slices.Contains(s.uploads.Extensions, ext) {
		shown := "no extension"
		if ext != "" {
			shown = "." + ext
		}
		return format{}, &FileTypeError{Extension: true, Reason: fmt.Sprintf("files with %s are not accepted (allowed: %s)", shown, allowed)}
	}
	if kind != "" && kind != f.kind {
		return format{}, &FileTypeError{Extension: true, Reason: fmt.Sprintf("a %s file cannot be uploaded as a %s file", f.name, kind)}
	}
	return f, nil
}

// staged is an object written (or about to be written) under a fresh key
// that is not yet recorded on its part.
type staged struct {
	file      File
	f         format
	limit     int64
	written   bool
	committed bool
}

func (s *Service) stage(ctx context.Context, id int64, clientName fileName, f format, limit int64, view int) (*staged, error) {
	var safe string
	if f.kind == FileView {
		safe = fmt.Sprintf("view_%d.png", view)
	} else {
		ext := clientName.ext
		if g, ok := uploadFormats[ext]; ext != f.ext && (!ok || g.name != f.name) {
			ext = f.ext
		}
		safe = clientName.safe(ext) // keeps .stp as .stp
	}
	key, err := newKey(id, f.kind, safe)
	if err != nil {
		return nil, err
	}
	return &staged{
		file: File{Name: safe, OriginalName: originalName(clientName, safe), Kind: f.kind, View: view,
			Key: key, ContentType: f.contentType},
		f: f, limit: limit,
	}, nil
}

// put streams body to the staged key through the size and content checks.
func (st *staged) put(ctx context.Context, s *Service, body io.Reader) error {
	if body == nil {
		return invalid("file", "No file given")
	}
	cr := newCheckedReader(body, st.limit, st.f, st.file.OriginalName)
	st.written = true
	obj, err := s.files.Put(ctx, st.file.Key, cr, st.file.ContentType)
	if cr.err != nil && !errors.Is(err, cr.err) {
		// The reader's own verdict is the precise reason, whatever the
		// driver made of it.
		err = cr.err
	}
	if err == nil && !cr.done {
		err = fmt.Errorf("file store stored %s before the upload ended", st.file.Key)
	}
	if err == nil && obj.Size != cr.n {
		err = fmt.Errorf("file store stored %d bytes of %d for %s", obj.Size, cr.n, st.file.Key)
	}
	if err != nil {
		return err
	}
	st.file.Size = obj.Size
	st.file.SHA256 = obj.SHA256
	st.file.UploadedAt = s.clock()
	return nil
}

// discard deletes the staged object unless it was recorded on its part.
func (st *staged) discard(ctx context.Context, s *Service) {
	if st.committed || !st.written {
		return
	}
	s.deleteObjects(ctx, "discard failed upload", []File{st.file})
}

// deleteObjects removes objects best-effort, after the request's context may
// have ended. Failures are logged; GC removes what is left.
func (s *Service) deleteObjects(ctx context.Context, why string, files []File) {
	ctx = context.WithoutCancel(ctx)
	for _, f := range files {
		if err := s.files.Delete(ctx, f.Key); err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Warn("could not delete file; GC will retry", "reason", why, "key", f.Key, "error", err)
		}
	}
}

// newKey returns a fresh FileStore key for a file of part id:
// parts/<id>/<kind>/<16 random hex>-<safe name>.
func newKey(id int64, kind FileKind, safe string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random key: %w", err)
	}
	return fmt.Sprintf("%s%d/%s/%s-%s", keyPrefix, id, kind, hex.EncodeToString(b[:]), safe), nil
}

// keyPrefix starts every key the library generates.
const keyPrefix = "parts/"

// partIDFromKey returns the part ID of a key made by newKey.
func partIDFromKey(key string) (int64, bool) {
	rest, ok := strings.CutPrefix(key, keyPrefix)
	if !ok {
		return 0, false
	}
	idStr, _, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != idStr {
		return 0, false
	}
	return id, true
}

// slot identifies the place a file takes on its part: one per kind, one per
// view index.
func slot(f File) string {
	if f.Kind == FileView {
		return string(FileView) + strconv.Itoa(f.View)
	}
	return string(f.Kind)
}

func fileSummary(f *File) any {
	if f == nil {
		return nil
	}
	return map[string]any{"name": f.Name, "originalName": f.OriginalName, "kind": string(f.Kind),
		"size": float64(f.Size), "sha256": f.SHA256}
}

// commitFiles records added on part id in one transaction, replacing the
// files in the same slots, and deletes the replaced objects after the commit.
// edit may change the part further (views manifest, model state). It returns
// the new part and the replaced files.
func (s *Service) commitFiles(ctx context.Context, id, ifVersion int64, actor string, added []File,
	edit func(next *Part, now time.Time)) (*Part, []File, error) {
	var removed []File
	out, err := s.change(ctx, id, ifVersion, actor, func(ctx context.Context, tx Tx, cur *Part, now time.Time) (partEdit, error) {
		next := cur.Clone()
		removed = nil
		var changes []Change
		newCAD := false
		lastMain := "" // the last CAD or drawing file stored by this upload
		for _, f := range added {
			var old *File
			if i := slices.IndexFunc(next.Files, func(e File) bool { return slot(e) == slot(f) }); i >= 0 {
				o := next.Files[i]
				old = &o
				removed = append(removed, o)
				next.Files = slices.Delete(next.Files, i, i+1)
			}
			f.Name = uniqueName(next.Files, f.Name)
			next.Files = append(next.Files, f)
			changes = append(changes, Change{Field: "files/" + f.Name, Before: fileSummary(old), After: fileSummary(&f)})
			newCAD = newCAD || f.Kind == FileCAD
			if f.Kind == FileCAD || f.Kind == FileDrawing {
				lastMain = f.Name
			}
		}
		if newCAD {
			// The model was converted from the previous CAD file.
			if i := slices.IndexFunc(next.Files, func(e File) bool { return e.Kind == FileModel }); i >= 0 {
				removed = append(removed, next.Files[i])
				next.Files = slices.Delete(next.Files, i, i+1)
			}
			next.Model = Model{State: ModelNone}
		}
		if edit != nil {
			edit(next, now)
		}
		if lastMain != "" {
			// As in the original, File names the most recently uploaded
			// main file, CAD or drawing: the client previews what was
			// just uploaded. The model keeps following the CAD file.
			next.File = lastMain
		}
		if newCAD && s.uploads.OnCADStored != nil {
			cad, _ := next.FileByKind(FileCAD)
			if err := s.uploads.OnCADStored(ctx, tx, next, cad); err != nil {
				return partEdit{}, fmt.Errorf("queue conversion: %w", err)
			}
		}
		action := "file.uploaded"
		if slices.ContainsFunc(changes, func(c Change) bool { return c.Before != nil }) {
			action = "file.replaced"
		}
		return partEdit{next: next, action: action, extra: changes}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	s.deleteObjects(ctx, "remove replaced file", removed)
	return out, removed, nil
}

// uniqueName returns name, or name with "-2", "-3", ... before its extension
// when another file of the part already has it.
func uniqueName(files []File, name string) string {
	taken := func(n string) bool { return slices.ContainsFunc(files, func(f File) bool { return f.Name == n }) }
	if !taken(name) {
		return name
	}
	stem, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		stem, ext = name[:i], name[i:]
	}
	for i := 2; ; i++ {
		if n := fmt.Sprintf("%s-%d%s", stem, i, ext); !taken(n) {
			return n
		}
	}
}

// defaultMainFile is the main file when File names none the part holds
// (e.g. after the named file was deleted): the CAD file when there is one,
// else the drawing.
func (p *Part) defaultMainFile() (File, bool) {
	if f, ok := p.FileByKind(FileCAD); ok {
		return f, true
	}
	return p.FileByKind(FileDrawing)
}

// MainFile returns the file GET /download and /file serve: the CAD or
// drawing file the part's File field names when the part holds it, else the
// CAD file, else the drawing. The File field alone never selects anything the
// part does not hold.
func (p *Part) MainFile() (File, bool) {
	if p.File != "" {
		if f, ok := p.FileByName(p.File); ok && (f.Kind == FileCAD || f.Kind == FileDrawing) {
			return f, true
		}
	}
	return p.defaultMainFile()
}
