package blobfiles_test

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/blobfiles"
)

// gatedReader yields head, reports on reached, then waits for release and
// ends with its error (nil: io.EOF).
type gatedReader struct {
	head    []byte
	reached chan struct{}
	release chan error
	sent    bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if !g.sent {
		g.sent = true
		return copy(p, g.head), nil
	}
	close(g.reached)
	if err := <-g.release; err != nil {
		return 0, err
	}
	return 0, io.EOF
}

func putFile(t *testing.T, s *blobfiles.Store, key, data string) parts.FileObject {
	t.Helper()
	obj, err := s.Put(t.Context(), key, strings.NewReader(data), "application/step")
	if err != nil {
		t.Fatalf("Put %s: %v", key, err)
	}
	return obj
}

func TestFileCutOffUploadKeepsThePreviousObjectAndLeavesNoTempFile(t *testing.T) {
	root := t.TempDir()
	s := open(t, "file://"+filepath.ToSlash(root), nil)
	prev := putFile(t, s, "parts/1/cad/a.step", "ISO-10303-21; version 1")
	before := walk(t, root)

	if _, err := s.Put(t.Context(), "parts/1/cad/a.step", &brokenReader{n: 700 << 10}, "application/step"); !errors.Is(err, errBroken) {
		t.Fatalf("Put = %v, want the reader's error", err)
	}
	if after := walk(t, root); !slices.Equal(after, before) {
		t.Errorf("files after the cut-off upload = %q, want %q", after, before)
	}
	got, err := s.Stat(t.Context(), "parts/1/cad/a.step")
	if err != nil || got.SHA256 != prev.SHA256 || got.Size != prev.Size {
		t.Errorf("Stat = %+v, %v; want the previous object %+v", got, err, prev)
	}
	if removed, err := s.SweepDebris(t.Context(), time.Now().Add(time.Hour)); err != nil || len(removed) != 0 {
		t.Errorf("SweepDebris = %q, %v; want nothing to remove", removed, err)
	}
}

// An upload in flight is a temporary file next to its key; if the process
// died there, SweepDebris would remove it.
func TestFileUploadInFlightIsDebrisForTheSweep(t *testing.T) {
	root := t.TempDir()
	s := open(t, "file://"+filepath.ToSlash(root), nil)
	putFile(t, s, "parts/1/cad/a.step", "previous")
	g := &gatedReader{head: bytes.Repeat([]byte("x"), 64<<10), reached: make(chan struct{}), release: make(chan error)}
	done := make(chan error)
	go func() {
		_, err := s.Put(t.Context(), "parts/1/cad/a.step", g, "application/step")
		done <- err
	}()
	<-g.reached

	files := walk(t, root)
	var temps []string
	for _, f := range files {
		if strings.HasSuffix(f, ".tmp") {
			temps = append(temps, f)
		}
	}
	if len(temps) != 1 || !strings.HasPrefix(temps[0], "parts/1/cad/a.step.") {
		t.Fatalf("files during the upload = %q, want one temporary file next to the key", files)
	}
	if objs, err := s.List(t.Context(), ""); err != nil || len(objs) != 1 {
		t.Errorf("List during the upload = %v, %v; want only the previous object", objs, err)
	}
	removed, err := s.SweepDebris(t.Context(), time.Now().Add(time.Hour))
	if err != nil || !slices.Equal(removed, temps) {
		t.Errorf("SweepDebris = %q, %v; want %q", removed, err, temps)
	}

	g.release <- errBroken
	if err := <-done; !errors.Is(err, errBroken) {
		t.Fatalf("Put = %v, want the reader's error", err)
	}
	if after := walk(t, root); !slices.Equal(after, []string{"parts/1/cad/a.step", "parts/1/cad/a.step.attrs"}) {
		t.Errorf("files after the upload failed = %q", after)
	}
	if got := readObject(t, s, "parts/1/cad/a.step"); got != "previous" {
		t.Errorf("object = %q, want the previous one", got)
	}
}

func TestFileUploadIsVisibleOnlyWhenWhole(t *testing.T) {
	root := t.TempDir()
	s := open(t, "file://"+filepath.ToSlash(root), nil)
	g := &gatedReader{head: []byte("ISO-10303-21;"), reached: make(chan struct{}), release: make(chan error)}
	done := make(chan error)
	go func() {
		_, err := s.Put(t.Context(), "parts/2/cad/b.step", g, "application/step")
		done <- err
	}()
	<-g.reached
	if _, err := s.Stat(t.Context(), "parts/2/cad/b.step"); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("Stat during the upload = %v, want ErrNotFound", err)
	}
	g.release <- nil
	if err := <-done; err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got := readObject(t, s, "parts/2/cad/b.step"); got != "ISO-10303-21;" {
		t.Errorf("object = %q", got)
	}
	if after := walk(t, root); !slices.Equal(after, []string{"parts/2/cad/b.step", "parts/2/cad/b.step.attrs"}) {
		t.Errorf("files after the upload = %q, want the object and its attributes", after)
	}
}

func readObject(t *testing.T, s *blobfiles.Store, key string) string {
	t.Helper()
	r, _, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open %s: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return string(b)
}
