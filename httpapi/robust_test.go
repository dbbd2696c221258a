package httpapi_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/partflow/partflow/httpapi"
)

func TestMalformedInput_neverA500(t *testing.T) {
	e := newEnv(t, nil)
	p := e.create(nil)
	id := partPath(p, "")
	cases := []struct {
		name, method, path string
		body               any
		ctype              string
		status             int
	}{
		{"truncated JSON", "POST", "/api/parts/", `{"partId": "x"`, "", 400},
		{"JSON array", "POST", "/api/parts/", `[1,2]`, "", 400},
		{"JSON string", "POST", "/api/parts/", `"hello"`, "", 400},
		{"JSON null", "POST", "/api/parts/", `null`, "", 400},
		{"two objects", "POST", "/api/parts/", `{} {}`, "", 400},
		{"invalid UTF-8", "POST", "/api/parts/", "{\"partId\": \"\xff\xfe\", \"material\": \"m\", \"subsystem\": \"s\"}", "", 400},
		{"huge number amount", "POST", "/api/parts/", `{"partId":"a","material":"m","subsystem":"s","amount":1e400}`, "", 400},
		{"huge number in miscInfo", "POST", "/api/parts/", `{"partId":"a","material":"m","subsystem":"s","miscInfo":{"x":1e400}}`, "", 400},
		{"deep nesting", "POST", "/api/parts/", `{"miscInfo":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "", 400},
		{"NUL in a field", "POST", "/api/parts/", `{"partId":"a\u0000b","material":"m","subsystem":"s"}`, "", 400},
		{"form body", "POST", "/api/parts/", `partId=a`, "application/x-www-form-urlencoded", 415},
		{"bad content type", "POST", "/api/parts/", `{}`, "application/json; charset", 415},
		{"malformed PUT", "PUT", id, `{"name":`, "", 400},
		{"array action body", "POST", id + "/approve", `[]`, "", 400},
		{"malformed unclaim body", "POST", id + "/unclaim", `{`, "", 400},
		{"huge id", "GET", "/api/parts/922337203685477580799", nil, "", 404},
		{"negative id", "DELETE", "/api/parts/-5", nil, "", 404},
		{"id with spaces", "GET", "/api/parts/%201", nil, "", 404},
		{"encoded slash in id", "GET", "/api/parts/1%2F..", nil, "", 404},
		{"dot segments", "GET", "/api/parts/../parts/1", nil, "", 404},
		{"double slash", "GET", "/api//parts/1", nil, "", 404},
		{"absurd limit", "GET", "/api/parts/?limit=1e9", nil, "", 400},
		{"absurd offset", "GET", "/api/parts/?offset=-99999999999999999999", nil, "", 400},
		{"unknown sort", "GET", "/api/parts/?sort_by=id%3Bdrop%20table%20parts", nil, "", 400},
	}
	for _, c := range cases {
		t.Run(c.name+" is "+http.StatusText(c.status), func(t *testing.T) {
			r := req{method: c.method, path: c.path, body: c.body}
			if c.ctype != "" {
				r.header = map[string]string{"Content-Type": c.ctype}
			}
			wantError(t, e.do(r), c.status, "", "")
		})
	}
}

func TestBodyLimit_is413(t *testing.T) {
	e := newEnv(t, func(o *httpapi.Options) { o.MaxBodyBytes = 1024 })
	big := `{"partId":"a","material":"m","subsystem":"s","notes":"` + strings.Repeat("x", 2000) + `"}`
	wantError(t, e.do(req{method: "POST", path: "/api/parts/", body: big}), 413, "", "")
	// Without a header key, auth reads the body for api_key and hits the limit too.
	wantError(t, e.do(req{method: "POST", path: "/api/parts/", body: big, header: noKey}), 413, "", "")
	small := `{"partId":"a","material":"m","subsystem":"s"}`
	wantStatus(t, e.do(req{method: "POST", path: "/api/parts/", body: small}), 201)
}

func TestUnknownRoutesAndMethods_areJSON(t *testing.T) {
	e := newEnv(t, nil)
	p := e.create(nil)
	for _, path := range []string{"/api/nope", "/api/parts/1/nope", "/api", "/api/", "/elsewhere"} {
		t.Run("GET "+path+" is 404 JSON", func(t *testing.T) {
			wantError(t, e.do(req{method: "GET", path: path}), 404, "", "")
		})
	}
	cases := []struct{ method, path, allow string }{
		{"PATCH", partPath(p, ""), "DELETE, GET, HEAD, PUT"},
		{"DELETE", "/api/parts/", "GET, HEAD, POST"},
		{"GET", partPath(p, "/approve"), "POST"},
		{"DELETE", partPath(p, "/assign"), "POST, PUT"},
		{"POST", "/api/parts/stats", "GET, HEAD"},
		{"POST", "/health", "GET, HEAD"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path+" is 405 JSON with Allow", func(t *testing.T) {
			r := e.do(req{method: c.method, path: c.path})
			wantError(t, r, 405, "", "")
			if r.header.Get("Allow") != c.allow {
				t.Errorf("Allow %q, want %q", r.header.Get("Allow"), c.allow)
			}
		})
	}
}

func TestPanicRecovery_is500JSONWithRequestID(t *testing.T) {
	e := newEnv(t, func(o *httpapi.Options) {
		httpapi.AddTestRoute(o, "GET", "/api/test/panic", func(w http.ResponseWriter, r *http.Request) error {
			panic("kaboom: secret detail")
		})
		httpapi.AddTestRoute(o, "GET", "/api/test/error", func(w http.ResponseWriter, r *http.Request) error {
			return errors.New("database exploded: secret detail")
		})
	})
	for _, path := range []string{"/api/test/panic", "/api/test/error"} {
		t.Run(path+" is 500 internal error", func(t *testing.T) {
			r := e.do(req{method: "GET", path: path, header: map[string]string{"X-Request-ID": "req-" + path[10:]}})
			m := wantError(t, r, 500, "internal error", "")
			if m["request_id"] != "req-"+path[10:] {
				t.Errorf("request_id %v", m["request_id"])
			}
			if strings.Contains(string(r.body), "secret detail") {
				t.Errorf("the response leaks the detail: %s", r.body)
			}
		})
	}
	if !strings.Contains(e.logs.String(), "kaboom: secret detail") || !strings.Contains(e.logs.String(), "database exploded") {
		t.Errorf("the log should hold the details:\n%s", e.logs.String())
	}
	e.must(200, req{method: "GET", path: "/health"}) // still serving
}

func TestCORS(t *testing.T) {
	e := newEnv(t, func(o *httpapi.Options) { o.CORSOrigins = []string{"https://client.example"} })
	t.Run("preflight is answered without a key", func(t *testing.T) {
		r := e.do(req{method: "OPTIONS", path: "/api/parts/1", header: map[string]string{
			"X-API-Key": "", "Origin": "https://client.example", "Access-Control-Request-Method": "PUT",
			"Access-Control-Request-Headers": "x-api-key, if-match"}})
		if r.status != 204 {
			t.Fatalf("status %d", r.status)
		}
		h := r.header
		if h.Get("Access-Control-Allow-Origin") != "https://client.example" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "PUT") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "X-API-Key") || !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Errorf("headers %v", h)
		}
	})
	t.Run("simple request from an allowed origin gets the header", func(t *testing.T) {
		r := e.do(req{method: "GET", path: "/api/parts/", header: map[string]string{"Origin": "https://client.example"}})
		if r.header.Get("Access-Control-Allow-Origin") != "https://client.example" || !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "ETag") {
			t.Errorf("headers %v", r.header)
		}
	})
	t.Run("other origins get no allow header", func(t *testing.T) {
		r := e.do(req{method: "GET", path: "/api/parts/", header: map[string]string{"Origin": "https://evil.example"}})
		if r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("allowed %q", r.header.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("star allows any origin", func(t *testing.T) {
		e := newEnv(t, func(o *httpapi.Options) { o.CORSOrigins = []string{"*"} })
		r := e.do(req{method: "GET", path: "/health", header: map[string]string{"Origin": "https://any.example"}})
		if r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("allowed %q", r.header.Get("Access-Control-Allow-Origin"))
		}
	})
}

func TestBasePath_mountsEverything(t *testing.T) {
	e := newEnv(t, func(o *httpapi.Options) { o.BasePath = "/part-management-system" })
	p := e.must(201, req{method: "POST", path: "/part-management-system/api/parts/", body: map[string]any{
		"partId": "B", "material": "M", "subsystem": "S"}})
	e.must(200, req{method: "GET", path: "/part-management-system/api/parts/" + jsonInt(p["id"])})
	wantError(t, e.do(req{method: "GET", path: "/api/parts/"}), 404, "", "")
	wantError(t, e.do(req{method: "GET", path: "/part-management-systemx/api/parts/"}), 404, "", "")
	doc := e.must(200, req{method: "GET", path: "/part-management-system/api/openapi.json"})
	if s := doc["servers"].([]any)[0].(map[string]any)["url"]; s != "/part-management-system" {
		t.Errorf("server url %v", s)
	}
}
