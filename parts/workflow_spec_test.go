package parts_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/partflow/partflow/parts"
)

// inspection is the custom workflow of the tests: fabrication ends in an
// inspection stage, from which complete finishes the part and revert sends
// it back.
func inspection() parts.WorkflowSpec {
	work := []parts.Category{"cnc", "hand"}
	return parts.WorkflowSpec{
		Name:   "inspection",
		Stages: []parts.Category{"review", "cnc", "hand", "inspection", "completed"},
		Rules: []parts.Rule{
			{Action: parts.ActionApprove, From: []parts.Category{"review"}, To: parts.StageByType},
			{Action: parts.ActionAssign, From: append(work, "inspection")},
			{Action: parts.ActionUnclaim, From: append(work, "inspection")},
			{Action: parts.ActionStart, From: work},
			{Action: parts.ActionComplete, From: work, To: "inspection", Status: parts.StatusPending},
			{Action: parts.ActionComplete, From: []parts.Category{"inspection"}, To: "completed"},
			{Action: parts.ActionRevert, From: []parts.Category{"inspection", "completed"}, To: parts.StageByType},
			{Action: parts.ActionSetStatus, Target: parts.StatusPending, From: []parts.Category{"review", "cnc", "hand"}},
		},
	}
}

func TestNewWorkflowAcceptsTheInspectionWorkflow(t *testing.T) {
	w, err := parts.NewWorkflow(inspection())
	if err != nil {
		t.Fatal(err)
	}
	if w.Initial() != "review" || w.Done() != "completed" || !w.HasStage("inspection") || w.HasStage("paint") {
		t.Errorf("initial %q, done %q, stages %v", w.Initial(), w.Done(), w.Stages())
	}
	if got := w.Allowed(parts.ActionComplete, ""); !slices.Equal(got, []parts.Category{"cnc", "hand", "inspection"}) {
		t.Errorf("complete allowed from %v", got)
	}
}

