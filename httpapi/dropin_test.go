package httpapi_test

// Tests of what the original API's clients rely on (issue "drop-in, really"):
// the file a part shows, request edge cases, the specification's answers,
// recorded conversion failures, the index page and mounting.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/internal/fixtures"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/plugins/stl/stlconv"
)

var jsonHeader = map[string]string{"Content-Type": "application/json"}

// TestPDFAfterSTEPIsWhatThePartShows is the client's edit form: a part with a
// STEP gets a PDF drawing. file, GET /file, GET /download and the list's card
// data then point at the PDF; files keeps both; the STEP stays downloadable.
func TestPDFAfterSTEPIsWhatThePartShows(t *testing.T) {
	e := newFilesEnv(t, nil)
	p := e.part(nil)
	step, pdf := fixtures.Bytes(fixtures.BoxSTEPFile), fixtures.Bytes(fixtures.DrawingPDFFile)
	if r := e.upload(p, "box.step", step); r.status != 201 || r.json(t)["filename"] != "box.step" {
		t.Fatalf("STEP upload: %d %s", r.status, r.body)
	}
	if got := e.do("GET", p, nil, nil).json(t); got["file"] != "box.step" {
		t.Fatalf("after the STEP, file = %v", got["file"])
	}
	// The edit form first PUTs the name of the file it is about to upload.
	if r := e.do("PUT", p, strings.NewReader(`{"file":"drawing.pdf","notes":"new drawing"}`), jsonHeader); r.status != 200 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	up := e.upload(p, "drawing.pdf", pdf)
	if up.status != 201 {
		t.Fatalf("PDF upload: %d %s", up.status, up.body)
	}
	part := e.do("GET", p, nil, nil).json(t)
	if part["file"] != "drawing.pdf" {
		t.Errorf("file = %v, want the PDF just uploaded", part["file"])
	}
	var names []string
	for _, f := range part["files"].([]any) {
		names = append(names, f.(map[string]any)["name"].(string))
	}
	if strings.Join(names, ",") != "box.step,drawing.pdf" {
		t.Errorf("files = %v, want the STEP and the PDF", names)
	}
	for _, c := range []struct{ path, disposition string }{{"/file", "inline"}, {"/download", "attachment"}} {
		r := e.do("GET", p+c.path, nil, nil)
		if r.status != 200 || !bytes.Equal(r.body, pdf) || r.header.Get("Content-Type") != "application/pdf" ||
			!strings.HasPrefix(r.header.Get("Content-Disposition"), c.disposition) {
			t.Errorf("GET %s: %d %q %q, %d bytes; want the PDF", c.path, r.status, r.header.Get("Content-Type"),
				r.header.Get("Content-Disposition"), len(r.body))
		}
	}
	if r := e.do("GET", p+"/download/box.step", nil, nil); r.status != 200 || !bytes.Equal(r.body, step) {
		t.Errorf("the STEP by name: %d, %d bytes", r.status, len(r.body))
	}
	list := e.do("GET", "/api/parts/", nil, nil).json(t)
	card := list["parts"].([]any)[0].(map[string]any)
	if card["file"] != "drawing.pdf" {
		t.Errorf("the list's card data has file %v, want the PDF", card["file"])
	}
	t.Run("a new STEP is the file again", func(t *testing.T) {
		if r := e.upload(p, "box2.step", step); r.status != 201 {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
		if got := e.do("GET", p, nil, nil).json(t); got["file"] != "box2.step" {
			t.Errorf("file = %v, want box2.step", got["file"])
		}
	})
}

// TestModelFollowsTheCADFileAfterADrawing: a drawing uploaded after the CAD
// file becomes the file, while the model stays the CAD file's.
func TestModelFollowsTheCADFileAfterADrawing(t *testing.T) {
	e := newConvertEnv(t)
	p := e.part(nil)
	if r := e.upload(p, "box.stl", fixtures.Bytes(fixtures.BoxSTLFile)); r.status != 201 {
		t.Fatalf("STL: %d %s", r.status, r.body)
	}
	before := e.do("GET", p+"/model", nil, nil)
	if before.status != 200 {
		t.Fatalf("model: %d %s", before.status, before.body)
	}
	if r := e.upload(p, "drawing.pdf", fixtures.Bytes(fixtures.DrawingPDFFile)); r.status != 201 {
		t.Fatalf("PDF: %d %s", r.status, r.body)
	}
	part := e.do("GET", p, nil, nil).json(t)
	model, _ := part["model"].(map[string]any)
	if part["file"] != "drawing.pdf" || model["state"] != "ready" {
		t.Errorf("file %v model %v; want the PDF and the STL's ready model", part["file"], part["model"])
	}
	if after := e.do("GET", p+"/model", nil, nil); after.status != 200 || !bytes.Equal(after.body, before.body) {
		t.Errorf("model after the PDF: %d, %d bytes; want the same GLB", after.status, len(after.body))
	}
}

// TestEditEdgeCases covers the JSON edge cases of create and edit.
func TestEditEdgeCases(t *testing.T) {
	e := newEnv(t, nil)
	p := e.create(nil)
	path := partPath(p, "")
	t.Run("PUT with an empty body or {} is No data provided", func(t *testing.T) {
		for _, body := range []string{"", "{}", " { } "} {
			wantError(t, e.do(req{method: "PUT", path: path, body: body}), 400, "No data provided", "body")
		}
	})
	t.Run("malformed JSON is 400 on every write route", func(t *testing.T) {
		for _, r := range []req{
			{method: "POST", path: "/api/parts/"}, {method: "PUT", path: path},
			{method: "POST", path: partPath(p, "/approve")}, {method: "POST", path: partPath(p, "/assign")},
			{method: "PUT", path: partPath(p, "/status")}, {method: "POST", path: partPath(p, "/complete")},
		} {
			r.body = `{"name": "trunc`
			wantError(t, e.do(r), 400, "", "body")
		}
	})
	t.Run("amount absent, null or empty is 1 on create", func(t *testing.T) {
		for _, amount := range []any{nil, "", "  "} {
			fields := map[string]any{"partId": "A-1"}
			if amount != nil {
				fields["amount"] = amount
			}
			if got := e.create(fields); got["amount"] != 1.0 {
				t.Errorf("amount %#v: got %v, want 1", amount, got["amount"])
			}
		}
		got := e.must(201, req{method: "POST", path: "/api/parts/", body: `{"partId":"A-2","material":"m","subsystem":"s","amount":null}`})
		if got["amount"] != 1.0 {
			t.Errorf("amount null: got %v", got["amount"])
		}
		for _, bad := range []any{"abc", 0, 1.5, true} {
			wantError(t, e.do(req{method: "POST", path: "/api/parts/", body: map[string]any{
				"partId": "A-3", "material": "m", "subsystem": "s", "amount": bad}}), 400, "", "amount")
		}
	})
	t.Run("lone surrogates and invalid UTF-8 are 400 naming the field", func(t *testing.T) {
		cases := []struct {
			r     req
			field string
		}{
			{req{method: "POST", path: "/api/parts/", body: `{"partId":"S","material":"m","subsystem":"s","name":"a\ud800b"}`}, "name"},
			{req{method: "PUT", path: path, body: `{"notes":"x\udc00"}`}, "notes"},
			{req{method: "PUT", path: path, body: `{"notes":"\ud800\u0041"}`}, "notes"},
			{req{method: "PUT", path: path, body: "{\"material\":\"\xff\xfe\"}"}, "material"},
			{req{method: "POST", path: partPath(p, "/approve"), body: `{"reviewer":"\udbff"}`}, "reviewer"},
			{req{method: "PUT", path: path, body: `{"miscInfo":{"k":["\ud800"]}}`}, "miscInfo"},
			{req{method: "PUT", path: path, body: "{\"\": \"\xff\"}"}, "body"}, // found by FuzzDecodePart
		}
		for _, c := range cases {
			wantError(t, e.do(c.r), 400, "", c.field)
		}
		got := e.must(200, req{method: "PUT", path: path, body: `{"notes":"gear \ud83d\ude00 \\ud800 literal"}`})
		if got["notes"] != `gear 😀 \ud800 literal` {
			t.Errorf("a valid pair and an escaped backslash: notes = %q", got["notes"])
		}
	})
}

// TestClaimedDateIsParsedOrRefused: claimedDate in a PUT is returned as the
// same instant, or 400; never accepted and dropped.
func TestClaimedDateIsParsedOrRefused(t *testing.T) {
	e := newEnv(t, nil)
	path := partPath(e.create(nil), "")
	t.Run("claimedDate is parsed and returned as the same instant", func(t *testing.T) {
		for in, want := range map[string]string{
			"2025-01-02T03:04:05":              "2025-01-02T03:04:05.000000Z",
			"2025-01-02T03:04:05.123456":       "2025-01-02T03:04:05.123456Z",
			"2025-01-02T03:04:05Z":             "2025-01-02T03:04:05.000000Z",
			"2025-01-02T03:04:05.5+02:00":      "2025-01-02T01:04:05.500000Z",
			"2025-01-02T03:04:05.123456+00:00": "2025-01-02T03:04:05.123456Z",
		} {
			got := e.must(200, req{method: "PUT", path: path, body: map[string]any{"claimedDate": in}})
			if got["claimedDate"] != want {
				t.Errorf("claimedDate %q: got %v, want %s", in, got["claimedDate"], want)
			}
			if again := e.must(200, req{method: "GET", path: path}); again["claimedDate"] != want {
				t.Errorf("claimedDate %q not stored: %v", in, again["claimedDate"])
			}
		}
		got := e.must(200, req{method: "PUT", path: path, body: `{"claimed_date":null}`})
		if got["claimedDate"] != nil {
			t.Errorf("claimed_date null: got %v", got["claimedDate"])
		}
		for _, bad := range []any{"yesterday", "2025-13-01T00:00:00Z", 1700000000, true} {
			wantError(t, e.do(req{method: "PUT", path: path, body: map[string]any{"claimedDate": bad}}), 400, "", "claimedDate")
		}
	})
}

// TestNonIntegerIDIs404 checks every method on paths whose part id is not an
// integer.
func TestNonIntegerIDIs404(t *testing.T) {
	e := newEnv(t, nil)
	for _, id := range []string{"abc", "1.5", "0x10", "99999999999999999999999"} {
		for _, r := range []req{
			{method: "GET", path: "/api/parts/" + id}, {method: "PUT", path: "/api/parts/" + id, body: `{"name":"x"}`},
			{method: "DELETE", path: "/api/parts/" + id}, {method: "POST", path: "/api/parts/" + id + "/approve"},
			{method: "POST", path: "/api/parts/" + id + "/assign", body: `{"assigned":"A"}`},
			{method: "PUT", path: "/api/parts/" + id + "/status", body: `{"status":"Pending"}`},
			{method: "GET", path: "/api/parts/" + id + "/file"}, {method: "GET", path: "/api/parts/" + id + "/views/0"},
			{method: "POST", path: "/api/parts/" + id + "/convert"}, {method: "GET", path: "/api/parts/" + id + "/model"},
		} {
			wantError(t, e.do(r), 404, "", "")
		}
	}
}

// TestControlCharactersInPaths: a path parameter decoding to a control
// character is a JSON 400, with or without a key, and never a panic.
func TestControlCharactersInPaths(t *testing.T) {
	e := newEnv(t, nil)
	p := e.create(nil)
	for _, path := range []string{
		"/api/parts/categories/%00", "/api/parts/categories/review%0a", partPath(p, "/download/%00"),
		partPath(p, "/download/a%00.step"), partPath(p, "/views/%00"), partPath(p, "/views/%1f"), "/api/parts/%00",
	} {
		for _, key := range []string{adminKey, ""} {
			r := e.do(req{method: "GET", path: path, header: map[string]string{"X-API-Key": key}})
			wantError(t, r, 400, "The path holds a control character (such as %00)", "")
		}
	}
	if strings.Contains(e.logs.String(), "panic") {
		t.Errorf("a control character reached the router:\n%s", e.logs.String())
	}
}

// TestInvalidRangeIsJSON416 checks an unsatisfiable Range header.
func TestInvalidRangeIsJSON416(t *testing.T) {
	e := newFilesEnv(t, nil)
	p := e.part(nil)
	data := fixtures.Bytes(fixtures.BoxSTEPFile)
	e.upload(p, "box.step", data)
	for _, rng := range []string{"bytes=999999-", "bytes=5-2", "bytes=abc", "bytes=1-2-3"} {
		for _, route := range []string{"/download", "/file", "/download/box.step"} {
			r := e.do("GET", p+route, nil, map[string]string{"Range": rng})
			wantError(t, r, 416, "The requested range cannot be satisfied", "")
			// Content-Range gives the size when the range was well-formed
			// but outside the file.
			if got := r.header.Get("Content-Range"); rng == "bytes=999999-" && got != "bytes */"+jsonInt(float64(len(data))) {
				t.Errorf("Range %q on %s: Content-Range %q", rng, route, got)
			}
		}
	}
	if r := e.do("GET", p+"/download", nil, map[string]string{"Range": "bytes=0-9"}); r.status != 206 || !bytes.Equal(r.body, data[:10]) {
		t.Errorf("a valid range: %d %q", r.status, r.body)
	}
}

// rawExchange sends raw bytes to srv, closes the write side and returns the
// response.
func rawExchange(t *testing.T, srv *httptest.Server, raw string) (int, map[string]any) {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatalf("status %d: body is not JSON: %v", res.StatusCode, err)
	}
	return res.StatusCode, m
}

