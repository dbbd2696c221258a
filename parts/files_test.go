package parts_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/internal/fixtures"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/blobfiles"
	"github.com/partflow/partflow/storage/bunstore"
)

// fileEnv is a Service over an in-memory SQLite store and a mem:// file store.
type fileEnv struct {
	svc   *parts.Service
	store parts.Store
	files parts.FileStore
	// offset shifts the service clock (for GC grace periods).
	offset atomic.Int64
}

func newFileEnv(t *testing.T, configure func(o *parts.Options)) *fileEnv {
	t.Helper()
	store, err := bunstore.Open(t.Context(), "sqlite://:memory:", nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	files, err := blobfiles.Open(t.Context(), "mem://", &blobfiles.Options{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open files: %v", err)
	}
	t.Cleanup(func() { files.Close() })
	e := &fileEnv{store: store, files: files}
	o := &parts.Options{
		Files: files,
		Now:   func() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) },
	}
	if configure != nil {
		configure(o)
	}
	if o.Convert.WorkDir == "" {
		// A private work directory: GC on a shifted clock would otherwise
		// remove other processes' job directories from the shared temp dir.
		o.Convert.WorkDir = t.TempDir()
	}
	e.files = o.Files
	e.svc = parts.NewService(store, o)
	return e
}

func (e *fileEnv) newPart(t *testing.T, typ parts.Type) *parts.Part {
	t.Helper()
	p, err := e.svc.CreatePart(t.Context(), &parts.Part{PartID: "P-1", Name: "Bracket", Type: typ, Material: "6061", Subsystem: "Drive"}, "test")
	if err != nil {
		t.Fatalf("create part: %v", err)
	}
	return p
}

