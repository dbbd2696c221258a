package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/internal/config"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/webhooks"
)

// Several servers ("replicas") may share one PostgreSQL database and one
// object store. What one server does for all of them takes a named lock
// from the store (a PostgreSQL advisory lock; in-process on SQLite):
//   - "gc": the file GC at start,
//   - "events-prune": the change log's retention,
//   - "webhooks": delivering webhooks, held for as long as the server
//     delivers; their endpoints, cursors and logs live in the database
//     (webhooks.SettingsState): every server's admin API changes them
//     there by compare and swap, and the delivering server reloads them
//     every 2 seconds, so a change made on any server applies within that.
// Conversion jobs need no lock: each is claimed with a lease (parts).

// locker is the optional store capability of named locks (bunstore).
type locker interface {
	TryLock(ctx context.Context, name string) (release func(), lost <-chan struct{}, ok bool, err error)
}

// onOne runs fn unless another server holds the named lock (it is doing
// the same work); a store without locks always runs it.
func onOne(ctx context.Context, store parts.Store, name string, log *slog.Logger, fn func(context.Context)) {
	l, ok := store.(locker)
	if !ok {
		fn(ctx)
		return
	}
	release, _, got, err := l.TryLock(ctx, name)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("take lock", "lock", name, "err", err)
		}
		return
	}
	if !got {
		log.Debug("another replica holds the lock; skipping", "lock", name)
		return
	}
	defer release()
	fn(ctx)
}

// whileHolding runs fn while this server holds the named lock, trying to
// take it every retry until ctx ends; fn's context ends when the lock is
// lost. A store without locks runs fn once.
func whileHolding(ctx context.Context, store parts.Store, name string, retry time.Duration, log *slog.Logger,
	fn func(context.Context)) {
	l, ok := store.(locker)
	if !ok {
		fn(ctx)
		return
	}
	t := time.NewTicker(retry)
	defer t.Stop()
	for ctx.Err() == nil {
		release, lost, got, err := l.TryLock(ctx, name)
		if err != nil && ctx.Err() == nil {
			log.Warn("take lock", "lock", name, "err", err)
		}
		if got {
			log.Info("took over work for all replicas", "lock", name)
			lctx, cancel := context.WithCancel(ctx)
			go func() {
				select {
				case <-lost:
					log.Warn("lost lock; stopping its work", "lock", name)
					cancel()
				case <-lctx.Done():
				}
			}()
			fn(lctx)
			cancel()
			release()
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// jobCounter is the optional store capability of counting jobs by state.
type jobCounter interface {
	JobCounts(ctx context.Context) (map[string]int, error)
}

// newMetrics builds the server's metrics over the app's store and the
// webhook manager's cursors.
func newMetrics(cfg *config.Config, a *app, hooks func() *webhooks.Manager) *httpapi.Metrics {
	o := &httpapi.MetricsOptions{Replica: cfg.ReplicaID}
	if db, ok := a.store.(interface{ DB() *sql.DB }); ok {
		o.DB = db.DB()
	}
	if jc, ok := a.store.(jobCounter); ok {
		o.Jobs = jc.JobCounts
	}
	o.FeedLag = func(ctx context.Context) (map[string]int64, error) {
		lags := map[string]int64{}
		m := hooks()
		if m == nil {
			return lags, nil
		}
		eps := m.List() // on PostgreSQL, as the delivering replica saved them
		page, err := a.svc.Events(ctx, parts.EventQuery{After: parts.FromHead, Limit: 1})
		if err != nil {
			return nil, err
		}
		for _, st := range eps {
			if st.Enabled {
				lags["webhook:"+st.ID] = max(page.Head-st.Cursor, 0)
			}
		}
		return lags, nil
	}
	return httpapi.NewMetrics(o)
}

// isPostgres says whether store is on PostgreSQL (so possibly shared).
func isPostgres(store parts.Store) bool {
	e, ok := store.(interface{ Engine() string })
	return ok && e.Engine() == "postgres"
}

// serveMetrics serves /metrics without a key on cfg.MetricsAddr, when set,
// until the returned stop is called.
func serveMetrics(cfg *config.Config, m *httpapi.Metrics, log *slog.Logger) (stop func(), err error) {
	if cfg.MetricsAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("metrics_addr: listen on %s: %w", cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}
