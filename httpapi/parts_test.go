package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/internal/golden"
)

var timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

func TestCreatePart_answers201WithDefaults(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do(req{method: "POST", path: "/api/parts/", body: map[string]any{
		"partId": "FRC-001", "material": "6061 Aluminium", "subsystem": "Drivetrain", "name": "Gearbox plate",
		"notes": "Deburr edges", "onshapeUrl": "https://cad.onshape.com/documents/abc",
	}})
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if r.header.Get("ETag") != `"v1"` {
		t.Errorf("ETag %q, want \"v1\"", r.header.Get("ETag"))
	}
	golden.JSON(t, filepath.Join("testdata", "part.golden.json"), r.body)
	p := r.json(t)
	for _, f := range []string{"type", "assigned", "file", "miscInfo", "claimedDate"} {
		if v, ok := p[f]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null", f, v, ok)
		}
	}
	for _, f := range []string{"createdAt", "updatedAt"} {
		if s, _ := p[f].(string); !timeRE.MatchString(s) {
			t.Errorf("%s = %q, want RFC 3339 UTC with microseconds", f, s)
		}
	}
}

func TestCreatePart_acceptsSnakeCaseAndStringAmount(t *testing.T) {
	e := newEnv(t, nil)
	p := e.must(http.StatusCreated, req{method: "POST", path: "/api/parts/", body: map[string]any{
		"part_id": "S-1", "material": "PLA", "subsystem": "Intake", "amount": "3", "type": "hand",
		"onshape_url": "https://cad.onshape.com/x", "misc_info": map[string]any{"color": "red", "drop": nil},
		"claimed_date": "2020-01-01T00:00:00Z", "unknownField": []int{1, 2},
	}})
	want := map[string]any{"partId": "S-1", "amount": 3.0, "type": "hand", "onshapeUrl": "https://cad.onshape.com/x",
		"miscInfo": map[string]any{"color": "red"}, "claimedDate": "2020-01-01T00:00:00.000000Z"}
	for k, v := range want {
		if !cmp.Equal(p[k], v) {
			t.Errorf("%s = %#v, want %#v", k, p[k], v)
		}
	}
}

func TestCreatePart_rejectsBadInput(t *testing.T) {
	e := newEnv(t, nil)
	base := func(kv ...any) map[string]any {
		m := map[string]any{"partId": "P", "material": "M", "subsystem": "S"}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "<absent>" {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name         string
		body         any
		message      string
		field        string
		wantedStatus int
	}{
		{"missing partId is 400 Part ID is required", base("partId", "<absent>"), "Part ID is required", "partId", 400},
		{"blank partId is 400", base("partId", "  "), "Part ID is required", "partId", 400},
		{"missing material is 400", base("material", "<absent>"), "Material is required", "material", 400},
		{"missing subsystem is 400", base("subsystem", "<absent>"), "Subsystem is required", "subsystem", 400},
		{"amount 0 is 400", base("amount", 0), "", "amount", 400},
		{"negative amount is 400", base("amount", -2), "", "amount", 400},
		{"fractional amount is 400", base("amount", 1.5), "", "amount", 400},
		{"non-numeric amount is 400", base("amount", "abc"), "", "amount", 400},
		{"huge amount is 400", base("amount", 1e12), "", "amount", 400},
		{"huge amount string is 400", base("amount", "99999999999999999999999"), "", "amount", 400},
		{"boolean amount is 400", base("amount", true), "", "amount", 400},
		{"unknown type is 400", base("type", "laser"), "", "type", 400},
		{"number as partId is 400", base("partId", 5), "partId must be a string", "partId", 400},
		{"number as name is 400", base("name", 5), "name must be a string", "name", 400},
		{"string miscInfo is 400", base("miscInfo", "x"), "", "miscInfo", 400},
		{"list miscInfo is 400", base("misc_info", []int{1}), "", "miscInfo", 400},
		{"ftp onshapeUrl is 400", base("onshapeUrl", "ftp://x"), "", "onshapeUrl", 400},
		{"unknown status is 400", base("status", "Bogus"), "", "status", 400},
		{"unknown category is 400", base("category", "paint"), "", "category", 400},
		{"too long partId is 400", base("partId", string(bytes.Repeat([]byte("x"), 101))), "", "partId", 400},
		{"number claimedDate is 400", base("claimedDate", 7), "", "claimedDate", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.do(req{method: "POST", path: "/api/parts/", body: c.body}), c.wantedStatus, c.message, c.field)
		})
	}
}

