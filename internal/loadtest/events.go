package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// EventOptions configure RunEvents.
type EventOptions struct {
	// URL is the server's base URL (including BASE_PATH).
	URL string
	// Key is an admin API key (the run configures a webhook).
	Key string
	// Clients is the number of event stream clients.
	Clients int
	// Duration is the length of each phase.
	Duration time.Duration
	// Rate is the creates per second of the paced phase.
	Rate int
	// Writers is the number of concurrent writers of the full-load phases.
	Writers int
	// PID is the server's process id, to report memory per stream client
	// and server CPU per create; 0 reports neither.
	PID int
	// StreamEncoding is what the stream clients ask for: "gzip" (as
	// browsers and Go clients do; the default) or "identity".
	StreamEncoding string
	// Rounds, when above zero, adds that many pairs of full-load phases
	// at the end, alternately with fresh stream clients and without, and
	// reports the creates per second and (with PID) the server CPU per
	// create of both sides over all rounds (so that a change in the
	// machine's other load falls on both).
	Rounds int
	// Out receives the report.
	Out io.Writer
}

// RunEvents measures the change feed of a running server: commit-to-
// client latency of event streams while a create load runs, the first
// webhook attempt, how far subscribers fall behind at full write load and
// how fast a new one catches up, memory per stream client, and what the
// streams cost writers.
func RunEvents(ctx context.Context, o EventOptions) error {
	if o.URL == "" || o.Key == "" || o.Clients < 1 || o.Rate < 1 || o.Writers < 1 || o.Duration <= 0 || o.Out == nil {
		return errors.New("loadtest: URL, Key, Out, and Clients, Rate, Writers and Duration above zero are required")
	}
	switch o.StreamEncoding {
	case "":
		o.StreamEncoding = "gzip"
	case "gzip", "identity":
	default:
		return fmt.Errorf("loadtest: stream encoding %q: want gzip or identity", o.StreamEncoding)
	}
	b := &loadRun{base: strings.TrimRight(o.URL, "/"), key: o.Key, out: o.Out, streamGzip: o.StreamEncoding == "gzip",
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}}
	if err := b.feedBench(ctx, o.Clients, o.Duration, o.Rate, o.Writers, o.PID); err != nil {
		return err
	}
	return b.alternate(ctx, o.Clients, o.Rounds, o.Writers, o.Duration, o.PID)
}

func (b *loadRun) feedBench(ctx context.Context, n int, d time.Duration, rate, writers, pid int) error {
	w := b.out
	base, err := b.fullLoad(ctx, writers, d, pid)
	if err != nil {
		return err
	}
	_, quiet, err := b.paced(ctx, rate, d)
	if err != nil {
		return err
	}
	head, err := b.head(ctx)
	if err != nil {
		return err
	}
	rss0 := rssKiB(pid)
	streams, err := b.openFeeds(ctx, n, head, false)
	defer closeFeeds(streams)
	if err != nil {
		return err
	}
	if pid > 0 {
		fmt.Fprintf(w, "memory: %d stream clients added %d KiB RSS: %.1f KiB per client\n", n, rssKiB(pid)-rss0,
			float64(rssKiB(pid)-rss0)/float64(n))
	}
	hook, err := b.startReceiver(ctx)
	if err != nil {
		return err
	}

	start := time.Now()
	created, busy, err := b.paced(ctx, rate, d)
	if err != nil {
		return err
	}
	b.waitAll(ctx, streams)
	sse := collectLatencies(streams, start, time.Now())
	fmt.Fprintf(w, "paced %d creates/s for %s with %d stream clients: %d events, commit-to-SSE p50 %.2f ms p99 %.2f ms max %.2f ms (%d deliveries)\n",
		rate, d, n, created, ms(pct(sse, 50)), ms(pct(sse, 99)), ms(pct(sse, 100)), len(sse))
	fmt.Fprintf(w, "create latency at %d/s: p50 %.2f ms p99 %.2f ms without streams, p50 %.2f ms p99 %.2f ms with %d\n",
		rate, ms(pct(quiet, 50)), ms(pct(quiet, 99)), ms(pct(busy, 50)), ms(pct(busy, 99)), n)
	wh := hook.latencies()
	hook.close(ctx, b)
	fmt.Fprintf(w, "commit-to-first-webhook-attempt: p50 %.2f ms p99 %.2f ms (%d deliveries)\n", ms(pct(wh, 50)), ms(pct(wh, 99)), len(wh))

	if err := b.writerCost(ctx, streams, base, writers, d, pid); err != nil {
		return err
	}
	return b.catchUp(ctx, head)
}

