package parts_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// Example walks a part through the workflow: create, approve, claim (a
// second claim loses), complete, and reads its history.
func Example() {
	ctx := context.Background()
	store, err := bunstore.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		panic(err)
	}
	defer store.Close()
	clock := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	svc := parts.NewService(store, &parts.Options{Now: func() time.Time { clock = clock.Add(time.Minute); return clock }})

	p, err := svc.CreatePart(ctx, &parts.Part{PartID: "DRV-001", Name: "Gearbox plate", Type: parts.TypeCNC,
		Material: "6061-T6 Aluminium", Subsystem: "Drivetrain"}, "lead")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Category, p.Status, p.Version)

	p, _ = svc.Approve(ctx, p.ID, parts.ActionInput{Reviewer: "Rita", Actor: "rita"})
	fmt.Println(p.Category, p.Status, p.MiscInfo["reviewer"])

	p, _ = svc.Assign(ctx, p.ID, parts.ActionInput{Assignee: "Ada", Actor: "ada"})
	_, err = svc.Assign(ctx, p.ID, parts.ActionInput{Assignee: "Bob", Actor: "bob"})
	fmt.Println(p.Assigned, p.Status, errors.Is(err, parts.ErrConflict), err)

	p, _ = svc.Complete(ctx, p.ID, parts.ActionInput{Actor: "ada"})
	fmt.Println(p.Category, p.Status, p.Version)

	found, total, _ := svc.FindParts(ctx, parts.Filter{Search: "gearbox"})
	fmt.Println(total, found[0].PartID)

	history, _ := svc.History(ctx, p.ID)
	for _, e := range history {
		fmt.Println(e.At.Format(time.TimeOnly), e.Action, e.Actor)
	}
	// Output:
	// review Pending 1
	// cnc Reviewed Rita
	// Ada In Progress true assign part 1: part is already claimed by Ada
	// completed Completed 4
	// 1 DRV-001
	// 09:01:00 create lead
	// 09:02:00 approve rita
	// 09:03:00 assign ada
	// 09:05:00 complete ada
}

// ExampleWorkflow_Apply shows the workflow tables as pure functions: no
// store needed. The original workflow approves a part from any column; the
// strict one only from review.
func ExampleWorkflow_Apply() {
	p := &parts.Part{PartID: "HND-7", Type: parts.TypeHand, Category: parts.CategoryCompleted, Status: parts.StatusCompleted}
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

	next, changed, err := parts.OriginalWorkflow().Apply(p, parts.ActionRevert, parts.ActionInput{}, now)
	fmt.Println(next.Category, next.Status, changed, err)

	approved, _, err := parts.OriginalWorkflow().Apply(next, parts.ActionApprove, parts.ActionInput{}, now)
	fmt.Println(approved.Category, approved.Status, err)

	_, _, err = parts.StrictWorkflow().Apply(next, parts.ActionApprove, parts.ActionInput{}, now)
	fmt.Println(errors.Is(err, parts.ErrInvalidTransition), err)
	// Output:
	// hand In Progress true <nil>
	// hand Reviewed <nil>
	// true cannot approve a part in hand (In Progress): allowed only from review
}
