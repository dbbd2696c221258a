package blobfiles_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/parts/partstest"
	"github.com/partflow/partflow/storage"
	"github.com/partflow/partflow/storage/blobfiles"
)

func open(t *testing.T, url string, opts *blobfiles.Options) *blobfiles.Store {
	t.Helper()
	s, err := blobfiles.Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", url, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		partstest.RunFileStore(t, func(t *testing.T) parts.FileStore {
			return open(t, "file://"+filepath.ToSlash(t.TempDir()), nil)
		})
	})
	t.Run("mem", func(t *testing.T) {
		partstest.RunFileStore(t, func(t *testing.T) parts.FileStore {
			return open(t, "mem://", nil)
		})
	})
}

// walk lists every regular file under root, relative, slash-separated.
func walk(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	slices.Sort(out)
	return out
}

type brokenReader struct{ n int }

var errBroken = errors.New("connection reset")

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, errBroken
	}
	n := min(len(p), b.n)
	clear(p[:n])
	b.n -= n
	return n, nil
}

func TestFileFailedWritesLeaveNoFilesOnDisk(t *testing.T) {
	root := t.TempDir()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // fileblob must not use the system temp dir either
	s := open(t, "file://"+filepath.ToSlash(root), nil)
	if _, err := s.Put(t.Context(), "parts/1/cad/ok.step", bytes.NewReader([]byte("kept")), "application/step"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	before := walk(t, root)
	if _, err := s.Put(t.Context(), "parts/1/cad/broken.step", &brokenReader{n: 5 << 20}, "application/step"); !errors.Is(err, errBroken) {
		t.Fatalf("Put = %v, want the reader's error", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Put(ctx, "parts/1/cad/cancelled.step", bytes.NewReader([]byte("x")), "application/step"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	if after := walk(t, root); !slices.Equal(after, before) {
		t.Errorf("files on disk after failed writes = %q, want %q", after, before)
	}
	if left := walk(t, tmp); len(left) != 0 {
		t.Errorf("files left in TMPDIR: %q", left)
	}
	if !slices.Contains(before, "parts/1/cad/ok.step") {
		t.Errorf("object not stored under its key on disk: %q", before)
	}
}

func TestFileKeysNeverEscapeTheRoot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "store")
	s := open(t, "file://"+filepath.ToSlash(root), nil)
	for _, key := range []string{"../outside", "a/../../outside", "/outside", `..\outside`, ".spool/put-x", "a/.hidden", "x.attrs", "x.1a2b.tmp"} {
		if _, err := s.Put(t.Context(), key, bytes.NewReader([]byte("x")), ""); !errors.Is(err, parts.ErrInvalid) {
			t.Errorf("Put(%q) = %v, want ErrInvalid", key, err)
		}
	}
	if got := walk(t, parent); len(got) != 0 {
		t.Errorf("files written: %q, want none", got)
	}
}

func TestOpenURLs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tc := range []struct {
		url     string
		wantDir string // a directory that must exist afterwards
	}{
		{"file://" + filepath.ToSlash(filepath.Join(dir, "abs", "files")), filepath.Join(dir, "abs", "files")},
		{"file://./rel/files", filepath.Join(dir, "rel", "files")},
		{"file://localhost" + filepath.ToSlash(filepath.Join(dir, "lh")), filepath.Join(dir, "lh")},
		{"mem://", ""},
	} {
		t.Run(tc.url, func(t *testing.T) {
			s := open(t, tc.url, nil)
			if _, err := s.Put(t.Context(), "k", bytes.NewReader([]byte("v")), ""); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if tc.wantDir != "" {
				if b, err := os.ReadFile(filepath.Join(tc.wantDir, "k")); err != nil || string(b) != "v" {
					t.Errorf("object file = %q, %v", b, err)
				}
			}
		})
	}
	for _, bad := range []string{"file://", "file://host/path", "file:///x?y=1", "mem://x", "ftp://x", "s3://b"} {
		t.Run("rejects "+bad, func(t *testing.T) {
			if s, err := blobfiles.Open(t.Context(), bad, nil); err == nil {
				s.Close()
				t.Errorf("Open(%q) succeeded", bad)
			}
		})
	}
}

func TestRegisteredSchemes(t *testing.T) {
	for _, scheme := range []string{"file", "mem"} {
		if !slices.Contains(storage.FileSchemes(), scheme) {
			t.Errorf("scheme %q not registered (have %q)", scheme, storage.FileSchemes())
		}
	}
	fs, err := storage.OpenFiles(t.Context(), "mem://")
	if err != nil {
		t.Fatalf("OpenFiles: %v", err)
	}
	if _, err := fs.Put(t.Context(), "k", bytes.NewReader([]byte("v")), ""); err != nil {
		t.Fatalf("Put: %v", err)
	}
	rc, _, err := fs.Open(t.Context(), "k")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); string(b) != "v" {
		t.Errorf("read %q", b)
	}
}

