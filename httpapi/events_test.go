package httpapi_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/httpapi"
)

func TestEvents_pageAndFilters(t *testing.T) {
	e := newEnv(t, nil)
	a := e.create(map[string]any{"partId": "A-1", "type": "cnc"})
	b := e.create(map[string]any{"partId": "B-1"})
	e.must(200, req{method: "POST", path: partPath(a, "/approve"), body: map[string]any{}})
	e.must(200, req{method: "DELETE", path: partPath(b, "")})

	all := e.must(200, req{method: "GET", path: "/api/events", header: map[string]string{"X-API-Key": readerKey}})
	evs := all["events"].([]any)
	if len(evs) != 4 {
		t.Fatalf("got %d events, want 4: %v", len(evs), all)
	}
	var actions []string
	var last float64
	for _, x := range evs {
		ev := x.(map[string]any)
		actions = append(actions, ev["action"].(string))
		if seq := ev["seq"].(float64); seq <= last {
			t.Errorf("seq %v after %v", seq, last)
		} else {
			last = seq
		}
	}
	if !slices.Equal(actions, []string{"create", "create", "approve", "delete"}) {
		t.Errorf("actions %v", actions)
	}
	approve := evs[2].(map[string]any)["part"].(map[string]any)
	if approve["partId"] != "A-1" || approve["category"] != "cnc" || approve["version"] != 2.0 {
		t.Errorf("approve event part = %v, want A-1 in cnc at version 2", approve)
	}
	if all["next"] != last || all["head"] != last {
		t.Errorf("next %v head %v, want %v", all["next"], all["head"], last)
	}

	cases := map[string][]string{
		"/api/events?part=" + jsonInt(b["id"]):    {"create", "delete"},
		"/api/events?category=cnc":                {"approve"},
		"/api/events?action=delete,approve":       {"approve", "delete"},
		"/api/events?action=create&limit=1":       {"create"},
		fmt.Sprintf("/api/events?after=%v", last): {},
	}
	for path, want := range cases {
		page := e.must(200, req{method: "GET", path: path})
		var got []string
		for _, x := range page["events"].([]any) {
			got = append(got, x.(map[string]any)["action"].(string))
		}
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
	}
	for path, field := range map[string]string{"/api/events?after=x": "after", "/api/events?limit=0": "limit",
		"/api/events?limit=5000": "limit", "/api/events?category=nope": "category", "/api/events?part=-2": "part"} {
		wantError(t, e.do(req{method: "GET", path: path}), 400, "", field)
	}
	wantError(t, e.do(req{method: "GET", path: "/api/events", header: noKey}), 401, "API key required", "")
}

func TestEvents_expiredCursorIs410(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 3 {
		e.create(map[string]any{"partId": fmt.Sprint("P-", i)})
	}
	if _, err := e.store.PruneLog(t.Context(), time.Time{}, 1); err != nil {
		t.Fatal(err)
	}
	m := wantError(t, e.do(req{method: "GET", path: "/api/events?after=0"}), 410, "Event cursor expired", "")
	if !strings.Contains(fmt.Sprint(m["details"]), "Resync") {
		t.Errorf("details %v do not say how to resync", m["details"])
	}
	wantError(t, e.do(req{method: "GET", path: "/api/events/stream?after=1"}), 410, "Event cursor expired", "")
	e.must(200, req{method: "GET", path: "/api/events?after=2"})
}

// sseFrame is one Server-Sent Events frame, or a comment.
type sseFrame struct {
	id, event, data, comment string
}

// stream is an open event stream read by a goroutine.
type stream struct {
	resp   *http.Response
	frames chan sseFrame
	cancel context.CancelFunc
	raw    bytes.Buffer // the stream's (decoded) text; read once frames is closed
	err    error        // why reading ended (nil: a clean end); read once frames is closed
}

// streamEncodings are the codings the stream tests run with: gzip (browsers
// and Go clients ask for it) and identity.
var streamEncodings = []string{"gzip", "identity"}

// openStream opens an event stream with the reader key and header. With
// Accept-Encoding: gzip in header, the answer must be gzip, and the
// stream decodes it itself (checking the trailer's CRC-32 and length at the
// end); otherwise it asks for no compression and must get none.
func openStream(t *testing.T, url string, header map[string]string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-API-Key", readerKey)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	gz := header["Accept-Encoding"] == "gzip"
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(r)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		t.Fatalf("stream status %d", resp.StatusCode)
	}
	if ce := resp.Header.Get("Content-Encoding"); (ce == "gzip") != gz || !slices.Contains(resp.Header.Values("Vary"), "Accept-Encoding") {
		cancel()
		t.Fatalf("Accept-Encoding %q: Content-Encoding %q, Vary %q", header["Accept-Encoding"], ce, resp.Header.Values("Vary"))
	}
	s := &stream{resp: resp, frames: make(chan sseFrame, 100), cancel: cancel}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	go s.read(gz)
	return s
}

