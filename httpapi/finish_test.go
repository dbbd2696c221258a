package httpapi_test

import (
	"strings"
	"testing"
)

// TestFinishField follows the throwaway field end to end: created, edited,
// validated, recorded in the history and in the OpenAPI schema.
func TestFinishField(t *testing.T) {
	e := newEnv(t, nil)
	p := e.create(map[string]any{"finish": "  anodised  "})
	if p["finish"] != "anodised" {
		t.Fatalf("created finish %v", p["finish"])
	}
	got := e.must(200, req{method: "PUT", path: partPath(p, ""), body: map[string]any{"finish": "black"}})
	if got["finish"] != "black" {
		t.Fatalf("edited finish %v", got["finish"])
	}
	wantError(t, e.do(req{method: "PUT", path: partPath(p, ""), body: map[string]any{"finish": strings.Repeat("x", 101)}}), 400, "", "finish")
	h := e.must(200, req{method: "GET", path: partPath(p, "/history")})
	ch := h["events"].([]any)[1].(map[string]any)["changes"].([]any)[0].(map[string]any)
	if ch["field"] != "finish" || ch["before"] != "anodised" || ch["after"] != "black" {
		t.Errorf("change %v", ch)
	}
	doc := e.must(200, req{method: "GET", path: "/api/openapi.json"})
	props := doc["components"].(map[string]any)["schemas"].(map[string]any)["Part"].(map[string]any)["properties"].(map[string]any)
	if props["finish"] == nil {
		t.Errorf("Part schema has no finish: %v", props)
	}
}
