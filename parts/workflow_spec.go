package parts

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// WorkflowSpec describes a workflow: its stages (the categories a part can
// be in), where new parts start, which stage holds finished parts, and the
// rules of its actions. NewWorkflow validates it. The statuses are the five
// of Statuses in every workflow.
type WorkflowSpec struct {
	// Name identifies the workflow in errors, logs and the API description:
	// lowercase letters, digits, '-' and '_', starting with a letter.
	Name string `json:"name" yaml:"name"`
	// Stages lists the stages in board order, named like Name.
	Stages []Category `json:"stages" yaml:"stages"`
	// Initial is where new parts start; "" is the first stage.
	Initial Category `json:"initial,omitempty" yaml:"initial,omitempty"`
	// Done is the stage of finished parts, which the leaderboard scores;
	// "" is "completed" when there is such a stage, else the last one.
	Done Category `json:"done,omitempty" yaml:"done,omitempty"`
	// Rules is the transition table.
	Rules []Rule `json:"rules" yaml:"rules"`
}

// WorkflowError lists everything wrong with a WorkflowSpec. It matches
// ErrInvalid.
type WorkflowError struct {
	// Workflow is the spec's name.
	Workflow string
	// Problems are sentences, one per problem, in the spec's order.
	Problems []string
}

// Error implements error.
func (e *WorkflowError) Error() string {
	return fmt.Sprintf("workflow %q: %s", e.Workflow, strings.Join(e.Problems, "; "))
}

// Is makes WorkflowError match ErrInvalid.
func (e *WorkflowError) Is(target error) bool { return target == ErrInvalid }

var stageName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)

// NewWorkflow validates spec and returns its workflow. Problems (a bad or
// duplicate name, an unknown stage or action or status, a rule with no
// source stage, two rules of one action applying from the same stage, a
// stage no rule reaches from the initial one) are reported together in a
// *WorkflowError.
func NewWorkflow(spec WorkflowSpec) (*Workflow, error) {
	spec = cloneSpec(spec)
	v := &specCheck{spec: &spec}
	v.names()
	v.roles()
	for i, r := range spec.Rules {
		v.rule(i, r)
	}
	v.overlaps()
	v.reachable()
	if len(v.problems) > 0 {
		return nil, &WorkflowError{Workflow: spec.Name, Problems: v.problems}
	}
	return &Workflow{spec: spec}, nil
}

func cloneSpec(s WorkflowSpec) WorkflowSpec {
	s.Stages = slices.Clone(s.Stages)
	s.Rules = slices.Clone(s.Rules)
	for i := range s.Rules {
		s.Rules[i].From = slices.Clone(s.Rules[i].From)
	}
	return s
}

// specCheck collects the problems of a spec.
type specCheck struct {
	spec     *WorkflowSpec
	problems []string
}

