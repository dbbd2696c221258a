package parts_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// outcome is what the API contract says an action does from one state.
type outcome struct {
	err      error // nil, parts.ErrInvalidTransition or parts.ErrConflict
	noop     bool
	category parts.Category
	status   parts.Status
	assigned string
}

// expect is written from ../shared/API.md (the original workflow) and the
// strict workflow's documented rules, independently of the package's
// transition tables, so the two check each other.
func expect(strict bool, a parts.Action, target parts.Status, p *parts.Part) outcome {
	byType := parts.CategoryHand
	if p.Type == parts.TypeCNC {
		byType = parts.CategoryCNC
	}
	// The original workflow lets every action but revert run from any
	// category: everything is "working" and "in review" at once.
	working := !strict || p.Category == parts.CategoryCNC || p.Category == parts.CategoryHand
	inReview := !strict || p.Category == parts.CategoryReview
	deny := outcome{err: parts.ErrInvalidTransition}
	keep := func(s parts.Status) outcome { return outcome{category: p.Category, status: s, assigned: p.Assigned} }
	switch a {
	case parts.ActionApprove:
		if !inReview {
			return deny
		}
		o := outcome{category: byType, status: parts.StatusReviewed, assigned: p.Assigned}
		o.noop = p.Category == byType && p.Status == parts.StatusReviewed
		return o
	case parts.ActionAssign:
		if !working {
			return deny
		}
		switch p.Assigned {
		case "":
			return outcome{category: p.Category, status: parts.StatusInProgress, assigned: "alice"}
		case "alice":
			return outcome{noop: true, category: p.Category, status: p.Status, assigned: "alice"}
		default:
			return outcome{err: parts.ErrConflict}
		}
	case parts.ActionUnclaim:
		if !working {
			return deny
		}
		s := parts.StatusPending
		if p.Status == parts.StatusInProgress || p.Status == parts.StatusAlreadyStarted {
			s = parts.StatusAlreadyStarted
		}
		o := outcome{category: p.Category, status: s}
		o.noop = p.Assigned == "" && s == p.Status
		return o
	case parts.ActionStart:
		if !working {
			return deny
		}
		o := keep(parts.StatusInProgress)
		o.noop = p.Status == parts.StatusInProgress
		return o
	case parts.ActionComplete:
		if !working {
			return deny
		}
		o := outcome{category: parts.CategoryCompleted, status: parts.StatusCompleted, assigned: p.Assigned}
		o.noop = p.Category == parts.CategoryCompleted && p.Status == parts.StatusCompleted
		return o
	case parts.ActionRevert:
		if p.Category != parts.CategoryCompleted {
			return deny
		}
		return outcome{category: byType, status: parts.StatusInProgress, assigned: p.Assigned}
	case parts.ActionSetStatus:
		switch target {
		case parts.StatusPending:
			if strict && p.Category == parts.CategoryCompleted {
				return deny
			}
			o := keep(parts.StatusPending)
			o.noop = p.Status == parts.StatusPending
			return o
		case parts.StatusReviewed:
			if !inReview {
				return deny
			}
			o := outcome{category: byType, status: parts.StatusReviewed, assigned: p.Assigned}
			o.noop = p.Category == byType && p.Status == parts.StatusReviewed
			return o
		case parts.StatusInProgress, parts.StatusAlreadyStarted:
			if !working {
				return deny
			}
			o := keep(target)
			o.noop = p.Status == target
			return o
		case parts.StatusCompleted:
			if !working {
				return deny
			}
			o := outcome{category: parts.CategoryCompleted, status: parts.StatusCompleted, assigned: p.Assigned}
			o.noop = p.Category == parts.CategoryCompleted && p.Status == parts.StatusCompleted
			return o
		}
	}
	panic("unknown action " + a)
}

