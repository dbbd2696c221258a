package httpapi_test

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/parts"
)

// contractRoutes are the routes of shared/API.md (and the issue) this
// package serves; the files feature adds its own to this list.
var contractRoutes = []string{
	"GET /health",
	"GET /ready",
	"GET /api/openapi.json",
	"GET /api/parts/auth/check",
	"GET /api/parts/",
	"POST /api/parts/",
	"GET /api/parts/categories/{category}",
	"GET /api/parts/stats",
	"GET /api/parts/leaderboard",
	"GET /api/parts/{id}",
	"PUT /api/parts/{id}",
	"DELETE /api/parts/{id}",
	"GET /api/parts/{id}/history",
	"POST /api/parts/{id}/approve",
	"POST /api/parts/{id}/assign",
	"PUT /api/parts/{id}/assign",
	"POST /api/parts/{id}/unclaim",
	"PUT /api/parts/{id}/unclaim",
	"POST /api/parts/{id}/complete",
	"POST /api/parts/{id}/revert",
	"PUT /api/parts/{id}/status",
}

var paramRE = regexp.MustCompile(`:([A-Za-z_]+)|\*([A-Za-z_]+)`)

func TestOpenAPI_documentsEveryRoute(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(req{method: "GET", path: "/api/openapi.json", header: noKey})
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d type %q", r.status, r.header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, o := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
			if s, _ := o["summary"].(string); s == "" {
				t.Errorf("%s %s has no summary", method, path)
			}
			if rs, _ := o["responses"].(map[string]any); len(rs) < 2 {
				t.Errorf("%s %s documents %d responses", method, path, len(rs))
			}
		}
	}
	registered := httpapi.Routes(e.h)
	t.Run("every registered route is documented", func(t *testing.T) {
		for _, rt := range registered {
			method, path, _ := strings.Cut(rt, " ")
			key := method + " " + paramRE.ReplaceAllString(path, "{$1$2}")
			if !documented[key] {
				t.Errorf("%s is registered but not in the document", key)
			}
		}
		if len(documented) != len(registered) {
			t.Errorf("%d documented operations, %d registered routes", len(documented), len(registered))
		}
	})
	t.Run("every contract route is documented", func(t *testing.T) {
		for _, c := range contractRoutes {
			if !documented[c] {
				t.Errorf("%s is missing", c)
			}
		}
	})
	t.Run("every documented operation is routed", func(t *testing.T) {
		p := e.create(nil)
		id := jsonInt(p["id"])
		for key := range documented {
			method, path, _ := strings.Cut(key, " ")
			path = strings.NewReplacer("{id}", id, "{category}", "cnc", "{i}", "0", "{filename}", "x.step").Replace(path)
			rq := req{method: method, path: path, body: "{}"}
			if path == "/api/events/stream" {
				// A stream runs until its client goes: this one has gone.
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				rq.ctx = ctx
			}
			r := e.do(rq)
			if r.status == 405 || (r.status == 404 && strings.Contains(string(r.body), `"Not found"`)) {
				t.Errorf("%s: %d %s", key, r.status, r.body)
			}
		}
	})
	t.Run("every $ref resolves", func(t *testing.T) {
		for _, ref := range regexp.MustCompile(`"\$ref":\s*"#/components/schemas/([A-Za-z]+)"`).FindAllStringSubmatch(string(r.body), -1) {
			if _, ok := doc.Components.Schemas[ref[1]]; !ok {
				t.Errorf("unresolved $ref %s", ref[1])
			}
		}
	})
	t.Run("operation ids are unique", func(t *testing.T) {
		var ids []string
		for _, ops := range doc.Paths {
			for _, o := range ops {
				ids = append(ids, o["operationId"].(string))
			}
		}
		slices.Sort(ids)
		if len(slices.Compact(slices.Clone(ids))) != len(ids) {
			t.Errorf("duplicate operation ids: %v", ids)
		}
	})
}

// TestOpenAPI_sortEnumIsWhatListAccepts checks that the list route's
// sort_by enum, derived from the field table, names every sort field in
// both spellings and nothing the route refuses.
func TestOpenAPI_sortEnumIsWhatListAccepts(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(req{method: "GET", path: "/api/openapi.json", header: noKey})
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string `json:"name"`
				Schema struct {
					Enum []string `json:"enum"`
				} `json:"schema"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	var enum []string
	for _, p := range doc.Paths["/api/parts/"]["get"].Parameters {
		if p.Name == "sort_by" {
			enum = p.Schema.Enum
		}
	}
	for _, f := range parts.SortFields {
		if !slices.Contains(enum, string(f)) {
			t.Errorf("sort_by enum %v lacks %s", enum, f)
		}
	}
	if len(enum) <= len(parts.SortFields) {
		t.Errorf("sort_by enum %v has no camelCase spellings", enum)
	}
	for _, v := range enum {
		if got := e.do(req{method: "GET", path: "/api/parts/?sort_by=" + v}); got.status != 200 {
			t.Errorf("sort_by=%s from the enum: status %d %s", v, got.status, got.body)
		}
	}
	for _, f := range parts.Fields() {
		if f.Sort {
			continue
		}
		if slices.Contains(enum, f.Column) || slices.Contains(enum, f.Name) {
			t.Errorf("enum names %s, which is not sortable", f.Name)
		}
		if got := e.do(req{method: "GET", path: "/api/parts/?sort_by=" + f.Name}); got.status != 400 {
			t.Errorf("sort_by=%s (not sortable): status %d, want 400", f.Name, got.status)
		}
	}
}
