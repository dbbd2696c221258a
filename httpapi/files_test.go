package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/internal/fixtures"
	"github.com/partflow/partflow/onshape"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/blobfiles"
	"github.com/partflow/partflow/storage/bunstore"
)

// filesEnv is the handler over a Service with a file:// store in a private
// directory, so tests can check that nothing lands outside it.
type filesEnv struct {
	t      *testing.T
	h      http.Handler
	svc    *parts.Service
	files  *blobfiles.Store
	parent string // holds root and nothing else
	root   string
}

func newFilesEnv(t *testing.T, configure func(po *parts.Options, ho *httpapi.Options)) *filesEnv {
	t.Helper()
	store, err := bunstore.Open(t.Context(), testStoreURL(t), nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	parent := t.TempDir()
	root := filepath.Join(parent, "files")
	files, err := blobfiles.Open(t.Context(), "file://"+filepath.ToSlash(root), nil)
	if err != nil {
		t.Fatalf("open files: %v", err)
	}
	t.Cleanup(func() { files.Close() })
	po := &parts.Options{Files: files, Workflow: flow}
	ho := &httpapi.Options{Keys: []httpapi.Key{
		{Name: "admin", Key: adminKey, Role: httpapi.RoleAdmin},
		{Name: "reader", Key: readerKey, Role: httpapi.RoleReadOnly},
	}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if configure != nil {
		configure(po, ho)
	}
	svc := parts.NewService(store, po)
	h, err := httpapi.NewHandler(svc, ho)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	return &filesEnv{t: t, h: h, svc: svc, files: files, parent: parent, root: root}
}

func (e *filesEnv) do(method, path string, body io.Reader, header map[string]string) resp {
	e.t.Helper()
	r := httptest.NewRequest(method, path, body)
	r.Header.Set("X-API-Key", adminKey)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

func (e *filesEnv) part(fields map[string]any) string {
	e.t.Helper()
	body := map[string]any{"partId": "P-1", "material": "Aluminium", "subsystem": "Drive", "type": "cnc"}
	for k, v := range fields {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	r := e.do("POST", "/api/parts/", bytes.NewReader(b), map[string]string{"Content-Type": "application/json"})
	if r.status != 201 {
		e.t.Fatalf("create: %d %s", r.status, r.body)
	}
	return "/api/parts/" + jsonInt(r.json(e.t)["id"])
}

// formFile is one multipart field; name "" with raw disposition sets the header verbatim.
type formFile struct {
	field, filename string
	data            []byte
}

func multipartBody(t *testing.T, files ...formFile) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range files {
		h := textproto.MIMEHeader{}
		esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(f.filename)
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, f.field, esc))
		h.Set("Content-Type", "application/octet-stream")
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func (e *filesEnv) upload(path, filename string, data []byte) resp {
	e.t.Helper()
	ct, body := multipartBody(e.t, formFile{"file", filename, data})
	return e.do("POST", path+"/upload", bytes.NewReader(body), map[string]string{"Content-Type": ct})
}

// objects lists the store; diskFiles lists every regular file under parent.
func (e *filesEnv) objects() []string {
	e.t.Helper()
	objs, err := e.files.List(context.Background(), "")
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

func (e *filesEnv) diskFiles() []string {
	e.t.Helper()
	var out []string
	filepath.WalkDir(e.parent, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(e.parent, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

var (
	stepData = []byte("ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n")
	pdfData  = []byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
)

func pngData(t *testing.T, c uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 3, 2))
	for i := range img.Pix {
		img.Pix[i] = c
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestUploadAndDownloadEveryCADFile round-trips the project's CAD fixtures
// and, when it is beside the repository, the shared corpus.
func TestUploadAndDownloadEveryCADFile(t *testing.T) {
	t.Run("fixtures", func(t *testing.T) { testUploadAndDownload(t, fixtures.Dir()) })
	t.Run("corpus", func(t *testing.T) { testUploadAndDownload(t, fixtures.Corpus(t)) })
}

func testUploadAndDownload(t *testing.T, dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	withSTL := newFilesEnv(t, func(po *parts.Options, _ *httpapi.Options) {
		po.Uploads.Extensions = []string{"step", "stp", "pdf", "stl"}
	})
	defaults := newFilesEnv(t, nil)
	for _, ent := range entries {
		ext := filepath.Ext(ent.Name())
		if ext != ".step" && ext != ".stl" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		wantType := map[string]string{".step": "application/step", ".stl": "model/stl"}[ext]
		t.Run(ent.Name(), func(t *testing.T) {
			e := withSTL
			p := e.part(nil)
			r := e.upload(p, ent.Name(), data)
			if r.status != 201 {
				t.Fatalf("upload: %d %s", r.status, r.body)
			}
			m := r.json(t)
			conv, _ := json.Marshal(m["conversion"])
			if m["filename"] != ent.Name() || m["file_path"] != p+"/download/"+ent.Name() ||
				string(conv) != `{"error":"No converter is configured for this file","gltf_path":null,"status":"unavailable","success":false}` {
				t.Errorf("upload answer = %s", r.body)
			}
			for _, tc := range []struct{ path, disposition string }{
				{p + "/download", "attachment"},
				{p + "/file", "inline"},
				{p + "/download/" + ent.Name(), "attachment"},
			} {
				d := e.do("GET", tc.path, nil, nil)
				if d.status != 200 || !bytes.Equal(d.body, data) {
					t.Fatalf("GET %s: %d, %d bytes (want the %d uploaded)", tc.path, d.status, len(d.body), len(data))
				}
				if got := d.header.Get("Content-Type"); got != wantType {
					t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, wantType)
				}
				if got, want := d.header.Get("Content-Disposition"), fmt.Sprintf(`%s; filename="%s"`, tc.disposition, ent.Name()); got != want {
					t.Errorf("GET %s: Content-Disposition %q, want %q", tc.path, got, want)
				}
				if got := d.header.Get("ETag"); got != `"`+sum(data)+`"` {
					t.Errorf("GET %s: ETag %q, want the SHA-256", tc.path, got)
				}
			}
			if ext == ".stl" {
				r := defaults.upload(defaults.part(nil), ent.Name(), data)
				wantError(t, r, 400, "", "")
			}
		})
	}
}

func TestUploadPDFKeepsSTEPAndBecomesTheFile(t *testing.T) {
	e := newFilesEnv(t, nil)
	p := e.part(nil)
	if r := e.upload(p, "bracket.step", stepData); r.status != 201 {
		t.Fatalf("step: %d %s", r.status, r.body)
	}
	r := e.upload(p, "bracket.pdf", pdfData)
	if r.status != 201 {
		t.Fatalf("pdf: %d %s", r.status, r.body)
	}
	if _, ok := r.json(t)["conversion"]; ok {
		t.Errorf("PDF upload reports a conversion: %s", r.body)
	}
	d := e.do("GET", p+"/download/bracket.pdf", nil, nil)
	if d.status != 200 || !bytes.Equal(d.body, pdfData) || d.header.Get("Content-Type") != "application/pdf" {
		t.Errorf("pdf download: %d %q", d.status, d.header.Get("Content-Type"))
	}
	main := e.do("GET", p+"/download", nil, nil)
	if !bytes.Equal(main.body, pdfData) {
		t.Errorf("main file is not the PDF just uploaded")
	}
	if s := e.do("GET", p+"/download/bracket.step", nil, nil); s.status != 200 || !bytes.Equal(s.body, stepData) {
		t.Errorf("the STEP is no longer downloadable by name: %d", s.status)
	}
	got := e.do("GET", p, nil, nil).json(t)
	if got["file"] != "bracket.pdf" || len(got["files"].([]any)) != 2 {
		t.Errorf("part file %v files %v", got["file"], got["files"])
	}
}

func TestViewsUploadManifestAndImages(t *testing.T) {
	e := newFilesEnv(t, nil)
	p := e.part(map[string]any{"miscInfo": map[string]any{"reviewer": "Ada"}})
	if r := e.do("GET", p+"/views", nil, nil); r.status != 200 || string(r.body) != "{\"views\":null}\n" {
		t.Errorf("views before upload: %d %s", r.status, r.body)
	}
	ct, body := multipartBody(t, formFile{"view_0", "a.png", pngData(t, 1)}, formFile{"view_3", "b.png", pngData(t, 3)})
	r := e.do("POST", p+"/views", bytes.NewReader(body), map[string]string{"Content-Type": ct})
	if r.status != 200 || r.json(t)["success"] != true {
		t.Fatalf("views: %d %s", r.status, r.body)
	}
	ct, body = multipartBody(t, formFile{"view_3", "c.png", pngData(t, 33)}, formFile{"view_7", "d.png", pngData(t, 7)})
	if r := e.do("POST", p+"/views", bytes.NewReader(body), map[string]string{"Content-Type": ct}); r.status != 200 {
		t.Fatalf("second views: %d %s", r.status, r.body)
	}
	m := e.do("GET", p+"/views", nil, nil).json(t)
	views, _ := m["views"].(map[string]any)
	files, _ := views["files"].(map[string]any)
	if len(files) != 3 || views["updated_at"] == nil {
		t.Fatalf("manifest = %v", m)
	}
	for i, want := range map[string][]byte{"0": pngData(t, 1), "3": pngData(t, 33), "7": pngData(t, 7)} {
		d := e.do("GET", p+"/views/"+i, nil, nil)
		if d.status != 200 || !bytes.Equal(d.body, want) || d.header.Get("Content-Type") != "image/png" ||
			!strings.HasPrefix(d.header.Get("Content-Disposition"), "inline") {
			t.Errorf("view %s: %d %q %q", i, d.status, d.header.Get("Content-Type"), d.header.Get("Content-Disposition"))
		}
	}
	for _, i := range []string{"1", "8", "-1", "x", "03"} {
		wantError(t, e.do("GET", p+"/views/"+i, nil, nil), 404, "File not found", "")
	}
	part := e.do("GET", p, nil, nil).json(t)
	if misc := part["miscInfo"].(map[string]any); misc["reviewer"] != "Ada" {
		t.Errorf("miscInfo.reviewer lost: %v", misc)
	}
	// A bad image stores nothing.
	before := e.objects()
	ct, body = multipartBody(t, formFile{"view_1", "ok.png", pngData(t, 9)}, formFile{"view_2", "x.png", []byte("GIF89a")})
	wantError(t, e.do("POST", p+"/views", bytes.NewReader(body), map[string]string{"Content-Type": ct}), 415, "", "")
	if after := e.objects(); !slices.Equal(after, before) {
		t.Errorf("objects after refused views = %q, want %q", after, before)
	}
	ct, body = multipartBody(t, formFile{"other", "x.png", pngData(t, 1)})
	wantError(t, e.do("POST", p+"/views", bytes.NewReader(body), map[string]string{"Content-Type": ct}), 400, "", "views")
}

func TestTraversalNamesNeverEscapeTheStore(t *testing.T) {
	e := newFilesEnv(t, nil)
	p := e.part(nil)
	names := []string{
		"../../etc/passwd.step",
		`..\..\x.step`,
		"/etc/abs.step",
		`C:\Windows\sys.step`,
		"a\x00b.step",
		"..%2F..%2Fenc.step",
		strings.Repeat("long", 3000) + ".step",
		".step",
	}
	for _, name := range names {
		r := e.upload(p, name, stepData)
		if r.status != 201 {
			if r.status != 400 {
				t.Errorf("upload %q: %d %s (want 201 or 400)", name, r.status, r.body)
			}
			continue
		}
		served, _ := r.json(t)["filename"].(string)
		if served == "" || len(served) > parts.MaxSafeNameLen || strings.ContainsAny(served, `/\%`+"\x00") ||
			strings.HasPrefix(served, ".") || !utf8.ValidString(served) {
			t.Errorf("upload %q served as %q", name, served)
		}
		d := e.do("GET", p+"/download/"+served, nil, nil)
		if d.status != 200 || !bytes.Equal(d.body, stepData) {
			t.Errorf("download %q: %d", served, d.status)
		}
	}
	for _, f := range e.diskFiles() {
		if !strings.HasPrefix(f, "files/parts/") {
			t.Errorf("file written outside the store's part tree: %s", f)
		}
	}
	for _, path := range []string{"/download/..%2F..%2Fetc%2Fpasswd", "/download/passwd.step", "/download/%2Fetc%2Fpasswd", "/download/.spool"} {
		if r := e.do("GET", p+path, nil, nil); r.status != 404 {
			t.Errorf("GET %s: %d, want 404", path, r.status)
		}
	}
}

func TestFileFieldNeverServesAnythingThePartDoesNotHold(t *testing.T) {
	e := newFilesEnv(t, nil)
	p := e.part(nil)
	put := func(file string) {
		b, _ := json.Marshal(map[string]any{"file": file})
		if r := e.do("PUT", p, bytes.NewReader(b), map[string]string{"Content-Type": "application/json"}); r.status != 200 {
			t.Fatalf("PUT file=%q: %d %s", file, r.status, r.body)
		}
	}
	for _, file := range []string{"/etc/passwd", "../../../../etc/passwd", `..\..\boot.ini`} {
		put(file)
		for _, path := range []string{"/download", "/file", "/download/passwd", "/download/boot.ini"} {
			wantError(t, e.do("GET", p+path, nil, nil), 404, "File not found", "")
		}
	}
	e.upload(p, "real.step", stepData)
	put("/etc/passwd")
	for _, path := range []string{"/download", "/file"} {
		if d := e.do("GET", p+path, nil, nil); d.status != 200 || !bytes.Equal(d.body, stepData) {
			t.Errorf("GET %s after PUT file=/etc/passwd: %d, want the real STEP", path, d.status)
		}
	}
}

func TestUploadRefusals(t *testing.T) {
	e := newFilesEnv(t, func(po *parts.Options, _ *httpapi.Options) { po.Uploads.MaxSize = 64 << 10 })
	p := e.part(nil)
	big := append(slices.Clone(stepData), bytes.Repeat([]byte("x"), 1<<20)...)
	emptyCT, emptyBody := multipartBody(t)
	otherCT, otherBody := multipartBody(t, formFile{"attachment", "a.step", stepData})
	for _, tc := range []struct {
		name   string
		ct     string
		body   []byte
		status int
		msg    string
	}{
		{"wrong content", "", nil, 415, "is not a STEP file"},
		{"wrong extension", "", nil, 400, "files with .exe are not accepted"},
		{"too large", "", nil, 413, "larger than the limit"},
		{"no file part", emptyCT, emptyBody, 400, "No file part"},
		{"other field only", otherCT, otherBody, 400, "No file part"},
		{"empty name", "", nil, 400, "No selected file"},
		{"not multipart", "application/json", []byte(`{"file":"a.step"}`), 400, "No file part"},
		{"empty file", "", nil, 400, "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r resp
			switch tc.name {
			case "wrong content":
				r = e.upload(p, "a.step", pdfData)
			case "wrong extension":
				r = e.upload(p, "a.exe", stepData)
			case "too large":
				r = e.upload(p, "a.step", big)
			case "empty name":
				r = e.upload(p, "", stepData)
			case "empty file":
				r = e.upload(p, "a.step", nil)
			default:
				r = e.do("POST", p+"/upload", bytes.NewReader(tc.body), map[string]string{"Content-Type": tc.ct})
			}
			m := wantError(t, r, tc.status, "", "")
			if msg, _ := m["error"].(string); !strings.Contains(msg, tc.msg) {
				t.Errorf("error %q, want it to mention %q", msg, tc.msg)
			}
			if objs := e.objects(); len(objs) != 0 {
				t.Errorf("objects after refusal = %q", objs)
			}
		})
	}
	t.Run("request body over the cap", func(t *testing.T) {
		ct, body := multipartBody(t, formFile{"file", "a.step", append(slices.Clone(stepData), bytes.Repeat([]byte("x"), 2<<20)...)})
		wantError(t, e.do("POST", p+"/upload", bytes.NewReader(body), map[string]string{"Content-Type": ct}), 413, "", "")
		if objs := e.objects(); len(objs) != 0 {
			t.Errorf("objects = %q", objs)
		}
	})
	t.Run("read-only key", func(t *testing.T) {
		ct, body := multipartBody(t, formFile{"file", "a.step", stepData})
		r := e.do("POST", p+"/upload", bytes.NewReader(body), map[string]string{"Content-Type": ct, "X-API-Key": readerKey})
		wantError(t, r, 403, "", "")
	})
	t.Run("missing part", func(t *testing.T) {
		wantError(t, e.upload("/api/parts/999", "a.step", stepData), 404, "Part not found", "")
	})
	if files := e.diskFiles(); len(files) != 0 {
		t.Errorf("files on disk after refusals: %q", files)
	}
}

// cutReader yields data, then fails like a dropped connection.
type cutReader struct{ data []byte }

func (c *cutReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	return n, nil
}

func TestCutOffUploadKeepsPreviousFile(t *testing.T) {
	big := fixtures.LargeSTEP(300 << 10)
	check := func(t *testing.T, e *filesEnv, p string, before []string) {
		t.Helper()
		if d := e.do("GET", p+"/download", nil, nil); d.status != 200 || !bytes.Equal(d.body, stepData) {
			t.Errorf("after the cut-off upload: %d, %d bytes; want the previous file", d.status, len(d.body))
		}
		if got := e.do("GET", p, nil, nil).json(t); got["file"] != "old.step" || len(got["files"].([]any)) != 1 {
			t.Errorf("part changed: file %v files %v", got["file"], got["files"])
		}
		if after := e.objects(); !slices.Equal(after, before) {
			t.Errorf("objects = %q, want %q", after, before)
		}
		for _, f := range e.diskFiles() {
			if strings.Contains(f, ".spool/") || strings.HasSuffix(f, ".tmp") {
				t.Errorf("partial file left on disk: %s", f)
			}
		}
	}
	t.Run("body reader fails", func(t *testing.T) {
		e := newFilesEnv(t, nil)
		p := e.part(nil)
		e.upload(p, "old.step", stepData)
		before := e.objects()
		ct, body := multipartBody(t, formFile{"file", "new.step", big})
		r := e.do("POST", p+"/upload", &cutReader{data: body[:len(body)/2]}, map[string]string{"Content-Type": ct})
		wantError(t, r, 400, "The upload was cut off before the file was complete; nothing was stored", "")
		check(t, e, p, before)
	})
	t.Run("TCP connection closed midway", func(t *testing.T) {
		e := newFilesEnv(t, nil)
		p := e.part(nil)
		e.upload(p, "old.step", stepData)
		before := e.objects()
		closed := make(chan struct{})
		srv := httptest.NewUnstartedServer(e.h)
		srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
			if s == http.StateClosed {
				close(closed)
			}
		}
		srv.Listener = listen(t)
		srv.Start()
		defer srv.Close()
		ct, body := multipartBody(t, formFile{"file", "new.step", big})
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST %s/upload HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
			p, adminKey, ct, len(body))
		conn.Write(body[:len(body)/2])
		conn.Close()
		<-closed // the server has finished with the request
		check(t, e, p, before)
	})
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestRangeAndConditionalDownloads(t *testing.T) {
	e := newFilesEnv(t, nil)
	p := e.part(nil)
	data := fixtures.Bytes(fixtures.BoxSTEPFile)
	e.upload(p, "screw.step", data)
	r := e.do("GET", p+"/download", nil, map[string]string{"Range": "bytes=100-199"})
	if r.status != 206 || !bytes.Equal(r.body, data[100:200]) || r.header.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", len(data)) {
		t.Errorf("range: %d %q, %d bytes", r.status, r.header.Get("Content-Range"), len(r.body))
	}
	r = e.do("GET", p+"/file", nil, map[string]string{"Range": "bytes=-10"})
	if r.status != 206 || !bytes.Equal(r.body, data[len(data)-10:]) {
		t.Errorf("suffix range: %d, %q", r.status, r.body)
	}
	r = e.do("GET", p+"/download", nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(data)+5)})
	if r.status != 416 {
		t.Errorf("unsatisfiable range: %d", r.status)
	}
	etag := `"` + sum(data) + `"`
	r = e.do("GET", p+"/download/screw.step", nil, map[string]string{"If-None-Match": etag})
	if r.status != 304 || len(r.body) != 0 {
		t.Errorf("If-None-Match current: %d, %d bytes", r.status, len(r.body))
	}
	r = e.do("GET", p+"/download", nil, map[string]string{"If-None-Match": `"stale"`})
	if r.status != 200 || !bytes.Equal(r.body, data) {
		t.Errorf("If-None-Match stale: %d", r.status)
	}
	if r.header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("Accept-Ranges %q", r.header.Get("Accept-Ranges"))
	}
}

