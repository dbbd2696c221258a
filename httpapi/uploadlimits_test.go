package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/parts"
)

// rawUpload sends an upload of content to a real server by hand: the
// headers, then the body up to cut bytes (all of it when cut < 0), and
// returns the status and body of the answer.
func rawUpload(t *testing.T, srv *httptest.Server, path string, content []byte, cut int, header map[string]string) (int, map[string]any) {
	t.Helper()
	ct, body := multipartBody(t, formFile{"file", "a.step", content})
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second)) // a hung server fails the test instead of hanging it
	var hdr strings.Builder
	fmt.Fprintf(&hdr, "POST %s/upload HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n", path, adminKey, ct, len(body))
	for k, v := range header {
		fmt.Fprintf(&hdr, "%s: %s\r\n", k, v)
	}
	hdr.WriteString("\r\n")
	if cut < 0 {
		cut = len(body)
	}
	if _, err := c.Write(append([]byte(hdr.String()), body[:cut]...)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestSlowUploadIsCutOffAfterOneWindow(t *testing.T) {
	e := newFilesEnv(t, func(_ *parts.Options, ho *httpapi.Options) {
		ho.Files.MinUploadRate = 10 << 10
		ho.Files.UploadRateWindow = 300 * time.Millisecond
	})
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	p := e.part(nil)
	big := append(bytes.Clone(stepData), bytes.Repeat([]byte("/* pad */\n"), 10<<10)...)
	start := time.Now()
	// Half the body, then nothing: a trickle that stopped.
	status, m := rawUpload(t, srv, p, big, 50<<10, nil)
	if status != http.StatusRequestTimeout || !strings.Contains(fmt.Sprint(m["error"]), "too slow") {
		t.Fatalf("stalled upload: %d %v, want 408 too slow", status, m)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("cut off after %s, want about one window", took)
	}
	if objs := e.objects(); len(objs) != 0 {
		t.Errorf("stored %v from a cut-off upload", objs)
	}
	// A whole upload at full speed passes the same limit.
	if status, m := rawUpload(t, srv, p, big, -1, nil); status != 201 {
		t.Fatalf("fast upload: %d %v", status, m)
	}
}

// blockingFiles is a FileStore whose Put waits for a release, and says when
// one has started.
type blockingFiles struct {
	parts.FileStore
	entered chan struct{}
	release chan struct{}
}

func (b *blockingFiles) Put(ctx context.Context, key string, r io.Reader, ct string) (parts.FileObject, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.FileStore.Put(ctx, key, r, ct)
}

func TestUploadsPerClientAreCapped(t *testing.T) {
	blocking := &blockingFiles{entered: make(chan struct{}), release: make(chan struct{})}
	e := newFilesEnv(t, func(po *parts.Options, ho *httpapi.Options) {
		blocking.FileStore = po.Files
		po.Files = blocking
		ho.Files.MaxUploadsPerClient = 1
		ho.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	p1, p2 := e.part(nil), e.part(map[string]any{"partId": "P-2"})
	first := make(chan int, 1)
	go func() {
		status, _ := rawUpload(t, srv, p1, stepData, -1, map[string]string{"X-Forwarded-For": "192.0.2.1"})
		first <- status
	}()
	<-blocking.entered // the first upload holds its client's only slot
	status, m := rawUpload(t, srv, p2, stepData, -1, map[string]string{"X-Forwarded-For": "192.0.2.1"})
	if status != http.StatusTooManyRequests || m["retry_after"] == nil {
		t.Errorf("second upload from the same client: %d %v, want 429 with retry_after", status, m)
	}
	// Another client is not affected.
	other := make(chan int, 1)
	go func() {
		status, _ := rawUpload(t, srv, p2, stepData, -1, map[string]string{"X-Forwarded-For": "192.0.2.2"})
		other <- status
	}()
	<-blocking.entered
	blocking.release <- struct{}{}
	blocking.release <- struct{}{}
	if s1, s2 := <-first, <-other; s1 != 201 || s2 != 201 {
		t.Fatalf("uploads holding slots: %d, %d", s1, s2)
	}
	// The slot is free again.
	go func() { <-blocking.entered; blocking.release <- struct{}{} }()
	if status, m := rawUpload(t, srv, p2, stepData, -1, map[string]string{"X-Forwarded-For": "192.0.2.1"}); status != 201 {
		t.Fatalf("upload after the first finished: %d %v", status, m)
	}
}