// TestTransitionMatrix runs every action from every state (category x status
// x type x assignee) under both built-in workflows and checks the result or
// the exact error.
func TestTransitionMatrix(t *testing.T) {
	for _, tc := range []struct {
		flow   *parts.Workflow
		strict bool
	}{{parts.OriginalWorkflow(), false}, {parts.StrictWorkflow(), true}} {
		t.Run(tc.flow.Name(), func(t *testing.T) { testTransitionMatrix(t, tc.flow, tc.strict) })
	}
}

func testTransitionMatrix(t *testing.T, flow *parts.Workflow, strict bool) {
	type step struct {
		action parts.Action
		target parts.Status
	}
	var steps []step
	for _, a := range parts.Actions {
		if a == parts.ActionSetStatus {
			for _, s := range parts.Statuses {
				steps = append(steps, step{a, s})
			}
			continue
		}
		steps = append(steps, step{a, ""})
	}
	n := 0
	for _, st := range steps {
		for _, c := range parts.Categories {
			for _, s := range parts.Statuses {
				for _, typ := range []parts.Type{parts.TypeCNC, parts.TypeHand, parts.TypeNone} {
					for _, who := range []string{"", "alice", "bob"} {
						p := &parts.Part{ID: 1, PartID: "P-1", Material: "6061", Subsystem: "drive", Amount: 1,
							Category: c, Status: s, Type: typ, Assigned: who, Version: 3}
						if who != "" {
							cd := t0.Add(-time.Hour)
							p.ClaimedDate = &cd
						}
						want := expect(strict, st.action, st.target, p)
						name := fmt.Sprintf("%s%s/from_%s_%s_%s_%q", st.action, st.target, c, s, typ, who)
						n++
						t.Run(name, func(t *testing.T) {
							in := parts.ActionInput{Assignee: "alice", Status: st.target}
							got, changed, err := flow.Apply(p, st.action, in, t0)
							if want.err != nil {
								if !errors.Is(err, want.err) {
									t.Fatalf("err = %v, want %v", err, want.err)
								}
								if want.err == parts.ErrInvalidTransition {
									var te *parts.TransitionError
									if !errors.As(err, &te) || te.Action != st.action || te.Category != c || te.Status != s {
										t.Fatalf("error %v does not name action %s and state %s/%s", err, st.action, c, s)
									}
								}
								return
							}
							if err != nil {
								t.Fatalf("unexpected error %v", err)
							}
							if changed == want.noop {
								t.Fatalf("changed = %v, want %v", changed, !want.noop)
							}
							if got.Category != want.category || got.Status != want.status || got.Assigned != want.assigned {
								t.Fatalf("got %s/%s/%q, want %s/%s/%q", got.Category, got.Status, got.Assigned,
									want.category, want.status, want.assigned)
							}
							if got.Assigned == "" && got.ClaimedDate != nil {
								t.Fatalf("unassigned part keeps claimedDate %v", got.ClaimedDate)
							}
							if p.Category != c || p.Status != s || p.Assigned != who {
								t.Fatal("Apply modified its input")
							}
						})
					}
				}
			}
		}
	}
	if want := 11 * 4 * 5 * 3 * 3; n != want {
		t.Fatalf("ran %d cases, want %d", n, want)
	}
}

func TestAssignRecordsClaimAndHandWorkers(t *testing.T) {
	p := &parts.Part{PartID: "P", Material: "m", Subsystem: "s", Amount: 1, Type: parts.TypeHand,
		Category: parts.CategoryHand, Status: parts.StatusReviewed,
		MiscInfo: map[string]any{"reviewer": "rita"}}
	got, changed, err := parts.Apply(p, parts.ActionAssign, parts.ActionInput{Assignee: "  alice "}, t0)
	if err != nil || !changed {
		t.Fatalf("assign: changed=%v err=%v", changed, err)
	}
	if got.Assigned != "alice" || got.ClaimedDate == nil || !got.ClaimedDate.Equal(t0) {
		t.Fatalf("assigned=%q claimed=%v", got.Assigned, got.ClaimedDate)
	}
	workers, _ := got.MiscInfo["handWorkers"].([]any)
	if len(workers) != 1 {
		t.Fatalf("handWorkers = %v, want one entry", got.MiscInfo["handWorkers"])
	}
	w := workers[0].(map[string]any)
	if w["name"] != "alice" || w["timestamp"] != t0.Format(time.RFC3339Nano) {
		t.Fatalf("handWorkers[0] = %v", w)
	}
	if got.MiscInfo["reviewer"] != "rita" {
		t.Fatal("assign dropped other miscInfo keys")
	}
	if _, ok := p.MiscInfo["handWorkers"]; ok {
		t.Fatal("Apply modified the input's miscInfo")
	}
}