func TestGetPart(t *testing.T) {
	e := newEnv(t, nil)
	p := e.create(nil)
	t.Run("existing part is 200 with ETag", func(t *testing.T) {
		r := e.do(req{method: "GET", path: partPath(p, "")})
		if r.status != 200 || r.header.Get("ETag") != `"v1"` {
			t.Fatalf("status %d ETag %q", r.status, r.header.Get("ETag"))
		}
		if got := r.json(t); got["partId"] != "P-1" {
			t.Errorf("partId %v", got["partId"])
		}
	})
	for _, id := range []string{"999", "0", "-1", "abc", "1.5", "99999999999999999999", "1e3", "%20", "0x1"} {
		t.Run("id "+id+" is 404 JSON", func(t *testing.T) {
			wantError(t, e.do(req{method: "GET", path: "/api/parts/" + id}), 404, "", "")
		})
	}
}

func TestUpdatePart(t *testing.T) {
	e := newEnv(t, nil)
	p := e.create(map[string]any{"type": "cnc", "notes": "keep me", "amount": 2})
	t.Run("partial update keeps absent fields", func(t *testing.T) {
		got := e.must(200, req{method: "PUT", path: partPath(p, ""), body: map[string]any{
			"name": "Renamed", "status": "", "amount": "4", "file": "../../etc/plate.step"}})
		if got["name"] != "Renamed" || got["notes"] != "keep me" || got["status"] != "Pending" || got["amount"] != 4.0 {
			t.Errorf("got %v", got)
		}
		if got["file"] != "plate.step" {
			t.Errorf("file %v, want the base name plate.step", got["file"])
		}
		if got["version"] != 2.0 {
			t.Errorf("version %v, want 2", got["version"])
		}
	})
	t.Run("status In Progress is set", func(t *testing.T) {
		got := e.must(200, req{method: "PUT", path: partPath(p, ""), body: map[string]any{"status": "In Progress"}})
		if got["status"] != "In Progress" {
			t.Errorf("status %v", got["status"])
		}
	})
	t.Run("empty partId is 400", func(t *testing.T) {
		wantError(t, e.do(req{method: "PUT", path: partPath(p, ""), body: map[string]any{"partId": ""}}), 400, "Part ID is required", "partId")
	})
	t.Run("zero amount is 400", func(t *testing.T) {
		wantError(t, e.do(req{method: "PUT", path: partPath(p, ""), body: map[string]any{"amount": 0}}), 400, "", "amount")
	})
	t.Run("missing part is 404", func(t *testing.T) {
		wantError(t, e.do(req{method: "PUT", path: "/api/parts/4242", body: map[string]any{"name": "x"}}), 404, "Part not found", "")
	})
	t.Run("new assignee of a hand part is recorded in handWorkers", func(t *testing.T) {
		h := e.create(map[string]any{"type": "hand", "partId": "H-1"})
		e.must(200, req{method: "PUT", path: partPath(h, ""), body: map[string]any{"assigned": "Ada"}})
		got := e.must(200, req{method: "PUT", path: partPath(h, ""), body: map[string]any{"assigned": "Grace"}})
		workers, _ := got["miscInfo"].(map[string]any)["handWorkers"].([]any)
		if len(workers) != 2 || got["assigned"] != "Grace" {
			t.Errorf("assigned %v handWorkers %v", got["assigned"], workers)
		}
	})
	t.Run("miscInfo null clears it", func(t *testing.T) {
		m := e.create(map[string]any{"partId": "M-1", "miscInfo": map[string]any{"a": 1}})
		got := e.must(200, req{method: "PUT", path: partPath(m, ""), body: `{"miscInfo":null}`})
		if got["miscInfo"] != nil {
			t.Errorf("miscInfo %v, want null", got["miscInfo"])
		}
	})
}

func TestDeletePart(t *testing.T) {
	e := newEnv(t, nil)
	p := e.create(nil)
	got := e.must(200, req{method: "DELETE", path: partPath(p, "")})
	if got["message"] != "Part deleted successfully" {
		t.Errorf("message %v", got["message"])
	}
	wantError(t, e.do(req{method: "GET", path: partPath(p, "")}), 404, "", "")
	wantError(t, e.do(req{method: "DELETE", path: partPath(p, "")}), 404, "", "")
}