func (e *fileEnv) keys(t *testing.T) []string {
	t.Helper()
	objs, err := e.files.List(context.Background(), "")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

func (e *fileEnv) upload(t *testing.T, id int64, name string, body []byte) *parts.UploadResult {
	t.Helper()
	res, err := e.svc.UploadFile(t.Context(), id, parts.Upload{Name: name, Body: bytes.NewReader(body), Actor: "test"})
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	return res
}

func (e *fileEnv) read(t *testing.T, open func() (io.ReadSeekCloser, parts.File, error)) ([]byte, parts.File) {
	t.Helper()
	rc, f, err := open()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b, f
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

var (
	stepBody = []byte("ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n")
	pdfBody  = []byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
)

// pngBody is a small valid PNG of one colour.
func pngBody(t *testing.T, c uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	for i := range img.Pix {
		img.Pix[i] = c
	}
	img.Set(0, 0, color.RGBA{R: c, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestUploadFileRoundTripsEveryCADFile uploads the project's fixtures and,
// when it is beside the repository, every file of the shared CAD corpus.
func TestUploadFileRoundTripsEveryCADFile(t *testing.T) {
	t.Run("fixtures", func(t *testing.T) {
		var files []string
		for _, n := range fixtures.Names() {
			if ext := filepath.Ext(n); ext == ".step" || ext == ".stl" {
				files = append(files, filepath.Join(fixtures.Dir(), n))
			}
		}
		testRoundTrip(t, files, 4)
	})
	t.Run("corpus", func(t *testing.T) {
		dir := fixtures.Corpus(t)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var files []string
		for _, ent := range entries {
			if ext := filepath.Ext(ent.Name()); ext == ".step" || ext == ".stl" {
				files = append(files, filepath.Join(dir, ent.Name()))
			}
		}
		testRoundTrip(t, files, 10)
	})
}

func testRoundTrip(t *testing.T, paths []string, atLeast int) {
	e := newFileEnv(t, func(o *parts.Options) { o.Uploads.Extensions = []string{"step", "stp", "stl", "pdf"} })
	if len(paths) < atLeast {
		t.Fatalf("only %d CAD test files found, want at least %d", len(paths), atLeast)
	}
	for _, path := range paths {
		name := filepath.Base(path)
		ext := filepath.Ext(name)
		t.Run(name, func(t *testing.T) {
			p := e.newPart(t, parts.TypeCNC)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			res := e.upload(t, p.ID, name, data)
			f := res.File
			wantType := map[string]string{".step": "application/step", ".stl": "model/stl"}[ext]
			if f.Name != name || f.OriginalName != name || f.Kind != parts.FileCAD || f.Size != int64(len(data)) ||
				f.SHA256 != sha(data) || f.ContentType != wantType {
				t.Errorf("file = %+v, want %s, cad, %d bytes, sha %s, %s", f, name, len(data), sha(data), wantType)
			}
			if res.Part.File != name || res.Part.Version != p.Version+1 || res.Replaced != nil {
				t.Errorf("part file %q version %d replaced %v; want %q, %d, nil", res.Part.File, res.Part.Version, res.Replaced, name, p.Version+1)
			}
			got, gf := e.read(t, func() (io.ReadSeekCloser, parts.File, error) { return e.svc.OpenMainFile(t.Context(), p.ID) })
			if !bytes.Equal(got, data) || gf.Name != name {
				t.Errorf("main file: %d bytes named %q, want the %d uploaded bytes", len(got), gf.Name, len(data))
			}
			stored, err := e.svc.FindPartByID(t.Context(), p.ID)
			if err != nil || len(stored.Files) != 1 || stored.Files[0] != f {
				t.Errorf("stored files = %+v, %v; want [%+v]", stored.Files, err, f)
			}
		})
	}
}

type infiniteReader struct{ n atomic.Int64 }

func (r *infiniteReader) Read(p []byte) (int, error) {
	copy(p, "ISO-10303-21;")
	r.n.Add(int64(len(p)))
	return len(p), nil
}

func TestUploadChecks(t *testing.T) {
	stl := fixtures.Bytes
	binarySTL := stl(fixtures.BoxSTLFile)
	tests := []struct {
		name    string
		exts    []string
		file    string
		kind    parts.FileKind
		body    []byte
		wantErr error // nil: accepted
	}{
		{"step accepted", nil, "a.step", "", stepBody, nil},
		{"upper-case stp accepted", nil, "A.STP", "", stepBody, nil},
		{"step after BOM and blank lines accepted", nil, "a.step", "", append([]byte("\xEF\xBB\xBF\r\n  \n"), stepBody...), nil},
		{"pdf accepted", nil, "a.pdf", "", pdfBody, nil},
		{"pdf declared as drawing accepted", nil, "a.pdf", parts.FileDrawing, pdfBody, nil},
		{"pdf content in a step file is unsupported", nil, "a.step", "", pdfBody, parts.ErrUnsupportedType},
		{"step content in a pdf file is unsupported", nil, "a.pdf", "", stepBody, parts.ErrUnsupportedType},
		{"html in a step file is unsupported", nil, "a.step", "", []byte("<html>ISO-10303-21;</html>"), parts.ErrUnsupportedType},
		{"exe is unsupported", nil, "a.exe", "", stepBody, parts.ErrUnsupportedType},
		{"no extension is unsupported", nil, "step", "", stepBody, parts.ErrUnsupportedType},
		{"stl is unsupported by default", nil, "a.stl", "", binarySTL, parts.ErrUnsupportedType},
		{"binary stl accepted when configured", []string{"stl"}, "a.stl", "", binarySTL, nil},
		{"binary stl with a solid header accepted", []string{"stl"}, "a.stl", "", stl(fixtures.CubeSolidHeaderSTLFile), nil},
		{"ascii stl accepted", []string{"stl"}, "a.stl", "", stl(fixtures.TwoCubesSTLFile), nil},
		{"truncated binary stl is unsupported", []string{"stl"}, "a.stl", "", binarySTL[:len(binarySTL)-10], parts.ErrUnsupportedType},
		{"random bytes as stl are unsupported", []string{"stl"}, "a.stl", "", bytes.Repeat([]byte{7}, 500), parts.ErrUnsupportedType},
		{"step declared as drawing is unsupported", nil, "a.step", parts.FileDrawing, stepBody, parts.ErrUnsupportedType},
		{"pdf declared as cad is unsupported", nil, "a.pdf", parts.FileCAD, pdfBody, parts.ErrUnsupportedType},
		{"view kind is invalid here", nil, "a.png", parts.FileView, pngBody(t, 1), parts.ErrInvalid},
		{"empty name is invalid", nil, "", "", stepBody, parts.ErrInvalid},
		{"directory-only name is invalid", nil, "dir/", "", stepBody, parts.ErrInvalid},
		{"empty file is invalid", nil, "a.step", "", nil, parts.ErrInvalid},
		{"glb model accepted when declared", nil, "m.glb", parts.FileModel, []byte("glTF\x02\x00\x00\x00"), nil},
		{"non-glb model is unsupported", nil, "m.step", parts.FileModel, stepBody, parts.ErrUnsupportedType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newFileEnv(t, func(o *parts.Options) {
				if tc.exts != nil {
					o.Uploads.Extensions = tc.exts
				}
			})
			p := e.newPart(t, parts.TypeCNC)
			_, err := e.svc.UploadFile(t.Context(), p.ID, parts.Upload{Name: tc.file, Kind: tc.kind, Body: bytes.NewReader(tc.body)})
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("upload: %v", err)
				}
				if got := e.keys(t); len(got) != 1 {
					t.Errorf("stored objects = %q, want one", got)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("upload = %v, want %v", err, tc.wantErr)
			}
			if got := e.keys(t); len(got) != 0 {
				t.Errorf("stored objects after a refused upload = %q, want none", got)
			}
			after, _ := e.svc.FindPartByID(t.Context(), p.ID)
			if after.Version != p.Version || len(after.Files) != 0 || after.File != "" {
				t.Errorf("part changed by a refused upload: version %d files %v file %q", after.Version, after.Files, after.File)
			}
		})
	}
}

func TestUploadErrorMessagesAreClear(t *testing.T) {
	e := newFileEnv(t, nil)
	p := e.newPart(t, parts.TypeCNC)
	for _, tc := range []struct {
		file string
		body []byte
		want string
	}{
		{"bracket.step", pdfBody, "bracket.step is not a STEP file (a STEP file starts with ISO-10303-21;)"},
		{"x.docx", stepBody, "files with .docx are not accepted (allowed: .step, .stp, .pdf)"},
	} {
		_, err := e.svc.UploadFile(t.Context(), p.ID, parts.Upload{Name: tc.file, Body: bytes.NewReader(tc.body)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("upload %s = %v, want a message containing %q", tc.file, err, tc.want)
		}
	}
}

func TestUploadTooLargeStopsWhileStreaming(t *testing.T) {
	e := newFileEnv(t, func(o *parts.Options) { o.Uploads.MaxSize = 64 << 10 })
	p := e.newPart(t, parts.TypeCNC)
	r := &infiniteReader{}
	_, err := e.svc.UploadFile(t.Context(), p.ID, parts.Upload{Name: "big.step", Body: r})
	if !errors.Is(err, parts.ErrTooLarge) {
		t.Fatalf("upload = %v, want ErrTooLarge", err)
	}
	if !strings.Contains(err.Error(), "larger than the limit of 65536 bytes") {
		t.Errorf("message %q does not name the limit", err)
	}
	if n := r.n.Load(); n > 64<<10+1<<20 {
		t.Errorf("read %d bytes of an endless body, want the reading to stop just past the 64 KiB limit", n)
	}
	if got := e.keys(t); len(got) != 0 {
		t.Errorf("stored objects = %q, want none", got)
	}
}

func TestUploadAtTheLimitIsAccepted(t *testing.T) {
	e := newFileEnv(t, func(o *parts.Options) { o.Uploads.MaxSize = int64(len(stepBody)) })
	p := e.newPart(t, parts.TypeCNC)
	e.upload(t, p.ID, "exact.step", stepBody)
	_, err := e.svc.UploadFile(t.Context(), p.ID, parts.Upload{Name: "over.step", Body: bytes.NewReader(append(stepBody, ' '))})
	if !errors.Is(err, parts.ErrTooLarge) {
		t.Fatalf("one byte over: %v, want ErrTooLarge", err)
	}
}

// TestDrawingKeepsCADAndReplacingSwapsAtomically: File names the most
// recently uploaded main file (the original's rule), the CAD file stays.
func TestDrawingKeepsCADAndReplacingSwapsAtomically(t *testing.T) {
	e := newFileEnv(t, nil)
	p := e.newPart(t, parts.TypeCNC)
	step1 := e.upload(t, p.ID, "bracket.step", stepBody)
	pdf := e.upload(t, p.ID, "bracket.pdf", pdfBody)
	if pdf.Part.File != "bracket.pdf" {
		t.Errorf("after the PDF the main file is %q, want the PDF just uploaded", pdf.Part.File)
	}
	if cad, ok := pdf.Part.FileByKind(parts.FileCAD); !ok || cad.Name != "bracket.step" {
		t.Errorf("after the PDF the CAD file is %+v, want the STEP kept", cad)
	}
	_, main := e.read(t, func() (io.ReadSeekCloser, parts.File, error) { return e.svc.OpenMainFile(t.Context(), p.ID) })
	if main.Name != "bracket.pdf" {
		t.Errorf("OpenMainFile after the PDF = %q, want the PDF", main.Name)
	}
	if len(pdf.Part.Files) != 2 || pdf.Replaced != nil {
		t.Fatalf("after the PDF: files %+v replaced %v; want STEP and PDF", pdf.Part.Files, pdf.Replaced)
	}
	step2body := append(slices.Clone(stepBody), []byte("/* v2 */\n")...)
	step2 := e.upload(t, p.ID, "bracket v2.stp", step2body)
	if step2.Replaced == nil || step2.Replaced.Key != step1.File.Key {
		t.Fatalf("replaced = %+v, want the first STEP", step2.Replaced)
	}
	if step2.Part.File != "bracket_v2.stp" || step2.File.OriginalName != "bracket v2.stp" {
		t.Errorf("main file %q original %q, want bracket_v2.stp / bracket v2.stp", step2.Part.File, step2.File.OriginalName)
	}
	want := []string{pdf.File.Key, step2.File.Key}
	slices.Sort(want)
	if got := e.keys(t); !slices.Equal(got, want) {
		t.Errorf("stored objects = %q, want only the PDF and the new STEP %q", got, want)
	}
	if _, _, err := e.svc.OpenFile(t.Context(), p.ID, "bracket.step"); !errors.Is(err, parts.ErrFileNotFound) {
		t.Errorf("open the replaced name: %v, want ErrFileNotFound", err)
	}
	got, _ := e.read(t, func() (io.ReadSeekCloser, parts.File, error) { return e.svc.OpenFile(t.Context(), p.ID, "bracket.pdf") })
	if !bytes.Equal(got, pdfBody) {
		t.Errorf("PDF bytes changed")
	}
}

var errCutOff = errors.New("unexpected EOF: client went away")

func TestFailedReplacementKeepsPreviousFile(t *testing.T) {
	big := fixtures.LargeSTEP(200 << 10)
	for _, tc := range []struct {
		name    string
		upload  func(e *fileEnv, p *parts.Part) error
		wantErr error
	}{
		{"cut-off body", func(e *fileEnv, p *parts.Part) error {
			_, err := e.svc.UploadFile(t.Context(), p.ID, parts.Upload{Name: "new.step", Body: io.MultiReader(bytes.NewReader(big[:100000]), iotest.ErrReader(errCutOff))})
			return err
		}, errCutOff},
		{"wrong content", func(e *fileEnv, p *parts.Part) error {
			_, err := e.svc.UploadFile(t.Context(), p.ID, parts.Upload{Name: "new.step", Body: bytes.NewReader(pdfBody)})
			return err
		}, parts.ErrUnsupportedType},
		{"stale version", func(e *fileEnv, p *parts.Part) error {
			_, err := e.svc.UploadFile(t.Context(), p.ID, parts.Upload{Name: "new.step", Body: bytes.NewReader(big), IfVersion: p.Version - 1})
			return err
		}, parts.ErrConflict},
		{"cancelled context", func(e *fileEnv, p *parts.Part) error {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := e.svc.UploadFile(ctx, p.ID, parts.Upload{Name: "new.step", Body: bytes.NewReader(big)})
			return err
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFileEnv(t, nil)
			p := e.newPart(t, parts.TypeCNC)
			first := e.upload(t, p.ID, "old.step", stepBody)
			err := tc.upload(e, first.Part)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("upload = %v, want %v", err, tc.wantErr)
			}
			after, _ := e.svc.FindPartByID(t.Context(), p.ID)
			if after.Version != first.Part.Version || after.File != "old.step" || len(after.Files) != 1 || after.Files[0] != first.File {
				t.Errorf("part changed: version %d file %q files %+v", after.Version, after.File, after.Files)
			}
			if got := e.keys(t); !slices.Equal(got, []string{first.File.Key}) {
				t.Errorf("stored objects = %q, want only the previous file", got)
			}
			got, _ := e.read(t, func() (io.ReadSeekCloser, parts.File, error) { return e.svc.OpenMainFile(t.Context(), p.ID) })
			if !bytes.Equal(got, stepBody) {
				t.Errorf("previous file's bytes changed")
			}
		})
	}
}

func TestUploadToMissingPartIsNotFoundAndReadsNothing(t *testing.T) {
	e := newFileEnv(t, nil)
	r := &infiniteReader{}
	_, err := e.svc.UploadFile(t.Context(), 4242, parts.Upload{Name: "a.step", Body: r})
	if !errors.Is(err, parts.ErrNotFound) {
		t.Fatalf("upload = %v, want ErrNotFound", err)
	}
	if r.n.Load() != 0 {
		t.Errorf("read %d bytes of the body for a missing part", r.n.Load())
	}
}

func TestUploadRacesBothCommitAndLeaveOneObject(t *testing.T) {
	e := newFileEnv(t, nil)
	p := e.newPart(t, parts.TypeCNC)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			body := append(slices.Clone(stepBody), fmt.Sprintf("/* %d */", i)...)
			_, errs[i] = e.svc.UploadFile(t.Context(), p.ID, parts.Upload{Name: "a.step", Body: bytes.NewReader(body)})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("upload: %v", err)
		}
	}
	after, _ := e.svc.FindPartByID(t.Context(), p.ID)
	if after.Version != p.Version+4 || len(after.Files) != 1 {
		t.Fatalf("version %d files %+v; want 4 recorded uploads and one file", after.Version, after.Files)
	}
	if got := e.keys(t); !slices.Equal(got, []string{after.Files[0].Key}) {
		t.Errorf("stored objects = %q, want only the winner %q", got, after.Files[0].Key)
	}
}

func TestKeysAndNamesNeverComeFromClientPaths(t *testing.T) {
	e := newFileEnv(t, nil)
	p := e.newPart(t, parts.TypeCNC)
	for _, tc := range []struct{ client, want string }{
		{"../../etc/passwd.step", "passwd.step"},
		{`..\..\x.step`, "x.step"},
		{"/etc/shadow.stp", "shadow.stp"},
		{"C:\\Windows\\win.step", "win.step"},
		{"a\x00b.step", "a_b.step"},
		{"....step", "file.step"},
		{".hidden.step", "hidden.step"},
		{"Zeichnungsträger Größe 2.step", "Zeichnungstrager_Grosse_2.step"},
		{"部品.step", "file.step"},
		{strings.Repeat("x", 5000) + ".step", strings.Repeat("x", parts.MaxSafeNameLen-5) + ".step"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			res := e.upload(t, p.ID, tc.client, stepBody)
			if res.File.Name != tc.want {
				t.Errorf("served name = %q, want %q", res.File.Name, tc.want)
			}
			prefix := fmt.Sprintf("parts/%d/cad/", p.ID)
			rest, ok := strings.CutPrefix(res.File.Key, prefix)
			if !ok || strings.ContainsAny(rest, `/\`) || strings.Contains(rest, "..") || !strings.HasSuffix(rest, "-"+tc.want) {
				t.Errorf("key = %q, want %s<random>-%s", res.File.Key, prefix, tc.want)
			}
			if strings.ContainsAny(res.File.OriginalName, "/\\\x00") {
				t.Errorf("original name %q keeps a separator or NUL", res.File.OriginalName)
			}
		})
	}
}

func TestSafeName(t *testing.T) {
	for _, tc := range []struct{ in, ext, want string }{
		{"bracket.step", "step", "bracket.step"},
		{"Bracket.STEP", "step", "Bracket.step"},
		{"résumé.pdf", "pdf", "resume.pdf"},
		{"Straße.pdf", "pdf", "Strasse.pdf"},
		{"a b\tc.pdf", "pdf", "a_b_c.pdf"},
		{"a/b/c.pdf", "pdf", "c.pdf"},
		{"..", "pdf", "file.pdf"},
		{"", "pdf", "file.pdf"},
		{"-rf.pdf", "pdf", "rf.pdf"},
		{"x.tar.gz", "pdf", "x.tar.gz.pdf"},
		{"план.step", "step", "file.step"},
		{"a\x01\x7fb.step", "step", "a_b.step"},
	} {
		if got := parts.SafeName(tc.in, tc.ext); got != tc.want {
			t.Errorf("SafeName(%q, %q) = %q, want %q", tc.in, tc.ext, got, tc.want)
		}
	}
}

func TestOnlyHeldFilesAreServed(t *testing.T) {
	e := newFileEnv(t, nil)
	p := e.newPart(t, parts.TypeCNC)
	for _, name := range []string{"/etc/passwd", "../../etc/passwd", "passwd"} {
		if _, err := e.svc.UpdatePart(t.Context(), p.ID, parts.Update{File: &name}); err != nil {
			t.Fatalf("update file=%q: %v", name, err)
		}
		after, _ := e.svc.FindPartByID(t.Context(), p.ID)
		if after.File != "passwd" {
			t.Errorf("file field = %q, want the name only", after.File)
		}
		if _, _, err := e.svc.OpenMainFile(t.Context(), p.ID); !errors.Is(err, parts.ErrFileNotFound) {
			t.Errorf("main file with file=%q: %v, want ErrFileNotFound", name, err)
		}
		for _, n := range []string{name, "passwd"} {
			if _, _, err := e.svc.OpenFile(t.Context(), p.ID, n); !errors.Is(err, parts.ErrFileNotFound) {
				t.Errorf("OpenFile(%q): %v, want ErrFileNotFound", n, err)
			}
		}
	}
	e.upload(t, p.ID, "real.step", stepBody)
	other := "other.step"
	if _, err := e.svc.UpdatePart(t.Context(), p.ID, parts.Update{File: &other}); err != nil {
		t.Fatal(err)
	}
	_, f := e.read(t, func() (io.ReadSeekCloser, parts.File, error) { return e.svc.OpenMainFile(t.Context(), p.ID) })
	if f.Name != "real.step" {
		t.Errorf("main file with file=%q = %q, want the held CAD file", other, f.Name)
	}
	if _, _, err := e.svc.OpenFile(t.Context(), 999, "real.step"); !errors.Is(err, parts.ErrNotFound) || errors.Is(err, parts.ErrFileNotFound) {
		t.Errorf("file of a missing part: %v, want ErrNotFound (part)", err)
	}
}

func TestMainFileFollowsFileFieldOnlyForHeldFiles(t *testing.T) {
	e := newFileEnv(t, nil)
	p := e.newPart(t, parts.TypeCNC)
	pdf := e.upload(t, p.ID, "draw.pdf", pdfBody)
	if pdf.Part.File != "draw.pdf" {
		t.Errorf("a drawing alone is the main file; file = %q", pdf.Part.File)
	}
	e.upload(t, p.ID, "model.step", stepBody)
	name := "draw.pdf"
	if _, err := e.svc.UpdatePart(t.Context(), p.ID, parts.Update{File: &name}); err != nil {
		t.Fatal(err)
	}
	_, f := e.read(t, func() (io.ReadSeekCloser, parts.File, error) { return e.svc.OpenMainFile(t.Context(), p.ID) })
	if f.Name != "draw.pdf" {
		t.Errorf("main file = %q, want the held drawing the file field names", f.Name)
	}
}

func viewsOf(views map[int][]byte) func() (parts.ViewUpload, error) {
	var idx []int
	for i := range views {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return func() (parts.ViewUpload, error) {
		if len(idx) == 0 {
			return parts.ViewUpload{}, io.EOF
		}
		i := idx[0]
		idx = idx[1:]
		return parts.ViewUpload{Index: i, Name: fmt.Sprintf("view_%d.png", i), Body: bytes.NewReader(views[i])}, nil
	}
}

func TestUploadViewsMergesManifest(t *testing.T) {
	e := newFileEnv(t, nil)
	p := e.newPart(t, parts.TypeCNC)
	if _, err := e.svc.UpdatePart(t.Context(), p.ID, parts.Update{MiscInfo: map[string]any{"reviewer": "Ada"}}); err != nil {
		t.Fatal(err)
	}
	first := map[int][]byte{0: pngBody(t, 10), 1: pngBody(t, 11), 2: pngBody(t, 12)}
	if _, err := e.svc.UploadViews(t.Context(), p.ID, viewsOf(first), "test"); err != nil {
		t.Fatalf("first views: %v", err)
	}
	second := map[int][]byte{2: pngBody(t, 22), 5: pngBody(t, 25)}
	got, err := e.svc.UploadViews(t.Context(), p.ID, viewsOf(second), "test")
	if err != nil {
		t.Fatalf("second views: %v", err)
	}
	if got.MiscInfo["reviewer"] != "Ada" {
		t.Errorf("miscInfo.reviewer lost: %v", got.MiscInfo)
	}
	manifest, _ := got.MiscInfo["views"].(map[string]any)
	files, _ := manifest["files"].(map[string]any)
	if len(files) != 4 || manifest["updated_at"] == nil {
		t.Fatalf("views manifest = %v, want views 0, 1, 2, 5 and updated_at", manifest)
	}
	for _, i := range []string{"0", "1", "2", "5"} {
		v, _ := files[i].(map[string]any)
		if v["filename"] != "view_"+i+".png" || v["timestamp"] == nil {
			t.Errorf("manifest entry %s = %v", i, v)
		}
	}
	want := map[int][]byte{0: first[0], 1: first[1], 2: second[2], 5: second[5]}
	for i, body := range want {
		b, f := e.read(t, func() (io.ReadSeekCloser, parts.File, error) { return e.svc.OpenView(t.Context(), p.ID, i) })
		if !bytes.Equal(b, body) || f.ContentType != "image/png" {
			t.Errorf("view %d: %d bytes %s, want the latest upload", i, len(b), f.ContentType)
		}
	}
	if _, _, err := e.svc.OpenView(t.Context(), p.ID, 3); !errors.Is(err, parts.ErrFileNotFound) {
		t.Errorf("missing view: %v, want ErrFileNotFound", err)
	}
	if got := e.keys(t); len(got) != 4 {
		t.Errorf("stored objects = %d, want 4 (the replaced view deleted)", len(got))
	}
	if got.File != "" {
		t.Errorf("views set the main file to %q", got.File)
	}
}

func TestUploadViewsRefusalsStoreNothing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		views   func(t *testing.T) func() (parts.ViewUpload, error)
		wantErr error
	}{
		{"non-PNG view", func(t *testing.T) func() (parts.ViewUpload, error) {
			return viewsOf(map[int][]byte{0: pngBody(t, 1), 1: []byte("GIF89a....")})
		}, parts.ErrUnsupportedType},
		{"index out of range", func(t *testing.T) func() (parts.ViewUpload, error) {
			return viewsOf(map[int][]byte{0: pngBody(t, 1), parts.MaxViews: pngBody(t, 2)})
		}, parts.ErrInvalid},
		{"no views", func(t *testing.T) func() (parts.ViewUpload, error) { return viewsOf(nil) }, parts.ErrInvalid},
		{"reader error", func(t *testing.T) func() (parts.ViewUpload, error) {
			next := viewsOf(map[int][]byte{0: pngBody(t, 1)})
			calls := 0
			return func() (parts.ViewUpload, error) {
				if calls++; calls == 2 {
					return parts.ViewUpload{}, errCutOff
				}
				return next()
			}
		}, errCutOff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFileEnv(t, nil)
			p := e.newPart(t, parts.TypeCNC)
			_, err := e.svc.UploadViews(t.Context(), p.ID, tc.views(t), "test")
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("UploadViews = %v, want %v", err, tc.wantErr)
			}
			if got := e.keys(t); len(got) != 0 {
				t.Errorf("stored objects = %q, want none", got)
			}
			after, _ := e.svc.FindPartByID(t.Context(), p.ID)
			if after.Version != p.Version || after.MiscInfo != nil {
				t.Errorf("part changed: version %d miscInfo %v", after.Version, after.MiscInfo)
			}
		})
	}
}

func TestViewsManifestSurvivesWorkflow(t *testing.T) {
	e := newFileEnv(t, nil)
	p := e.newPart(t, parts.TypeHand)
	withViews, err := e.svc.UploadViews(t.Context(), p.ID, viewsOf(map[int][]byte{0: pngBody(t, 1)}), "test")
	if err != nil {
		t.Fatal(err)
	}
	approved, err := e.svc.Approve(t.Context(), p.ID, parts.ActionInput{Reviewer: "Ada", MiscInfo: map[string]any{"note": "ok"}})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(approved.MiscInfo["views"]) != fmt.Sprint(withViews.MiscInfo["views"]) {
		t.Errorf("views after approve = %v, want %v", approved.MiscInfo["views"], withViews.MiscInfo["views"])
	}
}

func TestDeletePartRemovesItsFilesAndNewPartsSeeNone(t *testing.T) {
	e := newFileEnv(t, nil)
	p := e.newPart(t, parts.TypeCNC)
	e.upload(t, p.ID, "a.step", stepBody)
	e.upload(t, p.ID, "a.pdf", pdfBody)
	if _, err := e.svc.UploadViews(t.Context(), p.ID, viewsOf(map[int][]byte{0: pngBody(t, 1), 7: pngBody(t, 2)}), "test"); err != nil {
		t.Fatal(err)
	}
	if got := e.keys(t); len(got) != 4 {
		t.Fatalf("stored objects = %q, want 4", got)
	}
	if err := e.svc.DeletePart(t.Context(), p.ID, 0, "test"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got := e.keys(t); len(got) != 0 {
		t.Errorf("stored objects after delete = %q, want none", got)
	}
	q := e.newPart(t, parts.TypeCNC)
	if q.ID == p.ID || len(q.Files) != 0 {
		t.Fatalf("new part %d has files %v", q.ID, q.Files)
	}
	for _, open := range []func() error{
		func() error { _, _, err := e.svc.OpenMainFile(t.Context(), q.ID); return err },
		func() error { _, _, err := e.svc.OpenFile(t.Context(), q.ID, "a.step"); return err },
		func() error { _, _, err := e.svc.OpenView(t.Context(), q.ID, 0); return err },
	} {
		if err := open(); !errors.Is(err, parts.ErrFileNotFound) {
			t.Errorf("new part serves an old file: %v", err)
		}
	}
}

// flakyDeletes is a FileStore whose Delete fails while failing is set.
type flakyDeletes struct {
	parts.FileStore
	failing atomic.Bool
}

func (f *flakyDeletes) Delete(ctx context.Context, key string) error {
	if f.failing.Load() {
		return errors.New("disk on fire")
	}
	return f.FileStore.Delete(ctx, key)
}

func TestGCRemovesOrphansAfterGracePeriod(t *testing.T) {
	var flaky *flakyDeletes
	e := newFileEnv(t, func(o *parts.Options) {
		flaky = &flakyDeletes{FileStore: o.Files}
		o.Files = flaky
	})
	kept := e.newPart(t, parts.TypeCNC)
	keptFile := e.upload(t, kept.ID, "kept.step", stepBody).File
	gone := e.newPart(t, parts.TypeCNC)
	goneFile := e.upload(t, gone.ID, "gone.step", stepBody).File

	flaky.failing.Store(true)
	if err := e.svc.DeletePart(t.Context(), gone.ID, 0, "test"); err != nil {
		t.Fatalf("delete with a failing file store: %v (the DB delete must still succeed)", err)
	}
	flaky.failing.Store(false)

	ctx := t.Context()
	stray := fmt.Sprintf("parts/%d/cad/0123456789abcdef-stray.step", kept.ID)
	for _, k := range []string{stray, "other/not-ours.bin", "parts/x/cad/odd"} {
		if _, err := e.files.Put(ctx, k, bytes.NewReader([]byte("x")), ""); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := e.svc.GC(ctx)
	if err != nil || len(removed) != 0 {
		t.Fatalf("GC within the grace period removed %q, %v; want nothing", removed, err)
	}
	e.offset.Store(int64(parts.DefaultGCGrace + time.Minute))
	removed, err = e.svc.GC(ctx)
	if err != nil {
		t.Fatalf("GC: %v", err)
	}
	want := []string{goneFile.Key, stray}
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Errorf("GC removed %q, want %q", removed, want)
	}
	wantLeft := []string{"other/not-ours.bin", "parts/x/cad/odd", keptFile.Key}
	slices.Sort(wantLeft)
	if got := e.keys(t); !slices.Equal(got, wantLeft) {
		t.Errorf("left = %q, want %q", got, wantLeft)
	}
	if again, err := e.svc.GC(ctx); err != nil || len(again) != 0 {
		t.Errorf("second GC = %q, %v; want nothing", again, err)
	}
}

func TestFileEventsInHistory(t *testing.T) {
	e := newFileEnv(t, nil)
	p := e.newPart(t, parts.TypeCNC)
	first := e.upload(t, p.ID, "a.step", stepBody)
	second := e.upload(t, p.ID, "b.step", append(slices.Clone(stepBody), '\n'))
	if _, err := e.svc.DeleteFile(t.Context(), p.ID, "b.step", "Ada"); err != nil {
		t.Fatalf("DeleteFile: %v", err)
	}
	evs, err := e.svc.History(t.Context(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range evs {
		actions = append(actions, ev.Action)
	}
	if want := []string{"create", "file.uploaded", "file.replaced", "file.deleted"}; !slices.Equal(actions, want) {
		t.Fatalf("history = %q, want %q", actions, want)
	}
	change := func(ev *parts.Event, field string) *parts.Change {
		for i := range ev.Changes {
			if ev.Changes[i].Field == field {
				return &ev.Changes[i]
			}
		}
		t.Fatalf("%s event has no %s change: %+v", ev.Action, field, ev.Changes)
		return nil
	}
	up := change(evs[1], "files/a.step")
	if m, _ := up.After.(map[string]any); up.Before != nil || m["sha256"] != first.File.SHA256 || m["size"] != float64(first.File.Size) || m["name"] != "a.step" {
		t.Errorf("uploaded change = %+v", up)
	}
	rep := change(evs[2], "files/b.step")
	if before, _ := rep.Before.(map[string]any); before["name"] != "a.step" || before["sha256"] != first.File.SHA256 {
		t.Errorf("replaced change before = %+v", rep.Before)
	}
	if after, _ := rep.After.(map[string]any); after["sha256"] != second.File.SHA256 {
		t.Errorf("replaced change after = %+v", rep.After)
	}
	del := change(evs[3], "files/b.step")
	if before, _ := del.Before.(map[string]any); del.After != nil || before["sha256"] != second.File.SHA256 || evs[3].Actor != "Ada" {
		t.Errorf("deleted change = %+v by %q", del, evs[3].Actor)
	}
	after, _ := e.svc.FindPartByID(t.Context(), p.ID)
	if after.File != "" || len(after.Files) != 0 || len(e.keys(t)) != 0 {
		t.Errorf("after DeleteFile: file %q files %v objects %q", after.File, after.Files, e.keys(t))
	}
	if _, err := e.svc.DeleteFile(t.Context(), p.ID, "b.step", "Ada"); !errors.Is(err, parts.ErrFileNotFound) {
		t.Errorf("second DeleteFile: %v, want ErrFileNotFound", err)
	}
}

func TestCADUploadCallsConversionSeam(t *testing.T) {
	var calls atomic.Int32
	e := newFileEnv(t, func(o *parts.Options) {
		o.Uploads.OnCADStored = func(ctx context.Context, tx parts.Tx, next *parts.Part, cad parts.File) error {
			calls.Add(1)
			next.Model = parts.Model{State: parts.ModelPending, Source: cad.SHA256}
			return tx.EnqueueJob(ctx, &parts.Job{PartID: next.ID, Source: cad.SHA256, State: parts.JobQueued})
		}
	})
	p := e.newPart(t, parts.TypeCNC)
	res := e.upload(t, p.ID, "a.step", stepBody)
	if res.Part.Model.State != parts.ModelPending || res.Part.Model.Source != res.File.SHA256 {
		t.Errorf("model = %+v, want pending from the new file", res.Part.Model)
	}
	job, err := e.store.NextJob(t.Context(), parts.Lease{Owner: "t", Now: time.Now(), Until: time.Now().Add(time.Minute)})
	if err != nil || job.PartID != p.ID || job.Source != res.File.SHA256 {
		t.Fatalf("queued job = %+v, %v", job, err)
	}
	e.upload(t, p.ID, "a.pdf", pdfBody)
	if calls.Load() != 1 {
		t.Errorf("seam called %d times, want once (not for the PDF)", calls.Load())
	}
}

func TestConversionSeamErrorRollsBack(t *testing.T) {
	e := newFileEnv(t, func(o *parts.Options) {
		o.Uploads.OnCADStored = func(context.Context, parts.Tx, *parts.Part, parts.File) error {
			return errors.New("queue full")
		}
	})
	p := e.newPart(t, parts.TypeCNC)
	if _, err := e.svc.UploadFile(t.Context(), p.ID, parts.Upload{Name: "a.step", Body: bytes.NewReader(stepBody)}); err == nil {
		t.Fatal("upload succeeded")
	}
	if got := e.keys(t); len(got) != 0 {
		t.Errorf("stored objects = %q, want none", got)
	}
}

func TestNewCADDropsModelOfOldCAD(t *testing.T) {
	e := newFileEnv(t, nil)
	p := e.newPart(t, parts.TypeCNC)
	cad := e.upload(t, p.ID, "a.step", stepBody)
	ready := parts.Model{State: parts.ModelReady, Source: cad.File.SHA256}
	model, err := e.svc.UploadFile(t.Context(), p.ID, parts.Upload{Name: "a.glb", Kind: parts.FileModel, Model: &ready, Body: bytes.NewReader([]byte("glTF\x02\x00\x00\x00rest"))})
	if err != nil {
		t.Fatalf("model upload: %v", err)
	}
	if model.Part.Model != ready || model.Part.File != "a.step" {
		t.Errorf("after model upload: model %+v file %q", model.Part.Model, model.Part.File)
	}
	res := e.upload(t, p.ID, "b.step", append(slices.Clone(stepBody), ' '))
	if _, ok := res.Part.FileByKind(parts.FileModel); ok || res.Part.Model.State != parts.ModelNone {
		t.Errorf("after a new CAD file: files %+v model %+v; want no model", res.Part.Files, res.Part.Model)
	}
	if got := e.keys(t); !slices.Equal(got, []string{res.File.Key}) {
		t.Errorf("stored objects = %q, want only the new CAD file", got)
	}
}

func TestDrawingFetchesOnceForHandParts(t *testing.T) {
	var fetches atomic.Int32
	var answer atomic.Pointer[[]byte] // what the drawing source sends
	e := newFileEnv(t, func(o *parts.Options) {
		o.Drawings = parts.DrawingFetcher(func(ctx context.Context, p *parts.Part) (string, io.ReadCloser, error) {
			fetches.Add(1)
			return "Drawing 1.pdf", io.NopCloser(bytes.NewReader(*answer.Load())), nil
		})
	})
	// fetch makes the source send body and returns the actor of the call.
	fetch := func(body []byte) string { answer.Store(&body); return "t" }
	url := "https://cad.onshape.com/documents/d1/w/w1/e/e1"
	cnc := e.newPart(t, parts.TypeCNC)
	if _, err := e.svc.UpdatePart(t.Context(), cnc.ID, parts.Update{OnshapeURL: &url}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Drawing(t.Context(), cnc.ID, false, fetch(pdfBody)); !errors.Is(err, parts.ErrInvalid) {
		t.Errorf("cnc part: %v, want ErrInvalid", err)
	}
	hand := e.newPart(t, parts.TypeHand)
	if _, _, err := e.svc.Drawing(t.Context(), hand.ID, false, fetch(pdfBody)); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("hand part without URL: %v, want ErrNotFound", err)
	}
	if _, err := e.svc.UpdatePart(t.Context(), hand.ID, parts.Update{OnshapeURL: &url}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		b, f := e.read(t, func() (io.ReadSeekCloser, parts.File, error) {
			return e.svc.Drawing(t.Context(), hand.ID, false, fetch(pdfBody))
		})
		if !bytes.Equal(b, pdfBody) || f.Name != "Drawing_1.pdf" || f.Kind != parts.FileDrawing {
			t.Errorf("drawing = %d bytes %+v", len(b), f)
		}
	}
	if fetches.Load() != 1 {
		t.Errorf("fetched %d times, want once (then cached)", fetches.Load())
	}
	v2 := append(slices.Clone(pdfBody), '\n')
	b, _ := e.read(t, func() (io.ReadSeekCloser, parts.File, error) {
		return e.svc.Drawing(t.Context(), hand.ID, true, fetch(v2))
	})
	if !bytes.Equal(b, v2) || fetches.Load() != 2 {
		t.Errorf("refresh: %d bytes after %d fetches, want the refetched drawing", len(b), fetches.Load())
	}
	if _, _, err := e.svc.Drawing(t.Context(), hand.ID, true, fetch([]byte("<html>login</html>"))); !errors.Is(err, parts.ErrUnsupportedType) {
		t.Errorf("non-PDF answer: %v, want ErrUnsupportedType", err)
	}
	b, _ = e.read(t, func() (io.ReadSeekCloser, parts.File, error) {
		return e.svc.OpenFileOfKind(t.Context(), hand.ID, parts.FileDrawing)
	})
	if !bytes.Equal(b, v2) {
		t.Errorf("a failed refresh replaced the cached drawing")
	}
}

func TestUploadOptions(t *testing.T) {
	if err := (parts.UploadOptions{Extensions: []string{"STEP", ".pdf", "stl"}}).Validate(); err != nil {
		t.Errorf("valid options: %v", err)
	}
	err := (parts.UploadOptions{Extensions: []string{"exe"}, MaxSize: -1}).Validate()
	if !errors.Is(err, parts.ErrInvalid) || !strings.Contains(err.Error(), `"exe"`) {
		t.Errorf("Validate = %v, want ErrInvalid naming exe", err)
	}
	svc := parts.NewService(nil, &parts.Options{Uploads: parts.UploadOptions{Extensions: []string{".STL", "exe", "pdf"}}})
	got := svc.Uploads()
	if !slices.Equal(got.Extensions, []string{"stl", "pdf"}) || got.MaxSize != parts.DefaultMaxUploadSize || got.GCGrace != parts.DefaultGCGrace {
		t.Errorf("effective options = %+v", got)
	}
	if def := parts.NewService(nil, nil).Uploads(); !slices.Equal(def.Extensions, []string{"step", "stp", "pdf"}) || def.MaxSize != 200<<20 {
		t.Errorf("defaults = %+v", def)
	}
}

func TestContentTypeOf(t *testing.T) {
	for ext, want := range map[string]string{"step": "application/step", "STP": "application/step", ".pdf": "application/pdf",
		"png": "image/png", "glb": "model/gltf-binary", "stl": "model/stl", "exe": "application/octet-stream"} {
		if got := parts.ContentTypeOf(ext); got != want {
			t.Errorf("ContentTypeOf(%q) = %q, want %q", ext, got, want)
		}
	}
}

func ExampleService_UploadFile() {
	ctx := context.Background()
	store, _ := bunstore.Open(ctx, "sqlite://:memory:", nil)
	defer store.Close()
	files, _ := blobfiles.Open(ctx, "mem://", nil)
	defer files.Close()
	svc := parts.NewService(store, &parts.Options{Files: files})

	p, _ := svc.CreatePart(ctx, &parts.Part{PartID: "P-7", Material: "6061", Subsystem: "Drive"}, "ada")
	res, err := svc.UploadFile(ctx, p.ID, parts.Upload{
		Name: "../Träger plate.step",
		Body: strings.NewReader("ISO-10303-21;\nHEADER;\nENDSEC;\n"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.File.Name, res.File.Kind, res.File.Size, res.Part.File)

	_, err = svc.UploadFile(ctx, p.ID, parts.Upload{Name: "plate.step", Body: strings.NewReader("%PDF-1.7")})
	fmt.Println(errors.Is(err, parts.ErrUnsupportedType))
	// Output:
	// Trager_plate.step cad 30 Trager_plate.step
	// true
}

// lookupOnly is a ConverterSource that converts only the listed formats.
type lookupOnly []convert.Format

func (l lookupOnly) Lookup(from, to convert.Format) (convert.Converter, error) {
	if to == convert.FormatGLB && slices.Contains(l, from) {
		return nil, nil
	}
	return nil, fmt.Errorf("%s -> %s: %w", from, to, convert.ErrUnsupportedFormat)
}

// TestSTLConverterMakesSTLUploadable: the Service, not its caller, adds
// "stl" to the accepted extensions when its converters take STL.
func TestSTLConverterMakesSTLUploadable(t *testing.T) {
	for _, c := range []struct {
		convs lookupOnly
		exts  []string
		want  []string
	}{
		{lookupOnly{convert.FormatSTEP, convert.FormatSTL}, nil, []string{"step", "stp", "pdf", "stl"}},
		{lookupOnly{convert.FormatSTEP, convert.FormatSTL}, []string{"pdf", "stl"}, []string{"pdf", "stl"}},
		{lookupOnly{convert.FormatSTEP}, nil, []string{"step", "stp", "pdf"}},
	} {
		svc := parts.NewService(nil, &parts.Options{Uploads: parts.UploadOptions{Extensions: c.exts},
			Convert: parts.ConvertOptions{Converters: c.convs}})
		if got := svc.Uploads().Extensions; !slices.Equal(got, c.want) {
			t.Errorf("converters %v, extensions %v: accepted %v, want %v", c.convs, c.exts, got, c.want)
		}
	}
}
