package httpapi_test

import (
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// BenchmarkEventFanout measures what event stream clients cost writers:
// 8 writers create parts through the handler on a SQLite file store, in
// rounds that alternate between no stream clients and 1 or 100 of them
// (sub-benchmarks: one client is the cost of streaming at all), so both
// sides of the ratios see the same machine load. The stream clients are
// in-process response writers that only note the last event id, so the
// figures are the server's own fan-out work (without the kernel's socket
// writes, which `partflow bench-events --server-pid` includes).
//
// It reports creates/s of both and their ratio (with ÷ without, over the
// writers' time), and the process's CPU time per create of both (user +
// system, including the time until every client has every event) and
// cpu-ratio, without ÷ with: the share of its writes a server whose CPU is
// the bottleneck keeps. ns/op is over all creates.
//
//	go test -run '^$' -bench EventFanout -benchtime 8000x ./httpapi
func BenchmarkEventFanout(b *testing.B) {
	for _, clients := range []int{1, 100} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { benchFanout(b, clients) })
	}
}

func benchFanout(b *testing.B, clients int) {
	const writers, rounds = 8, 8
	ctx := context.Background()
	store, err := bunstore.Open(ctx, "sqlite:///"+filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	svc := parts.NewService(store, nil)
	h, err := httpapi.NewHandler(svc, &httpapi.Options{Keys: []httpapi.Key{{Name: "k", Key: "bench-key", Role: httpapi.RoleAdmin}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	var took, cpu [2]time.Duration
	var made [2]int
	next := 0
	b.ResetTimer()
	for r := range 2 * rounds {
		n := b.N / (2 * rounds)
		if r == 2*rounds-1 {
			n = b.N - next
		}
		with := r % 2
		var streams []*benchStream
		if with == 1 {
			streams = openStreams(b, h, clients)
		}
		cpu0, start := cpuTime(b), time.Now()
		createParts(b, h, writers, next, n)
		took[with] += time.Since(start)
		if with == 1 {
			head := lastSeq(b, h)
			for _, s := range streams {
				s.waitFor(head)
			}
		}
		cpu[with] += cpuTime(b) - cpu0
		made[with] += n
		next += n
		for _, s := range streams {
			s.close()
		}
	}
	b.StopTimer()
	without := float64(made[0]) / took[0].Seconds()
	withStreams := float64(made[1]) / took[1].Seconds()
	b.ReportMetric(without, "creates/s-0-streams")
	b.ReportMetric(withStreams, fmt.Sprintf("creates/s-%d-streams", clients))
	b.ReportMetric(withStreams/without, "ratio")
	cpuWithout := float64(cpu[0].Microseconds()) / float64(max(made[0], 1))
	cpuWith := float64(cpu[1].Microseconds()) / float64(max(made[1], 1))
	b.ReportMetric(cpuWithout, "cpu-µs/create-0-streams")
	b.ReportMetric(cpuWith, fmt.Sprintf("cpu-µs/create-%d-streams", clients))
	b.ReportMetric(cpuWithout/cpuWith, "cpu-ratio")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// createParts creates n parts numbered from first with w concurrent writers.
func createParts(b *testing.B, h http.Handler, w, first, n int) {
	var next atomic.Int64
	next.Store(int64(first))
	end := int64(first + n)
	var wg sync.WaitGroup
	for range w {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < end; i = next.Add(1) - 1 {
				body := fmt.Sprintf(`{"partId":"EV-%d","name":"fan-out bench","material":"al","subsystem":"bench"}`, i)
				req := httptest.NewRequest(http.MethodPost, "/api/parts", strings.NewReader(body))
				req.Header.Set("X-API-Key", "bench-key")
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusCreated {
					b.Errorf("create: %d %s", rec.Code, rec.Body)
					return
				}
			}
		})
	}
	wg.Wait()
}

// lastSeq returns the head of the change log.
func lastSeq(b *testing.B, h http.Handler) int64 {
	req := httptest.NewRequest(http.MethodGet, "/api/events?limit=1&after="+strconv.FormatInt(1<<62, 10), nil) // a cursor past every event: no scan
	req.Header.Set("X-API-Key", "bench-key")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	_, rest, ok := strings.Cut(rec.Body.String(), `"head":`)
	if !ok {
		b.Fatalf("events: %d %s", rec.Code, rec.Body)
	}
	n, err := strconv.ParseInt(strings.TrimRight(strings.TrimSpace(rest), "}\n"), 10, 64)
	if err != nil {
		b.Fatalf("head in %s: %v", rec.Body, err)
	}
	return n
}

// benchStream is an in-process event stream client: a response writer
// that keeps only the id of the last event written to it.
type benchStream struct {
	cancel context.CancelFunc
	done   chan struct{}
	header http.Header

	mu      sync.Mutex
	last    int64 // -1 until the first write
	target  int64
	reached chan struct{} // closed when last reaches target
}

func openStreams(b *testing.B, h http.Handler, n int) []*benchStream {
	out := make([]*benchStream, n)
	for i := range out {
		ctx, cancel := context.WithCancel(context.Background())
		s := &benchStream{cancel: cancel, done: make(chan struct{}), header: http.Header{}, last: -1}
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/events/stream", nil)
		req.Header.Set("X-API-Key", "bench-key")
		go func() {
			defer close(s.done)
			h.ServeHTTP(s, req)
		}()
		out[i] = s
	}
	// A stream without a cursor starts at the head once it is connected:
	// wait until each has written its first line.
	for _, s := range out {
		s.waitFor(0)
	}
	return out
}

func (s *benchStream) Header() http.Header { return s.header }
func (s *benchStream) WriteHeader(int)     {}
func (s *benchStream) Flush()              {}

// Write notes the id of the last event frame in p.
func (s *benchStream) Write(p []byte) (int, error) {
	id := int64(0)
	if i := bytes.LastIndex(p, []byte("\nid: ")); i >= 0 || bytes.HasPrefix(p, []byte("id: ")) {
		rest := p[i+5:]
		if i < 0 {
			rest = p[4:]
		}
		if j := bytes.IndexByte(rest, '\n'); j > 0 {
			id, _ = strconv.ParseInt(string(rest[:j]), 10, 64)
		}
	}
	s.mu.Lock()
	s.last = max(s.last, id)
	if s.reached != nil && s.last >= s.target {
		close(s.reached)
		s.reached = nil
	}
	s.mu.Unlock()
	return len(p), nil
}

// waitFor returns once the client has written an event with id >= seq
// (for seq 0: anything).
func (s *benchStream) waitFor(seq int64) {
	s.mu.Lock()
	if s.reached == nil && s.last >= seq {
		s.mu.Unlock()
		return
	}
	if s.reached == nil {
		s.reached = make(chan struct{})
	}
	s.target = seq
	ch := s.reached
	s.mu.Unlock()
	select {
	case <-ch:
	case <-s.done: // the stream ended: the benchmark's checks report it
	}
}

func (s *benchStream) close() {
	s.cancel()
	<-s.done
}

// BenchmarkStreamSegment measures compressing a published batch of event
// frames as one segment at flate.BestSpeed (what the hub uses) and at the
// default level, for a batch of one event (a quiet rate) and of 100 (a
// burst): CPU per event and compressed bytes per event. The frames are a
// real stream's, read from an in-process handler.
//
//	go test -run '^$' -bench StreamSegment ./httpapi
func BenchmarkStreamSegment(b *testing.B) {
	frames := realFrames(b, 100)
	for _, level := range []struct {
		name  string
		level int
	}{{"BestSpeed", flate.BestSpeed}, {"Default", flate.DefaultCompression}} {
		for _, n := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/batch-%d", level.name, n), func(b *testing.B) {
				batch := bytes.Join(frames[:n], nil)
				var out bytes.Buffer
				zw, err := flate.NewWriter(&out, level.level)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(batch)))
				for b.Loop() {
					out.Reset()
					zw.Reset(&out)
					_, _ = zw.Write(batch)
					_ = zw.Flush()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
				b.ReportMetric(float64(out.Len())/float64(n), "bytes/event")
				b.ReportMetric(float64(len(batch))/float64(n), "plain-bytes/event")
			})
		}
	}
}