func TestWorkflowActions(t *testing.T) {
	e := newEnv(t, nil)
	cnc := e.create(map[string]any{"type": "cnc", "partId": "C-1"})
	hand := e.create(map[string]any{"type": "hand", "partId": "H-1"})

	t.Run("approve moves a cnc part to cnc and records the reviewer", func(t *testing.T) {
		got := e.must(200, req{method: "POST", path: partPath(cnc, "/approve"), body: map[string]any{
			"reviewer": "Rev", "miscInfo": map[string]any{"priority": "high"}}})
		misc, _ := got["miscInfo"].(map[string]any)
		if got["category"] != "cnc" || got["status"] != "Reviewed" || misc["reviewer"] != "Rev" || misc["priority"] != "high" {
			t.Errorf("got %v", got)
		}
	})
	t.Run("approve moves a hand part to hand without a body", func(t *testing.T) {
		got := e.must(200, req{method: "POST", path: partPath(hand, "/approve")})
		if got["category"] != "hand" {
			t.Errorf("category %v", got["category"])
		}
	})
	t.Run("approving twice is 409 (strict) or a no-op (original)", func(t *testing.T) {
		r := e.do(req{method: "POST", path: partPath(cnc, "/approve")})
		if strict() {
			wantError(t, r, 409, "", "")
		} else if got := r.json(t); r.status != 200 || got["version"] != float64(2) {
			t.Errorf("status %d, version %v; want 200 and no new version", r.status, got["version"])
		}
	})
	t.Run("assign without assigned is 400", func(t *testing.T) {
		wantError(t, e.do(req{method: "POST", path: partPath(cnc, "/assign"), body: map[string]any{}}), 400, "", "assigned")
	})
	t.Run("assign with a number is 400", func(t *testing.T) {
		wantError(t, e.do(req{method: "POST", path: partPath(cnc, "/assign"), body: map[string]any{"assigned": 3}}), 400, "", "assigned")
	})
	t.Run("POST assign claims", func(t *testing.T) {
		got := e.must(200, req{method: "POST", path: partPath(cnc, "/assign"), body: map[string]any{"assigned": "Ada"}})
		if got["assigned"] != "Ada" || got["status"] != "In Progress" || got["claimedDate"] == nil {
			t.Errorf("got %v", got)
		}
	})
	t.Run("claim held by someone else is 409 naming them", func(t *testing.T) {
		m := wantError(t, e.do(req{method: "POST", path: partPath(cnc, "/assign"), body: map[string]any{"assigned": "Bob"}}),
			409, "Part is already claimed by Ada", "")
		if d, _ := m["details"].(map[string]any); d["assigned"] != "Ada" {
			t.Errorf("details %v", m["details"])
		}
	})
	t.Run("POST unclaim makes an In Progress part Already Started", func(t *testing.T) {
		got := e.must(200, req{method: "POST", path: partPath(cnc, "/unclaim")})
		if got["assigned"] != nil || got["claimedDate"] != nil || got["status"] != "Already Started" {
			t.Errorf("got %v", got)
		}
	})
	t.Run("PUT assign sets notes", func(t *testing.T) {
		got := e.must(200, req{method: "PUT", path: partPath(cnc, "/assign"), body: map[string]any{"assigned": "Bob", "notes": "on it"}})
		if got["assigned"] != "Bob" || got["notes"] != "on it" {
			t.Errorf("got %v", got)
		}
	})
	t.Run("PUT unclaim clears", func(t *testing.T) {
		got := e.must(200, req{method: "PUT", path: partPath(cnc, "/unclaim")})
		if got["assigned"] != nil {
			t.Errorf("got %v", got)
		}
	})
	t.Run("revert of a part that is not completed is 400", func(t *testing.T) {
		wantError(t, e.do(req{method: "POST", path: partPath(cnc, "/revert")}), 400, "", "category")
	})
	t.Run("complete merges miscInfo", func(t *testing.T) {
		got := e.must(200, req{method: "POST", path: partPath(cnc, "/complete"), body: map[string]any{"miscInfo": map[string]any{"qc": "ok"}}})
		misc, _ := got["miscInfo"].(map[string]any)
		if got["category"] != "completed" || got["status"] != "Completed" || misc["qc"] != "ok" || misc["reviewer"] != "Rev" {
			t.Errorf("got %v", got)
		}
	})
	t.Run("completing twice is 409 (strict) or a no-op (original)", func(t *testing.T) {
		r := e.do(req{method: "POST", path: partPath(cnc, "/complete")})
		if strict() {
			wantError(t, r, 409, "", "")
		} else if got := r.json(t); r.status != 200 || got["category"] != "completed" {
			t.Errorf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("revert of a completed part goes back In Progress", func(t *testing.T) {
		got := e.must(200, req{method: "POST", path: partPath(cnc, "/revert")})
		if got["category"] != "cnc" || got["status"] != "In Progress" {
			t.Errorf("got %v", got)
		}
	})
	t.Run("PUT status Completed completes", func(t *testing.T) {
		got := e.must(200, req{method: "PUT", path: partPath(hand, "/status"), body: map[string]any{"status": "Completed", "notes": "done"}})
		if got["category"] != "completed" || got["notes"] != "done" {
			t.Errorf("got %v", got)
		}
	})
	t.Run("PUT status without status is 400", func(t *testing.T) {
		wantError(t, e.do(req{method: "PUT", path: partPath(hand, "/status"), body: map[string]any{}}), 400, "", "status")
	})
	t.Run("PUT status unknown is 400", func(t *testing.T) {
		wantError(t, e.do(req{method: "PUT", path: partPath(hand, "/status"), body: map[string]any{"status": "Lost"}}), 400, "", "status")
	})
	t.Run("PUT status Reviewed from completed is 409 (strict) or moves it back (original)", func(t *testing.T) {
		r := e.do(req{method: "PUT", path: partPath(hand, "/status"), body: map[string]any{"status": "Reviewed"}})
		if strict() {
			wantError(t, r, 409, "", "")
		} else if got := r.json(t); r.status != 200 || got["category"] != "hand" || got["status"] != "Reviewed" {
			t.Errorf("status %d: %s", r.status, r.body)
		}
	})
	t.Run("complete of a part in review is 409 (strict) or completes it (original)", func(t *testing.T) {
		p := e.create(map[string]any{"partId": "R-1"})
		r := e.do(req{method: "POST", path: partPath(p, "/complete")})
		if strict() {
			wantError(t, r, 409, "", "")
		} else if got := r.json(t); r.status != 200 || got["category"] != "completed" {
			t.Errorf("status %d: %s", r.status, r.body)
		}
	})
	for _, a := range []string{"approve", "assign", "unclaim", "complete", "revert"} {
		t.Run(a+" of a missing part is 404", func(t *testing.T) {
			wantError(t, e.do(req{method: "POST", path: "/api/parts/777/" + a, body: map[string]any{"assigned": "X"}}), 404, "", "")
		})
	}
}

func TestListParts(t *testing.T) {
	e := newEnv(t, nil)
	names := []string{"bravo", "Alpha", "charlie", "delta"}
	for i, n := range names {
		typ := "cnc"
		if i%2 == 1 {
			typ = "hand"
		}
		p := e.create(map[string]any{"partId": fmt.Sprintf("L-%d", i), "name": n, "type": typ, "notes": "batch " + n})
		if i < 2 {
			e.must(200, req{method: "POST", path: partPath(p, "/approve")})
		}
		e.clock.Advance(time.Second)
	}
	list := func(t *testing.T, q string) map[string]any {
		t.Helper()
		return e.must(200, req{method: "GET", path: "/api/parts/" + q})
	}
	namesOf := func(m map[string]any) []string {
		var out []string
		for _, p := range m["parts"].([]any) {
			out = append(out, p.(map[string]any)["name"].(string))
		}
		return out
	}
	t.Run("default is newest first, limit null", func(t *testing.T) {
		m := list(t, "")
		if diff := cmp.Diff([]string{"delta", "charlie", "Alpha", "bravo"}, namesOf(m)); diff != "" {
			t.Error(diff)
		}
		if m["total"] != 4.0 || m["limit"] != nil || m["offset"] != 0.0 {
			t.Errorf("total %v limit %v offset %v", m["total"], m["limit"], m["offset"])
		}
	})
	t.Run("no trailing slash works the same", func(t *testing.T) {
		if m := e.must(200, req{method: "GET", path: "/api/parts"}); m["total"] != 4.0 {
			t.Errorf("total %v", m["total"])
		}
	})
	t.Run("category filter", func(t *testing.T) {
		if diff := cmp.Diff([]string{"delta", "charlie"}, namesOf(list(t, "?category=review"))); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("search is case-insensitive", func(t *testing.T) {
		if diff := cmp.Diff([]string{"Alpha"}, namesOf(list(t, "?search=ALPH"))); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("sort by name ascending", func(t *testing.T) {
		got := namesOf(list(t, "?sort_by=name&sort_order=asc"))
		if diff := cmp.Diff([]string{"Alpha", "bravo", "charlie", "delta"}, got); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("client sort names are accepted", func(t *testing.T) {
		for _, s := range []string{"created_at", "partId", "part_id", "status", "assigned", "updatedAt"} {
			list(t, "?sort_by="+s)
		}
	})
	t.Run("paging counts all matches", func(t *testing.T) {
		m := list(t, "?limit=2&offset=1")
		if diff := cmp.Diff([]string{"charlie", "Alpha"}, namesOf(m)); diff != "" {
			t.Error(diff)
		}
		if m["total"] != 4.0 || m["limit"] != 2.0 || m["offset"] != 1.0 {
			t.Errorf("total %v limit %v offset %v", m["total"], m["limit"], m["offset"])
		}
		golden.JSON(t, filepath.Join("testdata", "list.golden.json"), e.do(req{method: "GET", path: "/api/parts/?limit=1&sort_by=partId&sort_order=asc"}).body)
	})
	t.Run("categories route fixes the category", func(t *testing.T) {
		m := e.must(200, req{method: "GET", path: "/api/parts/categories/hand?category=review"})
		if diff := cmp.Diff([]string{"Alpha"}, namesOf(m)); diff != "" {
			t.Error(diff)
		}
	})
	bad := []struct{ name, query, field string }{
		{"unknown category", "?category=paint", "category"},
		{"unknown sort field", "?sort_by=password", "sort_by"},
		{"notes is not sortable", "?sort_by=notes", "sort_by"},
		{"bad sort order", "?sort_order=up", "sort_order"},
		{"limit 0", "?limit=0", "limit"},
		{"limit too big", "?limit=10001", "limit"},
		{"negative limit", "?limit=-1", "limit"},
		{"non-numeric limit", "?limit=ten", "limit"},
		{"huge limit", "?limit=99999999999999999999999", "limit"},
		{"negative offset", "?offset=-1", "offset"},
		{"huge offset", "?offset=99999999999", "offset"},
		{"long search", "?search=" + string(bytes.Repeat([]byte("a"), 201)), "search"},
		{"invalid UTF-8 search", "?search=%ff%fe", "search"},
		{"malformed escape", "?search=%zz", "query"},
	}
	for _, b := range bad {
		t.Run(b.name+" is 400", func(t *testing.T) {
			wantError(t, e.do(req{method: "GET", path: "/api/parts/" + b.query}), 400, "", b.field)
		})
	}
	t.Run("unknown category route is 400", func(t *testing.T) {
		wantError(t, e.do(req{method: "GET", path: "/api/parts/categories/paint"}), 400, "", "category")
	})
}

func TestStatsAndLeaderboard(t *testing.T) {
	e := newEnv(t, nil)
	a := e.create(map[string]any{"partId": "A", "type": "hand"})
	b := e.create(map[string]any{"partId": "B", "type": "cnc"})
	e.create(map[string]any{"partId": "C"})
	for _, p := range []map[string]any{a, b} {
		e.must(200, req{method: "POST", path: partPath(p, "/approve")})
	}
	e.must(200, req{method: "POST", path: partPath(a, "/assign"), body: map[string]any{"assigned": "Ada"}})
	e.must(200, req{method: "POST", path: partPath(a, "/unclaim")})
	e.must(200, req{method: "POST", path: partPath(a, "/assign"), body: map[string]any{"assigned": "Grace"}})
	e.must(200, req{method: "POST", path: partPath(a, "/complete")})
	e.must(200, req{method: "POST", path: partPath(b, "/assign"), body: map[string]any{"assigned": "Ada"}})

	st := e.must(200, req{method: "GET", path: "/api/parts/stats"})
	want := map[string]any{
		"by_category": map[string]any{"review": 1.0, "cnc": 1.0, "hand": 0.0, "completed": 1.0},
		"by_status":   map[string]any{"pending": 1.0, "reviewed": 0.0, "in_progress": 1.0, "already_started": 0.0, "completed": 1.0},
		"assignment":  map[string]any{"assigned": 2.0, "unassigned": 1.0},
		"total":       3.0,
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	lb := e.must(200, req{method: "GET", path: "/api/parts/leaderboard"})
	wantLB := map[string]any{"leaderboard": []any{
		map[string]any{"name": "Grace", "score": 1.0},
		map[string]any{"name": "Ada", "score": 0.5},
	}}
	if diff := cmp.Diff(wantLB, lb); diff != "" {
		t.Errorf("leaderboard (-want +got):\n%s", diff)
	}
}

func TestHistory(t *testing.T) {
	e := newEnv(t, nil)
	p := e.create(nil)
	e.must(200, req{method: "PUT", path: partPath(p, ""), body: map[string]any{"name": "New"}})
	h := e.must(200, req{method: "GET", path: partPath(p, "/history")})
	evs, _ := h["events"].([]any)
	if len(evs) != 2 {
		t.Fatalf("events %v", h)
	}
	last := evs[1].(map[string]any)
	if last["action"] != "update" || last["actor"] != "admin" {
		t.Errorf("event %v", last)
	}
	ch := last["changes"].([]any)[0].(map[string]any)
	if ch["field"] != "name" || ch["before"] != "Bracket" || ch["after"] != "New" {
		t.Errorf("change %v", ch)
	}
	wantError(t, e.do(req{method: "GET", path: "/api/parts/999/history"}), 404, "", "")
}

func TestHealthAndReady(t *testing.T) {
	e := newEnv(t, func(o *httpapi.Options) { o.BasePath = "/pms/" })
	if m := e.must(200, req{method: "GET", path: "/pms/health", header: map[string]string{"X-API-Key": ""}}); m["status"] != "healthy" {
		t.Errorf("health %v", m)
	}
	e.must(200, req{method: "GET", path: "/pms/ready", header: map[string]string{"X-API-Key": ""}})
	wantError(t, e.do(req{method: "GET", path: "/health"}), 404, "", "")
	e.store.Close()
	wantError(t, e.do(req{method: "GET", path: "/pms/ready"}), 503, "database unreachable", "")
	if m := e.must(200, req{method: "GET", path: "/pms/health"}); m["status"] != "healthy" {
		t.Errorf("health after the database went away: %v", m)
	}
}

// TestListAnswerShapes checks a page and a whole list: both are sent whole
// with a Content-Length that matches (whole lists are assembled from kept
// encodings, not streamed), and decode to the same parts in order with the
// totals.
func TestListAnswerShapes(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 230 {
		e.create(map[string]any{"partId": fmt.Sprintf("L-%03d", i), "material": "PLA", "subsystem": "Arm", "notes": "<ok> & \"quoted\""})
	}
	page := e.do(req{method: http.MethodGet, path: "/api/parts/?limit=50&offset=10&sort_by=part_id&sort_order=asc"})
	if page.status != http.StatusOK || page.header.Get("Content-Length") != strconv.Itoa(len(page.body)) {
		t.Fatalf("page: status %d, Content-Length %q for %d bytes", page.status, page.header.Get("Content-Length"), len(page.body))
	}
	all := e.do(req{method: http.MethodGet, path: "/api/parts/?sort_by=part_id&sort_order=asc"})
	if all.status != http.StatusOK || all.header.Get("Content-Length") != strconv.Itoa(len(all.body)) {
		t.Fatalf("whole list: status %d, Content-Length %q for %d bytes", all.status, all.header.Get("Content-Length"), len(all.body))
	}
	var p, a struct {
		Parts []struct {
			PartID string `json:"partId"`
			Notes  string `json:"notes"`
		} `json:"parts"`
		Total  int  `json:"total"`
		Limit  *int `json:"limit"`
		Offset int  `json:"offset"`
	}
	if err := json.Unmarshal(page.body, &p); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(all.body, &a); err != nil {
		t.Fatal(err)
	}
	if p.Total != 230 || p.Limit == nil || *p.Limit != 50 || p.Offset != 10 || len(p.Parts) != 50 {
		t.Fatalf("page: total %d limit %v offset %d, %d parts", p.Total, p.Limit, p.Offset, len(p.Parts))
	}
	if a.Total != 230 || a.Limit != nil || len(a.Parts) != 230 {
		t.Fatalf("whole list: total %d limit %v, %d parts", a.Total, a.Limit, len(a.Parts))
	}
	for i, x := range p.Parts {
		if want := a.Parts[10+i]; x != want || x.PartID != fmt.Sprintf("L-%03d", 10+i) || x.Notes != "<ok> & \"quoted\"" {
			t.Fatalf("page part %d: %+v, whole list has %+v", i, x, want)
		}
	}
}
