package main

import (
	"context"

	"github.com/partflow/partflow/internal/config"
)

// config prints the effective configuration.
func (c *cli) config(_ context.Context, args []string) int {
	fs := c.flagSet("config")
	config.AddFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON lines instead of text")
	check := fs.Bool("check", false, "exit with status 1 if serve would refuse this configuration")
	cfg, code := c.loadChecked(fs, args)
	if code >= 0 {
		return code
	}
	if err := config.WriteEntries(c.stdout, cfg.Entries(), *asJSON); err != nil {
		c.errorf("config: %v", err)
		return exitError
	}
	if err := cfg.CheckStartup(true); err != nil {
		c.errorf("serve would refuse this configuration:\n%v", err)
		if *check {
			return exitError
		}
	}
	return exitOK
}