func (s *stream) read(gz bool) {
	defer close(s.frames)
	var body io.Reader = s.resp.Body
	if gz {
		zr, err := gzip.NewReader(body)
		if err != nil {
			s.err = err
			return
		}
		zr.Multistream(false)
		body = zr
	}
	sc := bufio.NewScanner(io.TeeReader(body, &s.raw))
	var f sseFrame
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if f != (sseFrame{}) {
				s.frames <- f
			}
			f = sseFrame{}
		case strings.HasPrefix(line, ":"):
			f.comment = strings.TrimSpace(line[1:])
		case strings.HasPrefix(line, "id: "):
			f.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			f.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			f.data = line[6:]
		}
	}
	s.err = sc.Err()
}

// end waits for the stream to end and returns why (nil: a clean end).
func (s *stream) end(t *testing.T) error {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-s.frames:
			if !ok {
				return s.err
			}
		case <-deadline:
			t.Fatal("stream did not end")
		}
	}
}

// next returns the next frame that is not a comment (or the next comment,
// with comments true), failing after a deadline or at the end.
func (s *stream) next(t *testing.T, comments bool) sseFrame {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				t.Fatal("stream ended")
			}
			if (f.comment != "") == comments {
				return f
			}
		case <-deadline:
			t.Fatal("no frame before the deadline")
		}
	}
}

func (s *stream) events(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		f := s.next(t, false)
		var ev map[string]any
		if err := json.Unmarshal([]byte(f.data), &ev); err != nil {
			t.Fatalf("data %q: %v", f.data, err)
		}
		if fmt.Sprint(ev["seq"]) != f.id {
			t.Fatalf("frame id %s, data seq %v", f.id, ev["seq"])
		}
		ids = append(ids, f.id)
	}
	return ids
}

func TestEventStream_resumeWithLastEventID(t *testing.T) {
	for _, enc := range streamEncodings {
		t.Run(enc, func(t *testing.T) {
			e := newEnv(t, nil)
			srv := httptest.NewServer(e.h)
			t.Cleanup(srv.Close)
			for i := range 3 {
				e.create(map[string]any{"partId": fmt.Sprint("P-", i)})
			}
			s := openStream(t, srv.URL+"/api/events/stream?after=0", map[string]string{"Accept-Encoding": enc})
			if ct := s.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Errorf("Content-Type %q", ct)
			}
			if s.resp.Header.Get("X-Accel-Buffering") != "no" || !strings.Contains(s.resp.Header.Get("Cache-Control"), "no-transform") {
				t.Errorf("headers do not stop proxy buffering: %v", s.resp.Header)
			}
			// Over HTTP/1.1 the body ends with the connection, not chunked
			// (one write per batch).
			if len(s.resp.TransferEncoding) != 0 || !s.resp.Close {
				t.Errorf("Transfer-Encoding %v, Connection: close %v; want a body that ends with the connection", s.resp.TransferEncoding, s.resp.Close)
			}
			first := s.events(t, 2)
			s.cancel() // the connection drops after two events
			for i := 3; i < 6; i++ {
				e.create(map[string]any{"partId": fmt.Sprint("P-", i)})
			}
			s2 := openStream(t, srv.URL+"/api/events/stream?after=0", map[string]string{"Last-Event-ID": first[1], "Accept-Encoding": enc})
			rest := s2.events(t, 4)
			e.create(map[string]any{"partId": "P-live"})
			rest = append(rest, s2.events(t, 1)...)
			all := e.must(200, req{method: "GET", path: "/api/events"})["events"].([]any)
			var want []string
			for _, x := range all {
				want = append(want, fmt.Sprint(x.(map[string]any)["seq"]))
			}
			if got := append(first, rest...); !slices.Equal(got, want) {
				t.Fatalf("events across the reconnect %v, want each of %v once in order", got, want)
			}
		})
	}
}

func TestEventStream_heartbeatsAndFilters(t *testing.T) {
	for _, enc := range streamEncodings {
		t.Run(enc, func(t *testing.T) {
			e := newEnv(t, func(o *httpapi.Options) { o.Events.Heartbeat = 5 * time.Millisecond })
			srv := httptest.NewServer(e.h)
			t.Cleanup(srv.Close)
			old := e.create(map[string]any{"type": "hand", "partId": "OLD-1"})
			e.must(200, req{method: "POST", path: partPath(old, "/approve"), body: map[string]any{}})
			e.must(200, req{method: "POST", path: partPath(old, "/complete"), body: map[string]any{}})
			// Without after or Last-Event-ID the stream starts at the head.
			s := openStream(t, srv.URL+"/api/events/stream?action=complete", map[string]string{"Accept-Encoding": enc})
			if f := s.next(t, true); f.comment != "connected" {
				t.Fatalf("first comment %q", f.comment)
			}
			if f := s.next(t, true); f.comment != "heartbeat" {
				t.Fatalf("comment %q, want a heartbeat", f.comment)
			}
			p := e.create(map[string]any{"type": "hand", "partId": "NEW-1"})
			e.must(200, req{method: "POST", path: partPath(p, "/approve"), body: map[string]any{}})
			e.must(200, req{method: "POST", path: partPath(p, "/complete"), body: map[string]any{}})
			f := s.next(t, false)
			if !strings.Contains(f.data, `"action":"complete"`) || !strings.Contains(f.data, `"partId":"NEW-1"`) {
				t.Fatalf("stream sent %s, want only NEW-1's complete event", f.data)
			}
		})
	}
}