// TestBrokenBodiesAre400 sends bodies shorter than their Content-Length,
// with an invalid chunked encoding, or cut off mid-chunk, to every kind of
// write route, JSON and multipart.
func TestBrokenBodiesAre400(t *testing.T) {
	e := newFilesEnv(t, nil)
	p := e.part(nil)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	multipart := "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.step\"\r\n\r\nISO-10303-21;\nDATA;\n"
	views := "--XX\r\nContent-Disposition: form-data; name=\"view_0\"; filename=\"v.png\"\r\n\r\n\x89PNG\r\n"
	routes := []struct{ method, path, contentType, body string }{
		{"POST", "/api/parts/", "application/json", `{"partId":"X","material":"m","subsystem":"s"}`},
		{"PUT", p, "application/json", `{"name":"renamed"}`},
		{"POST", p + "/approve", "application/json", `{"reviewer":"R"}`},
		{"PUT", p + "/status", "application/json", `{"status":"Pending"}`},
		{"POST", p + "/upload", "multipart/form-data; boundary=XX", multipart},
		{"POST", p + "/views", "multipart/form-data; boundary=XX", views},
	}
	for _, rt := range routes {
		head := rt.method + " " + rt.path + " HTTP/1.1\r\nHost: x\r\nX-API-Key: " + adminKey + "\r\nContent-Type: " + rt.contentType + "\r\n"
		for name, raw := range map[string]string{
			"shorter than Content-Length": head + "Content-Length: " + jsonInt(float64(len(rt.body)+100)) + "\r\n\r\n" + rt.body,
			"invalid chunk size":          head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n" + rt.body + "\r\n0\r\n\r\n",
			"cut off mid-chunk":           head + "Transfer-Encoding: chunked\r\n\r\n400\r\n" + rt.body,
		} {
			status, m := rawExchange(t, srv, raw)
			if status != 400 {
				t.Errorf("%s %s, %s: status %d %v, want 400", rt.method, rt.path, name, status, m)
			} else if _, ok := m["error"].(string); !ok {
				t.Errorf("%s %s, %s: no error in %v", rt.method, rt.path, name, m)
			}
		}
	}
	if got := e.do("GET", p, nil, nil).json(t); got["name"] == "renamed" || got["file"] != nil || got["status"] != "Pending" {
		t.Errorf("a broken request changed the part: %v", got)
	}
}

