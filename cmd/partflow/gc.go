package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/partflow/partflow/convert/grpcplugin"
	"github.com/partflow/partflow/internal/config"
)

// collect removes, when older than cfg.GC.Grace, what no part references
// and what crashes left behind: unreferenced objects and expired cached
// models, partial writes and upload spool files in the file store,
// conversion job directories, and the job directories of plugins whose
// host died (those of convs, this process's plugins, are kept). It returns
// what it removed. The shared file store is collected by one replica at a
// time (the "gc" lock); this machine's directories by every replica.
func collect(ctx context.Context, a *app, convs *converters, cfg *config.Config) ([]string, error) {
	var removed []string
	var err error
	onOne(ctx, a.store, "gc", a.log, func(ctx context.Context) { removed, err = a.svc.GC(ctx) })
	if tmp := cfg.WorkDir(); tmp != "" {
		var keep []*grpcplugin.Plugin
		if convs != nil {
			keep = convs.plugins
		}
		stale, serr := grpcplugin.RemoveStale(tmp, time.Now().Add(-cfg.GC.Grace), keep...)
		removed = append(removed, stale...)
		err = errors.Join(err, serr)
	}
	return removed, err
}

// runGC collects at start and then every cfg.GC.Interval until ctx ends,
// so one crash cannot leave files on disk for longer than the grace
// period and one interval.
func runGC(ctx context.Context, a *app, convs *converters, cfg *config.Config, log *slog.Logger) {
	t := time.NewTicker(cfg.GC.Interval)
	defer t.Stop()
	for {
		removed, err := collect(ctx, a, convs, cfg)
		if err != nil && ctx.Err() == nil {
			log.Warn("gc", "err", err)
		}
		if len(removed) > 0 {
			log.Info("gc removed unreferenced files and crash leftovers", "count", len(removed), "first", removed[:min(len(removed), 20)])
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
