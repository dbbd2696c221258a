package parts

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Upload defaults.
const (
	// DefaultMaxUploadSize is the default limit of a CAD or drawing upload.
	DefaultMaxUploadSize = 200 << 20
	// DefaultMaxViewSize is the default limit of one preview image.
	DefaultMaxViewSize = 16 << 20
	// DefaultGCGrace is how old an unreferenced object must be before GC
	// removes it.
	DefaultGCGrace = time.Hour
	// MaxSafeNameLen is the longest served file name, in bytes.
	MaxSafeNameLen = 120
)

// DefaultExtensions are the upload extensions accepted by default.
var DefaultExtensions = []string{"step", "stp", "pdf"}

// uploadFormats maps every extension the library knows to the kind of file
// it is and how its content is checked. Extensions outside
// UploadOptions.Extensions are still refused.
var uploadFormats = map[string]format{
	"step": formatSTEP,
	"stp":  formatSTEP,
	"stl":  formatSTL,
	"pdf":  formatPDF,
}

// KnownExtensions lists the extensions UploadOptions.Extensions may name.
func KnownExtensions() []string {
	out := make([]string, 0, len(uploadFormats))
	for e := range uploadFormats {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

// CADStoredFunc is the conversion seam. When set in UploadOptions.OnCADStored
// it runs inside the transaction that records a new CAD file on a part,
// after the part has been updated in memory and before it is written: next
// is the part as it will be stored (next.Model has already been reset to
// ModelNone, since a model of the previous CAD file no longer applies) and
// cad the new file. The function may change next (typically next.Model =
// Model{State: ModelPending, Source: cad.SHA256}) and enqueue work with
// tx.EnqueueJob; both commit together with the upload. An error rolls the
// upload back (the new object is deleted) and is returned to the uploader.
type CADStoredFunc func(ctx context.Context, tx Tx, next *Part, cad File) error

// UploadOptions configure file uploads and file garbage collection. Zero
// fields get the defaults.
type UploadOptions struct {
	// MaxSize is the largest CAD or drawing upload in bytes. Default
	// DefaultMaxUploadSize (200 MiB).
	MaxSize int64
	// MaxViewSize is the largest preview image in bytes. Default
	// DefaultMaxViewSize (16 MiB).
	MaxViewSize int64
	// Extensions are the accepted upload extensions, without the dot,
	// case-insensitive. Default DefaultExtensions (step, stp, pdf). Known
	// extensions are listed by KnownExtensions; "stl" is accepted only when
	// listed here. Unknown ones are dropped by NewService (with a log line);
	// check configuration with Validate.
	Extensions []string
	// GCGrace is how old an object must be before GC may remove it when no
	// part references it, so that an upload in flight (stored, not yet
	// recorded) is never collected. Default DefaultGCGrace (1 hour).
	GCGrace time.Duration
	// OnCADStored, when set, is called in the transaction that records a new
	// CAD file: the hook for queueing a conversion. See CADStoredFunc.
	OnCADStored CADStoredFunc
}

// Validate reports settings NewService would correct or drop: negative
// limits and unknown extensions.
func (o UploadOptions) Validate() error {
	var errs []error
	if o.MaxSize < 0 {
		errs = append(errs, invalid("maxUploadSize", "the upload size limit must not be negative"))
	}
	if o.MaxViewSize < 0 {
		errs = append(errs, invalid("maxViewSize", "the preview size limit must not be negative"))
	}
	if o.GCGrace < 0 {
		errs = append(errs, invalid("gcGrace", "the GC grace period must not be negative"))
	}
	for _, e := range o.Extensions {
		if _, ok := uploadFormats[normExt(e)]; !ok {
			errs = append(errs, invalid("extensions", "unknown upload extension %q (known: %s)", e, strings.Join(KnownExtensions(), ", ")))
		}
	}
	return errors.Join(errs...)
}

func normExt(e string) string { return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(e), ".")) }

// normalizeUploads fills in defaults and drops unknown extensions.
func (s *Service) normalizeUploads(o UploadOptions) UploadOptions {
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxUploadSize
	}
	if o.MaxViewSize <= 0 {
		o.MaxViewSize = DefaultMaxViewSize
	}
	if o.GCGrace <= 0 {
		o.GCGrace = DefaultGCGrace
	}
	exts := o.Extensions
	if len(exts) == 0 {
		exts = DefaultExtensions
	}
	o.Extensions = nil
	for _, e := range exts {
		e = normExt(e)
		if _, ok := uploadFormats[e]; !ok {
			s.log.Warn("ignoring unknown upload extension", "extension", e)
			continue
		}
		if !slices.Contains(o.Extensions, e) {
			o.Extensions = append(o.Extensions, e)
		}
	}
	return o
}

