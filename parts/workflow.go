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

// transition is one row of the workflow table.
type transition struct {
	from     []Category
	category categoryRule
	status   statusRule
}

var (
	working = []Category{CategoryCNC, CategoryHand}
	open    = []Category{CategoryReview, CategoryCNC, CategoryHand}
)

// workflow is the transition table: for each action, the categories it is
// allowed from and where it leaves the part. Side effects on assignee,
// reviewer, notes and miscInfo are in Apply.
var workflow = map[Action]transition{
	ActionApprove:  {from: []Category{CategoryReview}, category: categoryByType, status: fixed(StatusReviewed)},
	ActionAssign:   {from: working, category: keepCategory, status: fixed(StatusInProgress)},
	ActionUnclaim:  {from: working, category: keepCategory, status: afterUnclaim},
	ActionStart:    {from: working, category: keepCategory, status: fixed(StatusInProgress)},
	ActionComplete: {from: working, category: toCompleted, status: fixed(StatusCompleted)},
	ActionRevert:   {from: []Category{CategoryCompleted}, category: categoryByType, status: fixed(StatusInProgress)},
}

// setStatusTable says, for each target status of set-status, which categories
// allow it and where the part ends up. Reviewed approves, Completed completes.
var setStatusTable = map[Status]transition{
	StatusPending:        {from: open, category: keepCategory, status: fixed(StatusPending)},
	StatusReviewed:       {from: []Category{CategoryReview}, category: categoryByType, status: fixed(StatusReviewed)},
	StatusInProgress:     {from: working, category: keepCategory, status: fixed(StatusInProgress)},
	StatusAlreadyStarted: {from: working, category: keepCategory, status: fixed(StatusAlreadyStarted)},
	StatusCompleted:      {from: working, category: toCompleted, status: fixed(StatusCompleted)},
}

// Allowed reports which categories an action may start from; for
// ActionSetStatus, pass the target status.
func Allowed(a Action, target Status) []Category {
	t, ok := rule(a, target)
	if !ok {
		return nil
	}
	return slices.Clone(t.from)
}

func rule(a Action, target Status) (transition, bool) {
	if a == ActionSetStatus {
		t, ok := setStatusTable[target]
		return t, ok
	}
	t, ok := workflow[a]
	return t, ok
}

// Apply runs action a on a copy of p at time now and returns the new part.
// It returns the unchanged copy and changed=false when the action changes
// nothing (the same person claiming again, starting a part In Progress,
// unclaiming an unassigned Pending or Already Started part). Errors:
// *TransitionError when the table does not allow the action from p's state,
// *ClaimConflictError when someone else holds the part, *ValidationError for
// bad input. Apply does not validate the resulting part; Service does.
func Apply(p *Part, a Action, in ActionInput, now time.Time) (next *Part, changed bool, err error) {
	next = p.Clone()
	if a == ActionSetStatus && !in.Status.Valid() {
		return next, false, invalid("status", "unknown status %q", in.Status)
	}
	t, ok := rule(a, in.Status)
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
