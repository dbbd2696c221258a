package partstest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
)

// InspectionWorkflow is a custom workflow for tests and examples: finished
// fabrication goes to an "inspection" stage (Pending), from which complete
// finishes the part and revert sends it back to its fabrication stage.
func InspectionWorkflow() *parts.Workflow {
	work := []parts.Category{parts.CategoryCNC, parts.CategoryHand}
	all := []parts.Category{parts.CategoryReview, parts.CategoryCNC, parts.CategoryHand, "inspection"}
	w, err := parts.NewWorkflow(parts.WorkflowSpec{
		Name:   "inspection",
		Stages: []parts.Category{parts.CategoryReview, parts.CategoryCNC, parts.CategoryHand, "inspection", parts.CategoryCompleted},
		Rules: []parts.Rule{
			{Action: parts.ActionApprove, From: []parts.Category{parts.CategoryReview}, To: parts.StageByType},
			{Action: parts.ActionAssign, From: all[1:]},
			{Action: parts.ActionUnclaim, From: all[1:]},
			{Action: parts.ActionStart, From: work},
			{Action: parts.ActionComplete, From: work, To: "inspection", Status: parts.StatusPending},
			{Action: parts.ActionComplete, From: []parts.Category{"inspection"}, To: parts.CategoryCompleted},
			{Action: parts.ActionRevert, From: []parts.Category{"inspection", parts.CategoryCompleted}, To: parts.StageByType},
			{Action: parts.ActionSetStatus, Target: parts.StatusPending, From: all},
			{Action: parts.ActionSetStatus, Target: parts.StatusAlreadyStarted, From: work},
		},
	})
	if err != nil {
		panic(err)
	}
	return w
}

// RunWorkflow runs the workflow suite: a parts.Service with flow over stores
// from newStore (new and empty each time; RunWorkflow closes them) must move
// parts exactly as flow's rules declare, refuse every other action without
// writing, and list, count, validate, score and check stranded parts by
// flow's stages. The expected outcomes are computed here from the rules and
// the documented default statuses, not by calling the workflow.
func RunWorkflow(t *testing.T, newStore func(t *testing.T) parts.Store, flow *parts.Workflow) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env, flow *parts.Workflow)
	}{
		{"every rule moves the part as declared", testRulesApply},
		{"actions from other stages are refused and write nothing", testRulesRefuse},
		{"new parts start in the initial stage", testInitialStage},
		{"categories outside the workflow are invalid", testUnknownStage},
		{"every stage is listed and counted", testStagesListed},
		{"the leaderboard scores the done stage", testDoneScored},
		{"parts in removed stages are counted as stranded", testStranded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := closedAtEnd(t, newStore(t))
			clk := &clock{t: time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)}
			e := &env{ctx: t.Context(), store: s, svc: parts.NewService(s, &parts.Options{Now: clk.now, Workflow: flow}), clk: clk}
			tc.fn(t, e, flow)
		})
	}
}

// defaultStatus is the documented status an action leaves when its rule
// names none.
func defaultStatus(a parts.Action, target, before parts.Status) parts.Status {
	switch a {
	case parts.ActionApprove:
		return parts.StatusReviewed
	case parts.ActionComplete:
		return parts.StatusCompleted
	case parts.ActionSetStatus:
		return target
	case parts.ActionUnclaim:
		if before == parts.StatusInProgress || before == parts.StatusAlreadyStarted {
			return parts.StatusAlreadyStarted
		}
		return parts.StatusPending
	}
	return parts.StatusInProgress
}

// state is the part of a part's state the workflow moves.
type state struct {
	category parts.Category
	status   parts.Status
	assigned string
}

// expected is where rule r leaves a part in state s with type typ. The same
// person claiming again changes nothing.
func expected(r parts.Rule, s state, typ parts.Type) state {
	if r.Action == parts.ActionAssign && s.assigned == "alice" {
		return s
	}
	out := s
	switch r.To {
	case "":
	case parts.StageByType:
		out.category = parts.CategoryHand
		if typ == parts.TypeCNC {
			out.category = parts.CategoryCNC
		}
	default:
		out.category = r.To
	}
	out.status = r.Status
	if out.status == "" {
		out.status = defaultStatus(r.Action, r.Target, s.status)
	}
	switch r.Action {
	case parts.ActionAssign:
		out.assigned = "alice"
	case parts.ActionUnclaim:
		out.assigned = ""
	}
	return out
}

