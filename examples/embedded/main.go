// Command embedded shows Partflow's library embedded in a Go program: it
// opens an in-memory SQLite store through the storage registry, creates a few
// parts, walks one through the workflow (approve, assign, complete), searches,
// and prints the part's history.
//
// Run it with: go run ./examples/embedded
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage"
	_ "github.com/partflow/partflow/storage/bunstore" // registers sqlite://
)

func main() {
	if err := run(context.Background(), os.Stdout, fixedClock()); err != nil {
		fmt.Fprintln(os.Stderr, "embedded:", err)
		os.Exit(1)
	}
}

// fixedClock returns a clock that starts at a fixed time and advances one
// minute per reading, so the program's output is the same on every run.
func fixedClock() func() time.Time {
	t := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Minute)
		return t
	}
}

// run creates three parts, walks one through the workflow, searches, and
// prints the stats and the walked part's history.
func run(ctx context.Context, w io.Writer, now func() time.Time) error {
	store, err := storage.Open(ctx, "sqlite://:memory:", &storage.Options{Now: now})
	if err != nil {
		return err
	}
	defer store.Close()
	// The strict workflow moves parts forward through their columns; the
	// default (parts.OriginalWorkflow) accepts what the original API did.
	svc := parts.NewService(store, &parts.Options{Now: now, Workflow: parts.StrictWorkflow()})

	created, err := createParts(ctx, w, svc)
	if err != nil {
		return err
	}
	gear, hook := created[0], created[2]
	if err := walk(ctx, w, svc, gear, hook); err != nil {
		return err
	}
	if err := searchAndCount(ctx, w, svc); err != nil {
		return err
	}
	return printHistory(ctx, w, svc, gear)
}

// createParts creates the three sample parts.
func createParts(ctx context.Context, w io.Writer, svc *parts.Service) ([]*parts.Part, error) {
	var created []*parts.Part
	for _, p := range []*parts.Part{
		{PartID: "DRV-001", Name: "Gearbox plate", Type: parts.TypeCNC, Material: "Aluminum 6061", Subsystem: "Drivetrain", Amount: 2},
		{PartID: "INT-004", Name: "Roller spacer", Type: parts.TypeHand, Material: "Delrin", Subsystem: "Intake", Notes: "Cut from 1/2\" rod"},
		{PartID: "CLB-010", Name: "Climber hook", Type: parts.TypeCNC, Material: "Aluminum 7075", Subsystem: "Climber"},
	} {
		c, err := svc.CreatePart(ctx, p, "alice")
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", p.PartID, err)
		}
		fmt.Fprintf(w, "created #%d %s %q (%s, %s)\n", c.ID, c.PartID, c.Name, c.Category, c.Status)
		created = append(created, c)
	}
	return created, nil
}

// walk approves, assigns and completes gear, then shows the strict
// workflow refusing a claim on hook, which is still in review.
func walk(ctx context.Context, w io.Writer, svc *parts.Service, gear, hook *parts.Part) error {
	steps := []struct {
		name string
		do   func() (*parts.Part, error)
	}{
		{"approve", func() (*parts.Part, error) {
			return svc.Approve(ctx, gear.ID, parts.ActionInput{Actor: "bob", Reviewer: "bob"})
		}},
		{"assign", func() (*parts.Part, error) {
			return svc.Assign(ctx, gear.ID, parts.ActionInput{Actor: "carol", Assignee: "carol"})
		}},
		{"complete", func() (*parts.Part, error) {
			return svc.Complete(ctx, gear.ID, parts.ActionInput{Actor: "carol"})
		}},
	}
	for _, s := range steps {
		p, err := s.do()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(w, "%-8s -> category=%s status=%q assigned=%q version=%d\n", s.name, p.Category, p.Status, p.Assigned, p.Version)
	}
	if _, err := svc.Assign(ctx, hook.ID, parts.ActionInput{Assignee: "dave"}); errors.Is(err, parts.ErrInvalidTransition) {
		fmt.Fprintf(w, "refused: %v\n", err)
	}
	return nil
}

// searchAndCount prints a search's matches and the stats.
func searchAndCount(ctx context.Context, w io.Writer, svc *parts.Service) error {
	found, total, err := svc.FindParts(ctx, parts.Filter{Search: "ALUMINUM", SortBy: parts.SortPartID, Asc: true})
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	names := make([]string, len(found))
	for i, p := range found {
		names[i] = p.PartID
	}
	fmt.Fprintf(w, "search %q: %d match(es): %s\n", "ALUMINUM", total, strings.Join(names, ", "))

	st, err := svc.Stats(ctx)
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	fmt.Fprintf(w, "stats: total=%d review=%d completed=%d assigned=%d\n",
		st.Total, st.ByCategory[parts.CategoryReview], st.ByCategory[parts.CategoryCompleted], st.Assigned)
	return nil
}

// printHistory prints p's history, one line an event.
func printHistory(ctx context.Context, w io.Writer, svc *parts.Service, p *parts.Part) error {
	history, err := svc.History(ctx, p.ID)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	fmt.Fprintf(w, "history of %s:\n", p.PartID)
	for _, ev := range history {
		var fields []string
		for _, c := range ev.Changes {
			if ev.Action == "create" {
				fields = append(fields, c.Field)
				continue
			}
			fields = append(fields, fmt.Sprintf("%s: %v -> %v", c.Field, show(c.Before), show(c.After)))
		}
		fmt.Fprintf(w, "  %s %-8s by %-5s %s\n", ev.At.Format(time.RFC3339), ev.Action, ev.Actor, strings.Join(fields, "; "))
	}
	return nil
}

func show(v any) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(v)
}
