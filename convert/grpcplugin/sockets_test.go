//go:build linux

package grpcplugin_test

import (
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/convert/grpcplugin"
)

// sockets lists the unix sockets under dir, at any depth.
func sockets(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSocket != 0 {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// privateTMPDIR points TMPDIR, which plugins inherit, at a new short
// directory that must be empty when the test ends.
func privateTMPDIR(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gpt")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", dir)
	t.Cleanup(func() {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("left in the system's temporary directory: %v", entries)
		}
		os.RemoveAll(dir)
	})
	return dir
}

func TestSocketsLiveInThePluginDirectory(t *testing.T) {
	work, err := os.MkdirTemp("", "gpw") // short enough for socket paths
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	sysTmp := privateTMPDIR(t)
	p := open(t, grpcplugin.Config{TempDir: work, PoolSize: 2})
	socks := sockets(t, p.Dir())
	if len(socks) != 2 {
		t.Fatalf("sockets in the plugin directory %v, want one per process (2)", socks)
	}
	if strings.HasPrefix(socks[0], sysTmp) || filepath.Dir(filepath.Dir(socks[0])) != p.Dir() || filepath.Dir(socks[0]) == filepath.Dir(socks[1]) {
		t.Errorf("sockets %v: want each in its own directory in %s", socks, p.Dir())
	}
	if s := sockets(t, sysTmp); len(s) != 0 {
		t.Errorf("sockets in the system's temporary directory: %v", s)
	}
	convertOK(t, p)
}

func TestSocketsFallBackWhenThePathIsTooLong(t *testing.T) {
	sysTmp := privateTMPDIR(t)
	long := filepath.Join(t.TempDir(), strings.Repeat("x", 40), strings.Repeat("y", 40))
	if err := os.MkdirAll(long, 0o700); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	p := open(t, grpcplugin.Config{TempDir: long, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if !strings.Contains(logs.String(), "path is too long for unix sockets") {
		t.Errorf("the fallback is not logged:\n%s", logs.String())
	}
	socks := sockets(t, sysTmp)
	if len(socks) != 1 || !strings.HasPrefix(filepath.Base(filepath.Dir(filepath.Dir(socks[0]))), "partflow-sock-") {
		t.Fatalf("sockets in the system's temporary directory %v, want the process's in a partflow-sock-* directory", socks)
	}
	if s := sockets(t, p.Dir()); len(s) != 0 {
		t.Errorf("sockets under the too-long directory: %v", s)
	}
	convertOK(t, p) // privateTMPDIR checks Close removed the fallback
}

// TestRemoveStaleRemovesFallbackSockets checks that the sweep removes the
// fallback socket directory a dead host's plugin directory links to, and
// nothing a link points to that is not one.
func TestRemoveStaleRemovesFallbackSockets(t *testing.T) {
	sysTmp := privateTMPDIR(t)
	work := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	deadRoot := func(name, target string) string {
		root := filepath.Join(work, name)
		if err := os.MkdirAll(target, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(root, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(root, "sockets")); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(root, old, old); err != nil {
			t.Fatal(err)
		}
		return root
	}
	fallback := filepath.Join(sysTmp, "partflow-sock-123")
	if err := os.MkdirAll(filepath.Join(fallback, "s1"), 0o700); err != nil {
		t.Fatal(err)
	}
	dead := deadRoot("partflow-plugin-stl-1", fallback)
	other := filepath.Join(t.TempDir(), "precious")
	tricked := deadRoot("partflow-plugin-stl-2", other)
	removed, err := grpcplugin.RemoveStale(work, time.Now().Add(-time.Hour))
	if err != nil || !slices.Equal(removed, []string{dead, tricked}) {
		t.Fatalf("RemoveStale = %v, %v; want [%s %s]", removed, err, dead, tricked)
	}
	if _, err := os.Stat(fallback); err == nil {
		t.Errorf("the fallback socket directory %s is still there", fallback)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a linked directory that is not a socket directory was removed: %v", err)
	}
}

// TestRemoveStaleKeepsAServingHost checks that a sweep that does not know
// a live host's Plugin (`partflow gc` beside a running server) keeps its
// old, idle directory because its processes still serve on their sockets.
func TestRemoveStaleKeepsAServingHost(t *testing.T) {
	work, err := os.MkdirTemp("", "gpw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	p := open(t, grpcplugin.Config{TempDir: work})
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(p.Dir(), old, old); err != nil {
		t.Fatal(err)
	}
	if removed, err := grpcplugin.RemoveStale(work, time.Now().Add(-time.Hour)); err != nil || len(removed) != 0 {
		t.Fatalf("RemoveStale = %v, %v; want the serving host's directory kept", removed, err)
	}
	convertOK(t, p)
}