// realFrames creates n parts through a handler and returns their events'
// stream frames, read from an identity event stream.
func realFrames(b *testing.B, n int) [][]byte {
	ctx := context.Background()
	store, err := bunstore.Open(ctx, "sqlite:///"+filepath.Join(b.TempDir(), "frames.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	h, err := httpapi.NewHandler(parts.NewService(store, nil), &httpapi.Options{Keys: []httpapi.Key{{Name: "k", Key: "bench-key", Role: httpapi.RoleAdmin}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	createParts(b, h, 1, 0, n)
	ctx, cancel := context.WithCancel(ctx)
	s := &frameRecorder{header: http.Header{}, n: n, done: make(chan struct{})}
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/events/stream?after=0", nil)
	req.Header.Set("X-API-Key", "bench-key")
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		h.ServeHTTP(s, req)
	}()
	<-s.done
	cancel()
	<-ended
	return s.frames
}

// frameRecorder is a response writer keeping the first n event frames.
type frameRecorder struct {
	header http.Header
	buf    []byte
	frames [][]byte
	n      int
	done   chan struct{}
}

func (s *frameRecorder) Header() http.Header { return s.header }
func (s *frameRecorder) WriteHeader(int)     {}
func (s *frameRecorder) Flush()              {}

func (s *frameRecorder) Write(p []byte) (int, error) {
	if len(s.frames) == s.n {
		return len(p), nil
	}
	s.buf = append(s.buf, p...)
	for {
		i := bytes.Index(s.buf, []byte("\n\n"))
		if i < 0 {
			return len(p), nil
		}
		if f := s.buf[:i+2]; bytes.HasPrefix(f, []byte("id: ")) && len(s.frames) < s.n {
			s.frames = append(s.frames, bytes.Clone(f))
			if len(s.frames) == s.n {
				close(s.done)
			}
		}
		s.buf = s.buf[i+2:]
	}
}
