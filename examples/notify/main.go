// Command notify shows the change log followed from a Go program: it
// embeds the library on a Partflow database file, waits for parts to be
// completed (by this or any other process writing the same file, such as
// a running `partflow serve`), and posts a Slack-style message for each to
// an incoming-webhook URL. It stores its cursor after every message, so
// after a restart it resumes exactly where it stopped: nothing is lost,
// and at most the one message in flight at a crash is posted twice.
//
// Run it with:
//
//	go run ./examples/notify -db ./data/partflow.db -cursor ./data/notify.cursor -url https://hooks.slack.com/services/...
package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
	"github.com/partflow/partflow/webhooks"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.DB, "db", "./data/partflow.db", "the Partflow SQLite database file")
	flag.StringVar(&cfg.Cursor, "cursor", "./data/notify.cursor", "file that keeps the last event handled")
	flag.StringVar(&cfg.URL, "url", "", "Slack or Discord-compatible incoming-webhook URL")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "notify:", err)
		os.Exit(1)
	}
}

// config is what run needs.
type config struct {
	DB, Cursor, URL string
	// Poll is how often to look for other processes' commits (0: 250ms).
	Poll time.Duration
	// Stored, when set, is called after the cursor is stored (tests).
	Stored func(seq int64)
}

// run posts a message for every completed part after the stored cursor
// until ctx ends.
func run(ctx context.Context, cfg config) error {
	if cfg.URL == "" {
		return errors.New("-url is required")
	}
	store, err := bunstore.Open(ctx, "sqlite://"+cfg.DB, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := parts.NewService(store, &parts.Options{Events: parts.EventOptions{Poll: cfg.Poll}})
	after, err := readCursor(cfg.Cursor)
	if err != nil {
		return err
	}
	sub, err := svc.Subscribe(ctx, parts.EventQuery{After: after, Actions: []string{"complete"}})
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for e := range sub.C {
		if err := post(ctx, client, cfg.URL, e); err != nil {
			// The cursor stays before e: it is posted after a restart.
			return cmp.Or(ctx.Err(), err)
		}
		if err := writeCursor(cfg.Cursor, e.ID); err != nil {
			return err
		}
		if cfg.Stored != nil {
			cfg.Stored(e.ID)
		}
	}
	return sub.Err()
}

func post(ctx context.Context, c *http.Client, url string, e *parts.Event) error {
	body, err := webhooks.Body(webhooks.FormatSlack, e)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("post event %d: %w", e.ID, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post event %d: status %d", e.ID, resp.StatusCode)
	}
	return nil
}

// readCursor returns the stored cursor, or 0 (the start of the log) when
// there is none yet.
func readCursor(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// writeCursor replaces the stored cursor atomically.
func writeCursor(path string, seq int64) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(seq, 10)+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