func TestStaleSpoolFilesAreRemovedOnOpen(t *testing.T) {
	root := t.TempDir()
	first, err := blobfiles.Open(t.Context(), "file://"+filepath.ToSlash(root), nil)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	// Earlier releases spooled uploads here.
	if err := os.Mkdir(filepath.Join(root, ".spool"), 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(root, ".spool", "put-123")
	fresh := filepath.Join(root, ".spool", "put-456")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := mustTime(t, "2020-01-01T00:00:00Z")
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	open(t, "file://"+filepath.ToSlash(root), nil)
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale spool file still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh spool file removed: %v", err)
	}
}

func ExampleOpen() {
	ctx := context.Background()
	files, err := blobfiles.Open(ctx, "mem://", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer files.Close()
	obj, err := files.Put(ctx, "parts/1/cad/abc-bracket.step", bytes.NewReader([]byte("ISO-10303-21;")), "application/step")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(obj.Size, obj.SHA256[:12])
	// Output: 13 f173fe44447b
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestReadsDirectoriesWrittenByFileblob opens a directory written by
// gocloud.dev/blob/fileblob, as earlier releases stored files: objects,
// checksums and content types read back, and new writes keep the layout.
func TestReadsDirectoriesWrittenByFileblob(t *testing.T) {
	root := t.TempDir()
	old, err := fileblob.OpenBucket(root, &fileblob.Options{NoTempDir: true})
	if err != nil {
		t.Fatal(err)
	}
	err = old.WriteAll(t.Context(), "parts/1/cad/a.step", []byte("ISO-10303-21;"), &blob.WriterOptions{
		ContentType: "application/step", Metadata: map[string]string{"sha256": "f173fe44447b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, "file://"+filepath.ToSlash(root), nil)
	got, err := s.Stat(t.Context(), "parts/1/cad/a.step")
	if err != nil || got.SHA256 != "f173fe44447b" || got.ContentType != "application/step" || got.Size != 13 {
		t.Fatalf("Stat = %+v, %v", got, err)
	}
	list, err := s.List(t.Context(), "parts/")
	if err != nil || len(list) != 1 || list[0].Key != "parts/1/cad/a.step" {
		t.Fatalf("List = %+v, %v", list, err)
	}
	obj, err := s.Put(t.Context(), "parts/2/cad/b.step", bytes.NewReader([]byte("b")), "application/step")
	if err != nil {
		t.Fatal(err)
	}
	a, err := old.Attributes(t.Context(), "parts/2/cad/b.step")
	if err != nil || a.Metadata["sha256"] != obj.SHA256 || a.ContentType != "application/step" {
		t.Fatalf("fileblob reads %+v, %v; want sha %s", a, err, obj.SHA256)
	}
	if err := s.Delete(t.Context(), "parts/1/cad/a.step"); err != nil {
		t.Fatal(err)
	}
	if got := walk(t, root); !slices.Equal(got, []string{"parts/2/cad/b.step", "parts/2/cad/b.step.attrs"}) {
		t.Errorf("files on disk = %q", got)
	}
}