func TestContentDispositionKeepsNonASCIINames(t *testing.T) {
	e := newFilesEnv(t, nil)
	p := e.part(nil)
	r := e.upload(p, "Träger – Größe 2.step", stepData)
	if r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	name := r.json(t)["filename"].(string)
	if name != "Trager_Grosse_2.step" {
		t.Errorf("served name %q", name)
	}
	d := e.do("GET", p+"/download", nil, nil)
	want := `attachment; filename="Trager_Grosse_2.step"; filename*=UTF-8''Tr%C3%A4ger%20%E2%80%93%20Gr%C3%B6%C3%9Fe%202.step`
	if got := d.header.Get("Content-Disposition"); got != want {
		t.Errorf("Content-Disposition\n got %s\nwant %s", got, want)
	}
	e.upload(p, `say "hi".pdf`, pdfData)
	d = e.do("GET", p+"/download/say_hi.pdf", nil, nil)
	if got := d.header.Get("Content-Disposition"); got != `attachment; filename="say_hi.pdf"; filename*=UTF-8''say%20%22hi%22.pdf` {
		t.Errorf("quoted name: %s", got)
	}
}

func TestDeletingAPartRemovesItsFiles(t *testing.T) {
	e := newFilesEnv(t, nil)
	p := e.part(nil)
	e.upload(p, "a.step", stepData)
	e.upload(p, "a.pdf", pdfData)
	ct, body := multipartBody(t, formFile{"view_0", "v.png", pngData(t, 1)})
	e.do("POST", p+"/views", bytes.NewReader(body), map[string]string{"Content-Type": ct})
	if n := len(e.objects()); n != 3 {
		t.Fatalf("%d objects before delete, want 3", n)
	}
	if r := e.do("DELETE", p, nil, nil); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if objs := e.objects(); len(objs) != 0 {
		t.Errorf("objects after delete = %q", objs)
	}
	q := e.part(nil)
	for _, path := range []string{"/download", "/file", "/download/a.step", "/download/a.pdf", "/views/0"} {
		wantError(t, e.do("GET", q+path, nil, nil), 404, "File not found", "")
	}
	wantError(t, e.do("GET", p+"/download", nil, nil), 404, "Part not found", "")
}

