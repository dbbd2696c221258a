package loadtest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/partflow/partflow/internal/sample"
)

// Options configure a Run.
type Options struct {
	// URLs are the servers' base URLs (including BASE_PATH); measured
	// requests go to them in turn, seeding and clean-up to the first.
	URLs []string
	// Key is an admin API key of the servers.
	Key string
	// Parts is the size the servers are seeded up to before measuring.
	Parts int
	// Duration is how long each scenario runs at each concurrency.
	Duration time.Duration
	// Concurrency lists the levels to measure at.
	Concurrency []int
	// Scenarios names the scenarios to run; empty runs all.
	Scenarios []string
	// PIDs are the servers' process ids, to report their CPU time per
	// request and memory; empty reports neither.
	PIDs []int
	// Out receives the report (a Markdown table and notes).
	Out io.Writer
}

// Run seeds the servers through their API up to o.Parts parts, then
// measures every selected scenario at every concurrency level and writes a
// table row for each to o.Out. Every cell leaves the servers at the seeded
// size.
func Run(ctx context.Context, o Options) error {
	if len(o.URLs) == 0 || o.Key == "" || len(o.Concurrency) == 0 || o.Duration <= 0 || o.Out == nil {
		return errors.New("loadtest: URLs, Key, Concurrency, Duration and Out are required")
	}
	to := &targets{bases: o.URLs}
	b := &loadRun{base: to.bases[0], to: to, pids: o.PIDs, key: o.Key, out: o.Out,
		// Compression is asked for only where a scenario says so, and
		// answers are counted as they come over the wire.
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}}}
	if err := b.seed(ctx, o.Parts); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	scen, err := b.selected(ctx, strings.Join(o.Scenarios, ","))
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "\n| scenario | conc | req/s | p50 ms | p99 ms | errors | %% of /health | server CPU ms/req |\n|---|---|---|---|---|---|---|---|\n")
	for _, n := range o.Concurrency {
		if err := b.level(ctx, scen, n, o.Duration); err != nil {
			return err
		}
	}
	for _, line := range memoryLines(o.PIDs) {
		fmt.Fprintln(o.Out, line)
	}
	return nil
}

