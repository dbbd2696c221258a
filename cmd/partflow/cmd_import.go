package main

import (
	"context"
	"fmt"

	"github.com/partflow/partflow/internal/config"
	"github.com/partflow/partflow/internal/flaskimport"
)

// importFlask copies an existing Flask deployment's parts and files.
func (c *cli) importFlask(ctx context.Context, args []string) int {
	fs := c.flagSet("import-flask")
	config.AddFlags(fs)
	src := fs.String("db", "", "the Flask database, e.g. sqlite:////srv/parts/parts.db (required)")
	uploads := fs.String("uploads", "", "the Flask upload folder, laid out as <uploads>/<id>/<file>")
	cfg, code := c.loadChecked(fs, args)
	if code >= 0 {
		return code
	}
	if *src == "" {
		c.errorf("import-flask: --db is required")
		return exitUsage
	}
	_, path, err := config.NormalizeDatabaseURL(*src)
	if err != nil || path == "" {
		c.errorf("import-flask: --db: want a SQLite database file (sqlite:////absolute/path.db): %v", err)
		return exitUsage
	}
	a, ok := c.openQuiet(ctx, cfg)
	if !ok {
		return exitError
	}
	defer a.Close()
	rep, err := flaskimport.Import(ctx, a.svc, path, *uploads, c.stdout)
	if err != nil {
		c.errorf("import-flask: %v", err)
		return exitError
	}
	fmt.Fprintf(c.stdout, "imported %d parts (%d already present, skipped), %d files; %d warnings\n",
		rep.Imported, rep.Skipped, rep.Files, rep.Warnings)
	return exitOK
}
