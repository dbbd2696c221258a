package parts

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/partflow/partflow/convert"
)

// Upload settings and content checks: the accepted formats, how a file is
// recognised by its first bytes, and the reader that enforces both.

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
	// extensions are listed by KnownExtensions. "stl" is accepted when
	// listed here, and always when ConvertOptions.Converters convert STL to
	// GLB (an STL file is then viewable). Unknown ones are dropped by
	// NewService (with a log line); check configuration with Validate.
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

// normalizeUploads fills in defaults, drops unknown extensions and adds
// "stl" when convs convert STL to GLB.
func (s *Service) normalizeUploads(o UploadOptions, convs ConverterSource) UploadOptions {
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
	if convs != nil && !slices.Contains(o.Extensions, formatSTL.ext) {
		if _, err := convs.Lookup(convert.FormatSTL, convert.FormatGLB); err == nil {
			o.Extensions = append(o.Extensions, formatSTL.ext)
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