// TestNewWorkflowErrors: each broken spec is refused with a WorkflowError
// (matching ErrInvalid) naming the problem.
func TestNewWorkflowErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*parts.WorkflowSpec)
		want string
	}{
		{"bad name", func(s *parts.WorkflowSpec) { s.Name = "Inspection!" }, `name "Inspection!" must be lowercase`},
		{"no stages", func(s *parts.WorkflowSpec) { s.Stages, s.Rules = nil, nil }, "no stages"},
		{"duplicate stage", func(s *parts.WorkflowSpec) { s.Stages = append(s.Stages, "cnc") }, `duplicate stage "cnc"`},
		{"reserved stage", func(s *parts.WorkflowSpec) { s.Stages = append(s.Stages, "by-type") }, `stage name "by-type" is reserved`},
		{"bad stage name", func(s *parts.WorkflowSpec) { s.Stages = append(s.Stages, "Powder Coat") }, `stage name "Powder Coat" must be`},
		{"unknown initial", func(s *parts.WorkflowSpec) { s.Initial = "intake" }, `initial stage "intake" is not a stage`},
		{"unknown done", func(s *parts.WorkflowSpec) { s.Done = "shipped" }, `done stage "shipped" is not a stage`},
		{"unknown action", func(s *parts.WorkflowSpec) { s.Rules[0].Action = "paint" }, `rule 1 (paint): unknown action "paint"`},
		{"no source", func(s *parts.WorkflowSpec) { s.Rules[3].From = nil }, "rule 4 (start): no source stage (from)"},
		{"unknown from", func(s *parts.WorkflowSpec) { s.Rules[3].From = []parts.Category{"paint"} }, `rule 4 (start): unknown stage "paint" in from`},
		{"unknown to", func(s *parts.WorkflowSpec) { s.Rules[5].To = "shipped" }, `rule 6 (complete): unknown stage "shipped" in to`},
		{"unknown status", func(s *parts.WorkflowSpec) { s.Rules[4].Status = "Done" }, `rule 5 (complete): unknown resulting status "Done"`},
		{"set-status without target", func(s *parts.WorkflowSpec) { s.Rules[7].Target = "" }, "rule 8 (set-status): set-status needs a target status"},
		{"target on another action", func(s *parts.WorkflowSpec) { s.Rules[3].Target = parts.StatusPending }, "rule 4 (start): only set-status rules have a target status"},
		{"overlapping rules", func(s *parts.WorkflowSpec) { s.Rules[5].From = []parts.Category{"hand", "inspection"} },
			`rules 5 and 6 (complete) both apply from stage "hand"`},
		{"by-type without cnc", func(s *parts.WorkflowSpec) {
			s.Stages = []parts.Category{"review", "hand", "completed"}
			s.Rules = []parts.Rule{{Action: parts.ActionApprove, From: []parts.Category{"review"}, To: parts.StageByType},
				{Action: parts.ActionComplete, From: []parts.Category{"hand"}, To: "completed"}}
		}, `rule 1 (approve): to "by-type" needs the stages cnc and hand`},
		{"unreachable stage", func(s *parts.WorkflowSpec) { s.Stages = append(s.Stages, "outsourced") },
			`stage "outsourced" is unreachable from the initial stage "review"`},
		{"unreachable after a removed rule", func(s *parts.WorkflowSpec) { s.Rules[4].To = "" },
			`stage "inspection" is unreachable`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := inspection()
			tc.edit(&spec)
			w, err := parts.NewWorkflow(spec)
			var we *parts.WorkflowError
			if !errors.As(err, &we) || !errors.Is(err, parts.ErrInvalid) {
				t.Fatalf("NewWorkflow = %v, %v; want a WorkflowError", w, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestNewWorkflowReportsEveryProblem: problems are listed together, not one
// per attempt.
func TestNewWorkflowReportsEveryProblem(t *testing.T) {
	spec := inspection()
	spec.Stages = append(spec.Stages, "cnc")
	spec.Rules[3].From = nil
	_, err := parts.NewWorkflow(spec)
	var we *parts.WorkflowError
	if !errors.As(err, &we) || len(we.Problems) != 2 {
		t.Fatalf("err = %v, want two problems", err)
	}
}

// TestNewWorkflowCopiesTheSpec: changing the spec after building changes
// nothing.
func TestNewWorkflowCopiesTheSpec(t *testing.T) {
	spec := inspection()
	w, err := parts.NewWorkflow(spec)
	if err != nil {
		t.Fatal(err)
	}
	spec.Stages[0] = "intake"
	spec.Rules[0].From[0] = "intake"
	if !w.HasStage("review") || w.HasStage("intake") || w.Allowed(parts.ActionApprove, "")[0] != "review" {
		t.Errorf("workflow changed with its spec: %v", w.Spec())
	}
}

func TestCustomWorkflowApply(t *testing.T) {
	w, err := parts.NewWorkflow(inspection())
	if err != nil {
		t.Fatal(err)
	}
	p := &parts.Part{ID: 1, Type: parts.TypeCNC, Category: "cnc", Status: parts.StatusInProgress, Assigned: "ada"}
	next, _, err := w.Apply(p, parts.ActionComplete, parts.ActionInput{}, t0)
	if err != nil || next.Category != "inspection" || next.Status != parts.StatusPending {
		t.Fatalf("complete from cnc = %+v, %v; want inspection, Pending", next, err)
	}
	done, _, err := w.Apply(next, parts.ActionComplete, parts.ActionInput{}, t0)
	if err != nil || done.Category != "completed" || done.Status != parts.StatusCompleted {
		t.Fatalf("complete from inspection = %+v, %v", done, err)
	}
	_, _, err = w.Apply(done, parts.ActionStart, parts.ActionInput{}, t0)
	var te *parts.TransitionError
	if !errors.As(err, &te) || te.Reason != "allowed only from cnc, hand" {
		t.Fatalf("start from completed: %v", err)
	}
	_, _, err = w.Apply(done, parts.ActionSetStatus, parts.ActionInput{Status: parts.StatusReviewed}, t0)
	if !errors.As(err, &te) || te.Reason != `not allowed in workflow inspection` {
		t.Fatalf("set-status Reviewed: %v", err)
	}
	if err := w.Validate(&parts.Part{PartID: "A", Material: "m", Subsystem: "s", Amount: 1, Type: parts.TypeCNC,
		Category: "inspection", Status: parts.StatusPending}); err != nil {
		t.Errorf("a part in inspection: %v", err)
	}
}
