package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestInstanceAssemblesWithoutTheCommandLine: serve's parts build from a
// configuration alone (in-memory stores, no plugins), the handler answers
// with the configured base path and key, and close takes everything down.
func TestInstanceAssemblesWithoutTheCommandLine(t *testing.T) {
	inTempDir(t)
	cfg := mustLoad(t, []string{"--env", "testing", "--base-path", "/pm"},
		[]string{"PARTFLOW_API_KEY=" + strongKey, "PARTFLOW_PLUGINS=[]"})
	s := &instance{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	defer s.close()
	if err := s.open(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.startBackground(t.Context()); err != nil {
		t.Fatal(err)
	}
	h, err := s.handler(make(chan struct{}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/pm/api/parts/", strings.NewReader(`{"partId":"A-1","material":"m","subsystem":"s"}`))
	req.Header.Set("X-API-Key", strongKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create under the base path: %s, want 201", res.Status)
	}
	res, err = http.Get(srv.URL + "/api/parts/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("outside the base path: %s, want 404", res.Status)
	}
	if n, err := s.app.store.Stats(t.Context()); err != nil || n.Total != 1 {
		t.Errorf("stored parts: %+v, %v; want 1", n, err)
	}
	srv.Close()
	s.close()
	if len(s.closers) != 0 {
		t.Errorf("close left %d closers", len(s.closers))
	}
}