// countingConverter counts conversions of the STL converter it wraps.
type countingConverter struct {
	convert.Converter
	calls atomic.Int32
}

func (c *countingConverter) Convert(ctx context.Context, req convert.Request) (*convert.Stats, error) {
	c.calls.Add(1)
	return c.Converter.Convert(ctx, req)
}

// TestRecordedConversionFailureIs422WithoutConvertingAgain: GET /model on a
// part whose conversion failed answers the failure without converting again,
// until POST /convert asks or the file changes.
func TestRecordedConversionFailureIs422WithoutConvertingAgain(t *testing.T) {
	conv := &countingConverter{Converter: stlconv.New()}
	reg := convert.NewRegistry()
	if err := reg.Register(context.Background(), conv); err != nil {
		t.Fatal(err)
	}
	e := newFilesEnv(t, func(po *parts.Options, ho *httpapi.Options) {
		po.Uploads.Extensions = []string{"step", "pdf", "stl"}
		po.Convert = parts.ConvertOptions{Converters: reg, WorkDir: t.TempDir()}
		ho.Convert = httpapi.ConvertOptions{UploadWait: 20 * time.Second, ModelWait: 20 * time.Second}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.svc.RunConversions(ctx, 1) }()
	t.Cleanup(func() { cancel(); <-done })

	p := e.part(nil)
	up := e.upload(p, "empty.stl", emptySTL())
	if c, _ := up.json(t)["conversion"].(map[string]any); up.status != 201 || c["status"] != "failed" {
		t.Fatalf("upload: %d %s", up.status, up.body)
	}
	if n := conv.calls.Load(); n != 1 {
		t.Fatalf("conversions after the upload: %d, want 1", n)
	}
	for range 3 {
		m := wantError(t, e.do("GET", p+"/model", nil, nil), 422, "The CAD file could not be converted", "")
		if d, _ := m["details"].(map[string]any); d["status"] != "failed" || d["reason"] == "" {
			t.Errorf("details %v", m["details"])
		}
	}
	if n := conv.calls.Load(); n != 1 {
		t.Errorf("GET /model converted again: %d conversions, want 1", n)
	}
	r := e.do("POST", p+"/convert", nil, nil)
	if m := r.json(t); r.status != 422 || m["success"] != false || m["error"] == "" {
		t.Errorf("POST convert: %d %s", r.status, r.body)
	}
	if n := conv.calls.Load(); n != 2 {
		t.Errorf("POST /convert did not convert again: %d conversions, want 2", n)
	}
	if r := e.upload(p, "box.stl", fixtures.Bytes(fixtures.BoxSTLFile)); r.status != 201 {
		t.Fatalf("new file: %d %s", r.status, r.body)
	}
	if r := e.do("GET", p+"/model", nil, nil); r.status != 200 || conv.calls.Load() != 3 {
		t.Errorf("after a new file: model %d, %d conversions; want 200 and 3", r.status, conv.calls.Load())
	}
}

// TestConvertAnswersAlwaysCarrySuccess checks every POST .../convert answer.
func TestConvertAnswersAlwaysCarrySuccess(t *testing.T) {
	noConverter := newFilesEnv(t, nil)
	withConverter := newConvertEnv(t)
	cases := []struct {
		name   string
		e      *filesEnv
		setup  func(e *filesEnv) string
		status int
	}{
		{"no converter configured", noConverter, func(e *filesEnv) string {
			p := e.part(nil)
			e.upload(p, "box.step", fixtures.Bytes(fixtures.BoxSTEPFile))
			return p
		}, 503},
		{"no convertible file", withConverter, func(e *filesEnv) string {
			p := e.part(nil)
			e.upload(p, "drawing.pdf", fixtures.Bytes(fixtures.DrawingPDFFile))
			return p
		}, 404},
		{"no file at all", withConverter, func(e *filesEnv) string { return e.part(nil) }, 404},
		{"missing part", withConverter, func(*filesEnv) string { return "/api/parts/4242" }, 404},
		{"non-integer id", withConverter, func(*filesEnv) string { return "/api/parts/abc" }, 404},
		{"the converter rejects the file", withConverter, func(e *filesEnv) string {
			p := e.part(nil)
			e.upload(p, "empty.stl", emptySTL())
			return p
		}, 422},
		{"converted", withConverter, func(e *filesEnv) string {
			p := e.part(nil)
			e.upload(p, "box.stl", fixtures.Bytes(fixtures.BoxSTLFile))
			return p
		}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.e.do("POST", c.setup(c.e)+"/convert", nil, nil)
			m := r.json(t)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			want := c.status == 200
			if m["success"] != want {
				t.Errorf("success = %v, want %v: %s", m["success"], want, r.body)
			}
			if msg, _ := m["error"].(string); !want && msg == "" {
				t.Errorf("no error message: %s", r.body)
			}
		})
	}
}

