package main

import (
	"context"
	"fmt"
	"io"
)

// migrate opens cfg's database and applies pending migrations, reporting
// them to stdout. cfg is validated and passed the profile's startup rules
// (without the API key ones).
//
// Not wired yet: it will call the storage driver's migrations.
func migrate(ctx context.Context, cfg *Config, stdout io.Writer) error {
	return fmt.Errorf("migrate %s: %w", redactDSN(cfg.DatabaseDSN()), errNotWired)
}
