package main

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/partflow/partflow/internal/loadtest"
)

// bench parses the load tool's flags and runs it (package loadtest).
func (c *cli) bench(ctx context.Context, args []string) int {
	fs := c.flagSet("bench")
	base := fs.String("url", "http://127.0.0.1:5000", "the server's base URL (including BASE_PATH); several, comma-separated, get requests in turn")
	count := fs.Int("parts", 10000, "seed the server up to this many parts before measuring")
	dur := fs.Duration("duration", 5*time.Second, "how long each scenario runs at each concurrency")
	conc := fs.String("concurrency", "1,8,64", "comma-separated concurrency levels")
	only := fs.String("scenarios", "", "comma-separated scenarios to run (default: all)")
	pidList := fs.String("server-pid", "", "the servers' process ids, comma-separated, to report their CPU time per request and memory (VmRSS, VmHWM)")
	if code := c.parse(fs, args); code >= 0 {
		return code
	}
	o := loadtest.Options{Key: c.benchKey(), Parts: *count, Duration: *dur, URLs: loadtest.SplitURLs(*base), Out: c.stdout}
	if o.Key == "" {
		c.errorf("bench: set PARTFLOW_BENCH_KEY to the server's API key")
		return exitUsage
	}
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1024 {
			c.errorf("bench: --concurrency: %q is not a number from 1 to 1024", s)
			return exitUsage
		}
		o.Concurrency = append(o.Concurrency, n)
	}
	if *dur <= 0 || *dur > 10*time.Minute {
		c.errorf("bench: --duration must be between 0 and 10m")
		return exitUsage
	}
	var err error
	if o.PIDs, err = loadtest.ParsePIDs(*pidList); err != nil {
		c.errorf("bench: %v", err)
		return exitUsage
	}
	if len(o.URLs) == 0 {
		c.errorf("bench: --url needs a base URL")
		return exitUsage
	}
	if *only != "" {
		o.Scenarios = strings.Split(*only, ",")
	}
	if err := loadtest.Run(ctx, o); err != nil {
		c.errorf("bench: %v", err)
		return exitError
	}
	return exitOK
}

// benchEvents parses bench-events' flags and runs it (package loadtest).
func (c *cli) benchEvents(ctx context.Context, args []string) int {
	fs := c.flagSet("bench-events")
	base := fs.String("url", "http://127.0.0.1:5000", "the server's base URL (including BASE_PATH)")
	clients := fs.Int("clients", 100, "event stream clients")
	dur := fs.Duration("duration", 10*time.Second, "length of each phase")
	rate := fs.Int("rate", 20, "creates per second of the paced phase")
	writers := fs.Int("writers", 8, "concurrent writers of the full-load phases")
	pid := fs.Int("server-pid", 0, "the server's process id, to report memory per stream client and server CPU per create")
	enc := fs.String("stream-encoding", "gzip", "what the stream clients ask for: gzip (as browsers and Go clients do) or identity")
	rounds := fs.Int("rounds", 0, "pairs of full-load phases to add, alternately with new stream clients and without, "+
		"reporting creates/s (and with --server-pid server CPU per create) over all of them")
	if code := c.parse(fs, args); code >= 0 {
		return code
	}
	o := loadtest.EventOptions{URL: *base, Key: c.benchKey(), Clients: *clients, Duration: *dur, Rate: *rate,
		Writers: *writers, PID: *pid, StreamEncoding: *enc, Rounds: *rounds, Out: c.stdout}
	if o.Key == "" || *clients < 1 || *clients > 2000 || *rate < 1 || *writers < 1 || *dur <= 0 || *dur > 10*time.Minute ||
		*enc != "gzip" && *enc != "identity" || *rounds < 0 || *rounds > 100 {
		c.errorf("bench-events: set PARTFLOW_BENCH_KEY (an admin key); clients 1..2000, rate and writers >= 1, duration up to 10m, " +
			"stream-encoding gzip or identity, rounds 0..100")
		return exitUsage
	}
	if err := loadtest.RunEvents(ctx, o); err != nil {
		c.errorf("bench-events: %v", err)
		return exitError
	}
	return exitOK
}

// benchKey is PARTFLOW_BENCH_KEY from the command's environment.
func (c *cli) benchKey() string {
	key := ""
	for _, kv := range c.environ {
		if v, ok := strings.CutPrefix(kv, "PARTFLOW_BENCH_KEY="); ok {
			key = v
		}
	}
	return key
}
