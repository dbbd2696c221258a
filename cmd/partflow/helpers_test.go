package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/partflow/partflow/internal/config"
)

// strongKey is a key production accepts.
const strongKey = "Zq3v9Kx2LmN8pR4tW6yB1cD5fG7hJ0sA"

// inTempDir changes into a fresh directory for the test and returns it
// with symlinks resolved, as os.Getwd reports it.
func inTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustLoad loads a configuration or fails the test.
func mustLoad(t *testing.T, args, environ []string) *config.Config {
	t.Helper()
	cfg, err := config.Load(args, environ, io.Discard)
	if err != nil {
		t.Fatalf("Load(%q, %q): %v", args, environ, err)
	}
	return cfg
}