// openFeeds opens n stream clients following from after; on an error the
// ones opened are returned too, for closing.
func (b *loadRun) openFeeds(ctx context.Context, n int, after int64, held bool) ([]*feedClient, error) {
	var streams []*feedClient
	for range n {
		s, err := b.openFeed(ctx, after, held)
		if err != nil {
			return streams, err
		}
		streams = append(streams, s)
	}
	return streams, nil
}

func closeFeeds(streams []*feedClient) {
	for _, s := range streams {
		s.close() // closing twice is harmless
	}
}

// alternate runs rounds pairs of full-load phases: with n new stream
// clients following from the head (the server's CPU counted until every
// client has every event) and without, in ABBA order (odd rounds start
// without streams), so that neither side always follows the other. It
// reports the creates per second of both sides over all rounds and each
// round's loss; with the server's pid, the server CPU per create of both
// sides and each round's ratio too.
func (b *loadRun) alternate(ctx context.Context, n, rounds, writers int, d time.Duration, pid int) error {
	if rounds <= 0 {
		return nil
	}
	var with, without loadResult
	var lost, cost []string
	for r := range rounds {
		var loaded, quiet loadResult
		var err error
		if r%2 == 1 {
			quiet, err = b.fullLoad(ctx, writers, d, pid)
		}
		if err == nil {
			loaded, err = b.streamedLoad(ctx, n, writers, d, pid)
		}
		if err == nil && r%2 == 0 {
			quiet, err = b.fullLoad(ctx, writers, d, pid)
		}
		if err != nil {
			return err
		}
		with.add(loaded)
		without.add(quiet)
		lost = append(lost, fmt.Sprintf("%.1f%%", 100*(1-loaded.rate/quiet.rate)))
		cost = append(cost, fmt.Sprintf("%+.1f%%", 100*(loaded.cpuPerCreate()/quiet.cpuPerCreate()-1)))
	}
	secs := float64(rounds) * d.Seconds()
	fmt.Fprintf(b.out, "alternating %d rounds: %.0f creates/s without streams, %.0f with %d (%.1f%% lost; rounds %s)\n",
		rounds, float64(without.creates)/secs, float64(with.creates)/secs, n, 100*(1-float64(with.creates)/float64(without.creates)), strings.Join(lost, " "))
	if pid > 0 {
		fmt.Fprintf(b.out, "alternating %d rounds: server CPU per create %.1f µs without streams, %.1f µs with %d (%+.1f%%; rounds %s); server busy %.0f%% and %.0f%% of a core\n",
			rounds, without.cpuPerCreate(), with.cpuPerCreate(), n, 100*(with.cpuPerCreate()/without.cpuPerCreate()-1), strings.Join(cost, " "),
			100*without.busy(time.Duration(rounds)*d), 100*with.busy(time.Duration(rounds)*d))
	}
	return nil
}

// streamedLoad runs a full-load phase with n new stream clients following
// from the head, the server's CPU counted until every client has every
// event; it reports a client that missed or repeated one.
func (b *loadRun) streamedLoad(ctx context.Context, n, writers int, d time.Duration, pid int) (loadResult, error) {
	head, err := b.head(ctx)
	if err != nil {
		return loadResult{}, err
	}
	streams, err := b.openFeeds(ctx, n, head, true)
	defer closeFeeds(streams)
	if err != nil {
		return loadResult{}, err
	}
	cpu0 := cpuTime(pid)
	loaded, err := b.fullLoad(ctx, writers, d, pid)
	for _, s := range streams {
		s.in.release()
	}
	b.waitAll(ctx, streams)
	loaded.cpu = cpuTime(pid) - cpu0
	for i, s := range streams {
		if bad := s.gaps(); bad != "" {
			fmt.Fprintf(b.out, "client %d: %s\n", i, bad)
		}
	}
	return loaded, err
}

