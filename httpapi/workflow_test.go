package httpapi_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/partflow/partflow/internal/pgtest"
	"github.com/partflow/partflow/parts"
)

// flow is the workflow the suite's services run; TestMain runs the whole
// suite once per built-in workflow, so every HTTP test checks both.
var flow = parts.OriginalWorkflow()

// strict reports whether the suite runs the strict workflow.
func strict() bool { return flow == parts.StrictWorkflow() }

// TestMain runs every test of the package under the original workflow (the
// default) and again under the strict one. Fuzzing (-fuzz) runs once.
func TestMain(m *testing.M) {
	flag.Parse()
	flows := []*parts.Workflow{parts.OriginalWorkflow(), parts.StrictWorkflow()}
	// Fuzzing runs once; so does profiling, whose file a second m.Run
	// would overwrite with an empty profile.
	for _, name := range []string{"test.fuzz", "test.cpuprofile", "test.memprofile"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			flows = flows[:1]
			break
		}
	}
	code := 0
	for _, w := range flows {
		flow = w
		fmt.Fprintf(os.Stderr, "httpapi tests: workflow %s\n", w.Name())
		if c := m.Run(); c != 0 {
			fmt.Fprintf(os.Stderr, "httpapi tests FAILED under the %s workflow\n", w.Name())
			code = c
		}
	}
	os.Exit(pgtest.Done(code))
}

// step is one action of TestOriginalTransitionsFromAnyCategory.
type step struct {
	name, method, action string
	body                 map[string]any
	check                func(t *testing.T, got map[string]any)
}

// originalSteps are the actions the original API accepted on a part still in
// review, in order, with their documented effects.
func originalSteps() []step {
	return []step{
		{"POST assign claims a part in review", "POST", "/assign", map[string]any{"assigned": "Ada"}, func(t *testing.T, got map[string]any) {
			if got["assigned"] != "Ada" || got["claimedDate"] == nil || got["status"] != "In Progress" || got["category"] != "review" {
				t.Errorf("got %v", got)
			}
		}},
		{"POST unclaim releases it", "POST", "/unclaim", nil, func(t *testing.T, got map[string]any) {
			if got["assigned"] != nil || got["claimedDate"] != nil || got["status"] != "Already Started" || got["category"] != "review" {
				t.Errorf("got %v", got)
			}
		}},
		{"PUT assign claims with notes", "PUT", "/assign", map[string]any{"assigned": "Bob", "notes": "n"}, func(t *testing.T, got map[string]any) {
			if got["assigned"] != "Bob" || got["notes"] != "n" || got["status"] != "In Progress" || got["category"] != "review" {
				t.Errorf("got %v", got)
			}
		}},
		{"PUT unclaim releases it", "PUT", "/unclaim", nil, func(t *testing.T, got map[string]any) {
			if got["assigned"] != nil || got["category"] != "review" {
				t.Errorf("got %v", got)
			}
		}},
		{"PUT status sets In Progress in review", "PUT", "/status", map[string]any{"status": "In Progress"}, func(t *testing.T, got map[string]any) {
			if got["status"] != "In Progress" || got["category"] != "review" {
				t.Errorf("got %v", got)
			}
		}},
		{"POST complete completes a part in review", "POST", "/complete", nil, func(t *testing.T, got map[string]any) {
			if got["status"] != "Completed" || got["category"] != "completed" {
				t.Errorf("got %v", got)
			}
		}},
	}
}

// TestOriginalTransitionsFromAnyCategory checks what the original API's
// clients rely on: assign, unclaim, complete and the PUT forms work on a part
// still in review, with the documented effects; the strict workflow refuses
// them with 409. Revert needs a completed part in both.
func TestOriginalTransitionsFromAnyCategory(t *testing.T) {
	e := newEnv(t, nil)
	steps := originalSteps()
	p := e.create(map[string]any{"type": "cnc", "partId": "R-1"})
	version := 1.0
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			rq := req{method: s.method, path: partPath(p, s.action)}
			if s.body != nil {
				rq.body = s.body
			}
			r := e.do(rq)
			if strict() {
				wantError(t, r, 409, "", "")
				return
			}
			got := r.json(t)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			s.check(t, got)
			if v, _ := got["version"].(float64); v != version+1 {
				t.Errorf("version %v, want %v: every accepted action is a new version", got["version"], version+1)
			}
			version++
		})
	}
	if strict() {
		return
	}
	t.Run("every accepted action is in the history", func(t *testing.T) {
		id, _ := p["id"].(float64)
		evs, err := e.svc.History(t.Context(), int64(id))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range evs {
			got = append(got, ev.Action)
		}
		want := "[create assign unclaim assign unclaim set-status complete]"
		if fmt.Sprint(got) != want {
			t.Errorf("history %v, want %s", got, want)
		}
	})
	t.Run("revert of a part in review is still 400", func(t *testing.T) {
		q := e.create(map[string]any{"type": "cnc", "partId": "R-2"})
		wantError(t, e.do(req{method: "POST", path: partPath(q, "/revert")}), 400, "", "category")
	})
}

// TestOpenAPINamesTheWorkflow: the document says which table the actions
// follow.
func TestOpenAPINamesTheWorkflow(t *testing.T) {
	e := newEnv(t, nil)
	doc := e.must(200, req{method: "GET", path: "/api/openapi.json"})
	info, _ := doc["info"].(map[string]any)
	desc, _ := info["description"].(string)
	if want := "Workflow: " + flow.Name() + "."; !strings.Contains(desc, want) {
		t.Errorf("description lacks %q:\n%s", want, desc)
	}
}
