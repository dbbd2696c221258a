package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/httpapi"
)

// TestEventStream_gzipDecodesToIdentity follows the feed with pairs of
// streams asking for the same events, one plain and three compressed
// (clients of one batch share its segment): from the start of the log
// (caught up from the store), resumed with Last-Event-ID, filtered, and
// from the head, while concurrent writers commit. Once every stream has
// the last event the server shuts down: each compressed stream ends with a
// valid gzip trailer and decodes to exactly its plain twin's text.
func TestEventStream_gzipDecodesToIdentity(t *testing.T) {
	done := make(chan struct{})
	e := newEnv(t, func(o *httpapi.Options) { o.Events.Done = done })
	srv := httptest.NewUnstartedServer(e.h)
	srv.Config.RegisterOnShutdown(func() { close(done) })
	srv.Start()
	t.Cleanup(srv.Close)
	for i := range 3 {
		e.create(map[string]any{"partId": fmt.Sprint("P-", i)})
	}
	kinds := []struct {
		name, query string
		header      map[string]string
	}{
		{"from the start", "?after=0", nil},
		{"resumed", "", map[string]string{"Last-Event-ID": "2"}},
		{"deletes", "?action=delete", nil},
		{"from the head", "", nil},
	}
	streams := make([][]*stream, len(kinds)) // the plain one first
	for i, k := range kinds {
		for _, enc := range []string{"identity", "gzip", "gzip", "gzip"} {
			h := map[string]string{"Accept-Encoding": enc}
			for name, v := range k.header {
				h[name] = v
			}
			s := openStream(t, srv.URL+"/api/events/stream"+k.query, h)
			s.next(t, true) // connected: a stream from the head starts here
			streams[i] = append(streams[i], s)
		}
	}
	writeConcurrently(t, e, 4, 25)
	victim := e.create(map[string]any{"partId": "GONE"})
	e.must(200, req{method: "DELETE", path: partPath(victim, "")})
	last := fmt.Sprint(e.must(200, req{method: "GET", path: "/api/events?limit=1&action=none"})["head"])
	for _, ss := range streams {
		for _, s := range ss {
			s.until(t, last)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := srv.Config.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for i, ss := range streams {
		for j, s := range ss {
			if err := s.end(t); err != nil {
				t.Fatalf("%s, stream %d: ended with %v, want a clean end", kinds[i].name, j, err)
			}
		}
		plain := ss[0].raw.String()
		if !strings.Contains(plain, "id: "+last+"\n") || !strings.HasSuffix(plain, "event: shutdown\ndata: {}\n\n") {
			t.Fatalf("%s: plain stream %q does not end with the last event and shutdown", kinds[i].name, plain)
		}
		for j, s := range ss[1:] {
			if got := s.raw.String(); got != plain {
				t.Errorf("%s: gzip stream %d decodes to\n%q\nwant the plain stream's\n%q", kinds[i].name, j, got, plain)
			}
		}
	}
	if n := strings.Count(streams[0][0].raw.String(), "\nid: "); n != 3+4*25+2 {
		t.Errorf("the stream from the start has %d events, want %d", n, 3+4*25+2)
	}
}

// writeConcurrently creates writers*each parts with concurrent writers.
func writeConcurrently(t *testing.T, e *env, writers, each int) {
	t.Helper()
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
	for range writers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// until reads the stream's events up to and including the one with id.
func (s *stream) until(t *testing.T, id string) {
	t.Helper()
	for s.next(t, false).id != id {
	}
}

// TestStreamSegments_concatenate checks the property compressed streams
// rest on: independent segments, whatever their order, repeats (a shared
// batch segment) and sizes (empty, or past deflate's 32 KiB window),
// between a gzip header and the trailer of their plain bytes, are one
// valid gzip stream of the plain bytes; a wrong trailer or a missing end
// is detected.
func TestStreamSegments_concatenate(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	frame := func() []byte {
		n := rng.IntN(700)
		if rng.IntN(20) == 0 {
			n = 40<<10 + rng.IntN(40<<10)
		}
		b := fmt.Appendf(nil, "id: %d\ndata: {\"action\":\"create\",\"part\":{\"partId\":\"P-%d\"},\"x\":\"", rng.IntN(1e6), rng.IntN(1e3))
		for range n {
			b = append(b, "abcdefgh\x00\xff0123456789"[rng.IntN(20)])
		}
		return append(b, "\"}\n\n"...)
	}
	shared := make([][2][]byte, 8) // a batch's segment and plain bytes
	for i := range shared {
		plain := bytes.Join([][]byte{frame(), frame(), frame()}, nil)
		shared[i] = [2][]byte{httpapi.StreamSegment(plain), plain}
	}
	for round := range 300 {
		var z httpapi.GzipStream
		var want []byte
		for range rng.IntN(30) {
			switch k := rng.IntN(4); {
			case k == 0: // a client's own frames
				a, b := frame(), frame()
				z.Add(httpapi.StreamSegment(a, b), append(a, b...))
				want = append(append(want, a...), b...)
			case k == 1: // nothing
				z.Add(httpapi.StreamSegment(), nil)
			default: // a shared batch
				s := shared[rng.IntN(len(shared))]
				z.Add(s[0], s[1])
				want = append(want, s[1]...)
			}
		}
		z.Add(httpapi.StreamSegment([]byte(": connected\n\n")), []byte(": connected\n\n"))
		want = append(want, ": connected\n\n"...)
		stream := z.End()
		if got, err := gunzip(stream); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("round %d: %d bytes decode to %d bytes (%v), want %d", round, len(stream), len(got), err, len(want))
		}
		bad := bytes.Clone(stream)
		bad[len(bad)-1-rng.IntN(8)] ^= 1 << rng.IntN(8) // the CRC or the length
		if _, err := gunzip(bad); !errors.Is(err, gzip.ErrChecksum) {
			t.Fatalf("round %d: a changed trailer reads with %v, want %v", round, err, gzip.ErrChecksum)
		}
		if _, err := gunzip(stream[:len(stream)-10]); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("round %d: a stream without its end reads with %v, want %v", round, err, io.ErrUnexpectedEOF)
		}
	}
}

// gunzip decodes one gzip member that must be all of b.
func gunzip(b []byte) ([]byte, error) {
	r := bytes.NewReader(b)
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	out, err := io.ReadAll(zr)
	if err == nil && r.Len() > 0 {
		err = fmt.Errorf("%d bytes after the trailer", r.Len())
	}
	return out, err
}

// TestHubRate checks when the hub starts spacing its publishes: not at a
// paced 20 events per second, nor for one late batch of four among them
// (a stalled moment), but under a sustained burst.
func TestHubRate(t *testing.T) {
	ones := slices.Repeat([]int{1}, 100)
	if r := httpapi.HubRate(ones, 50*time.Millisecond); r < 18 || r > 22 || r > httpapi.HubBurstRate {
		t.Errorf("20 events/s measure %.1f/s; want about 20, below %v", r, httpapi.HubBurstRate)
	}
	if r := httpapi.HubRate(append(ones, 4), 50*time.Millisecond); r > httpapi.HubBurstRate {
		t.Errorf("a late batch of 4 at 20 events/s measures %.1f/s, above %v", r, httpapi.HubBurstRate)
	}
	if r := httpapi.HubRate(slices.Repeat([]int{80}, 50), 100*time.Millisecond); r < 750 || r > 950 {
		t.Errorf("800 events/s in batches of 80 measure %.1f/s", r)
	}
}

// TestHubBurstGap checks the spacing of publishes during a burst: 2 ms per
// client between 100 and 250 ms, doubled (up to 500 ms) when writers run
// at full speed, over 400 events/s.
func TestHubBurstGap(t *testing.T) {
	for _, c := range []struct {
		clients int64
		rate    float64
		want    time.Duration
	}{
		{1, 100, 100 * time.Millisecond},
		{100, 100, 200 * time.Millisecond},
		{1000, 100, 250 * time.Millisecond},
		{1, 1000, 200 * time.Millisecond},
		{100, 1000, 400 * time.Millisecond},
		{1000, 1000, 500 * time.Millisecond},
	} {
		if got := httpapi.HubBurstGap(c.clients, c.rate); got != c.want {
			t.Errorf("gap with %d clients at %v events/s = %v, want %v", c.clients, c.rate, got, c.want)
		}
	}
}