// fakeOnshape is an Onshape-like API on 127.0.0.1 that exports one drawing.
type fakeOnshape struct {
	srv      *httptest.Server
	pdf      atomic.Pointer[[]byte]
	exports  atomic.Int32
	status   atomic.Int32 // non-zero: answer every call with it
	badAuths atomic.Int32
}

func newFakeOnshape(t *testing.T) *fakeOnshape {
	f := &fakeOnshape{}
	pdf := slices.Clone(pdfData)
	f.pdf.Store(&pdf)
	mux := http.NewServeMux()
	check := func(w http.ResponseWriter, r *http.Request) bool {
		if u, p, ok := r.BasicAuth(); !ok || u != "access" || p != "secret" {
			f.badAuths.Add(1)
			w.WriteHeader(401)
			return false
		}
		if s := f.status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return false
		}
		return true
	}
	mux.HandleFunc("POST /api/drawings/d/{did}/w/{wid}/e/{eid}/translations", func(w http.ResponseWriter, r *http.Request) {
		if !check(w, r) {
			return
		}
		var in map[string]any
		if json.NewDecoder(r.Body).Decode(&in) != nil || in["formatName"] != "PDF" || r.PathValue("did") != "0123abcd" {
			w.WriteHeader(400)
			return
		}
		f.exports.Add(1)
		fmt.Fprint(w, `{"id":"tr1","requestState":"ACTIVE"}`)
	})
	mux.HandleFunc("GET /api/translations/tr1", func(w http.ResponseWriter, r *http.Request) {
		if check(w, r) {
			fmt.Fprint(w, `{"id":"tr1","requestState":"DONE","resultExternalDataIds":["ext9"]}`)
		}
	})
	mux.HandleFunc("GET /api/documents/d/0123abcd/externaldata/ext9", func(w http.ResponseWriter, r *http.Request) {
		if check(w, r) {
			w.Header().Set("Content-Type", "application/pdf")
			w.Write(*f.pdf.Load())
		}
	})
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.Listener = listen(t)
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

