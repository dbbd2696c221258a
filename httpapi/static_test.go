package httpapi_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/partflow/partflow/httpapi"
)

// staticDir builds a client build next to a file that must stay private.
func staticDir(t *testing.T) string {
	t.Helper()
	top := t.TempDir()
	dir := filepath.Join(top, "dist")
	files := map[string]string{
		"index.html":                    "<!doctype html><title>INDEX</title>",
		"assets/index-BX3k2a9Q.js":      "console.log('plain')",
		"assets/index-BX3k2a9Q.js.br":   "BROTLI-BYTES",
		"assets/index-BX3k2a9Q.js.gz":   "GZIP-BYTES",
		"assets/style-Ab12Cd34.css":     "body{}",
		"assets/worker-x_9-aB3d.mjs":    "export {}",
		"manifest.webmanifest":          "{}",
		"models/robot.glb":              "glTF",
		"decoder.wasm":                  "\x00asm",
		"logo.svg":                      "<svg/>",
		"preview.webp":                  "RIFF",
		".env":                          "SECRET=1",
		"../outside.txt":                "OUTSIDE-SECRET",
		"assets/vendor-polyfills.js":    "var p",
		"nested/index.html":             "NESTED",
		"assets/deep/chunk-Zz99Yy88.js": "chunk",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(top, "outside.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestStatic_servesFilesWithTypesAndCaching(t *testing.T) {
	e := newEnv(t, func(o *httpapi.Options) { o.StaticDir = staticDir(t) })
	cases := []struct{ path, ctype, cache, body string }{
		{"/", "text/html; charset=utf-8", "no-cache", "INDEX"},
		{"/index.html", "text/html; charset=utf-8", "no-cache", "INDEX"},
		{"/assets/index-BX3k2a9Q.js", "text/javascript; charset=utf-8", "immutable", "plain"},
		{"/assets/style-Ab12Cd34.css", "text/css; charset=utf-8", "immutable", "body"},
		{"/assets/worker-x_9-aB3d.mjs", "text/javascript; charset=utf-8", "immutable", "export"},
		{"/assets/deep/chunk-Zz99Yy88.js", "text/javascript; charset=utf-8", "immutable", "chunk"},
		{"/assets/vendor-polyfills.js", "text/javascript; charset=utf-8", "no-cache", "var p"},
		{"/manifest.webmanifest", "application/manifest+json", "no-cache", "{}"},
		{"/models/robot.glb", "model/gltf-binary", "no-cache", "glTF"},
		{"/decoder.wasm", "application/wasm", "no-cache", "asm"},
		{"/logo.svg", "image/svg+xml", "no-cache", "svg"},
		{"/preview.webp", "image/webp", "no-cache", "RIFF"},
		{"/parts/42/edit", "text/html; charset=utf-8", "no-cache", "INDEX"},
		{"/nested/", "text/html; charset=utf-8", "no-cache", "INDEX"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r := e.do(req{method: "GET", path: c.path, header: noKey})
			if r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
			if got := r.header.Get("Content-Type"); got != c.ctype {
				t.Errorf("Content-Type %q, want %q", got, c.ctype)
			}
			if got := r.header.Get("Cache-Control"); !strings.Contains(got, c.cache) {
				t.Errorf("Cache-Control %q, want %q", got, c.cache)
			}
			if !strings.Contains(string(r.body), c.body) {
				t.Errorf("body %q, want %q in it", r.body, c.body)
			}
		})
	}
	t.Run("HEAD has headers and no body", func(t *testing.T) {
		r := e.do(req{method: "HEAD", path: "/logo.svg", header: noKey})
		if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Type") != "image/svg+xml" {
			t.Errorf("status %d body %q type %q", r.status, r.body, r.header.Get("Content-Type"))
		}
	})
	t.Run("POST is 405", func(t *testing.T) {
		wantError(t, e.do(req{method: "POST", path: "/", body: "{}"}), 405, "", "")
	})
	t.Run("unknown /api path is 404 JSON, not index.html", func(t *testing.T) {
		wantError(t, e.do(req{method: "GET", path: "/api/unknown"}), 404, "", "")
		wantError(t, e.do(req{method: "GET", path: "/api"}), 404, "", "")
	})
}

