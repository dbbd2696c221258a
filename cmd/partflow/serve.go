package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/internal/config"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/webhooks"
)

// shutdownTimeout bounds how long serve waits for in-flight requests after
// SIGINT/SIGTERM before it closes their connections.
const shutdownTimeout = 30 * time.Second

// serve runs the HTTP server with cfg until ctx is cancelled (SIGINT or
// SIGTERM), then shuts down gracefully: it stops accepting, lets in-flight
// requests finish, stops the converters and closes the database. cfg is
// validated, passed the profile's startup rules, and has an API key
// (config.EnsureAPIKey ran). Logs go to stderr, one line per event; under
// systemd journald collects them, so there is no log file to reopen and
// SIGHUP is ignored rather than ending the server.
// gcPercent is the collector's GOGC when serve sets the soft memory limit.
const gcPercent = 50

func serve(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) error {
	signal.Ignore(syscall.SIGHUP)
	if cfg.ReplicaID == "" {
		cfg.ReplicaID = parts.NewOwnerID()
	}
	log := cfg.NewLogger(stderr)
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && cfg.MemoryLimit > 0 {
		// The caches are bounded in bytes; the soft limit keeps garbage
		// from doubling the heap above them.
		debug.SetMemoryLimit(int64(cfg.MemoryLimit))
		if _, set := os.LookupEnv("GOGC"); !set {
			// Below the limit, garbage may reach half the live heap
			// (not all of it): 10,000 parts' full load mix peaked at
			// 132 MiB instead of 157 MiB, for about 2% more CPU in GC.
			debug.SetGCPercent(gcPercent)
		}
	}
	s := &instance{cfg: cfg, log: log}
	defer s.close()
	if err := s.open(ctx); err != nil {
		return err
	}
	if err := s.startBackground(ctx); err != nil {
		return err
	}
	stopMetrics, err := serveMetrics(cfg, s.metrics, log)
	if err != nil {
		return err
	}
	s.onClose(stopMetrics)
	// Closing streamsDone ends the event streams, which Shutdown does not.
	streamsDone := make(chan struct{})
	h, err := s.handler(streamsDone)
	if err != nil {
		return err
	}
	return s.run(ctx, h, streamsDone, stdout)
}

// instance is a server's parts, assembled from its configuration: the
// converter plugins, the stores and Service, the background work, metrics
// and webhooks. close takes down what was started, in reverse order.
type instance struct {
	cfg     *config.Config
	log     *slog.Logger
	convs   *converters
	app     *app
	metrics *httpapi.Metrics
	hooks   *webhooks.Manager

	background sync.WaitGroup
	closers    []func()
}

// onClose adds f to what close runs, before everything added earlier.
func (s *instance) onClose(f func()) { s.closers = append(s.closers, f) }

// close runs the onClose functions, the last added first.
func (s *instance) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// open starts the converter plugins, opens the stores and the Service, and
// checks the workflow against the stored parts.
func (s *instance) open(ctx context.Context) error {
	tmp := s.cfg.WorkDir()
	if tmp != "" {
		if err := os.MkdirAll(tmp, 0o700); err != nil {
			return fmt.Errorf("create work directory: %w", err)
		}
	}
	convs := openConverters(ctx, pluginConfigs(s.cfg, s.log), tmp, s.log)
	s.convs = convs
	s.onClose(func() {
		if err := convs.Close(); err != nil {
			s.log.Error("stop converter plugins", "err", err)
		}
	})
	// metrics and hooks are set before the workers and the server start.
	convs.owner, convs.lease = s.cfg.ReplicaID, s.cfg.Convert.Lease
	convs.onConversion = func(name string, took time.Duration, err error) { s.metrics.ObserveConversion(name, took, err) }
	a, err := openApp(ctx, s.cfg, s.log, convs)
	if err != nil {
		return err
	}
	s.app = a
	s.metrics = newMetrics(s.cfg, a, func() *webhooks.Manager { return s.hooks })
	s.onClose(func() {
		if err := a.Close(); err != nil {
			s.log.Error("close stores", "err", err)
		}
	})
	// A workflow without a stage that holds parts would strand them.
	if err := a.svc.CheckWorkflow(ctx); err != nil {
		return fmt.Errorf("config: workflow: %w", err)
	}
	return nil
}

