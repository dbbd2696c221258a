package parts

import (
	"slices"
	"time"
)

// Action is a workflow action on a part.
type Action string

// The workflow actions.
const (
	ActionApprove   Action = "approve"
	ActionAssign    Action = "assign" // claim
	ActionUnclaim   Action = "unclaim"
	ActionStart     Action = "start"
	ActionComplete  Action = "complete"
	ActionRevert    Action = "revert"
	ActionSetStatus Action = "set-status"
)

// Actions lists every workflow action.
var Actions = []Action{ActionApprove, ActionAssign, ActionUnclaim, ActionStart, ActionComplete, ActionRevert, ActionSetStatus}

// ActionInput carries the arguments of a workflow action. Each action reads
// only the fields it documents.
type ActionInput struct {
	// Actor is who performs the action, for the history.
	Actor string
	// IfVersion, when non-zero, makes the action fail with ErrConflict unless
	// the part is still at this version.
	IfVersion int64
	// Assignee is the person claiming the part (assign; required).
	Assignee string
	// Reviewer is recorded as miscInfo.reviewer (approve; optional).
	Reviewer string
	// Status is the target status (set-status; required).
	Status Status
	// Notes, when non-nil, replaces the notes (assign, set-status).
	Notes *string
	// MiscInfo is merged into the part's miscInfo (approve, complete).
	MiscInfo map[string]any
	// Authorize, when set, is called by Service.Act with the part as it is
	// inside the action's transaction, before the workflow runs; an error
	// aborts the action and is returned (wrapped). It is how a caller's
	// authorization policy sees the part's current stage without racing
	// with other writes.
	Authorize func(cur *Part) error
}

// afterUnclaim: a part that was being worked on (In Progress) or had been
// started (Already Started) is Already Started; anything else goes back to
// Pending. The original API turned an Already Started part Pending on
// unclaim; keeping the fact that work began is deliberate (and required for
// unassigned Already Started parts).
func afterUnclaim(s Status) Status {
	if s == StatusInProgress || s == StatusAlreadyStarted {
		return StatusAlreadyStarted
	}
	return StatusPending
}

// StageByType is a rule's resulting stage that depends on the part's type:
// the "cnc" stage for CNC parts, the "hand" stage otherwise. A workflow
// using it must have both stages.
const StageByType Category = "by-type"

// Rule is one row of a workflow table: an action, the stages it applies
// from, and where it leaves the part. An action may have several rules with
// disjoint From stages (complete from fabrication to inspection, complete
// from inspection to completed). What an action records besides the stage
// and status (assignee, claim date, hand workers, reviewer, miscInfo, notes)
// is the same in every workflow (see Workflow.Apply).
type Rule struct {
	// Action is one of Actions.
	Action Action `json:"action" yaml:"action"`
	// Target is the status a set-status rule handles (set-status only;
	// empty for every other action).
	Target Status `json:"target,omitempty" yaml:"target,omitempty"`
	// From lists the stages the rule applies from (at least one).
	From []Category `json:"from" yaml:"from"`
	// To is the resulting stage: "" keeps the part where it is, StageByType
	// picks cnc or hand by the part's type, anything else names a stage.
	To Category `json:"to,omitempty" yaml:"to,omitempty"`
	// Status is the resulting status; "" is the action's own: Reviewed for
	// approve, In Progress for assign, start and revert, Completed for
	// complete, Target for set-status, and for unclaim Already Started when
	// work had begun (In Progress or Already Started), Pending otherwise.
	Status Status `json:"status,omitempty" yaml:"status,omitempty"`
}

// Workflow is a validated transition table over a set of stages
// (categories): for each action, the stages it is allowed from and where it
// leaves the part's stage and status. Build one with NewWorkflow, or use
// OriginalWorkflow or StrictWorkflow. A Workflow is immutable and safe for
// concurrent use.
type Workflow struct {
	spec WorkflowSpec
}

// Names of the built-in workflows, as WorkflowByName accepts them.
const (
	WorkflowOriginal = "original"
	WorkflowStrict   = "strict"
)

var (
	builtinStages = []Category{CategoryReview, CategoryCNC, CategoryHand, CategoryCompleted}
	working       = []Category{CategoryCNC, CategoryHand}
	open          = []Category{CategoryReview, CategoryCNC, CategoryHand}
	// anywhere is every category: the original API checked none except for
	// revert.
	anywhere = builtinStages
)

