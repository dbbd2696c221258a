package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/internal/sample"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// BenchmarkHandler measures the HTTP layer over a real Service on an
// in-memory store of 2,000 sample parts: the cost per request of the
// routes the client calls most, next to /health as the ceiling.
func BenchmarkHandler(b *testing.B) {
	ctx := context.Background()
	store, err := bunstore.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	svc := parts.NewService(store, nil)
	g := sample.New(1)
	for range 2000 {
		p, err := svc.CreatePart(ctx, g.Part(), "bench")
		if err != nil {
			b.Fatal(err)
		}
		for _, st := range g.Plan() {
			if _, err := svc.Act(ctx, p.ID, st.Action, st.Input); err != nil {
				b.Fatal(err)
			}
		}
	}
	h, err := httpapi.NewHandler(svc, &httpapi.Options{Keys: []httpapi.Key{{Name: "k", Key: "bench-key", Role: httpapi.RoleAdmin}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	tag := func(path string) string {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-API-Key", "bench-key")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Header().Get("ETag")
	}
	for _, bc := range []struct{ name, path, ifNoneMatch string }{
		{"health", "/health", ""},
		{"get", "/api/parts/1000", ""},
		{"list-page", "/api/parts/?limit=50&sort_by=created_at&sort_order=desc", ""},
		{"category-sort", "/api/parts/?category=hand&sort_by=name&sort_order=asc&limit=50", ""},
		{"search-common", "/api/parts/?limit=50&search=bearing", ""},
		{"category-whole", "/api/parts/categories/cnc", ""},
		{"category-304", "/api/parts/categories/cnc", tag("/api/parts/categories/cnc")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, bc.path, nil)
				req.Header.Set("X-API-Key", "bench-key")
				if bc.ifNoneMatch != "" {
					req.Header.Set("If-None-Match", bc.ifNoneMatch)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK && (bc.ifNoneMatch == "" || w.Code != http.StatusNotModified) {
					b.Fatalf("%s: %d %s", bc.path, w.Code, w.Body)
				}
			}
		})
	}
}