func (v *specCheck) addf(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

func (v *specCheck) names() {
	if !stageName.MatchString(v.spec.Name) {
		v.addf("name %q must be lowercase letters, digits, '-' or '_', starting with a letter", v.spec.Name)
	}
	if len(v.spec.Stages) == 0 {
		v.addf("no stages")
	}
	seen := map[Category]bool{}
	for _, c := range v.spec.Stages {
		switch {
		case c == StageByType:
			v.addf("stage name %q is reserved", c)
		case !stageName.MatchString(string(c)):
			v.addf("stage name %q must be lowercase letters, digits, '-' or '_', starting with a letter", c)
		case seen[c]:
			v.addf("duplicate stage %q", c)
		}
		seen[c] = true
	}
}

// roles fills in and checks Initial and Done.
func (v *specCheck) roles() {
	st := v.spec.Stages
	if len(st) == 0 {
		return
	}
	if v.spec.Initial == "" {
		v.spec.Initial = st[0]
	}
	if v.spec.Done == "" {
		v.spec.Done = st[len(st)-1]
		if slices.Contains(st, CategoryCompleted) {
			v.spec.Done = CategoryCompleted
		}
	}
	if !slices.Contains(st, v.spec.Initial) {
		v.addf("initial stage %q is not a stage", v.spec.Initial)
	}
	if !slices.Contains(st, v.spec.Done) {
		v.addf("done stage %q is not a stage", v.spec.Done)
	}
}

func (v *specCheck) rule(i int, r Rule) {
	what := fmt.Sprintf("rule %d (%s)", i+1, r.Action)
	switch {
	case !slices.Contains(Actions, r.Action):
		v.addf("%s: unknown action %q", what, r.Action)
	case r.Action == ActionSetStatus && !r.Target.Valid():
		v.addf("%s: set-status needs a target status, one of %s (got %q)", what, joinStatuses(Statuses), r.Target)
	case r.Action != ActionSetStatus && r.Target != "":
		v.addf("%s: only set-status rules have a target status", what)
	}
	if r.Status != "" && !r.Status.Valid() {
		v.addf("%s: unknown resulting status %q", what, r.Status)
	}
	if len(r.From) == 0 {
		v.addf("%s: no source stage (from)", what)
	}
	for _, c := range r.From {
		if !slices.Contains(v.spec.Stages, c) {
			v.addf("%s: unknown stage %q in from", what, c)
		}
	}
	switch {
	case r.To == "":
	case r.To == StageByType:
		if !slices.Contains(v.spec.Stages, CategoryCNC) || !slices.Contains(v.spec.Stages, CategoryHand) {
			v.addf("%s: to %q needs the stages cnc and hand", what, StageByType)
		}
	case !slices.Contains(v.spec.Stages, r.To):
		v.addf("%s: unknown stage %q in to", what, r.To)
	}
}

// overlaps reports two rules of one action (and set-status target) that
// apply from the same stage: which one runs would be ambiguous.
func (v *specCheck) overlaps() {
	type key struct {
		a Action
		t Status
		c Category
	}
	first := map[key]int{}
	for i, r := range v.spec.Rules {
		for _, c := range r.From {
			k := key{r.Action, r.Target, c}
			if j, ok := first[k]; ok && j != i {
				v.addf("rules %d and %d (%s) both apply from stage %q", j+1, i+1, r.Action, c)
				continue
			}
			first[k] = i
		}
	}
}

// reachable reports stages that no sequence of rules reaches from the
// initial stage.
func (v *specCheck) reachable() {
	if len(v.problems) > 0 {
		return // names and rules must be sound first
	}
	seen := map[Category]bool{v.spec.Initial: true}
	for grew := true; grew; {
		grew = false
		for _, r := range v.spec.Rules {
			if !slices.ContainsFunc(r.From, func(c Category) bool { return seen[c] }) {
				continue
			}
			to := []Category{r.To}
			if r.To == StageByType {
				to = []Category{CategoryCNC, CategoryHand}
			}
			for _, c := range to {
				if c != "" && !seen[c] {
					seen[c], grew = true, true
				}
			}
		}
	}
	for _, c := range v.spec.Stages {
		if !seen[c] {
			v.addf("stage %q is unreachable from the initial stage %q", c, v.spec.Initial)
		}
	}
}

func joinStatuses(ss []Status) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

// Spec returns a copy of the workflow's description, with Initial and Done
// filled in.
func (w *Workflow) Spec() WorkflowSpec { return cloneSpec(w.spec) }

// Stages lists the workflow's stages in board order.
func (w *Workflow) Stages() []Category { return slices.Clone(w.spec.Stages) }

// HasStage reports whether c is one of the workflow's stages.
func (w *Workflow) HasStage(c Category) bool { return slices.Contains(w.spec.Stages, c) }

// Initial is the stage new parts start in.
func (w *Workflow) Initial() Category { return w.spec.Initial }

// Done is the stage of finished parts.
func (w *Workflow) Done() Category { return w.spec.Done }

// Validate checks p like Part.Validate, with the workflow's stages as the
// known categories.
func (w *Workflow) Validate(p *Part) error {
	return p.validate(w)
}
