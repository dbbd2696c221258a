package main

import (
	"context"
	"fmt"

	"github.com/partflow/partflow/internal/config"
)

// serve runs the server.
func (c *cli) serve(ctx context.Context, args []string) int {
	fs := c.flagSet("serve")
	config.AddFlags(fs)
	cfg, code := c.loadChecked(fs, args)
	if code >= 0 {
		return code
	}
	if err := cfg.CheckStartup(true); err != nil {
		c.errorf("refusing to start in %s:\n%v", cfg.Env, err)
		return exitUsage
	}
	if _, _, err := config.EnsureAPIKey(cfg, cfg.DataDir(), c.stdout); err != nil {
		c.errorf("%v", err)
		return exitError
	}
	for _, w := range cfg.KeyWarnings() {
		fmt.Fprintf(c.stderr, "partflow: warning: %s\n", w)
	}
	if err := c.serveFunc(ctx, cfg, c.stdout, c.stderr); err != nil {
		c.errorf("serve: %v", err)
		return exitError
	}
	return exitOK
}

// migrate applies migrations.
func (c *cli) migrate(ctx context.Context, args []string) int {
	fs := c.flagSet("migrate")
	config.AddFlags(fs)
	cfg, code := c.loadChecked(fs, args)
	if code >= 0 {
		return code
	}
	if err := cfg.CheckStartup(false); err != nil {
		c.errorf("refusing to migrate in %s:\n%v", cfg.Env, err)
		return exitUsage
	}
	if err := c.migrateFunc(ctx, cfg, c.stdout); err != nil {
		c.errorf("migrate: %v", err)
		return exitError
	}
	return exitOK
}
