package main

import (
	"context"
	"fmt"

	"github.com/partflow/partflow/internal/config"
)

// gc removes stored files that no part references any more (left behind by
// a delete whose file removal failed, or by an upload cut off by a crash)
// and what crashes left outside the objects: partial writes, upload spool
// files, conversion job directories and dead plugins' job directories. It
// prints each removed item and a summary. --gc-grace sets how old they
// must be (default 1h; a server sharing the data may still be writing
// younger ones).
func (c *cli) gc(ctx context.Context, args []string) int {
	fs := c.flagSet("gc")
	config.AddFlags(fs)
	cfg, code := c.loadChecked(fs, args)
	if code >= 0 {
		return code
	}
	a, ok := c.openQuiet(ctx, cfg)
	if !ok {
		return exitError
	}
	defer a.Close()
	removed, err := collect(ctx, a, nil, cfg)
	for _, k := range removed {
		fmt.Fprintf(c.stdout, "removed %s\n", k)
	}
	if err != nil {
		c.errorf("gc: %v", err)
		return exitError
	}
	fmt.Fprintf(c.stdout, "gc: removed %d unreferenced files and crash leftovers older than %s\n", len(removed), cfg.GC.Grace)
	return exitOK
}