// Uploads returns the service's effective upload settings.
func (s *Service) Uploads() UploadOptions {
	o := s.uploads
	o.Extensions = slices.Clone(o.Extensions)
	return o
}

// ErrFileNotFound is returned (wrapped) when a part exists but holds no file
// of the requested name, kind or view. It matches ErrNotFound.
var ErrFileNotFound = fmt.Errorf("file %w", ErrNotFound)

// errNoFileStore reports a Service built without Options.Files.
var errNoFileStore = errors.New("parts: no file store configured (Options.Files)")

// format is a file format the library stores, with its content check.
type format struct {
	name        string
	kind        FileKind
	ext         string
	contentType string
	// head checks the first bytes (up to sniffLen, or the whole file when it
	// is shorter); final, when set, decides at the end, given the size.
	head  func(head []byte) bool
	final func(head []byte, size int64) bool
	// hint explains the expected content, for error messages.
	hint string
}

var (
	formatSTEP = format{name: "STEP", kind: FileCAD, ext: "step", contentType: "application/step",
		head: isSTEP, hint: "a STEP file starts with ISO-10303-21;"}
	formatSTL = format{name: "STL", kind: FileCAD, ext: "stl", contentType: "model/stl",
		final: isSTL, hint: "an STL file is either binary (84 + 50 × triangles bytes) or ASCII (solid … facet …)"}
	formatPDF = format{name: "PDF", kind: FileDrawing, ext: "pdf", contentType: "application/pdf",
		head: isPDF, hint: "a PDF file starts with %PDF-"}
	formatPNG = format{name: "PNG", kind: FileView, ext: "png", contentType: "image/png",
		head: isPNG, hint: "a PNG image starts with the PNG signature"}
	formatGLB = format{name: "GLB", kind: FileModel, ext: "glb", contentType: "model/gltf-binary",
		head: isGLB, hint: "a binary glTF file starts with glTF"}
)

// ContentTypeOf returns the media type files with extension ext (without the
// dot) are served as: application/step, model/stl, application/pdf,
// image/png, model/gltf-binary, or application/octet-stream.
func ContentTypeOf(ext string) string {
	ext = normExt(ext)
	if f, ok := uploadFormats[ext]; ok {
		return f.contentType
	}
	for _, f := range []format{formatPNG, formatGLB} {
		if f.ext == ext {
			return f.contentType
		}
	}
	return "application/octet-stream"
}

// sniffLen is how many leading bytes content checks look at.
const sniffLen = 4096

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func isSTEP(head []byte) bool {
	b := bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n\f\v")
	return bytes.HasPrefix(b, []byte("ISO-10303-21;"))
}

func isPDF(head []byte) bool { return bytes.HasPrefix(head, []byte("%PDF-")) }

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

func isPNG(head []byte) bool { return bytes.HasPrefix(head, pngSignature) }

func isGLB(head []byte) bool { return bytes.HasPrefix(head, []byte("glTF")) }

// isSTL accepts a binary STL whose size is exactly 84 + 50 × the triangle
// count in its header (whatever the 80-byte header says, even "solid"), or
// an ASCII STL: "solid" followed by a "facet" within the first bytes.
func isSTL(head []byte, size int64) bool {
	if size >= 84 && len(head) >= 84 {
		n := int64(binary.LittleEndian.Uint32(head[80:84]))
		if size == 84+50*n {
			return true
		}
	}
	b := bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
	if !bytes.HasPrefix(bytes.ToLower(b[:min(len(b), 5)]), []byte("solid")) {
		return false
	}
	return bytes.Contains(bytes.ToLower(b), []byte("facet"))
}

// checkedReader enforces the size limit while streaming and checks the
// content; its error is the precise reason an upload failed.
type checkedReader struct {
	r     io.Reader
	limit int64
	f     format
	name  string
	n     int64
	head  []byte
	// headDone: the head check has run; done: EOF was reached and accepted.
	headDone, done bool
	err            error
}

func newCheckedReader(r io.Reader, limit int64, f format, name string) *checkedReader {
	return &checkedReader{r: r, limit: limit, f: f, name: name, head: make([]byte, 0, sniffLen)}
}

func (c *checkedReader) fail(err error) (int, error) {
	c.err = err
	return 0, err
}

func (c *checkedReader) mismatch() error {
	return &FileTypeError{Reason: fmt.Sprintf("%s is not a %s file (%s)", c.name, c.f.name, c.f.hint)}
}