func TestDrawingFetchedFromOnshapeAndCached(t *testing.T) {
	fake := newFakeOnshape(t)
	e := newFilesEnv(t, func(po *parts.Options, _ *httpapi.Options) {
		po.Drawings = onshape.New(onshape.Options{BaseURL: fake.srv.URL, AccessKey: "access", SecretKey: "secret",
			Client: fake.srv.Client(), PollInterval: 1})
	})
	url := "https://cad.onshape.com/documents/0123abcd/w/4567ef/e/89ab"
	cnc := e.part(map[string]any{"onshapeUrl": url})
	wantError(t, e.do("GET", cnc+"/drawing", nil, nil), 400, "Drawings are only available for hand parts", "type")
	bare := e.part(map[string]any{"type": "hand"})
	wantError(t, e.do("GET", bare+"/drawing", nil, nil), 404, "", "")
	hand := e.part(map[string]any{"type": "hand", "partId": "H-7", "onshapeUrl": url})
	for range 2 {
		d := e.do("GET", hand+"/drawing", nil, map[string]string{"X-API-Key": readerKey})
		if d.status != 200 || !bytes.Equal(d.body, pdfData) || d.header.Get("Content-Type") != "application/pdf" ||
			d.header.Get("Content-Disposition") != `inline; filename="H-7 drawing.pdf"` {
			t.Fatalf("drawing: %d %q %q %s", d.status, d.header.Get("Content-Type"), d.header.Get("Content-Disposition"), d.body)
		}
	}
	if n := fake.exports.Load(); n != 1 {
		t.Errorf("%d exports, want 1 (then the cache)", n)
	}
	v2 := append(slices.Clone(pdfData), "% v2\n"...)
	fake.pdf.Store(&v2)
	if d := e.do("GET", hand+"/drawing?refresh=true", nil, nil); d.status != 200 || !bytes.Equal(d.body, v2) {
		t.Errorf("refresh: %d", d.status)
	}
	if d := e.do("GET", hand+"/download", nil, nil); !bytes.Equal(d.body, v2) {
		t.Errorf("the cached drawing is not the part's drawing file")
	}
	fake.status.Store(403)
	wantError(t, e.do("GET", hand+"/drawing?refresh=1", nil, nil), 502, "Onshape answered 403 for POST drawings", "")
	if d := e.do("GET", hand+"/drawing", nil, nil); d.status != 200 || !bytes.Equal(d.body, v2) {
		t.Errorf("cache after a failed refresh: %d", d.status)
	}
	evil := e.part(map[string]any{"type": "hand", "onshapeUrl": "https://evil.example/documents/../../x/w/y/e/z"})
	wantError(t, e.do("GET", evil+"/drawing", nil, nil), 400, "", "onshapeUrl")
	if fake.badAuths.Load() != 0 {
		t.Errorf("requests without the API keys reached Onshape")
	}
}

