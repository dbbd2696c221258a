package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/partflow/partflow/parts/partstest"
)

// TestCustomWorkflowOverHTTP: with a custom workflow (an inspection stage
// between fabrication and completed), the actions, list filters, stats,
// validation and the OpenAPI document follow it.
func TestCustomWorkflowOverHTTP(t *testing.T) {
	e := newFlowEnv(t, partstest.InspectionWorkflow(), nil)
	p := e.create(map[string]any{"type": "cnc"})
	e.must(http.StatusOK, req{method: "POST", path: partPath(p, "/approve")})
	e.must(http.StatusOK, req{method: "POST", path: partPath(p, "/assign"), body: map[string]any{"assigned": "Ada"}})
	got := e.must(http.StatusOK, req{method: "POST", path: partPath(p, "/complete")})
	if got["category"] != "inspection" || got["status"] != "Pending" {
		t.Fatalf("complete from cnc: %v/%v, want inspection/Pending", got["category"], got["status"])
	}
	wantError(t, e.do(req{method: "POST", path: partPath(p, "/approve")}), http.StatusConflict, "Cannot approve a part in inspection (Pending)", "")

	list := e.must(http.StatusOK, req{method: "GET", path: "/api/parts/categories/inspection"})
	if list["total"] != float64(1) {
		t.Errorf("categories/inspection total = %v, want 1", list["total"])
	}
	list = e.must(http.StatusOK, req{method: "GET", path: "/api/parts/?category=inspection"})
	if list["total"] != float64(1) {
		t.Errorf("?category=inspection total = %v, want 1", list["total"])
	}
	r := e.do(req{method: "GET", path: "/api/parts/categories/paint"})
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "hand, inspection or completed") {
		t.Errorf("categories/paint: %d %s", r.status, r.body)
	}
	stats := e.must(http.StatusOK, req{method: "GET", path: "/api/parts/stats"})
	byCat, _ := stats["by_category"].(map[string]any)
	if byCat["inspection"] != float64(1) || byCat["review"] != float64(0) || len(byCat) != 5 {
		t.Errorf("stats by_category = %v, want the five stages with inspection 1", byCat)
	}
	done := e.must(http.StatusOK, req{method: "POST", path: partPath(p, "/complete")})
	if done["category"] != "completed" || done["status"] != "Completed" {
		t.Fatalf("complete from inspection: %v/%v", done["category"], done["status"])
	}
	bad := e.do(req{method: "POST", path: "/api/parts/", body: map[string]any{"partId": "X", "material": "m", "subsystem": "s", "category": "paint"}})
	wantError(t, bad, http.StatusBadRequest, "", "category")
}

func TestOpenAPIFollowsTheCustomWorkflow(t *testing.T) {
	e := newFlowEnv(t, partstest.InspectionWorkflow(), nil)
	r := e.do(req{method: "GET", path: "/api/openapi.json"})
	var doc struct {
		Info       struct{ Description string }
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct{ Enum []string }
			}
		}
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	want := []string{"review", "cnc", "hand", "inspection", "completed"}
	if got := doc.Components.Schemas["Part"].Properties["category"].Enum; !slices.Equal(got, want) {
		t.Errorf("Part.category enum = %v, want %v", got, want)
	}
	if !strings.Contains(doc.Info.Description, "Workflow: inspection (custom)") ||
		!strings.Contains(doc.Info.Description, "complete from cnc, hand: category inspection, status Pending") {
		t.Errorf("description does not describe the workflow:\n%s", doc.Info.Description)
	}
}