func (c *checkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.done {
		return 0, io.EOF
	}
	k, err := c.r.Read(p)
	c.n += int64(k)
	if c.n > c.limit {
		return c.fail(&TooLargeError{Limit: c.limit, Reason: fmt.Sprintf("%s is larger than the limit of %s", c.name, humanSize(c.limit))})
	}
	if len(c.head) < sniffLen {
		c.head = append(c.head, p[:min(k, sniffLen-len(c.head))]...)
	}
	if !c.headDone && (len(c.head) == sniffLen || (err == io.EOF && c.n > 0)) {
		c.headDone = true
		if c.f.head != nil && !c.f.head(c.head) {
			return c.fail(c.mismatch())
		}
	}
	switch {
	case err == io.EOF:
		if c.n == 0 {
			return c.fail(&ValidationError{Field: "file", Reason: fmt.Sprintf("%s is empty", c.name)})
		}
		if c.f.final != nil && !c.f.final(c.head, c.n) {
			return c.fail(c.mismatch())
		}
		c.done = true
		return k, io.EOF
	case err != nil:
		c.err = err
		return k, err
	}
	return k, nil
}

func humanSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

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
	f, err := s.uploadFormat(u.Name, u.Kind)
	if err != nil {
		return nil, err
	}
	staged, err := s.stage(ctx, id, u.Name, f, s.uploads.MaxSize, 0)
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
func (s *Service) uploadFormat(name string, kind FileKind) (format, error) {
	base := BaseName(name)
	if base == "" || strings.Trim(base, ". ") == "" {
		return format{}, invalid("file", "No file name given")
	}
	ext := extOf(base)
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

// extOf returns the lower-case extension of a client file name, without the dot.
func extOf(name string) string {
	base := BaseName(name)
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		return normExt(base[i+1:])
	}
	return ""
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

func (s *Service) stage(ctx context.Context, id int64, clientName string, f format, limit int64, view int) (*staged, error) {
	var safe string
	if f.kind == FileView {
		safe = fmt.Sprintf("view_%d.png", view)
	} else {
		ext := extOf(clientName)
		if g, ok := uploadFormats[ext]; ext != f.ext && (!ok || g.name != f.name) {
			ext = f.ext
		}
		safe = SafeName(clientName, ext) // keeps .stp as .stp
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
	var out *Part
	var removed []File
	err := s.retryTx(ctx, ifVersion, func(ctx context.Context, tx Tx) error {
		cur, err := tx.FindPartByID(ctx, id)
		if err != nil {
			return err
		}
		if ifVersion != 0 && cur.Version != ifVersion {
			return &StaleError{Expected: ifVersion, Actual: cur.Version}
		}
		now := s.clock()
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
				return fmt.Errorf("queue conversion: %w", err)
			}
		}
		next.normalize()
		if err := s.flow.Validate(next); err != nil {
			return err
		}
		action := "file.uploaded"
		if slices.ContainsFunc(changes, func(c Change) bool { return c.Before != nil }) {
			action = "file.replaced"
		}
		out = next
		return writeNext(ctx, tx, cur, next, now, action, actor, changes...)
	})
	if err != nil {
		return nil, nil, err
	}
	s.deleteObjects(ctx, "remove replaced file", removed)
	return out.Clone(), removed, nil
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
		st, err := s.stage(ctx, id, v.Name, formatPNG, s.uploads.MaxViewSize, v.Index)
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

// DrawingFetcher fetches a part's drawing PDF from where the part is
// designed (Onshape, by p.OnshapeURL). It returns the file name to record
// and the body, which the Service reads through the upload checks and
// closes. Implementations live outside the library (httpapi has one).
type DrawingFetcher func(ctx context.Context, p *Part) (name string, body io.ReadCloser, err error)

// Drawing returns the drawing PDF of a hand part, fetching it with fetch and
// caching it as the part's drawing file when the part holds none or refresh
// is set. A part that is not a hand part gives a *ValidationError (field
// type); a part without onshapeUrl gives ErrNotFound. A fetched file goes
// through UploadFile's checks (a non-PDF answer is ErrUnsupportedType).
func (s *Service) Drawing(ctx context.Context, id int64, refresh bool, fetch DrawingFetcher, actor string) (io.ReadSeekCloser, File, error) {
	p, err := s.FindPartByID(ctx, id)
	if err != nil {
		return nil, File{}, err
	}
	if p.Type != TypeHand {
		return nil, File{}, invalid("type", "Drawings are only available for hand parts")
	}
	if p.OnshapeURL == "" {
		return nil, File{}, fmt.Errorf("part %d has no onshapeUrl to fetch a drawing from: %w", id, ErrFileNotFound)
	}
	if !refresh {
		rc, f, err := s.OpenFileOfKind(ctx, id, FileDrawing)
		if !errors.Is(err, ErrNotFound) {
			return rc, f, err
		}
	}
	name, body, err := fetch(ctx, p)
	if err != nil {
		return nil, File{}, fmt.Errorf("fetch drawing of part %d: %w", id, err)
	}
	defer body.Close()
	if name = BaseName(name); name == "" {
		name = "drawing.pdf"
	}
	if extOf(name) != formatPDF.ext {
		name += ".pdf"
	}
	if _, err := s.UploadFile(ctx, id, Upload{Name: name, Kind: FileDrawing, Body: body, Actor: actor}); err != nil {
		return nil, File{}, err
	}
	return s.OpenFileOfKind(ctx, id, FileDrawing)
}

// SafeName derives the served file name from a client's file name: only
// the last path element (/ and \ both separate), letters with diacritics
// transliterated to ASCII (é -> e, ß -> ss) and every other character
// outside [A-Za-z0-9._-] replaced by "_", no leading dots or dashes, at most
// MaxSafeNameLen bytes, ending in "." + ext (ext lower case, without the
// dot). A name with nothing usable becomes "file." + ext.
func SafeName(name, ext string) string {
	base := BaseName(name)
	if i := strings.LastIndexByte(base, '.'); i >= 0 && normExt(base[i+1:]) == ext {
		base = base[:i]
	}
	var b strings.Builder
	for _, r := range base {
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'):
			b.WriteRune(r)
		default:
			if t, ok := translit[r]; ok {
				b.WriteString(t)
			} else {
				b.WriteByte('_')
			}
		}
	}
	stem := b.String()
	for strings.Contains(stem, "__") {
		stem = strings.ReplaceAll(stem, "__", "_")
	}
	for strings.Contains(stem, "..") {
		stem = strings.ReplaceAll(stem, "..", ".")
	}
	stem = strings.TrimLeft(stem, "._-")
	stem = strings.TrimRight(stem, "._")
	if max := MaxSafeNameLen - len(ext) - 1; len(stem) > max {
		stem = strings.TrimRight(stem[:max], "._")
	}
	if stem == "" {
		stem = "file"
	}
	return stem + "." + ext
}

