package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/partflow/partflow/internal/pgtest"
)

// TestMain stops the PostgreSQL server the tests started, if any.
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if builtBinary.dir != "" {
		os.RemoveAll(builtBinary.dir)
	}
	os.Exit(code)
}

// TestServeOnPostgres runs the real binary on PostgreSQL given as an
// SQLAlchemy-style DATABASE_URL: `partflow migrate` migrates and names the
// engine, and the server serves the workflow from the database, also after
// a restart.
func TestServeOnPostgres(t *testing.T) {
	url := pgtest.NewDatabase(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	const key = "pg-e2e-secret-key-0123456789abcdef"
	env := []string{"PARTFLOW_ENV=development", "SECRET_KEY=" + key,
		"DATABASE_URL=postgresql+psycopg2://" + strings.TrimPrefix(url, "postgres://")}

	migrate := func() string {
		cmd := exec.Command(bin, "migrate")
		cmd.Dir = dir
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("partflow migrate: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := migrate(); !strings.Contains(out, "20261206000001_schema") {
		t.Fatalf("first migrate does not report the schema migration:\n%s", out)
	}
	// What the second run must report: every embedded migration applied,
	// the newest last (read from the source, so a new migration needs no
	// edit here).
	files, err := filepath.Glob("../../storage/bunstore/pgengine/migrations/*.up.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("PostgreSQL migrations in the source: %v, %v", files, err)
	}
	last := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(files[len(files)-1]), ".up.sql"), ".tx")
	want := fmt.Sprintf("%d migrations applied, the last %s; 0 pending", len(files), last)
	if out := migrate(); !strings.Contains(out, "(postgres) is up to date") || !strings.Contains(out, want) {
		t.Fatalf("second migrate does not report an up-to-date postgres database (%s):\n%s", want, out)
	}

	s := startServer(t, bin, dir, env)
	p := call(t, "POST", s.url+"/api/parts/", key, map[string]any{"partId": "PG-1", "name": "Bracket",
		"type": "cnc", "material": "6061", "subsystem": "Drive"}, 201)
	id := int(p["id"].(float64))
	call(t, "POST", fmt.Sprintf("%s/api/parts/%d/approve", s.url, id), key, map[string]any{"reviewer": "Rita"}, 200)
	s.stop(t)

	s2 := startServer(t, bin, dir, env)
	defer s2.stop(t)
	got := call(t, "GET", fmt.Sprintf("%s/api/parts/%d", s2.url, id), key, nil, 200)
	if got["partId"] != "PG-1" || got["category"] == "review" {
		t.Fatalf("after restart: %v", got)
	}
	list := call(t, "GET", s2.url+"/api/parts/?search=brack", key, nil, 200)
	if list["total"].(float64) != 1 {
		t.Fatalf("search after restart: %v", list)
	}
}
