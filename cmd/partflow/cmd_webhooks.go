package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/webhooks"
)

// webhookState returns where the webhook endpoints, cursors and delivery
// logs live: webhooks.json in the data directory, or memory for a
// database without one.
func webhookState(cfg *Config) webhooks.StateStore {
	if dir := cfg.DataDir(); dir != "" {
		return &webhooks.FileState{Path: filepath.Join(dir, "webhooks.json")}
	}
	return &webhooks.MemoryState{}
}

// startWebhooks loads the webhook endpoints, adds or updates the configured
// ones, and runs the deliveries in the background until ctx ends. A
// configured endpoint that was disabled after failures stays disabled
// until an admin enables it through the API.
func startWebhooks(ctx context.Context, cfg *Config, svc *parts.Service, log *slog.Logger, bg *sync.WaitGroup) (*webhooks.Manager, error) {
	m, err := webhooks.New(svc, &webhooks.Options{State: webhookState(cfg), Logger: log})
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
	bg.Go(func() { _ = m.Run(ctx) })
	return m, nil
}

// webhooksCmd prints the webhook endpoints with their recent attempts.
func (c *cli) webhooksCmd(_ context.Context, args []string) int {
	fs := c.flagSet("webhooks")
	addConfigFlags(fs)
	last := fs.Int("last", 10, "attempts to show per endpoint")
	cfg, code := c.loadChecked(fs, args)
	if code >= 0 {
		return code
	}
	eps, err := webhookState(cfg).Load()
	if err != nil {
		c.errorf("%v", err)
		return exitError
	}
	if len(eps) == 0 {
		fmt.Fprintln(c.stdout, "no webhook endpoints")
		return exitOK
	}
	for _, s := range eps {
		state := "enabled"
		if !s.Enabled {
			state = "disabled"
			if s.DisabledReason != "" {
				state += " (" + s.DisabledReason + ")"
			}
		}
		fmt.Fprintf(c.stdout, "%s  %s  %s  format=%s cursor=%d failures=%d\n", s.ID, redactURL(s.URL), state,
			s.Format, s.Cursor, s.Failures)
		ds := s.Deliveries[max(0, len(s.Deliveries)-*last):]
		for _, a := range ds {
			line := fmt.Sprintf("  %s  seq %d  attempt %d  %s", a.At.Format(time.RFC3339), a.Seq, a.Attempt, a.Outcome)
			if a.StatusCode != 0 {
				line += fmt.Sprintf("  %d", a.StatusCode)
			}
			line += "  " + a.Latency.Round(time.Millisecond).String()
			if a.Error != "" {
				line += "  " + a.Error
			}
			fmt.Fprintln(c.stdout, line)
		}
	}
	return exitOK
}
