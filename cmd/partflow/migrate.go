package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/partflow/partflow/internal/config"
)

// migrate opens cfg's database, which applies pending migrations (the
// driver logs what ran to stdout), and reports the result. cfg is validated and passed the profile's startup rules
// (without the API key ones).
func migrate(ctx context.Context, cfg *config.Config, stdout io.Writer) error {
	a, err := openApp(ctx, cfg, slog.New(slog.NewTextHandler(stdout, nil)), nil)
	if err != nil {
		return err
	}
	defer a.Close()
	m, ok := a.store.(migrator)
	if !ok {
		fmt.Fprintf(stdout, "%s has no migrations\n", config.RedactDSN(cfg.DatabaseDSN()))
		return nil
	}
	ran, err := m.Migrate(ctx)
	if err != nil {
		return err
	}
	for _, name := range ran {
		fmt.Fprintf(stdout, "applied migration %s\n", name)
	}
	engine := ""
	if e, ok := a.store.(interface{ Engine() string }); ok {
		engine = " (" + e.Engine() + ")"
	}
	if st, ok := a.store.(migrationState); ok {
		applied, pending, err := st.MigrationState(ctx)
		if err != nil {
			return err
		}
		last := "none"
		if len(applied) > 0 {
			last = applied[len(applied)-1]
		}
		fmt.Fprintf(stdout, "database %s%s: %d migrations applied, the last %s; %d pending\n",
			config.RedactDSN(cfg.DatabaseDSN()), engine, len(applied), last, len(pending))
	}
	if len(ran) == 0 {
		fmt.Fprintf(stdout, "database %s%s is up to date\n", config.RedactDSN(cfg.DatabaseDSN()), engine)
	}
	return nil
}

// migrationState is a store that reports its migrations (bunstore).
type migrationState interface {
	MigrationState(ctx context.Context) (applied, pending []string, err error)
}
