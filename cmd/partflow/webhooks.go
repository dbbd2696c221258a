package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/partflow/partflow/internal/config"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/webhooks"
)

// webhookState returns where the webhook endpoints, cursors and delivery
// logs live: the database's settings when store has them and is shared by
// several servers (PostgreSQL), else webhooks.json in the data directory,
// or memory for a database without one. store may be nil.
func webhookState(cfg *config.Config, store parts.Store) webhooks.StateStore {
	if ss, ok := store.(webhooks.Settings); ok && isPostgres(store) {
		return &webhooks.SettingsState{Store: ss}
	}
	if dir := cfg.DataDir(); dir != "" {
		return &webhooks.FileState{Path: filepath.Join(dir, "webhooks.json")}
	}
	return &webhooks.MemoryState{}
}

// startWebhooks loads the webhook endpoints, adds or updates the configured
// ones, and runs the deliveries in the background until ctx ends. A
// configured endpoint that was disabled after failures stays disabled
// until an admin enables it through the API.
//
// With several servers on one database (the state is in the database)
// only the one holding the "webhooks" lock delivers, through a Manager it
// loads when it takes the lock, so it continues from the cursors the last
// holder saved; the Manager returned serves the admin API. Both read and
// change the endpoints in the database, which the delivering Manager
// reloads every few seconds (webhooks.Options.Refresh).
func startWebhooks(ctx context.Context, cfg *config.Config, store parts.Store, svc *parts.Service, log *slog.Logger,
	bg *sync.WaitGroup, onAttempt func(string, webhooks.Attempt)) (*webhooks.Manager, error) {
	opts := &webhooks.Options{State: webhookState(cfg, store), Logger: log, OnAttempt: onAttempt}
	m, err := webhooks.New(svc, opts)
	if err != nil {
		return nil, err
	}
	for _, e := range cfg.Webhooks {
		if st, err := m.Get(e.ID); err == nil && st.DisabledReason != "" {
			e.Enabled = false
		}
		if _, err := m.Put(ctx, e); err != nil {
			return nil, fmt.Errorf("webhooks: %s: %w", e.ID, err)
		}
	}
	_, shared := opts.State.(webhooks.SharedState)
	bg.Go(func() {
		whileHolding(ctx, store, "webhooks", 5*time.Second, log, func(ctx context.Context) {
			dm := m
			if shared {
				if dm, err = webhooks.New(svc, opts); err != nil {
					log.Error("webhooks: load state", "err", err)
					return
				}
			}
			_ = dm.Run(ctx)
		})
	})
	return m, nil
}