func TestDrawingWithoutOnshapeConfigured(t *testing.T) {
	e := newFilesEnv(t, nil)
	hand := e.part(map[string]any{"type": "hand", "onshapeUrl": "https://cad.onshape.com/documents/a1/w/b2/e/c3"})
	wantError(t, e.do("GET", hand+"/drawing", nil, nil), 503, "Fetching drawings from Onshape is not configured on this server", "")
}

func TestFileRoutesAreDocumented(t *testing.T) {
	e := newFilesEnv(t, nil)
	routes := httpapi.Routes(e.h)
	for _, want := range []string{
		"POST /api/parts/:id/upload", "GET /api/parts/:id/download", "GET /api/parts/:id/file",
		"GET /api/parts/:id/download/:filename", "POST /api/parts/:id/views", "GET /api/parts/:id/views",
		"GET /api/parts/:id/views/:i", "GET /api/parts/:id/drawing",
		"GET /api/parts/:id/model", "POST /api/parts/:id/convert",
	} {
		if !slices.Contains(routes, want) {
			t.Errorf("route %s missing from %q", want, routes)
		}
	}
	doc := e.do("GET", "/api/openapi.json", nil, nil)
	for _, p := range []string{`"/api/parts/{id}/model"`, `"/api/parts/{id}/convert"`, `"/api/parts/{id}/upload"`, `"/api/parts/{id}/download/{filename}"`, `"/api/parts/{id}/views/{i}"`, `"/api/parts/{id}/drawing"`} {
		if !bytes.Contains(doc.body, []byte(p)) {
			t.Errorf("OpenAPI document lacks %s", p)
		}
	}
}