// TestUploadAnswerCarriesPath checks the original specification's name.
func TestUploadAnswerCarriesPath(t *testing.T) {
	e := newFilesEnv(t, nil)
	p := e.part(nil)
	m := e.upload(p, "drawing.pdf", fixtures.Bytes(fixtures.DrawingPDFFile)).json(t)
	if m["path"] != p+"/download/drawing.pdf" || m["file_path"] != m["path"] {
		t.Errorf("path %v file_path %v, want both %s/download/drawing.pdf", m["path"], m["file_path"], p)
	}
}

// TestIndexExplainsItself checks / without a web client.
func TestIndexExplainsItself(t *testing.T) {
	for _, base := range []string{"", "/pms"} {
		e := newEnv(t, func(o *httpapi.Options) { o.BasePath = base; o.Version = "v9.8.7" })
		for _, path := range []string{base + "/", base} {
			if path == "" {
				continue
			}
			r := e.do(req{method: "GET", path: path, header: map[string]string{"Accept": "text/html,application/xhtml+xml;q=0.9", "X-API-Key": ""}})
			page := string(r.body)
			if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
				t.Fatalf("GET %s: %d %q", path, r.status, r.header.Get("Content-Type"))
			}
			for _, want := range []string{"Partflow v9.8.7", `href="` + base + `/api/openapi.json"`, `href="` + base + `/health"`,
				"--static", "Quick start", "Configuration"} {
				if !strings.Contains(page, want) {
					t.Errorf("GET %s: the page lacks %q", path, want)
				}
			}
			if got := e.do(req{method: "GET", path: base + "/api/openapi.json", header: map[string]string{"X-API-Key": ""}}); got.status != 200 {
				t.Errorf("the linked OpenAPI document: %d", got.status)
			}
		}
		m := e.must(200, req{method: "GET", path: base + "/", header: map[string]string{"Accept": "application/json", "X-API-Key": ""}})
		if m["name"] != "Partflow" || m["version"] != "v9.8.7" || m["openapi"] != base+"/api/openapi.json" || m["health"] != base+"/health" {
			t.Errorf("JSON index %v", m)
		}
		wantError(t, e.do(req{method: "POST", path: base + "/", body: "{}"}), 405, "", "")
		wantError(t, e.do(req{method: "GET", path: base + "/elsewhere"}), 404, "", "")
	}
}

