package s3files_test

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/parts/partstest"
	"github.com/partflow/partflow/storage"
	"github.com/partflow/partflow/storage/blobfiles"
	"github.com/partflow/partflow/storage/s3files"
)

func open(t *testing.T, url string, opts *s3files.Options) *blobfiles.Store {
	t.Helper()
	s, err := s3files.Open(t.Context(), url, opts)
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
func s3Options(t *testing.T) *s3files.Options {
	return &s3files.Options{
		SpoolDir:    t.TempDir(),
		Credentials: &s3files.Credentials{AccessKeyID: "test-key", SecretAccessKey: "test-secret"},
	}
}

func TestConformance(t *testing.T) {
	partstest.RunFileStore(t, func(t *testing.T) parts.FileStore {
		endpoint := fakeS3(t, "parts")
		return open(t, "s3://parts?endpoint="+endpoint+"&region=eu-west-1&use_path_style=true", s3Options(t))
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
	opts.HTTPClient = &http.Client{Transport: ct}
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
	s := open(t, "s3://anon?endpoint="+endpoint+"&use_path_style=true&anonymous=true", &s3files.Options{SpoolDir: t.TempDir()})
	if _, err := s.Put(t.Context(), "k", bytes.NewReader([]byte("x")), ""); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

func TestOpenRejectsBadURLs(t *testing.T) {
	for _, bad := range []string{"s3://", "s3://b/prefix", "s3://b?bogus=1", "s3://b?endpoint=ftp://x", "s3://b?use_path_style=maybe", "file:///tmp/x"} {
		t.Run(bad, func(t *testing.T) {
			if s, err := s3files.Open(t.Context(), bad, &s3files.Options{Credentials: &s3files.Credentials{AccessKeyID: "k", SecretAccessKey: "s"}}); err == nil {
				s.Close()
				t.Errorf("Open(%q) succeeded", bad)
			}
		})
	}
}

func TestRegistersS3(t *testing.T) {
	if !slices.Contains(storage.FileSchemes(), "s3") {
		t.Errorf("scheme s3 not registered (have %q)", storage.FileSchemes())
	}
}

// TestPingNeedsTheBucket: Ping answers nil for a reachable bucket and an
// error for a missing one (readiness checks).
func TestPingNeedsTheBucket(t *testing.T) {
	endpoint := fakeS3(t, "parts")
	good := open(t, "s3://parts?endpoint="+endpoint+"&region=eu-west-1&use_path_style=true", s3Options(t))
	if err := good.Ping(t.Context()); err != nil {
		t.Errorf("Ping of a reachable bucket: %v", err)
	}
	missing := open(t, "s3://nothere?endpoint="+endpoint+"&region=eu-west-1&use_path_style=true", s3Options(t))
	if err := missing.Ping(t.Context()); err == nil {
		t.Error("Ping of a missing bucket: nil, want an error")
	}
}
