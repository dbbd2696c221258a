package loadtest

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/blobfiles"
	"github.com/partflow/partflow/storage/bunstore"
)

// TestBenchRunsEveryScenario runs the load tool briefly against an
// in-process server: it seeds through the API, reports a row per scenario
// and level without errors, and leaves the server at the seeded size.
func TestBenchRunsEveryScenario(t *testing.T) {
	ctx := t.Context()
	store, err := bunstore.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	files, err := blobfiles.Open(ctx, "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	svc := parts.NewService(store, &parts.Options{Files: files})
	const key = "bench-test-key-0123456789abcdef"
	h, err := httpapi.NewHandler(svc, &httpapi.Options{Keys: []httpapi.Key{{Name: "k", Key: key, Role: httpapi.RoleAdmin}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	// A second address of the same handler stands for a second replica;
	// the "server" is this process, whose CPU time the tool reports.
	var second atomic.Int64
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		second.Add(1)
		h.ServeHTTP(w, r)
	}))
	defer srv2.Close()

	var buf strings.Builder
	err = Run(ctx, Options{URLs: []string{srv.URL, srv2.URL}, Key: key, PIDs: []int{os.Getpid()}, Parts: 40,
		Duration: 150 * time.Millisecond, Concurrency: []int{1, 3}, Out: &buf})
	out := buf.String()
	if err != nil {
		t.Fatalf("Run: %v; report so far:\n%s", err, out)
	}
	row := regexp.MustCompile(`(?m)^\| ([a-z0-9-]+) \| (\d+) \| (\d+) \| [\d.]+ \| [\d.]+ \| (\d+) \| ([\d.]+%) \| ([\d.]*) \|$`)
	seen := map[string]bool{}
	withCPU := 0
	for _, m := range row.FindAllStringSubmatch(out, -1) {
		if m[6] != "" {
			withCPU++
		}
		if m[3] == "0" || m[4] != "0" {
			t.Errorf("%s at %s: %s req/s, %s errors", m[1], m[2], m[3], m[4])
		}
		seen[m[1]+"@"+m[2]] = true
	}
	for _, s := range []string{"health", "health-end", "get", "list-page", "list-category", "search-rare", "search-common", "category-sort",
		"create", "claim", "mix-80-20", "category-writes", "category-304", "upload-1mib", "search-words", "search-common-word"} {
		for _, c := range []string{"1", "3"} {
			if !seen[s+"@"+c] {
				t.Errorf("no row for %s at concurrency %s in\n%s", s, c, out)
			}
		}
	}
	if withCPU == 0 {
		t.Errorf("no row reports the server's CPU time per request:\n%s", out)
	}
	if second.Load() == 0 {
		t.Error("no request went to the second --url")
	}
	if !strings.Contains(out, "four tab loads:") || !strings.Contains(out, "background writes:") {
		t.Errorf("tab bytes or background writes not reported:\n%s", out)
	}
	if !strings.Contains(out, "server holds 40 parts") {
		t.Errorf("seeding not reported:\n%s", out)
	}
	st, err := svc.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 40 {
		t.Errorf("server holds %d parts after the run, want the seeded 40", st.Total)
	}
}
