package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/partflow/partflow/internal/config"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/webhooks"
)

// webhooksCmd prints the webhook endpoints with their recent attempts.
func (c *cli) webhooksCmd(ctx context.Context, args []string) int {
	fs := c.flagSet("webhooks")
	config.AddFlags(fs)
	last := fs.Int("last", 10, "attempts to show per endpoint")
	cfg, code := c.loadChecked(fs, args)
	if code >= 0 {
		return code
	}
	var store parts.Store
	if strings.HasPrefix(cfg.DatabaseDSN(), "postgres") {
		a, ok := c.openQuiet(ctx, cfg)
		if !ok {
			return exitError
		}
		defer a.Close()
		store = a.store
	}
	eps, err := webhookState(cfg, store).Load()
	if err != nil {
		c.errorf("%v", err)
		return exitError
	}
	writeEndpoints(c.stdout, eps, *last)
	return exitOK
}

// writeEndpoints writes each endpoint (its URL redacted) with its last
// attempts to w, or says there are none.
func writeEndpoints(w io.Writer, eps []webhooks.Status, last int) {
	if len(eps) == 0 {
		fmt.Fprintln(w, "no webhook endpoints")
		return
	}
	for _, s := range eps {
		state := "enabled"
		if !s.Enabled {
			state = "disabled"
			if s.DisabledReason != "" {
				state += " (" + s.DisabledReason + ")"
			}
		}
		fmt.Fprintf(w, "%s  %s  %s  format=%s cursor=%d failures=%d\n", s.ID, config.RedactURL(s.URL), state,
			s.Format, s.Cursor, s.Failures)
		ds := s.Deliveries[max(0, len(s.Deliveries)-last):]
		for _, a := range ds {
			line := fmt.Sprintf("  %s  seq %d  attempt %d  %s", a.At.Format(time.RFC3339), a.Seq, a.Attempt, a.Outcome)
			if a.StatusCode != 0 {
				line += fmt.Sprintf("  %d", a.StatusCode)
			}
			line += "  " + a.Latency.Round(time.Millisecond).String()
			if a.Error != "" {
				line += "  " + a.Error
			}
			fmt.Fprintln(w, line)
		}
	}
}