// nextID numbers imported parts across a subtest.
type nextID struct{ n int64 }

// place imports a part in state s and returns its id.
func (e *env) place(t *testing.T, ids *nextID, s state, typ parts.Type) int64 {
	t.Helper()
	ids.n++
	p := sample(int(ids.n))
	p.ID, p.Type, p.Category, p.Status, p.Assigned = ids.n, typ, s.category, s.status, s.assigned
	if _, err := e.svc.ImportPart(e.ctx, p, "tester"); err != nil {
		t.Fatalf("ImportPart(%+v): %v", s, err)
	}
	return ids.n
}

func input(r parts.Rule) parts.ActionInput {
	return parts.ActionInput{Actor: "wf-actor", Assignee: "alice", Status: r.Target}
}

func testRulesApply(t *testing.T, e *env, flow *parts.Workflow) {
	ids := &nextID{}
	for _, r := range flow.Spec().Rules {
		for _, from := range r.From {
			for _, typ := range []parts.Type{parts.TypeCNC, parts.TypeHand} {
				for _, st := range parts.Statuses {
					for _, who := range []string{"", "alice"} {
						s := state{from, st, who}
						checkRule(t, e, r, s, e.place(t, ids, s, typ), typ)
					}
				}
			}
		}
	}
}

func checkRule(t *testing.T, e *env, r parts.Rule, s state, id int64, typ parts.Type) {
	t.Helper()
	want := expected(r, s, typ)
	before := e.get(t, id)
	got, err := e.svc.Act(e.ctx, id, r.Action, input(r))
	what := fmt.Sprintf("%s %s from %+v (%s)", r.Action, r.Target, s, typ)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if (state{got.Category, got.Status, got.Assigned}) != want {
		t.Errorf("%s left %s/%s/%q, want %+v", what, got.Category, got.Status, got.Assigned, want)
	}
	stored := e.get(t, id)
	changed := want != s
	if stored.Category != want.category || stored.Status != want.status || (stored.Version > before.Version) != changed {
		t.Errorf("%s stored %s/%s version %d (was %d), want %+v changed=%v", what, stored.Category, stored.Status,
			stored.Version, before.Version, want, changed)
	}
	if changed {
		evs, err := e.svc.History(e.ctx, id)
		if err != nil || len(evs) == 0 || evs[len(evs)-1].Action != string(r.Action) || evs[len(evs)-1].Actor != "wf-actor" {
			t.Errorf("%s: history %v, %v; want a last %s event by wf-actor", what, actions(evs), err, r.Action)
		}
	}
}

// targets lists what to try an action with: every status for set-status.
func targets(a parts.Action) []parts.Status {
	if a == parts.ActionSetStatus {
		return parts.Statuses
	}
	return []parts.Status{""}
}

func testRulesRefuse(t *testing.T, e *env, flow *parts.Workflow) {
	ids := &nextID{}
	for _, a := range parts.Actions {
		for _, target := range targets(a) {
			for _, c := range flow.Stages() {
				if slices.Contains(flow.Allowed(a, target), c) {
					continue
				}
				id := e.place(t, ids, state{c, parts.StatusInProgress, "alice"}, parts.TypeCNC)
				_, err := e.svc.Act(e.ctx, id, a, parts.ActionInput{Actor: "x", Assignee: "alice", Status: target})
				var te *parts.TransitionError
				if !errors.Is(err, parts.ErrInvalidTransition) || !errors.As(err, &te) || te.Category != c {
					t.Errorf("%s %s from %s: err = %v, want a TransitionError", a, target, c, err)
				}
				if p := e.get(t, id); p.Version != 1 || p.Category != c {
					t.Errorf("%s %s from %s wrote version %d in %s", a, target, c, p.Version, p.Category)
				}
			}
		}
	}
}