// writerCost runs the full write load with the streams connected, checks
// every stream for gaps and repeats, closes them, runs the load again
// without, and reports the writes lost and the server CPU per create
// against the mean of the runs without streams (base and the one after).
func (b *loadRun) writerCost(ctx context.Context, streams []*feedClient, base loadResult, writers int, d time.Duration, pid int) error {
	w, n := b.out, len(streams)
	full0, wire0 := time.Now(), wireBytes(streams)
	loaded, err := b.fullLoad(ctx, writers, d, pid)
	if err != nil {
		return err
	}
	b.waitAll(ctx, streams)
	lag := collectLatencies(streams, full0, time.Now())
	enc := map[bool]string{true: "gzip", false: "identity"}[b.streamGzip]
	fmt.Fprintf(w, "streams in %s: %.0f body bytes per event per client at full load\n", enc,
		float64(wireBytes(streams)-wire0)/float64(max(loaded.creates, 1))/float64(n))
	for i, s := range streams {
		if bad := s.gaps(); bad != "" {
			fmt.Fprintf(w, "client %d: %s\n", i, bad)
		}
		s.close()
	}
	// The load without streams runs first and again last; the loss is
	// against their mean, so drift during the run counts half.
	after, err := b.fullLoad(ctx, writers, d, pid)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "full load: %.0f then %.0f creates/s without streams, %.0f with %d decoding as they read (%.1f%% lost); subscriber lag p50 %.2f ms p99 %.2f ms max %.2f ms\n",
		base.rate, after.rate, loaded.rate, n, 100*(1-2*loaded.rate/(base.rate+after.rate)), ms(pct(lag, 50)), ms(pct(lag, 99)), ms(pct(lag, 100)))
	if pid > 0 {
		quietCPU := (base.cpuPerCreate() + after.cpuPerCreate()) / 2
		fmt.Fprintf(w, "server CPU per create: %.1f then %.1f µs without streams, %.1f µs with %d (%+.1f%%: a server saturating its CPU "+
			"loses %.1f%% of its writes); server busy %.0f%%, %.0f%%, %.0f%% of a core\n",
			base.cpuPerCreate(), after.cpuPerCreate(), loaded.cpuPerCreate(), n, 100*(loaded.cpuPerCreate()/quietCPU-1),
			100*(1-quietCPU/loaded.cpuPerCreate()), 100*base.busy(d), 100*after.busy(d), 100*loaded.busy(d))
	}
	return nil
}

// loadResult is one full-load phase: creates/s, and with the server's pid
// the CPU time the server spent.
type loadResult struct {
	rate    float64
	creates int64
	cpu     time.Duration
}

// add sums r's creates and CPU time into t.
func (t *loadResult) add(r loadResult) { t.creates, t.cpu = t.creates+r.creates, t.cpu+r.cpu }

// cpuPerCreate is the server's CPU time per create in microseconds.
func (r loadResult) cpuPerCreate() float64 {
	return float64(r.cpu.Microseconds()) / float64(max(r.creates, 1))
}

// busy is the share of one core the server used during a phase of d.
func (r loadResult) busy(d time.Duration) float64 { return r.cpu.Seconds() / d.Seconds() }

// fullLoad creates parts with writers workers for d and returns creates/s
// and, when pid > 0, the server process's CPU time over the phase.
func (b *loadRun) fullLoad(ctx context.Context, writers int, d time.Duration, pid int) (loadResult, error) {
	cpu0 := cpuTime(pid)
	var done atomic.Int64
	var firstErr atomic.Value
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for j := 0; time.Now().Before(end) && ctx.Err() == nil; j++ {
				if _, err := b.post(ctx, benchPart(i, j)); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return loadResult{}, err
	}
	return loadResult{rate: float64(done.Load()) / d.Seconds(), creates: done.Load(), cpu: cpuTime(pid) - cpu0}, nil
}

