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
}

// categoryRule says where an action leaves the part.
type categoryRule int

const (
	keepCategory   categoryRule = iota
	categoryByType              // cnc for cnc parts, hand otherwise
	toCompleted
)

// statusRule computes the status after an action from the status before it.
type statusRule func(Status) Status

func fixed(s Status) statusRule { return func(Status) Status { return s } }

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

// transition is one row of a workflow table.
type transition struct {
	from     []Category
	category categoryRule
	status   statusRule
}

var (
	working = []Category{CategoryCNC, CategoryHand}
	open    = []Category{CategoryReview, CategoryCNC, CategoryHand}
	// anywhere is every category: the original API checked none except for
	// revert.
	anywhere = []Category{CategoryReview, CategoryCNC, CategoryHand, CategoryCompleted}
)

// Workflow is a transition table: for each action, the categories it is
// allowed from and where it leaves the part's category and status. Side
// effects on assignee, reviewer, notes and miscInfo are the same in every
// workflow (see Apply). A Workflow is immutable and safe for concurrent use;
// get one from OriginalWorkflow or StrictWorkflow.
type Workflow struct {
	name      string
	actions   map[Action]transition
	setStatus map[Status]transition
}

// Names of the built-in workflows, as WorkflowByName accepts them.
const (
	WorkflowOriginal = "original"
	WorkflowStrict   = "strict"
)

// originalWorkflow is the original API's table: every action from every
// category except revert, which needs a completed part.
var originalWorkflow = &Workflow{
	name: WorkflowOriginal,
	actions: map[Action]transition{
		ActionApprove:  {from: anywhere, category: categoryByType, status: fixed(StatusReviewed)},
		ActionAssign:   {from: anywhere, category: keepCategory, status: fixed(StatusInProgress)},
		ActionUnclaim:  {from: anywhere, category: keepCategory, status: afterUnclaim},
		ActionStart:    {from: anywhere, category: keepCategory, status: fixed(StatusInProgress)},
		ActionComplete: {from: anywhere, category: toCompleted, status: fixed(StatusCompleted)},
		ActionRevert:   {from: []Category{CategoryCompleted}, category: categoryByType, status: fixed(StatusInProgress)},
	},
	setStatus: map[Status]transition{
		StatusPending:        {from: anywhere, category: keepCategory, status: fixed(StatusPending)},
		StatusReviewed:       {from: anywhere, category: categoryByType, status: fixed(StatusReviewed)},
		StatusInProgress:     {from: anywhere, category: keepCategory, status: fixed(StatusInProgress)},
		StatusAlreadyStarted: {from: anywhere, category: keepCategory, status: fixed(StatusAlreadyStarted)},
		StatusCompleted:      {from: anywhere, category: toCompleted, status: fixed(StatusCompleted)},
	},
}

// strictWorkflow only lets a part move forward through its columns: approve
// from review, work (claim, unclaim, start, complete) in cnc or hand, revert
// from completed. Set-status follows the same rules: Reviewed approves,
// Completed completes.
var strictWorkflow = &Workflow{
	name: WorkflowStrict,
	actions: map[Action]transition{
		ActionApprove:  {from: []Category{CategoryReview}, category: categoryByType, status: fixed(StatusReviewed)},
		ActionAssign:   {from: working, category: keepCategory, status: fixed(StatusInProgress)},
		ActionUnclaim:  {from: working, category: keepCategory, status: afterUnclaim},
		ActionStart:    {from: working, category: keepCategory, status: fixed(StatusInProgress)},
		ActionComplete: {from: working, category: toCompleted, status: fixed(StatusCompleted)},
		ActionRevert:   {from: []Category{CategoryCompleted}, category: categoryByType, status: fixed(StatusInProgress)},
	},
	setStatus: map[Status]transition{
		StatusPending:        {from: open, category: keepCategory, status: fixed(StatusPending)},
		StatusReviewed:       {from: []Category{CategoryReview}, category: categoryByType, status: fixed(StatusReviewed)},
		StatusInProgress:     {from: working, category: keepCategory, status: fixed(StatusInProgress)},
		StatusAlreadyStarted: {from: working, category: keepCategory, status: fixed(StatusAlreadyStarted)},
		StatusCompleted:      {from: working, category: toCompleted, status: fixed(StatusCompleted)},
	},
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
func (w *Workflow) Name() string { return w.name }

// Allowed reports which categories an action may start from; for
// ActionSetStatus, pass the target status. It returns nil for an unknown
// action or status.
func (w *Workflow) Allowed(a Action, target Status) []Category {
	t, ok := w.rule(a, target)
	if !ok {
		return nil
	}
	return slices.Clone(t.from)
}

func (w *Workflow) rule(a Action, target Status) (transition, bool) {
	if a == ActionSetStatus {
		t, ok := w.setStatus[target]
		return t, ok
	}
	t, ok := w.actions[a]
	return t, ok
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
	t, ok := w.rule(a, in.Status)
	if !ok {
		return next, false, invalid("action", "unknown action %q", a)
	}
	if !slices.Contains(t.from, p.Category) {
		reason := "allowed only from " + joinCategories(t.from)
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
	switch t.category {
	case categoryByType:
		if p.Type == TypeCNC {
			next.Category = CategoryCNC
		} else {
			next.Category = CategoryHand
		}
	case toCompleted:
		next.Category = CategoryCompleted
	}
	next.Status = t.status(p.Status)
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
