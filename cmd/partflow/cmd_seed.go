package main

import (
	"context"
	"fmt"
	"io"

	"github.com/partflow/partflow/internal/config"
	"github.com/partflow/partflow/internal/sample"
	"github.com/partflow/partflow/parts"
)

// seed fills the database with realistic sample parts.
func (c *cli) seed(ctx context.Context, args []string) int {
	fs := c.flagSet("seed")
	config.AddFlags(fs)
	count := fs.Int("count", 50, "how many parts to create")
	seedValue := fs.Uint64("seed", 1, "random seed (the same seed gives the same parts)")
	cfg, code := c.loadChecked(fs, args)
	if code >= 0 {
		return code
	}
	if cfg.Env == config.ProfileProduction {
		c.errorf("seed refuses to run in production: it would mix sample parts into real data")
		return exitUsage
	}
	if *count < 1 || *count > 1_000_000 {
		c.errorf("seed: --count must be between 1 and 1000000")
		return exitUsage
	}
	a, ok := c.openQuiet(ctx, cfg)
	if !ok {
		return exitError
	}
	defer a.Close()
	n, err := seedParts(ctx, a.svc, *count, *seedValue, c.stdout)
	if err != nil {
		c.errorf("seed: %v (after %d parts)", err, n)
		return exitError
	}
	return exitOK
}

// seedParts creates count sample parts and walks each through its planned
// workflow steps, so the history is real. It prints a summary by category.
func seedParts(ctx context.Context, svc *parts.Service, count int, seed uint64, out io.Writer) (int, error) {
	g := sample.New(seed)
	for i := range count {
		p, err := svc.CreatePart(ctx, g.Part(), "seed")
		if err != nil {
			return i, err
		}
		for _, st := range g.Plan() {
			if _, err := svc.Act(ctx, p.ID, st.Action, st.Input); err != nil {
				return i, fmt.Errorf("part %d: %s: %w", p.ID, st.Action, err)
			}
		}
	}
	st, err := svc.Stats(ctx)
	if err != nil {
		return count, err
	}
	fmt.Fprintf(out, "seeded %d parts; now %d in total: review %d, cnc %d, hand %d, completed %d\n", count, st.Total,
		st.ByCategory[parts.CategoryReview], st.ByCategory[parts.CategoryCNC],
		st.ByCategory[parts.CategoryHand], st.ByCategory[parts.CategoryCompleted])
	return count, nil
}