// level runs every scenario at concurrency n and prints a table row for
// each. /health runs first and again last; shares are of the mean of the
// two, so that a drift of the machine's speed during the level counts half
// as much.
func (b *loadRun) level(ctx context.Context, scen []scenario, n int, dur time.Duration) error {
	type row struct {
		name string
		r    result
	}
	var notes []string
	var rows []row
	var health []float64
	run := func(s scenario, name string) error {
		counts := b.answerCounts(ctx)
		cpu0 := cpuSeconds(b.pids)
		r := b.measure(ctx, s, n, dur)
		if cpu1 := cpuSeconds(b.pids); len(b.pids) > 0 && cpu0 >= 0 && cpu1 >= 0 && r.rps > 0 {
			r.cpuPerReq = (cpu1 - cpu0) / (r.rps * dur.Seconds())
		}
		if an := answerNote(counts, b.answerCounts(ctx)); an != "" {
			r.note = strings.TrimPrefix(r.note+"; "+an, "; ")
		}
		// Every cell runs at the seeded size: delete what the scenario
		// created (not timed).
		if err := b.cleanUp(ctx); err != nil {
			return fmt.Errorf("clean up: %w", err)
		}
		if s.name == "health" {
			health = append(health, r.rps)
		}
		rows = append(rows, row{name, r})
		if r.note != "" {
			notes = append(notes, fmt.Sprintf("%s at concurrency %d: %s", name, n, r.note))
		}
		return ctx.Err()
	}
	for _, s := range scen {
		if err := run(s, s.name); err != nil {
			return err
		}
	}
	if len(health) > 0 {
		if err := run(scen[slices.IndexFunc(scen, func(s scenario) bool { return s.name == "health" })], "health-end"); err != nil {
			return err
		}
	}
	ceiling := 0.0
	for _, h := range health {
		ceiling += h / float64(len(health))
	}
	for _, x := range rows {
		share := ""
		if ceiling > 0 {
			share = fmt.Sprintf("%.1f%%", 100*x.r.rps/ceiling)
		}
		cpu := ""
		if x.r.cpuPerReq > 0 {
			cpu = fmt.Sprintf("%.3f", 1000*x.r.cpuPerReq)
		}
		fmt.Fprintf(b.out, "| %s | %d | %.0f | %.2f | %.2f | %d | %s | %s |\n", x.name, n, x.r.rps,
			ms(x.r.p50), ms(x.r.p99), x.r.errors, share, cpu)
	}
	for _, note := range notes {
		fmt.Fprintln(b.out, note)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loadRun holds one bench run's target and the ids it learned while seeding.
type loadRun struct {
	// base is the first server (seeding, clean-up); to spreads the
	// measured requests over all of them, and pids are the servers'
	// processes whose CPU time is reported.
	base, key string
	to        *targets
	pids      []int
	client    *http.Client
	out       io.Writer
	ids       []int64
	// streamGzip: bench-events' stream clients ask for gzip.
	streamGzip bool

	mu      sync.Mutex // guards gen and created
	gen     *sample.Generator
	created []int64 // parts the scenarios created, deleted after each
}

// scenario is one kind of request; do sends one and reports whether the
// answer was the expected one.
type scenario struct {
	name string
	do   func(ctx context.Context, r *rand.Rand, worker int) error
	// background, when set, runs while the scenario is measured (a write
	// load) and returns a note on what it did.
	background func(ctx context.Context) string
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
	note     string // the background's note
	// cpuPerReq is the servers' CPU seconds per request (0: not measured).
	cpuPerReq float64
}

func (b *loadRun) request(ctx context.Context, method, path string, body any, want ...int) error {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.target()+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", b.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if len(want) == 0 {
		want = []int{http.StatusOK}
	}
	if !slices.Contains(want, resp.StatusCode) {
		return fmt.Errorf("%s %s: status %d", method, path, resp.StatusCode)
	}
	return nil
}

// post creates a part from body and returns its id.
func (b *loadRun) post(ctx context.Context, body map[string]any) (int64, error) {
	buf, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.target()+"/api/parts/", bytes.NewReader(buf))
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-API-Key", b.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var created struct {
		ID int64 `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("create: status %d %v", resp.StatusCode, err)
	}
	return created.ID, nil
}

// create creates a part and remembers its id for cleanUp.
func (b *loadRun) create(ctx context.Context, body map[string]any) error {
	id, err := b.post(ctx, body)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.created = append(b.created, id)
	b.mu.Unlock()
	return nil
}

// cleanUp deletes the parts the scenarios created, eight at a time.
func (b *loadRun) cleanUp(ctx context.Context) error {
	b.mu.Lock()
	ids := b.created
	b.created = nil
	b.mu.Unlock()
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	next := make(chan int64)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				if err := b.request(ctx, http.MethodDelete, fmt.Sprintf("/api/parts/%d", id), nil); err != nil {
					errMu.Lock()
					first = cmp.Or(first, err)
					errMu.Unlock()
				}
			}
		}()
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	return first
}

// seed creates parts until the server holds count, walking them through the
// workflow like real use, and remembers their ids.
func (b *loadRun) seed(ctx context.Context, count int) error {
	ids, err := b.listIDs(ctx)
	if err != nil {
		return err
	}
	missing := count - len(ids)
	if missing > 0 {
		fmt.Fprintf(b.out, "seeding %d parts through the API...\n", missing)
		b.gen = sample.New(42)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		next := make(chan int)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range next {
					if err := b.seedOne(ctx); err != nil {
						select {
						case errs <- err:
						default:
						}
						return
					}
				}
			}()
		}
	feed:
		for i := range missing {
			select {
			case next <- i:
			case err := <-errs:
				close(next)
				wg.Wait()
				return err
			case <-ctx.Done():
				break feed
			}
		}
		close(next)
		wg.Wait()
		select {
		case err := <-errs:
			return err
		default:
		}
		if ids, err = b.listIDs(ctx); err != nil {
			return err
		}
	}
	b.ids = ids
	if len(b.ids) == 0 {
		return errors.New("the server holds no parts")
	}
	fmt.Fprintf(b.out, "server holds %d parts\n", len(b.ids))
	return nil
}

// listIDs reads the ids of all parts a page at a time: one answer of every
// part would cost the server more memory than the client's load does.
func (b *loadRun) listIDs(ctx context.Context) ([]int64, error) {
	var ids []int64
	for offset := 0; ; offset += 5000 {
		var page struct {
			Parts []struct {
				ID int64 `json:"id"`
			} `json:"parts"`
		}
		if err := b.getJSON(ctx, fmt.Sprintf("/api/parts/?sort_by=id&sort_order=asc&limit=5000&offset=%d", offset), &page); err != nil {
			return nil, err
		}
		for _, p := range page.Parts {
			ids = append(ids, p.ID)
		}
		if len(page.Parts) < 5000 {
			return ids, nil
		}
	}
}

func (b *loadRun) seedOne(ctx context.Context) error {
	b.mu.Lock()
	p, plan := b.gen.Part(), b.gen.Plan()
	b.mu.Unlock()
	id, err := b.post(ctx, map[string]any{"partId": p.PartID, "name": p.Name, "type": string(p.Type), "material": p.Material,
		"subsystem": p.Subsystem, "amount": p.Amount, "notes": p.Notes})
	if err != nil {
		return err
	}
	for _, st := range plan {
		path := fmt.Sprintf("/api/parts/%d/%s", id, st.Action)
		body := map[string]any{"reviewer": st.Input.Reviewer, "assigned": st.Input.Assignee}
		if err := b.request(ctx, http.MethodPost, path, body); err != nil {
			return err
		}
	}
	return nil
}

var searchTerms = []string{"bearing", "Spacer", "anodize", "Delrin", "offcuts", "Turret", "fillet", "Hex Adapter"}

func (b *loadRun) scenarios() []scenario {
	id := func(r *rand.Rand) int64 { return b.ids[r.IntN(len(b.ids))] }
	create := func(ctx context.Context, r *rand.Rand, w int) error {
		return b.create(ctx, map[string]any{"partId": fmt.Sprintf("LOAD-%d", r.Int64()),
			"name": "Load test bracket", "material": "6061 Aluminium", "subsystem": "Drivetrain", "type": "cnc",
			"notes": "Created by partflow bench."})
	}
	get := func(ctx context.Context, r *rand.Rand, w int) error {
		return b.request(ctx, http.MethodGet, fmt.Sprintf("/api/parts/%d", id(r)), nil)
	}
	page := func(ctx context.Context, r *rand.Rand, w int) error {
		return b.request(ctx, http.MethodGet, "/api/parts/?limit=50&sort_by=created_at&sort_order=desc", nil)
	}
	// search-common looks for words of the notes and names (each matches
	// about 5-20% of the parts); search-rare for a part number (one part).
	search := func(ctx context.Context, r *rand.Rand, w int) error {
		return b.request(ctx, http.MethodGet, "/api/parts/?limit=50&search="+
			strings.ReplaceAll(searchTerms[r.IntN(len(searchTerms))], " ", "%20"), nil)
	}
	searchRare := func(ctx context.Context, r *rand.Rand, w int) error {
		return b.request(ctx, http.MethodGet, fmt.Sprintf("/api/parts/?limit=50&search=-%04d", 1+r.IntN(len(b.ids))), nil)
	}
	// claim churn: claim a random working part and give it back; a part
	// someone else holds (409) or one in review/completed (409/400) is an
	// expected answer under contention, not an error.
	claim := func(ctx context.Context, r *rand.Rand, w int) error {
		pid := id(r)
		who := fmt.Sprintf("worker-%d", w)
		if err := b.request(ctx, http.MethodPost, fmt.Sprintf("/api/parts/%d/assign", pid),
			map[string]any{"assigned": who}, http.StatusOK, http.StatusConflict, http.StatusBadRequest); err != nil {
			return err
		}
		return b.request(ctx, http.MethodPost, fmt.Sprintf("/api/parts/%d/unclaim", pid), map[string]any{},
			http.StatusOK, http.StatusConflict, http.StatusBadRequest)
	}
	return []scenario{
		{name: "health", do: func(ctx context.Context, r *rand.Rand, w int) error {
			return b.request(ctx, http.MethodGet, "/health", nil)
		}},
		{name: "get", do: get},
		{name: "list-page", do: page},
		{name: "list-category", do: func(ctx context.Context, r *rand.Rand, w int) error {
			return b.request(ctx, http.MethodGet, "/api/parts/categories/"+categories[r.IntN(4)], nil)
		}},
		{name: "search-rare", do: searchRare},
		{name: "search-common", do: search},
		{name: "category-sort", do: func(ctx context.Context, r *rand.Rand, w int) error {
			return b.request(ctx, http.MethodGet, "/api/parts/?category=hand&sort_by=name&sort_order=asc&limit=50", nil)
		}},
		{name: "create", do: create},
		{name: "claim", do: claim},
		{name: "mix-80-20", do: func(ctx context.Context, r *rand.Rand, w int) error {
			switch x := r.IntN(100); {
			case x < 50:
				return get(ctx, r, w)
			case x < 70:
				return page(ctx, r, w)
			case x < 75:
				return searchRare(ctx, r, w)
			case x < 80:
				return search(ctx, r, w)
			case x < 90:
				return create(ctx, r, w)
			default:
				return claim(ctx, r, w)
			}
		}},
	}
}

// measure runs s with n workers for d and returns the throughput and the
// latency percentiles of the requests that completed. Workers start no
// request after d but finish the one in flight (a cancelled create may
// still be committed, and then it would not be cleaned up).
func (b *loadRun) measure(ctx context.Context, s scenario, n int, d time.Duration) result {
	deadline := time.Now().Add(d)
	lat := make([][]time.Duration, n)
	errs := make([]int, n)
	var wg sync.WaitGroup
	var note chan string
	bstop := func() {}
	if s.background != nil {
		var bctx context.Context
		bctx, bstop = context.WithCancel(ctx)
		note = make(chan string, 1)
		go func() { note <- s.background(bctx) }()
		defer bstop()
	}
	start := time.Now()
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t := time.Now()
				err := s.do(ctx, r, w)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					errs[w]++
					continue
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := result{}
	if note != nil {
		bstop()
		res.note = <-note
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	for _, e := range errs {
		res.errors += e
	}
	if len(all) > 0 {
		res.rps = float64(len(all)) / elapsed.Seconds()
		res.p50 = all[len(all)/2]
		res.p99 = all[min(len(all)-1, len(all)*99/100)]
	}
	return res
}
