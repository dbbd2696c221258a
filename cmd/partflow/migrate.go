package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// migrate opens cfg's database, which applies pending migrations (the
// driver logs what ran to stdout), and reports the result. cfg is validated and passed the profile's startup rules
// (without the API key ones).
func migrate(ctx context.Context, cfg *Config, stdout io.Writer) error {
	a, err := openApp(ctx, cfg, slog.New(slog.NewTextHandler(stdout, nil)), nil)
	if err != nil {
		return err
	}
	defer a.Close()
	m, ok := a.store.(migrator)
	if !ok {
		fmt.Fprintf(stdout, "%s has no migrations\n", redactDSN(cfg.DatabaseDSN()))
		return nil
	}
	ran, err := m.Migrate(ctx)
	if err != nil {
		return err
	}
	engine := ""
	if e, ok := a.store.(interface{ Engine() string }); ok {
		engine = " (" + e.Engine() + ")"
	}
	if len(ran) == 0 {
		fmt.Fprintf(stdout, "database %s%s is up to date\n", redactDSN(cfg.DatabaseDSN()), engine)
		return nil
	}
	for _, name := range ran {
		fmt.Fprintf(stdout, "applied migration %s\n", name)
	}
	return nil
}
