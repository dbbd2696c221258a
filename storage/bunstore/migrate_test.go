package bunstore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage"
	"github.com/partflow/partflow/storage/bunstore"
)

var allMigrations = []string{"20260601000001_schema", "20260601000002_counts", "20260601000003_search"}

func TestMigrationsRunOnceAndDataSurvivesReopen(t *testing.T) {
	ctx := t.Context()
	url := "sqlite://" + filepath.Join(t.TempDir(), "parts.db")
	var logs bytes.Buffer
	s, err := bunstore.Open(ctx, url, &bunstore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range allMigrations {
		if !strings.Contains(logs.String(), m) {
			t.Errorf("first open did not log migration %s: %s", m, logs.String())
		}
	}
	ran, err := s.Migrate(ctx)
	if err != nil || len(ran) != 0 {
		t.Errorf("Migrate on a migrated database ran %v, %v; want nothing", ran, err)
	}
	svc := parts.NewService(s, nil)
	p, err := svc.CreatePart(ctx, &parts.Part{PartID: "KEEP-1", Name: "Survivor", Material: "Steel", Subsystem: "Frame"}, "a")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	logs.Reset()
	s2, err := bunstore.Open(ctx, url, &bunstore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if strings.Contains(logs.String(), "migrated") {
		t.Errorf("reopening re-ran migrations: %s", logs.String())
	}
	svc2 := parts.NewService(s2, nil)
	got, err := svc2.FindPartByID(ctx, p.ID)
	if err != nil || got.Name != "Survivor" || got.Version != 1 {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	if ps, n, err := svc2.FindParts(ctx, parts.Filter{Search: "surviv"}); err != nil || n != 1 || ps[0].ID != p.ID {
		t.Errorf("search index lost on reopen: %d matches, %v", n, err)
	}
	if st, err := svc2.Stats(ctx); err != nil || st.Total != 1 || st.ByCategory[parts.CategoryReview] != 1 {
		t.Errorf("counts lost on reopen: %+v, %v", st, err)
	}
	if h, err := svc2.History(ctx, p.ID); err != nil || len(h) != 1 {
		t.Errorf("history lost on reopen: %d events, %v", len(h), err)
	}
	next, err := svc2.CreatePart(ctx, &parts.Part{PartID: "KEEP-2", Material: "m", Subsystem: "s"}, "a")
	if err != nil || next.ID <= p.ID {
		t.Errorf("id after reopen %d, want > %d (%v)", next.ID, p.ID, err)
	}
}

func TestMigrateOnAFreshHandleReportsNothingPending(t *testing.T) {
	// A fresh memory store has run every migration during Open.
	s, err := bunstore.Open(t.Context(), "sqlite://:memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ran, err := s.Migrate(t.Context())
	if err != nil || len(ran) != 0 {
		t.Errorf("Migrate = %v, %v; want nothing to do", ran, err)
	}
}

func TestRestartTakesJobWhenLeaseEnds(t *testing.T) {
	ctx := t.Context()
	url := "sqlite://" + filepath.Join(t.TempDir(), "parts.db")
	s, err := bunstore.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(ctx context.Context, tx parts.Tx) error {
		return tx.EnqueueJob(ctx, &parts.Job{PartID: 1, Source: "abc"})
	})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	j, err := s.NextJob(ctx, parts.Lease{Owner: "first", Now: at, Until: at.Add(30 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	// The process "crashes" with the job running.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := bunstore.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	early := at.Add(10 * time.Second)
	if _, err := s2.NextJob(ctx, parts.Lease{Owner: "second", Now: early, Until: early.Add(30 * time.Second)}); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("a running job was handed out again before its lease ended: %v", err)
	}
	late := at.Add(31 * time.Second)
	again, err := s2.NextJob(ctx, parts.Lease{Owner: "second", Now: late, Until: late.Add(30 * time.Second)})
	if err != nil || again.ID != j.ID || again.Attempts != 2 || again.LeaseOwner != "second" {
		t.Errorf("after the lease ended NextJob = %+v, %v; want job %d on attempt 2 for second", again, err, j.ID)
	}
}

func TestMemoryStoresAreSeparate(t *testing.T) {
	ctx := t.Context()
	a, err := bunstore.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := bunstore.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := parts.NewService(a, nil).CreatePart(ctx, &parts.Part{PartID: "A", Material: "m", Subsystem: "s"}, ""); err != nil {
		t.Fatal(err)
	}
	if st, _ := b.Stats(ctx); st.Total != 0 {
		t.Errorf("second memory store sees %d parts of the first", st.Total)
	}
}

func TestOpenRejectsBadURLs(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"wrong scheme":         "postgres://localhost/db",
		"empty path":           "sqlite://",
		"missing directory":    "sqlite://" + filepath.Join(dir, "no", "such", "dir", "x.db"),
		"directory not a file": "sqlite://" + dir,
	}
	for name, url := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := bunstore.Open(t.Context(), url, nil)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", url)
			}
		})
	}
	if _, err := bunstore.Open(t.Context(), "sqlite://"+filepath.Join(dir, "x.db"), &bunstore.Options{Synchronous: "SOMETIMES"}); err == nil {
		t.Errorf("unknown synchronous setting accepted")
	}
}

func TestRelativePathAndRegistry(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.Mkdir("data", 0o755); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(storage.Schemes(), "sqlite") {
		t.Fatalf("sqlite not registered: %v", storage.Schemes())
	}
	s, err := storage.Open(t.Context(), "sqlite://data/parts.db", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("data", "parts.db")); err != nil {
		t.Errorf("relative path not used: %v", err)
	}
}