// originalWorkflow is the original API's table: every action from every
// category except revert, which needs a completed part.
var originalWorkflow = mustWorkflow(WorkflowSpec{
	Name:   WorkflowOriginal,
	Stages: builtinStages,
	Rules: []Rule{
		{Action: ActionApprove, From: anywhere, To: StageByType},
		{Action: ActionAssign, From: anywhere},
		{Action: ActionUnclaim, From: anywhere},
		{Action: ActionStart, From: anywhere},
		{Action: ActionComplete, From: anywhere, To: CategoryCompleted},
		{Action: ActionRevert, From: []Category{CategoryCompleted}, To: StageByType},
		{Action: ActionSetStatus, Target: StatusPending, From: anywhere},
		{Action: ActionSetStatus, Target: StatusReviewed, From: anywhere, To: StageByType},
		{Action: ActionSetStatus, Target: StatusInProgress, From: anywhere},
		{Action: ActionSetStatus, Target: StatusAlreadyStarted, From: anywhere},
		{Action: ActionSetStatus, Target: StatusCompleted, From: anywhere, To: CategoryCompleted},
	},
})

// strictWorkflow only lets a part move forward through its columns: approve
// from review, work (claim, unclaim, start, complete) in cnc or hand, revert
// from completed. Set-status follows the same rules: Reviewed approves,
// Completed completes.
var strictWorkflow = mustWorkflow(WorkflowSpec{
	Name:   WorkflowStrict,
	Stages: builtinStages,
	Rules: []Rule{
		{Action: ActionApprove, From: []Category{CategoryReview}, To: StageByType},
		{Action: ActionAssign, From: working},
		{Action: ActionUnclaim, From: working},
		{Action: ActionStart, From: working},
		{Action: ActionComplete, From: working, To: CategoryCompleted},
		{Action: ActionRevert, From: []Category{CategoryCompleted}, To: StageByType},
		{Action: ActionSetStatus, Target: StatusPending, From: open},
		{Action: ActionSetStatus, Target: StatusReviewed, From: []Category{CategoryReview}, To: StageByType},
		{Action: ActionSetStatus, Target: StatusInProgress, From: working},
		{Action: ActionSetStatus, Target: StatusAlreadyStarted, From: working},
		{Action: ActionSetStatus, Target: StatusCompleted, From: working, To: CategoryCompleted},
	},
})

func mustWorkflow(spec WorkflowSpec) *Workflow {
	w, err := NewWorkflow(spec)
	if err != nil {
		panic(err)
	}
	return w
}

// resultStatus is the status a rule leaves: its own, or its action's.
func resultStatus(r Rule, before Status) Status {
	if r.Status != "" {
		return r.Status
	}
	switch r.Action {
	case ActionApprove:
		return StatusReviewed
	case ActionUnclaim:
		return afterUnclaim(before)
	case ActionComplete:
		return StatusCompleted
	case ActionSetStatus:
		return r.Target
	}
	return StatusInProgress // assign, start, revert
}

// OriginalWorkflow returns the default workflow, the original API's: approve,
// assign (claim), unclaim, start, complete and every set-status are allowed
// from any category; only revert requires a completed part.
func OriginalWorkflow() *Workflow { return originalWorkflow }

// StrictWorkflow returns the opt-in workflow that keeps parts moving forward
// through their columns: approve only from review; assign, unclaim, start and
// complete only in cnc or hand; revert only from completed; set-status
// Pending from any open category, Reviewed from review, In Progress, Already
// Started and Completed from cnc or hand.
func StrictWorkflow() *Workflow { return strictWorkflow }

// WorkflowByName returns the built-in workflow called name ("original" or
// "strict"; "" is the default, original). An unknown name is a
// *ValidationError on field "workflow" listing the known ones.
func WorkflowByName(name string) (*Workflow, error) {
	switch name {
	case "", WorkflowOriginal:
		return originalWorkflow, nil
	case WorkflowStrict:
		return strictWorkflow, nil
	}
	return nil, invalid("workflow", "unknown workflow %q (want %s or %s)", name, WorkflowOriginal, WorkflowStrict)
}

// Name is the workflow's name, e.g. "original".
func (w *Workflow) Name() string { return w.spec.Name }

// Allowed reports which stages an action may start from; for
// ActionSetStatus, pass the target status. It returns nil for an unknown
// action or status.
func (w *Workflow) Allowed(a Action, target Status) []Category {
	var out []Category
	for _, r := range w.spec.Rules {
		if r.Action == a && (a != ActionSetStatus || r.Target == target) {
			out = append(out, r.From...)
		}
	}
	return out
}

