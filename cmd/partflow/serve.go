package main

import (
	"context"
	"fmt"
	"io"
)

// serve runs the HTTP server with cfg until ctx is cancelled, then shuts
// down gracefully. cfg is validated, passed the profile's startup rules,
// and has an API key (ensureAPIKey ran). Logs go to stderr.
//
// Not wired yet: the storage, file store, converter and httpapi packages
// are assembled here by the wiring change.
func serve(ctx context.Context, cfg *Config, stdout, stderr io.Writer) error {
	return fmt.Errorf("serve on %s: %w", cfg.Addr, errNotWired)
}