func TestEventStream_endsOnShutdown(t *testing.T) {
	for _, enc := range streamEncodings {
		t.Run(enc, func(t *testing.T) {
			done := make(chan struct{})
			e := newEnv(t, func(o *httpapi.Options) { o.Events.Done = done })
			srv := httptest.NewUnstartedServer(e.h)
			srv.Config.RegisterOnShutdown(func() { close(done) })
			srv.Start()
			t.Cleanup(srv.Close)
			s := openStream(t, srv.URL+"/api/events/stream", map[string]string{"Accept-Encoding": enc})
			s.next(t, true) // connected
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if err := srv.Config.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v (the stream held the server open)", err)
			}
			if f := s.next(t, false); f.event != "shutdown" {
				t.Fatalf("last frame %+v, want event: shutdown", f)
			}
			select {
			case _, ok := <-s.frames:
				if ok {
					t.Fatal("frames after shutdown")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("stream did not end")
			}
			if s.err != nil {
				t.Fatalf("the stream did not end cleanly: %v", s.err) // gzip: a missing or wrong trailer
			}
		})
	}
}

// TestEventStream_clientsShareOneFeed runs a burst of concurrent writes
// while streams follow from the head, from the start of the log (catching
// up from the store while the live ones read the shared feed) and with a
// filter: each gets exactly the events it asked for, once, in order. After
// the last client leaves, a new one still follows new events.
func TestEventStream_clientsShareOneFeed(t *testing.T) {
	for _, enc := range streamEncodings {
		t.Run(enc, func(t *testing.T) {
			e := newEnv(t, nil)
			srv := httptest.NewServer(e.h)
			t.Cleanup(srv.Close)
			e.create(map[string]any{"partId": "BEFORE"})
			live := openStream(t, srv.URL+"/api/events/stream", map[string]string{"Accept-Encoding": enc})
			live.next(t, true) // connected
			deletes := openStream(t, srv.URL+"/api/events/stream?action=delete", map[string]string{"Accept-Encoding": enc})
			deletes.next(t, true)
			const writers, each = 4, 30
			done := make(chan error, writers)
			for w := range writers {
				go func() {
					for i := range each {
						if r := e.do(req{method: "POST", path: "/api/parts/", body: map[string]any{"partId": fmt.Sprintf("W%d-%d", w, i),
							"material": "Aluminium", "subsystem": "Drive", "name": "Bracket"}}); r.status != 201 {
							done <- fmt.Errorf("create: %d %s", r.status, r.body)
							return
						}
					}
					done <- nil
				}()
			}
			fromStart := openStream(t, srv.URL+"/api/events/stream?after=0", map[string]string{"Accept-Encoding": enc})
			for range writers {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			victim := e.create(map[string]any{"partId": "GONE"})
			e.must(200, req{method: "DELETE", path: partPath(victim, "")})

			all := e.must(200, req{method: "GET", path: "/api/events?limit=1000"})["events"].([]any)
			var want []string
			for _, x := range all {
				want = append(want, fmt.Sprint(x.(map[string]any)["seq"]))
			}
			if len(want) != 1+writers*each+2 {
				t.Fatalf("%d events in the log, want %d", len(want), 1+writers*each+2)
			}
			if got := fromStart.events(t, len(want)); !slices.Equal(got, want) {
				t.Errorf("from the start: %v\nwant %v", got, want)
			}
			if got := live.events(t, len(want)-1); !slices.Equal(got, want[1:]) {
				t.Errorf("from the head: %v\nwant %v", got, want[1:])
			}
			if got := deletes.events(t, 1); got[0] != want[len(want)-1] {
				t.Errorf("filtered stream got %v, want the delete %s", got, want[len(want)-1])
			}
			for _, s := range []*stream{live, deletes, fromStart} {
				s.cancel()
				for range s.frames { // the stream ends
				}
			}
			again := openStream(t, srv.URL+"/api/events/stream", map[string]string{"Accept-Encoding": enc})
			again.next(t, true)
			e.create(map[string]any{"partId": "AFTER"})
			after := e.must(200, req{method: "GET", path: "/api/events?after=" + want[len(want)-1]})["events"].([]any)
			if got := again.events(t, 1); len(after) != 1 || got[0] != fmt.Sprint(after[0].(map[string]any)["seq"]) {
				t.Errorf("a new stream after the others left got %v, want the next event %v", got, after)
			}
		})
	}
}
