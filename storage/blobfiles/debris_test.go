package blobfiles_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/blobfiles"
)

func TestSweepDebrisRemovesOldPartialWritesAndSpoolFilesOnly(t *testing.T) {
	dir := t.TempDir()
	s, err := blobfiles.Open(t.Context(), "file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Put(t.Context(), "parts/1/a.step", strings.NewReader("ISO-10303-21;"), "application/step"); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	write := func(rel string, mtime time.Time) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write("parts/1/b.step.18f3a2b4c5d6e7f8.tmp", old) // a crash mid-write
	write("parts/2/c.glb.18f3a2b4c5d6e7f9.tmp", old)
	write(".spool/put-123", old)                             // a crash mid-upload
	write("parts/1/d.step.18f3a2b4c5d6e7fa.tmp", time.Now()) // a write in flight
	write(".spool/put-456", time.Now())
	write("parts/1/notes.tmp", old) // not fileblob's pattern: an object name

	removed, err := s.SweepDebris(t.Context(), time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".spool/put-123", "parts/1/b.step.18f3a2b4c5d6e7f8.tmp", "parts/2/c.glb.18f3a2b4c5d6e7f9.tmp"}
	if !slices.Equal(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	for _, rel := range []string{"parts/1/a.step", "parts/1/d.step.18f3a2b4c5d6e7fa.tmp", ".spool/put-456", "parts/1/notes.tmp"} {
		if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
			t.Errorf("%s was removed: %v", rel, err)
		}
	}
	for _, rel := range want {
		if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
			t.Errorf("%s is still there", rel)
		}
	}
	var _ parts.DebrisSweeper = s
}

func TestSweepDebrisOfAMemoryStoreIsNothing(t *testing.T) {
	s, err := blobfiles.Open(t.Context(), "mem://", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if removed, err := s.SweepDebris(t.Context(), time.Now()); err != nil || len(removed) != 0 {
		t.Errorf("SweepDebris = %v, %v", removed, err)
	}
}