func TestStatic_precompressed(t *testing.T) {
	e := newEnv(t, func(o *httpapi.Options) { o.StaticDir = staticDir(t) })
	cases := []struct{ accept, encoding, body string }{
		{"gzip, deflate, br", "br", "BROTLI-BYTES"},
		{"gzip", "gzip", "GZIP-BYTES"},
		{"br;q=0, gzip;q=0.8", "gzip", "GZIP-BYTES"},
		{"*", "br", "BROTLI-BYTES"},
		{"identity", "", "console.log('plain')"},
		{"", "", "console.log('plain')"},
	}
	for _, c := range cases {
		t.Run("Accept-Encoding "+c.accept, func(t *testing.T) {
			r := e.do(req{method: "GET", path: "/assets/index-BX3k2a9Q.js", header: map[string]string{"Accept-Encoding": c.accept}})
			if r.status != 200 || string(r.body) != c.body || r.header.Get("Content-Encoding") != c.encoding {
				t.Errorf("status %d encoding %q body %q", r.status, r.header.Get("Content-Encoding"), r.body)
			}
			if r.header.Get("Content-Type") != "text/javascript; charset=utf-8" {
				t.Errorf("Content-Type %q, want the original's", r.header.Get("Content-Type"))
			}
			if !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Accept-Encoding") {
				t.Errorf("Vary %v", r.header.Values("Vary"))
			}
		})
	}
}

func TestStatic_cannotEscapeTheDirectory(t *testing.T) {
	e := newEnv(t, func(o *httpapi.Options) { o.StaticDir = staticDir(t) })
	for _, p := range []string{
		"/../../etc/passwd",
		"/%2e%2e/%2e%2e/etc/passwd",
		"/..%2f..%2fetc%2fpasswd",
		"/..%5c..%5cetc%5cpasswd",
		"/assets/../../outside.txt",
		"/%2e%2e/outside.txt",
		"/link.txt",
		"/.env",
		"/assets/%00.js",
	} {
		t.Run(p, func(t *testing.T) {
			r := e.do(req{method: "GET", path: p, header: noKey})
			body := string(r.body)
			if strings.Contains(body, "root:") || strings.Contains(body, "OUTSIDE-SECRET") || strings.Contains(body, "SECRET=1") {
				t.Fatalf("leaked: %q", body)
			}
			if r.status == 200 && !strings.Contains(body, "INDEX") {
				t.Errorf("status 200 with %q, want index.html or an error", body)
			}
			if r.status >= 500 {
				t.Errorf("status %d", r.status)
			}
		})
	}
}

func TestStatic_underBasePath(t *testing.T) {
	e := newEnv(t, func(o *httpapi.Options) {
		o.StaticDir = staticDir(t)
		o.BasePath = "/part-management-system"
	})
	for _, p := range []string{"/part-management-system", "/part-management-system/", "/part-management-system/board"} {
		if r := e.do(req{method: "GET", path: p}); r.status != 200 || !strings.Contains(string(r.body), "INDEX") {
			t.Errorf("%s: status %d body %q", p, r.status, r.body)
		}
	}
	if r := e.do(req{method: "GET", path: "/part-management-system/logo.svg"}); r.status != 200 || r.header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("logo: status %d", r.status)
	}
	wantError(t, e.do(req{method: "GET", path: "/logo.svg"}), 404, "", "")
}

func TestStatic_withoutIndexIs404(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, func(o *httpapi.Options) { o.StaticDir = dir })
	wantError(t, e.do(req{method: "GET", path: "/anything"}), 404, "", "")
}