// TestMountedUnderStripPrefix serves the handler under http.StripPrefix in a
// mux: the paths in its answers carry the prefix and work.
func TestMountedUnderStripPrefix(t *testing.T) {
	e := newFilesEnv(t, nil)
	mux := http.NewServeMux()
	mux.Handle("/parts-app/", http.StripPrefix("/parts-app", e.h))
	mux.Handle("/bad/", http.StripPrefix("/bad/", e.h))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path string, body []byte, ct string) (int, []byte) {
		t.Helper()
		r, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("X-API-Key", adminKey)
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		res, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		if _, err := b.ReadFrom(res.Body); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, b.Bytes()
	}
	status, body := do("POST", "/parts-app/api/parts/", []byte(`{"partId":"M-1","material":"m","subsystem":"s"}`), "application/json")
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	var part map[string]any
	json.Unmarshal(body, &part)
	pdf := fixtures.Bytes(fixtures.DrawingPDFFile)
	ct, mp := multipartBody(t, formFile{"file", "drawing.pdf", pdf})
	status, body = do("POST", "/parts-app/api/parts/"+jsonInt(part["id"])+"/upload", mp, ct)
	var up map[string]any
	json.Unmarshal(body, &up)
	want := "/parts-app/api/parts/" + jsonInt(part["id"]) + "/download/drawing.pdf"
	if status != 201 || up["file_path"] != want || up["path"] != want {
		t.Fatalf("upload: %d file_path %v path %v, want %s", status, up["file_path"], up["path"], want)
	}
	if status, got := do("GET", want, nil, ""); status != 200 || !bytes.Equal(got, pdf) {
		t.Errorf("GET file_path: %d, %d bytes", status, len(got))
	}
	status, body = do("GET", "/parts-app/api/openapi.json", nil, "")
	var doc struct {
		Servers []struct{ URL string } `json:"servers"`
	}
	if err := json.Unmarshal(body, &doc); status != 200 || err != nil || len(doc.Servers) != 1 || doc.Servers[0].URL != "/parts-app" {
		t.Errorf("OpenAPI servers %+v (%d, %v), want /parts-app", doc.Servers, status, err)
	}
	r, _ := http.NewRequest("GET", srv.URL+"/parts-app/", nil)
	r.Header.Set("Accept", "text/html")
	res, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	page.ReadFrom(res.Body)
	res.Body.Close()
	if !strings.Contains(page.String(), `href="/parts-app/api/openapi.json"`) {
		t.Errorf("index page links do not carry the prefix:\n%s", page.String())
	}
	status, body = do("GET", "/bad/api/parts/", nil, "")
	if status != 404 || !strings.Contains(string(body), "without a trailing slash") {
		t.Errorf("a mount that strips the leading slash: %d %s", status, body)
	}
}