// startBackground starts the conversion workers, the search index's
// warm-up, garbage collection, event pruning and webhook deliveries. They
// run until close; a conversion running then goes back to the queue (after
// a crash, to whoever claims it when its lease ends).
func (s *instance) startBackground(ctx context.Context) error {
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	s.onClose(func() { stopWorkers(); s.background.Wait() })
	a, log := s.app, s.log
	s.background.Go(func() {
		if err := a.svc.RunConversions(wctx, max(s.convs.workers, 1)); err != nil {
			log.Error("conversion workers", "err", err)
		}
	})
	if w, ok := a.store.(interface{ Warm(context.Context) error }); ok {
		s.background.Go(func() {
			// Build the search index before the first list needs it.
			start := time.Now()
			if err := w.Warm(wctx); err != nil && wctx.Err() == nil {
				log.Warn("warm search index", "err", err)
			} else if err == nil {
				log.Info("search index ready", "took", time.Since(start).Round(time.Millisecond))
			}
		})
	}
	s.background.Go(func() { runGC(wctx, a, s.convs, s.cfg, log) })
	s.background.Go(func() { pruneEvents(wctx, a.store, a.svc, log) })
	hooks, err := startWebhooks(wctx, s.cfg, a.store, a.svc, log, &s.background,
		func(id string, at webhooks.Attempt) { s.metrics.ObserveWebhook(id, at.Outcome) })
	s.hooks = hooks
	return err
}

// handler builds the HTTP handler from the configuration; closing
// streamsDone ends its event streams.
func (s *instance) handler(streamsDone chan struct{}) (http.Handler, error) {
	cfg := s.cfg
	keys, err := cfg.HTTPKeys()
	if err != nil {
		return nil, err
	}
	return httpapi.NewHandler(s.app.svc, &httpapi.Options{
		Version:        buildVersion(),
		BasePath:       cfg.BasePath,
		Keys:           keys,
		Policy:         cfg.HTTPPolicy(),
		AllowQueryKey:  cfg.AllowQueryAPIKey,
		MaxBodyBytes:   int64(cfg.MaxBodyBytes),
		CORSOrigins:    cfg.CORSOrigins,
		StaticDir:      cfg.StaticDir,
		TrustedProxies: cfg.TrustedProxyPrefixes(),
		Logger:         s.log,
		Files: httpapi.FileOptions{MinUploadRate: orOff(int64(cfg.Uploads.MinRate)),
			UploadRateWindow: cfg.Uploads.RateWindow, MaxUploadsPerClient: int(orOff(int64(cfg.Uploads.MaxPerClient)))},
		Convert:  httpapi.ConvertOptions{UploadWait: cfg.Convert.Wait, ModelWait: cfg.ModelWait},
		Cache:    httpapi.CacheOptions{PartBytes: int64(cfg.Cache.PartBytes), AnswerBytes: int64(cfg.Cache.AnswerBytes)},
		Events:   httpapi.EventOptions{Heartbeat: cfg.Events.Heartbeat, Done: streamsDone},
		Webhooks: s.hooks,
		Metrics:  s.metrics,
	})
}

// run listens on the configured address and serves h until ctx ends, then
// shuts down: it stops accepting, closes streamsDone, gives requests in
// flight shutdownTimeout to finish, then closes their connections and
// waits a little longer for their handlers to return.
func (s *instance) run(ctx context.Context, h http.Handler, streamsDone chan struct{}, stdout io.Writer) error {
	cfg, log := s.cfg, s.log
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	// inflight counts running handlers, so the stores and plugins are closed
	// only after the last one returns, even past the shutdown deadline.
	var inflight sync.WaitGroup
	srv := httpapi.NewServer(cfg.Addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inflight.Add(1)
		defer inflight.Done()
		h.ServeHTTP(w, r)
	}))
	srv.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }
	srv.RegisterOnShutdown(func() { close(streamsDone) })
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "partflow %s listening on http://%s%s/ (%s profile)\n", buildVersion(), ln.Addr(), cfg.BasePath, cfg.Env)
	log.Info("listening", "addr", ln.Addr().String(), "base_path", cfg.BasePath, "env", cfg.Env)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown: closing connections still in flight", "err", err)
		srv.Close()
	}
	// Handlers still running after Close see their contexts cancelled; wait
	// for them before the stores close underneath.
	handlersDone := make(chan struct{})
	go func() { inflight.Wait(); close(handlersDone) }()
	select {
	case <-handlersDone:
	case <-time.After(10 * time.Second):
		log.Warn("shutdown: some requests were still running; closing anyway")
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// pruneEvents applies the change log's retention at start and then hourly,
// until ctx ends.
func pruneEvents(ctx context.Context, store parts.Store, svc *parts.Service, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		onOne(ctx, store, "events-prune", log, func(ctx context.Context) {
			if n, err := svc.PruneEvents(ctx); err != nil && ctx.Err() == nil {
				log.Warn("prune events", "err", err)
			} else if n > 0 {
				log.Info("pruned old events", "count", n)
			}
		})
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// orOff maps a config value where 0 means "off" to httpapi's convention,
// where 0 means "default" and a negative value "off".
func orOff(v int64) int64 {
	if v == 0 {
		return -1
	}
	return v
}
