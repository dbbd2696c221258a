package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/webhooks"
)

// streamLines opens an event stream and sends its lines until it ends
// (the test's end closes it).
func streamLines(t *testing.T, url, key string) <-chan string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream %s: %v %v", url, resp, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines
}

// TestEndToEndEventsAndWebhooks runs the real binary with a webhook from
// the environment: a create reaches an open event stream and a signed
// webhook, and SIGTERM ends the stream cleanly without waiting out the
// shutdown timeout.
func TestEndToEndEventsAndWebhooks(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	const secret = "e2e-webhook-secret-0123"
	got := make(chan *http.Request, 10)
	bodies := make(chan []byte, 10)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
	}))
	t.Cleanup(recv.Close)
	env := []string{"PARTFLOW_ENV=development", `PARTFLOW_WEBHOOKS=[{"id":"e2e","url":"` + recv.URL +
		`","secret":"` + secret + `","enabled":true,"allow_http":true,"allow_private":true,"actions":["create"]}]`}
	s := startServer(t, bin, dir, env)
	key := generatedKey(t, filepath.Join(dir, "data"))

	lines := streamLines(t, s.url+"/api/events/stream", key)
	call(t, "POST", s.url+"/api/parts/", key, map[string]any{"partId": "E2E-EV", "material": "6061", "subsystem": "Drive"}, 201)
	deadline := time.After(20 * time.Second)
	waitLine := func(prefix, contains string) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("stream ended before %q", prefix)
				}
				if strings.HasPrefix(l, prefix) && strings.Contains(l, contains) {
					return
				}
			case <-deadline:
				t.Fatalf("no %q line", prefix)
			}
		}
	}
	waitLine("data: ", `"partId":"E2E-EV"`)
	select {
	case r := <-got:
		if err := webhooks.Verify(secret, r.Header, <-bodies, time.Now(), time.Minute); err != nil {
			t.Fatalf("webhook does not verify: %v", err)
		}
	case <-deadline:
		t.Fatal("no webhook delivery")
	}
	start := time.Now()
	s.stop(t)
	waitLine("event: shutdown", "")
	if took := time.Since(start); took > 10*time.Second || strings.Contains(s.stderr.String(), "still in flight") {
		t.Fatalf("shutdown took %s with a stream open:\n%s", took, s.stderr)
	}
}
