package httpapi_test

import (
	"strings"
	"testing"
)

// TestCoatingField follows the throwaway field end to end: created, edited,
// validated, recorded in the history, searched, sorted, and in the OpenAPI
// schema and sort enum.
func TestCoatingField(t *testing.T) {
	e := newEnv(t, nil)
	p := e.create(map[string]any{"partId": "C-1", "coating": "  zinc plated  "})
	if p["coating"] != "zinc plated" {
		t.Fatalf("created coating %v", p["coating"])
	}
	e.create(map[string]any{"partId": "C-2", "coating": "anodised"})
	got := e.must(200, req{method: "PUT", path: partPath(p, ""), body: map[string]any{"coating": "zinc flake"}})
	if got["coating"] != "zinc flake" {
		t.Fatalf("edited coating %v", got["coating"])
	}
	wantError(t, e.do(req{method: "PUT", path: partPath(p, ""), body: map[string]any{"coating": strings.Repeat("x", 101)}}), 400, "", "coating")
	h := e.must(200, req{method: "GET", path: partPath(p, "/history")})
	ch := h["events"].([]any)[1].(map[string]any)["changes"].([]any)[0].(map[string]any)
	if ch["field"] != "coating" || ch["before"] != "zinc plated" || ch["after"] != "zinc flake" {
		t.Errorf("change %v", ch)
	}
	found := e.must(200, req{method: "GET", path: "/api/parts/?search=ZINC"})
	if ps := found["parts"].([]any); len(ps) != 1 || ps[0].(map[string]any)["partId"] != "C-1" {
		t.Errorf("search for ZINC found %v", found)
	}
	sorted := e.must(200, req{method: "GET", path: "/api/parts/?sort_by=coating&sort_order=asc"})
	if ps := sorted["parts"].([]any); len(ps) != 2 || ps[0].(map[string]any)["partId"] != "C-2" {
		t.Errorf("sorted by coating: %v", sorted)
	}
	doc := e.must(200, req{method: "GET", path: "/api/openapi.json"})
	props := doc["components"].(map[string]any)["schemas"].(map[string]any)["Part"].(map[string]any)["properties"].(map[string]any)
	if props["coating"] == nil {
		t.Errorf("Part schema has no coating: %v", props)
	}
}
