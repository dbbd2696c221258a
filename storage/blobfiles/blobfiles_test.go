package blobfiles_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

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

// fakeS3 starts an in-process S3-compatible server on 127.0.0.1 with one
// bucket and returns its endpoint.
func fakeS3(t *testing.T, bucket string) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	srv := httptest.NewUnstartedServer(gofakes3.New(backend).Server())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// s3Options signs with a static test key: nothing is read from the
// environment or ~/.aws.
func s3Options(t *testing.T) *blobfiles.Options {
	return &blobfiles.Options{
		SpoolDir:      t.TempDir(),
		S3Credentials: &blobfiles.S3Credentials{AccessKeyID: "test-key", SecretAccessKey: "test-secret"},
	}
}

func TestConformance(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		partstest.RunFileStore(t, func(t *testing.T) parts.FileStore {
			return open(t, "file://"+filepath.ToSlash(t.TempDir()), nil)
		})
	})
	t.Run("mem", func(t *testing.T) {
		partstest.RunFileStore(t, func(t *testing.T) parts.FileStore {
			return open(t, "mem://", &blobfiles.Options{SpoolDir: t.TempDir()})
		})
	})
	t.Run("s3", func(t *testing.T) {
		partstest.RunFileStore(t, func(t *testing.T) parts.FileStore {
			endpoint := fakeS3(t, "parts")
			return open(t, "s3://parts?endpoint="+endpoint+"&region=eu-west-1&use_path_style=true", s3Options(t))
		})
	})
}

// countingTransport counts the requests that reach the fake S3 server.
type countingTransport struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func TestS3TalksHTTPToTheEndpoint(t *testing.T) {
	endpoint := fakeS3(t, "parts")
	ct := &countingTransport{next: http.DefaultTransport}
	opts := s3Options(t)
	opts.S3HTTPClient = &http.Client{Transport: ct}
	s := open(t, "s3://parts?endpoint="+endpoint+"&use_path_style=true", opts)
	obj, err := s.Put(t.Context(), "parts/1/cad/a.step", bytes.NewReader([]byte("ISO-10303-21;")), "application/step")
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if ct.n.Load() == 0 {
		t.Fatalf("no HTTP request reached the S3 endpoint")
	}
	st, err := s.Stat(t.Context(), obj.Key)
	if err != nil || st.SHA256 != obj.SHA256 {
		t.Fatalf("Stat = %+v, %v; want sha %s from the object's metadata", st, err, obj.SHA256)
	}
}

func TestS3AnonymousURLNeedsNoCredentials(t *testing.T) {
	endpoint := fakeS3(t, "anon")
	s := open(t, "s3://anon?endpoint="+endpoint+"&use_path_style=true&anonymous=true", &blobfiles.Options{SpoolDir: t.TempDir()})
	if _, err := s.Put(t.Context(), "k", bytes.NewReader([]byte("x")), ""); err != nil {
		t.Fatalf("Put: %v", err)
	}
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
	for _, bad := range []string{"file://", "file://host/path", "file:///x?y=1", "mem://x", "ftp://x", "s3://", "s3://b/prefix", "s3://b?bogus=1", "s3://b?endpoint=ftp://x", "s3://b?use_path_style=maybe"} {
		t.Run("rejects "+bad, func(t *testing.T) {
			if s, err := blobfiles.Open(t.Context(), bad, nil); err == nil {
				s.Close()
				t.Errorf("Open(%q) succeeded", bad)
			}
		})
	}
}

func TestRegisteredSchemes(t *testing.T) {
	for _, scheme := range []string{"file", "mem", "s3"} {
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