func testInitialStage(t *testing.T, e *env, flow *parts.Workflow) {
	p := e.create(t, sample(1))
	if p.Category != flow.Initial() || p.Status != parts.StatusPending {
		t.Errorf("new part in %s/%s, want %s/Pending", p.Category, p.Status, flow.Initial())
	}
}

func testUnknownStage(t *testing.T, e *env, flow *parts.Workflow) {
	bad := parts.Category("nowhere")
	p := sample(1)
	p.Category = bad
	if _, err := e.svc.CreatePart(e.ctx, p, "x"); !errors.Is(err, parts.ErrInvalid) {
		t.Errorf("create in %s: err = %v, want ErrInvalid", bad, err)
	}
	created := e.create(t, sample(2))
	if _, err := e.svc.UpdatePart(e.ctx, created.ID, parts.Update{Category: &bad, Actor: "x"}); !errors.Is(err, parts.ErrInvalid) {
		t.Errorf("update to %s: err = %v, want ErrInvalid", bad, err)
	}
	if _, _, err := e.svc.FindParts(e.ctx, parts.Filter{Category: bad}); !errors.Is(err, parts.ErrInvalid) {
		t.Errorf("filter by %s: err = %v, want ErrInvalid", bad, err)
	}
}

func testStagesListed(t *testing.T, e *env, flow *parts.Workflow) {
	ids := &nextID{}
	want := map[parts.Category]int64{}
	for _, c := range flow.Stages() {
		want[c] = e.place(t, ids, state{c, parts.StatusPending, ""}, parts.TypeHand)
	}
	for _, c := range flow.Stages() {
		ps, n := e.find(t, parts.Filter{Category: c})
		if n != 1 || len(ps) != 1 || ps[0].ID != want[c] {
			t.Errorf("FindParts(%s) = %v (total %d), want part %d", c, ids2(ps), n, want[c])
		}
	}
	st, err := e.svc.Stats(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.ByCategory) != len(flow.Stages()) {
		t.Errorf("Stats.ByCategory = %v, want the %d stages", st.ByCategory, len(flow.Stages()))
	}
	for _, c := range flow.Stages() {
		if st.ByCategory[c] != 1 {
			t.Errorf("Stats.ByCategory[%s] = %d, want 1", c, st.ByCategory[c])
		}
	}
}

func ids2(ps []*parts.Part) []int64 { return ids(ps) }

func testDoneScored(t *testing.T, e *env, flow *parts.Workflow) {
	ids := &nextID{}
	e.place(t, ids, state{flow.Done(), parts.StatusCompleted, "dora"}, parts.TypeCNC)
	for _, c := range flow.Stages() {
		if c != flow.Done() {
			e.place(t, ids, state{c, parts.StatusInProgress, "otto"}, parts.TypeCNC)
		}
	}
	scores, err := e.svc.Leaderboard(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(scores) != 1 || scores[0].Name != "dora" || scores[0].Score != 1 {
		t.Errorf("Leaderboard = %+v, want dora 1 only", scores)
	}
}

func testStranded(t *testing.T, e *env, flow *parts.Workflow) {
	if err := e.svc.CheckWorkflow(e.ctx); err != nil {
		t.Fatalf("CheckWorkflow on an empty store: %v", err)
	}
	ids := &nextID{}
	e.place(t, ids, state{flow.Initial(), parts.StatusPending, ""}, parts.TypeCNC)
	if err := e.svc.CheckWorkflow(e.ctx); err != nil {
		t.Fatalf("CheckWorkflow with parts in its stages: %v", err)
	}
	for i := range 2 {
		p := sample(100 + i)
		p.ID, p.Category, p.Status, p.Version = int64(100+i), "powder-coat", parts.StatusPending, 1
		p.CreatedAt = e.clk.now().UTC().Truncate(time.Microsecond)
		p.UpdatedAt = p.CreatedAt
		e.put(t, p) // a stage of an earlier configuration, written past the service
	}
	err := e.svc.CheckWorkflow(e.ctx)
	if !errors.Is(err, parts.ErrInvalid) || !strings.Contains(err.Error(), `2 in "powder-coat"`) {
		t.Errorf("CheckWorkflow = %v, want ErrInvalid naming 2 parts in powder-coat", err)
	}
}