// rule returns the rule of action a (set-status: to target) that applies
// from stage c.
func (w *Workflow) rule(a Action, target Status, c Category) (Rule, bool) {
	for _, r := range w.spec.Rules {
		if r.Action == a && (a != ActionSetStatus || r.Target == target) && slices.Contains(r.From, c) {
			return r, true
		}
	}
	return Rule{}, false
}

// Allowed is OriginalWorkflow().Allowed.
func Allowed(a Action, target Status) []Category { return originalWorkflow.Allowed(a, target) }

// Apply is OriginalWorkflow().Apply.
func Apply(p *Part, a Action, in ActionInput, now time.Time) (next *Part, changed bool, err error) {
	return originalWorkflow.Apply(p, a, in, now)
}

// Apply runs action a on a copy of p under workflow w at time now and returns the new part.
// It returns the unchanged copy and changed=false when the action changes
// nothing (the same person claiming again, starting a part In Progress,
// unclaiming an unassigned Pending or Already Started part). Errors:
// *TransitionError when the table does not allow the action from p's state,
// *ClaimConflictError when someone else holds the part, *ValidationError for
// bad input. Apply does not validate the resulting part; Service does.
func (w *Workflow) Apply(p *Part, a Action, in ActionInput, now time.Time) (next *Part, changed bool, err error) {
	next = p.Clone()
	if a == ActionSetStatus && !in.Status.Valid() {
		return next, false, invalid("status", "unknown status %q", in.Status)
	}
	if !slices.Contains(Actions, a) {
		return next, false, invalid("action", "unknown action %q", a)
	}
	t, ok := w.rule(a, in.Status, p.Category)
	if !ok {
		reason := "not allowed in workflow " + w.spec.Name
		if from := w.Allowed(a, in.Status); len(from) > 0 {
			reason = "allowed only from " + joinCategories(from)
		}
		return next, false, &TransitionError{Action: a, Category: p.Category, Status: p.Status, Reason: reason}
	}
	switch a {
	case ActionAssign:
		who := trimmed(in.Assignee)
		if who == "" {
			return next, false, invalid("assigned", "assigned is required")
		}
		if p.Assigned == who {
			return next, false, nil
		}
		if p.Assigned != "" {
			return next, false, &ClaimConflictError{HeldBy: p.Assigned}
		}
		setAssignee(next, who, now)
	case ActionUnclaim:
		next.Assigned = ""
		next.ClaimedDate = nil
	case ActionApprove:
		if len(in.MiscInfo) > 0 {
			next.MiscInfo = mergeMisc(next.MiscInfo, in.MiscInfo)
		}
		if r := trimmed(in.Reviewer); r != "" {
			next.MiscInfo = mergeMisc(next.MiscInfo, map[string]any{"reviewer": r})
		}
	case ActionComplete:
		if len(in.MiscInfo) > 0 {
			next.MiscInfo = mergeMisc(next.MiscInfo, in.MiscInfo)
		}
	}
	if in.Notes != nil && (a == ActionAssign || a == ActionSetStatus) {
		next.Notes = *in.Notes
	}
	switch t.To {
	case "":
	case StageByType:
		if p.Type == TypeCNC {
			next.Category = CategoryCNC
		} else {
			next.Category = CategoryHand
		}
	default:
		next.Category = t.To
	}
	next.Status = resultStatus(t, p.Status)
	next.normalize()
	return next, !samePart(p, next), nil
}

// setAssignee gives the part a new assignee at now, recording hand workers.
func setAssignee(p *Part, who string, now time.Time) {
	if who == p.Assigned {
		return
	}
	p.Assigned = who
	if who == "" {
		p.ClaimedDate = nil
		return
	}
	t := now.UTC()
	p.ClaimedDate = &t
	if p.Type == TypeHand {
		workers, _ := p.MiscInfo["handWorkers"].([]any)
		workers = append(slices.Clone(workers), map[string]any{
			"name":      who,
			"timestamp": t.Format(time.RFC3339Nano),
		})
		p.MiscInfo = mergeMisc(p.MiscInfo, map[string]any{"handWorkers": workers})
	}
}

func joinCategories(cs []Category) string {
	s := ""
	for i, c := range cs {
		if i > 0 {
			s += ", "
		}
		s += string(c)
	}
	return s
}