func TestAssignWithoutAssigneeIsInvalid(t *testing.T) {
	p := &parts.Part{Category: parts.CategoryCNC, Status: parts.StatusReviewed}
	_, _, err := parts.Apply(p, parts.ActionAssign, parts.ActionInput{Assignee: "  "}, t0)
	var ve *parts.ValidationError
	if !errors.As(err, &ve) || ve.Field != "assigned" {
		t.Fatalf("err = %v, want a ValidationError on assigned", err)
	}
}

func TestApproveRecordsReviewerAndMergesMiscInfo(t *testing.T) {
	p := &parts.Part{Category: parts.CategoryReview, Status: parts.StatusPending, Type: parts.TypeCNC,
		MiscInfo: map[string]any{"keep": "yes", "drop": "x"}}
	got, _, err := parts.Apply(p, parts.ActionApprove, parts.ActionInput{Reviewer: "rita",
		MiscInfo: map[string]any{"drop": nil, "extra": 2.0}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"keep": "yes", "extra": 2.0, "reviewer": "rita"}
	if fmt.Sprint(got.MiscInfo) != fmt.Sprint(want) {
		t.Fatalf("miscInfo = %v, want %v", got.MiscInfo, want)
	}
	if got.Category != parts.CategoryCNC {
		t.Fatalf("category = %s, want cnc", got.Category)
	}
}

func TestSetStatusUnknownIsInvalid(t *testing.T) {
	p := &parts.Part{Category: parts.CategoryCNC, Status: parts.StatusReviewed}
	_, _, err := parts.Apply(p, parts.ActionSetStatus, parts.ActionInput{Status: "Done"}, t0)
	if !errors.Is(err, parts.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

func TestWorkflowByName(t *testing.T) {
	for name, want := range map[string]*parts.Workflow{
		"": parts.OriginalWorkflow(), "original": parts.OriginalWorkflow(), "strict": parts.StrictWorkflow(),
	} {
		got, err := parts.WorkflowByName(name)
		if err != nil || got != want {
			t.Errorf("WorkflowByName(%q) = %v, %v; want %s", name, got, err, want.Name())
		}
	}
	_, err := parts.WorkflowByName("lenient")
	var ve *parts.ValidationError
	if !errors.As(err, &ve) || ve.Field != "workflow" {
		t.Fatalf("unknown workflow: err = %v, want a ValidationError on workflow", err)
	}
}

func TestAllowedListsTheTable(t *testing.T) {
	if got := parts.OriginalWorkflow().Allowed(parts.ActionAssign, ""); len(got) != len(parts.Categories) {
		t.Errorf("original assign allowed from %v, want every category", got)
	}
	if got := parts.StrictWorkflow().Allowed(parts.ActionAssign, ""); fmt.Sprint(got) != "[cnc hand]" {
		t.Errorf("strict assign allowed from %v, want [cnc hand]", got)
	}
	for _, w := range []*parts.Workflow{parts.OriginalWorkflow(), parts.StrictWorkflow()} {
		if got := w.Allowed(parts.ActionRevert, ""); fmt.Sprint(got) != "[completed]" {
			t.Errorf("%s revert allowed from %v, want [completed]", w.Name(), got)
		}
		if got := w.Allowed(parts.ActionSetStatus, "Done"); got != nil {
			t.Errorf("%s set-status Done allowed from %v, want nil", w.Name(), got)
		}
	}
}