// rawRequest sends raw bytes over TCP and returns the status line.
func rawRequest(t *testing.T, addr, raw string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte(raw))
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line)
}

func TestOversizeContentLengthIsRefusedBeforeReading(t *testing.T) {
	e := newFilesEnv(t, func(po *parts.Options, _ *httpapi.Options) { po.Uploads.MaxSize = 1 << 20 })
	p := e.part(nil)
	srv := httptest.NewUnstartedServer(e.h)
	srv.Listener = listen(t)
	srv.Start()
	defer srv.Close()
	// Announce 10 GiB and send none of it: the answer must come anyway.
	status := rawRequest(t, srv.Listener.Addr().String(), fmt.Sprintf(
		"POST %s/upload HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: %d\r\n\r\n",
		p, adminKey, int64(10)<<30))
	if status != "HTTP/1.1 413 Request Entity Too Large" {
		t.Errorf("status line %q", status)
	}
}

// TestHEADAnswersLikeGETWithoutABody checks HEAD over a real server (a
// recorder would keep the body): a part, a download and a missing part.
func TestHEADAnswersLikeGETWithoutABody(t *testing.T) {
	e := newFilesEnv(t, nil)
	p := e.part(nil)
	data := fixtures.Bytes(fixtures.BoxSTEPFile)
	if r := e.upload(p, "screw.step", data); r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	for _, c := range []struct {
		path   string
		status int
		length string
	}{
		{p, 200, ""},
		{p + "/download", 200, strconv.Itoa(len(data))},
		{p + "/file", 200, strconv.Itoa(len(data))},
		{"/api/parts/999999", 404, ""},
	} {
		get := e.do("GET", c.path, nil, nil)
		req, err := http.NewRequest(http.MethodHead, srv.URL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-API-Key", adminKey)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.status || get.status != c.status || len(body) != 0 {
			t.Errorf("HEAD %s: %d with %d body bytes (GET %d), want %d and none", c.path, res.StatusCode, len(body), get.status, c.status)
		}
		for _, h := range []string{"Content-Type", "ETag", "Content-Disposition"} {
			if res.Header.Get(h) != get.header.Get(h) {
				t.Errorf("HEAD %s: %s %q, GET has %q", c.path, h, res.Header.Get(h), get.header.Get(h))
			}
		}
		if c.length != "" && res.Header.Get("Content-Length") != c.length {
			t.Errorf("HEAD %s: Content-Length %q, want %s", c.path, res.Header.Get("Content-Length"), c.length)
		}
	}
}