// originalName is the client's name as kept for Content-Disposition: the
// last path element, valid UTF-8, no control characters, at most
// MaxFileNameLen characters; the safe name when nothing is left.
func originalName(name, safe string) string {
	base := strings.ToValidUTF8(BaseName(name), "\uFFFD")
	base = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, base)
	if utf8.RuneCountInString(base) > MaxFileNameLen {
		base = string([]rune(base)[:MaxFileNameLen])
	}
	if strings.TrimSpace(base) == "" {
		return safe
	}
	return base
}

// translit maps common Latin letters with diacritics, and a few others, to ASCII.
var translit = func() map[rune]string {
	m := map[rune]string{}
	add := func(to string, from string) {
		for _, r := range from {
			m[r] = to
		}
	}
	add("a", "àáâãäåāăą")
	add("A", "ÀÁÂÃÄÅĀĂĄ")
	add("c", "çćĉċč")
	add("C", "ÇĆĈĊČ")
	add("d", "ďđð")
	add("D", "ĎĐÐ")
	add("e", "èéêëēĕėęě")
	add("E", "ÈÉÊËĒĔĖĘĚ")
	add("g", "ĝğġģ")
	add("G", "ĜĞĠĢ")
	add("i", "ìíîïĩīĭįı")
	add("I", "ÌÍÎÏĨĪĬĮİ")
	add("l", "ĺļľŀł")
	add("L", "ĹĻĽĿŁ")
	add("n", "ñńņňŉ")
	add("N", "ÑŃŅŇ")
	add("o", "òóôõöøōŏő")
	add("O", "ÒÓÔÕÖØŌŎŐ")
	add("r", "ŕŗř")
	add("R", "ŔŖŘ")
	add("s", "śŝşš")
	add("S", "ŚŜŞŠ")
	add("t", "ţťŧ")
	add("T", "ŢŤŦ")
	add("u", "ùúûüũūŭůűų")
	add("U", "ÙÚÛÜŨŪŬŮŰŲ")
	add("y", "ýÿŷ")
	add("Y", "ÝŸŶ")
	add("z", "źżž")
	add("Z", "ŹŻŽ")
	add("ss", "ß")
	add("ae", "æ")
	add("AE", "Æ")
	add("oe", "œ")
	add("OE", "Œ")
	add("th", "þ")
	add("TH", "Þ")
	add("_", " \t")
	return m
}()
