//go:build linux

package grpcplugin_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/partflow/partflow/convert/grpcplugin"
)

func TestRemoveStaleKeepsLiveAndYoungDirectories(t *testing.T) {
	tmp := t.TempDir()
	live := open(t, grpcplugin.Config{TempDir: tmp})
	old := time.Now().Add(-2 * time.Hour)
	mk := func(name string, mtime time.Time) string {
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(p, "job-1"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "job-1", "input.step"), []byte("x"), 0o400); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dead := mk("partflow-plugin-cascadio-123", old)
	young := mk("partflow-plugin-cascadio-456", time.Now())
	other := mk("something-else", old)
	if err := os.Chtimes(live.Dir(), old, old); err != nil {
		t.Fatal(err)
	}
	removed, err := grpcplugin.RemoveStale(tmp, time.Now().Add(-time.Hour), live)
	if err != nil || !slices.Equal(removed, []string{dead}) {
		t.Fatalf("RemoveStale = %v, %v; want [%s]", removed, err, dead)
	}
	for _, p := range []string{young, other, live.Dir()} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed", p)
		}
	}
	// A live plugin whose idle directory another host removed recreates it.
	if err := os.RemoveAll(live.Dir()); err != nil {
		t.Fatal(err)
	}
	convertOK(t, live)
	os.RemoveAll(young)
	os.RemoveAll(other)
}
