package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

func TestIfMatch(t *testing.T) {
	e := newEnv(t, nil)
	p := e.create(map[string]any{"type": "cnc"})
	path := partPath(p, "")
	put := func(ifMatch string, body map[string]any) resp {
		return e.do(req{method: "PUT", path: path, body: body, header: map[string]string{"If-Match": ifMatch}})
	}
	t.Run("matching ETag writes and returns the new ETag", func(t *testing.T) {
		r := put(`"v1"`, map[string]any{"name": "A"})
		wantStatus(t, r, 200)
		if r.header.Get("ETag") != `"v2"` {
			t.Errorf("ETag %q, want \"v2\"", r.header.Get("ETag"))
		}
	})
	t.Run("stale ETag is 412 with the current ETag", func(t *testing.T) {
		r := put(`"v1"`, map[string]any{"name": "B"})
		wantError(t, r, 412, "", "")
		if r.header.Get("ETag") != `"v2"` {
			t.Errorf("ETag %q, want the current \"v2\"", r.header.Get("ETag"))
		}
		if got := e.must(200, req{method: "GET", path: path}); got["name"] != "A" {
			t.Errorf("a stale write changed the part: name %v", got["name"])
		}
	})
	t.Run("a list with the current ETag matches", func(t *testing.T) {
		wantStatus(t, put(`"v0", "v2"`, map[string]any{"name": "C"}), 200)
	})
	t.Run("weak ETags never match", func(t *testing.T) {
		wantError(t, put(`W/"v3"`, map[string]any{"name": "D"}), 412, "", "")
	})
	t.Run("garbage is stale", func(t *testing.T) {
		wantError(t, put(`nonsense`, map[string]any{"name": "D"}), 412, "", "")
	})
	t.Run("star matches any version", func(t *testing.T) {
		wantStatus(t, put(`*`, map[string]any{"name": "E"}), 200)
	})
	t.Run("star on a missing part is 404", func(t *testing.T) {
		wantError(t, e.do(req{method: "PUT", path: "/api/parts/999", body: map[string]any{"name": "x"}, header: map[string]string{"If-Match": "*"}}), 404, "", "")
	})
	t.Run("actions honour If-Match", func(t *testing.T) {
		cur := e.do(req{method: "GET", path: path}).header.Get("ETag")
		wantError(t, e.do(req{method: "POST", path: partPath(p, "/approve"), header: map[string]string{"If-Match": `"v1"`}}), 412, "", "")
		r := e.do(req{method: "POST", path: partPath(p, "/approve"), header: map[string]string{"If-Match": cur}})
		wantStatus(t, r, 200)
		if r.header.Get("ETag") == cur || r.header.Get("ETag") == "" {
			t.Errorf("ETag after the action %q, was %q", r.header.Get("ETag"), cur)
		}
	})
	t.Run("DELETE honours If-Match", func(t *testing.T) {
		wantError(t, e.do(req{method: "DELETE", path: path, header: map[string]string{"If-Match": `"v1"`}}), 412, "", "")
		cur := e.do(req{method: "GET", path: path}).header.Get("ETag")
		wantStatus(t, e.do(req{method: "DELETE", path: path, header: map[string]string{"If-Match": cur}}), 200)
	})
}

func TestClaimRace_oneWinsSevenConflict(t *testing.T) {
	e := newEnv(t, nil)
	p := e.create(map[string]any{"type": "hand"})
	e.must(200, req{method: "POST", path: partPath(p, "/approve")})
	srv := httptest.NewServer(e.h)
	defer srv.Close()

	const n = 8
	type result struct {
		status int
		body   map[string]any
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal(map[string]any{"assigned": fmt.Sprintf("worker-%d", i)})
			r, err := http.NewRequest("POST", srv.URL+partPath(p, "/assign"), bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-API-Key", editorKey)
			<-start
			res, err := srv.Client().Do(r)
			if err != nil {
				t.Error(err)
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			results[i].status = res.StatusCode
			_ = json.Unmarshal(b, &results[i].body)
		}()
	}
	close(start)
	wg.Wait()

	var winner string
	wins, conflicts := 0, 0
	for _, r := range results {
		switch r.status {
		case 200:
			wins++
			winner, _ = r.body["assigned"].(string)
		case 409:
			conflicts++
		default:
			t.Errorf("status %d: %v", r.status, r.body)
		}
	}
	if wins != 1 || conflicts != n-1 {
		t.Fatalf("%d wins and %d conflicts, want 1 and %d", wins, conflicts, n-1)
	}
	for _, r := range results {
		if r.status != 409 {
			continue
		}
		if r.body["error"] != "Part is already claimed by "+winner {
			t.Errorf("loser's error %v, winner %q", r.body["error"], winner)
		}
		if d, _ := r.body["details"].(map[string]any); d["assigned"] != winner {
			t.Errorf("loser's details %v", r.body["details"])
		}
	}
	got := e.must(200, req{method: "GET", path: partPath(p, "")})
	workers := got["miscInfo"].(map[string]any)["handWorkers"].([]any)
	if got["assigned"] != winner || len(workers) != 1 {
		t.Errorf("assigned %v with %d hand workers, want %q and 1", got["assigned"], len(workers), winner)
	}
}