// cpuTime is the user plus system CPU time of process pid so far (0 when
// unknown), from /proc/<pid>/stat in clock ticks of 10 ms.
func cpuTime(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields count from after its ')'.
	i := strings.LastIndexByte(string(st), ')')
	f := strings.Fields(string(st[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// paced creates rate parts per second for d and returns how many and
// their latencies.
func (b *loadRun) paced(ctx context.Context, rate int, d time.Duration) (int, []time.Duration, error) {
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	end := time.Now().Add(d)
	n := 0
	var lat []time.Duration
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return n, lat, ctx.Err()
		case <-t.C:
		}
		start := time.Now()
		if _, err := b.post(ctx, benchPart(-1, n)); err != nil {
			return n, lat, err
		}
		lat = append(lat, time.Since(start))
		n++
	}
	return n, lat, nil
}

func benchPart(w, j int) map[string]any {
	return map[string]any{"partId": fmt.Sprintf("EV-%d-%d", w, j), "name": "feed bench", "material": "al", "subsystem": "bench"}
}

// head returns the newest event's seq.
func (b *loadRun) head(ctx context.Context) (int64, error) {
	// A cursor past every event: the page is empty at once, and the head is
	// read without the server scanning the log.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/api/events?limit=1&after="+strconv.FormatInt(1<<62, 10), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-API-Key", b.key)
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var page struct{ Head int64 }
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != 200 {
		return 0, fmt.Errorf("events: status %d %v", resp.StatusCode, err)
	}
	return page.Head, nil
}

// waitAll waits until every stream has every event up to the head, or
// until none has moved on for 30 seconds (held clients decoding a long
// phase take a while); it reports the clients that fell short.
func (b *loadRun) waitAll(ctx context.Context, streams []*feedClient) {
	head, err := b.head(ctx)
	if err != nil {
		return
	}
	progress := func() (sum int64, short int) {
		for _, s := range streams {
			last := s.last.Load()
			sum += last
			if last < head {
				short++
			}
		}
		return sum, short
	}
	seen, short := progress()
	for moved := time.Now(); short > 0 && time.Since(moved) < 30*time.Second && ctx.Err() == nil; {
		time.Sleep(5 * time.Millisecond) // an external process: poll until it stalls
		var sum int64
		if sum, short = progress(); sum != seen {
			seen, moved = sum, time.Now()
		}
	}
	if short > 0 {
		fmt.Fprintf(b.out, "%d of %d stream clients did not reach event %d (stalled for 30s)\n", short, len(streams), head)
	}
}

// catchUp reads every event after from with a new stream client and
// reports the rate.
func (b *loadRun) catchUp(ctx context.Context, from int64) error {
	head, err := b.head(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	s, err := b.openFeed(ctx, from, false)
	if err != nil {
		return err
	}
	defer s.close()
	deadline := start.Add(2 * time.Minute)
	for s.last.Load() < head && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	took := time.Since(start)
	fmt.Fprintf(b.out, "catch-up: a new client read %d events behind in %s (%.0f events/s)%s\n", head-from,
		took.Round(time.Millisecond), float64(head-from)/took.Seconds(), s.gaps())
	return nil
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := min(len(ds)-1, len(ds)*p/100)
	return ds[i]
}

func rssKiB(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(st), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// hookReceiver is a local webhook receiver registered on the server.
type hookReceiver struct {
	srv *http.Server
	mu  sync.Mutex
	got map[string]time.Duration // delivery id -> first attempt latency
}

func (b *loadRun) startReceiver(ctx context.Context) (*hookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hookReceiver{got: map[string]time.Duration{}}
	h.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		recv := time.Now()
		var ev struct {
			At time.Time `json:"at"`
		}
		_ = json.NewDecoder(r.Body).Decode(&ev)
		h.mu.Lock()
		if _, ok := h.got[r.Header.Get("Partflow-Delivery")]; !ok {
			h.got[r.Header.Get("Partflow-Delivery")] = recv.Sub(ev.At)
		}
		h.mu.Unlock()
	})}
	go func() { _ = h.srv.Serve(ln) }()
	body := map[string]any{"url": "http://" + ln.Addr().String() + "/hook", "secret": "bench-secret-0123456789",
		"enabled": true, "allowHttp": true, "allowPrivate": true}
	if err := b.request(ctx, http.MethodPut, "/api/webhooks/bench", body); err != nil {
		h.srv.Close()
		return nil, fmt.Errorf("register webhook (an admin key is needed): %w", err)
	}
	return h, nil
}

func (h *hookReceiver) latencies() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]time.Duration, 0, len(h.got))
	for _, d := range h.got {
		out = append(out, d)
	}
	return out
}

func (h *hookReceiver) close(ctx context.Context, b *loadRun) {
	_ = b.request(ctx, http.MethodDelete, "/api/webhooks/bench", nil)
	h.srv.Close()
}
