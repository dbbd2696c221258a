package partstest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/partflow/partflow/parts"
)

// RunStore runs the parts.Store conformance suite. newStore must return a new,
// empty store each time it is called; RunStore closes every store it gets.
func RunStore(t *testing.T, newStore func(t *testing.T) parts.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"created part round-trips every field", testRoundTrip},
		{"missing part gives ErrNotFound", testNotFound},
		{"stale version gives ErrConflict and writes nothing", testStaleVersion},
		{"failed Update rolls back and returns fn's error", testRollback},
		{"ids are not reused after delete", testNoIDReuse},
		{"imported parts keep their ids and new ids go above them", testImportIDs},
		{"racing claims have exactly one winner", testRacingClaims},
		{"concurrent updates lose nothing", testConcurrentUpdates},
		{"category filter returns only that category", testCategoryFilter},
		{"search matches case-insensitive substrings literally", testSearch},
		{"search follows updates and deletes", testSearchFollowsWrites},
		{"every sort order pages stably", testSortAndPaging},
		{"totals count every match before paging", testTotals},
		{"stats follow creates updates and deletes", testStats},
		{"history is oldest first with the changes", testHistory},
		{"jobs are claimed oldest first exactly once", testJobs},
		{"concurrent NextJob never hands out a job twice", testJobsConcurrent},
		{"times are UTC with microsecond precision", testTimes},
		{"cancelled context gives an error", testCancelled},
		{"returned parts are copies", testNoAliasing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			clk := &clock{t: time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.FixedZone("UTC+5:30", 5*3600+1800))}
			e := &env{ctx: t.Context(), store: s, svc: parts.NewService(s, &parts.Options{Now: clk.now}), clk: clk}
			tc.fn(t, e)
		})
	}
}

type env struct {
	ctx   context.Context
	store parts.Store
	svc   *parts.Service
	clk   *clock
}

// clock is a deterministic clock in a non-UTC zone that advances by a little
// over a second, with sub-microsecond digits, on every reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second + 1234*time.Microsecond + 567*time.Nanosecond)
	return c.t
}

// sample returns a valid new part.
func sample(i int) *parts.Part {
	return &parts.Part{
		PartID:    fmt.Sprintf("P-%03d", i),
		Name:      fmt.Sprintf("bracket %d", i),
		Type:      parts.TypeCNC,
		Material:  "aluminum",
		Subsystem: "drive",
		Amount:    1 + i%4,
	}
}

func (e *env) create(t *testing.T, p *parts.Part) *parts.Part {
	t.Helper()
	out, err := e.svc.CreatePart(e.ctx, p, "tester")
	if err != nil {
		t.Fatalf("CreatePart(%s): %v", p.PartID, err)
	}
	return out
}

// put stores p as it is, straight through a Tx, and returns its id.
func (e *env) put(t *testing.T, p *parts.Part) int64 {
	t.Helper()
	err := e.store.Update(e.ctx, func(ctx context.Context, tx parts.Tx) error {
		return tx.CreatePart(ctx, p)
	})
	if err != nil {
		t.Fatalf("Tx.CreatePart: %v", err)
	}
	return p.ID
}

func (e *env) get(t *testing.T, id int64) *parts.Part {
	t.Helper()
	p, err := e.store.FindPartByID(e.ctx, id)
	if err != nil {
		t.Fatalf("FindPartByID(%d): %v", id, err)
	}
	return p
}

func (e *env) find(t *testing.T, f parts.Filter) ([]*parts.Part, int) {
	t.Helper()
	ps, n, err := e.svc.FindParts(e.ctx, f)
	if err != nil {
		t.Fatalf("FindParts(%+v): %v", f, err)
	}
	return ps, n
}

func ids(ps []*parts.Part) []int64 {
	out := make([]int64, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func partIDs(ps []*parts.Part) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.PartID
	}
	slices.Sort(out)
	return out
}

// full returns a part with every field set, times in a non-UTC zone.
func full() *parts.Part {
	zone := time.FixedZone("UTC-7", -7*3600)
	claimed := time.Date(2024, 2, 29, 23, 59, 58, 123456000, zone)
	p := &parts.Part{
		PartID: "FULL-1", Name: "Gearbox housing", Type: parts.TypeHand, Material: "6061-T6 aluminium",
		Subsystem: "drivetrain", Assigned: "Ada", Status: parts.StatusInProgress, Category: parts.CategoryHand,
		Amount: 3, Notes: "Deburr all edges.\nCheck the bore: Ø22 H7.", File: "housing.step",
		OnshapeURL: "https://cad.onshape.com/documents/abc",
		MiscInfo: map[string]any{
			"reviewer": "Grace",
			"handWorkers": []any{
				map[string]any{"name": "Ada", "timestamp": "2024-02-29T23:59:58Z"},
			},
			"nested": map[string]any{"depth": 2.5, "ok": true, "list": []any{"a", 1.0}},
		},
		ClaimedDate: &claimed,
		CreatedAt:   time.Date(2024, 1, 2, 3, 4, 5, 678901000, zone),
		UpdatedAt:   time.Date(2024, 3, 1, 0, 0, 0, 1000, zone),
		Version:     7,
		Files: []parts.File{
			{Name: "housing.step", OriginalName: "Housing v2.STEP", Kind: parts.FileCAD, Key: "parts/1/cad/housing.step",
				Size: 12345, SHA256: strings.Repeat("ab", 32), ContentType: "application/step",
				UploadedAt: time.Date(2024, 3, 1, 0, 0, 0, 999000, zone)},
			{Name: "view_3.png", Kind: parts.FileView, View: 3, Key: "parts/1/views/3.png", Size: 99,
				SHA256: strings.Repeat("cd", 32), ContentType: "image/png", UploadedAt: time.Date(2024, 3, 1, 1, 0, 0, 0, time.UTC)},
		},
		Model: parts.Model{State: parts.ModelFailed, Error: "bad STEP", Source: strings.Repeat("ab", 32)},
	}
	// A plain field added after this suite was written is set too.
	for _, f := range parts.Fields() {
		if f.Kind != parts.FieldInt && *f.Text(p) == "" {
			*f.Text(p) = "some " + f.Label
		}
	}
	return p
}

// inUTC returns a copy of p with every time in UTC, the form stores return.
func inUTC(p *parts.Part) *parts.Part {
	c := p.Clone()
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if c.ClaimedDate != nil {
		t := c.ClaimedDate.UTC()
		c.ClaimedDate = &t
	}
	for i := range c.Files {
		c.Files[i].UploadedAt = c.Files[i].UploadedAt.UTC()
	}
	return c
}

func testRoundTrip(t *testing.T, e *env) {
	in := full()
	want := inUTC(in)
	id := e.put(t, in)
	if id <= 0 {
		t.Fatalf("CreatePart set ID %d, want > 0", id)
	}
	want.ID = id
	got := e.get(t, id)
	if d := gocmp.Diff(want, got); d != "" {
		t.Errorf("FindPartByID differs from the created part (-want +got):\n%s", d)
	}
	second := sample(2)
	id2 := e.put(t, second)
	if id2 <= id {
		t.Errorf("second id %d, want > %d", id2, id)
	}
	// A part with no optional data comes back without it.
	got2 := e.get(t, id2)
	if got2.MiscInfo != nil || got2.Files != nil || got2.ClaimedDate != nil {
		t.Errorf("empty optional fields came back as MiscInfo=%v Files=%v ClaimedDate=%v", got2.MiscInfo, got2.Files, got2.ClaimedDate)
	}

	// Through the Service: what CreatePart returns is what is stored.
	created := e.create(t, sample(3))
	if d := gocmp.Diff(created, e.get(t, created.ID)); d != "" {
		t.Errorf("stored part differs from Service.CreatePart's result (-created +stored):\n%s", d)
	}

	// UpdatePart replaces every field.
	upd := full()
	upd.ID, upd.Name, upd.MiscInfo, upd.Files, upd.ClaimedDate, upd.Version = id, "Renamed", nil, nil, nil, 8
	err := e.store.Update(e.ctx, func(ctx context.Context, tx parts.Tx) error {
		return tx.UpdatePart(ctx, upd, 7)
	})
	if err != nil {
		t.Fatalf("UpdatePart: %v", err)
	}
	if d := gocmp.Diff(inUTC(upd), e.get(t, id)); d != "" {
		t.Errorf("part after UpdatePart (-want +got):\n%s", d)
	}

	// Deleting removes only that part.
	err = e.store.Update(e.ctx, func(ctx context.Context, tx parts.Tx) error {
		return tx.DeletePart(ctx, id, 8)
	})
	if err != nil {
		t.Fatalf("DeletePart: %v", err)
	}
	if _, err := e.store.FindPartByID(e.ctx, id); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("FindPartByID after delete: %v, want ErrNotFound", err)
	}
	e.get(t, id2)
}

func testNotFound(t *testing.T, e *env) {
	known := e.create(t, sample(1))
	missing := known.ID + 1000
	if _, err := e.store.FindPartByID(e.ctx, missing); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("Store.FindPartByID: %v, want ErrNotFound", err)
	}
	if _, err := e.svc.FindPartByID(e.ctx, missing); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("Service.FindPartByID: %v, want ErrNotFound", err)
	}
	cases := map[string]func(ctx context.Context, tx parts.Tx) error{
		"Tx.FindPartByID": func(ctx context.Context, tx parts.Tx) error {
			_, err := tx.FindPartByID(ctx, missing)
			return err
		},
		"Tx.UpdatePart": func(ctx context.Context, tx parts.Tx) error {
			p := sample(9)
			p.ID, p.Version = missing, 2
			return tx.UpdatePart(ctx, p, 1)
		},
		"Tx.DeletePart": func(ctx context.Context, tx parts.Tx) error { return tx.DeletePart(ctx, missing, 1) },
	}
	for name, fn := range cases {
		if err := e.store.Update(e.ctx, fn); !errors.Is(err, parts.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	if _, err := e.svc.UpdatePart(e.ctx, missing, parts.Update{Name: ptr("x")}); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("Service.UpdatePart: %v, want ErrNotFound", err)
	}
	if err := e.svc.DeletePart(e.ctx, missing, 0, "x"); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("Service.DeletePart: %v, want ErrNotFound", err)
	}
	if _, err := e.svc.History(e.ctx, missing); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("Service.History of a part that never existed: %v, want ErrNotFound", err)
	}
	evs, err := e.store.FindEvents(e.ctx, missing)
	if err != nil || len(evs) != 0 {
		t.Errorf("Store.FindEvents(missing) = %d events, %v; want none and no error", len(evs), err)
	}
}

func ptr[T any](v T) *T { return &v }

func testStaleVersion(t *testing.T, e *env) {
	p := e.create(t, sample(1))
	p, err := e.svc.UpdatePart(e.ctx, p.ID, parts.Update{Notes: ptr("first")})
	if err != nil {
		t.Fatal(err)
	}
	before := e.get(t, p.ID)
	evsBefore, _ := e.store.FindEvents(e.ctx, p.ID)

	stale := before.Clone()
	stale.Notes, stale.Version = "lost write", before.Version+1
	err = e.store.Update(e.ctx, func(ctx context.Context, tx parts.Tx) error {
		return tx.UpdatePart(ctx, stale, before.Version-1)
	})
	if !errors.Is(err, parts.ErrConflict) {
		t.Errorf("Tx.UpdatePart with a stale version: %v, want ErrConflict", err)
	}
	err = e.store.Update(e.ctx, func(ctx context.Context, tx parts.Tx) error {
		return tx.DeletePart(ctx, p.ID, before.Version-1)
	})
	if !errors.Is(err, parts.ErrConflict) {
		t.Errorf("Tx.DeletePart with a stale version: %v, want ErrConflict", err)
	}
	_, err = e.svc.UpdatePart(e.ctx, p.ID, parts.Update{Notes: ptr("lost too"), IfVersion: before.Version - 1})
	if !errors.Is(err, parts.ErrConflict) {
		t.Errorf("Service.UpdatePart with a stale IfVersion: %v, want ErrConflict", err)
	}
	_, err = e.svc.Assign(e.ctx, p.ID, parts.ActionInput{Assignee: "x", IfVersion: before.Version - 1})
	if !errors.Is(err, parts.ErrConflict) {
		t.Errorf("Service.Assign with a stale IfVersion: %v, want ErrConflict", err)
	}
	if err := e.svc.DeletePart(e.ctx, p.ID, before.Version-1, "x"); !errors.Is(err, parts.ErrConflict) {
		t.Errorf("Service.DeletePart with a stale IfVersion: %v, want ErrConflict", err)
	}
	if d := gocmp.Diff(before, e.get(t, p.ID)); d != "" {
		t.Errorf("a rejected write changed the part (-before +after):\n%s", d)
	}
	evsAfter, _ := e.store.FindEvents(e.ctx, p.ID)
	if len(evsAfter) != len(evsBefore) {
		t.Errorf("rejected writes recorded events: %d before, %d after", len(evsBefore), len(evsAfter))
	}
	if ps, _ := e.find(t, parts.Filter{Search: "lost"}); len(ps) != 0 {
		t.Errorf("search finds text of a rejected write: %v", partIDs(ps))
	}
	// The current version still works.
	if _, err := e.svc.UpdatePart(e.ctx, p.ID, parts.Update{Notes: ptr("second"), IfVersion: before.Version}); err != nil {
		t.Errorf("UpdatePart with the current version: %v", err)
	}
}

func testRollback(t *testing.T, e *env) {
	keep := e.create(t, sample(1))
	boom := errors.New("boom")
	var createdID int64
	err := e.store.Update(e.ctx, func(ctx context.Context, tx parts.Tx) error {
		p := sample(2)
		p.Name = "rolled back widget"
		if err := tx.CreatePart(ctx, p); err != nil {
			return err
		}
		createdID = p.ID
		if err := tx.AddEvent(ctx, &parts.Event{PartID: p.ID, Action: "create", At: e.clk.now()}); err != nil {
			return err
		}
		cur, err := tx.FindPartByID(ctx, keep.ID)
		if err != nil {
			return err
		}
		cur.Notes, cur.Version = "rolled back note", cur.Version+1
		if err := tx.UpdatePart(ctx, cur, keep.Version); err != nil {
			return err
		}
		if err := tx.EnqueueJob(ctx, &parts.Job{PartID: keep.ID, Source: "x"}); err != nil {
			return err
		}
		return boom
	})
	if err != boom { //nolint:errorlint // the contract is "returned unchanged"
		t.Fatalf("Update returned %v, want fn's error unchanged", err)
	}
	if _, err := e.store.FindPartByID(e.ctx, createdID); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("part created in a rolled-back transaction: %v, want ErrNotFound", err)
	}
	if d := gocmp.Diff(keep, e.get(t, keep.ID)); d != "" {
		t.Errorf("update in a rolled-back transaction stuck (-want +got):\n%s", d)
	}
	if evs, _ := e.store.FindEvents(e.ctx, createdID); len(evs) != 0 {
		t.Errorf("rolled-back event is stored: %+v", evs[0])
	}
	if _, err := e.store.NextJob(e.ctx, leaseAt("a", time.Now())); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("NextJob after a rolled-back enqueue: %v, want ErrNotFound", err)
	}
	if ps, n := e.find(t, parts.Filter{Search: "rolled back"}); n != 0 || len(ps) != 0 {
		t.Errorf("search finds rolled-back text: %v", partIDs(ps))
	}
	st, err := e.store.Stats(e.ctx)
	if err != nil || st.Total != 1 {
		t.Errorf("Stats after rollback: %+v, %v; want Total 1", st, err)
	}
}

func testNoIDReuse(t *testing.T, e *env) {
	var last *parts.Part
	for i := range 3 {
		last = e.create(t, sample(i))
	}
	if err := e.svc.DeletePart(e.ctx, last.ID, 0, "x"); err != nil {
		t.Fatal(err)
	}
	next := e.create(t, sample(9))
	if next.ID <= last.ID {
		t.Errorf("new part got id %d after deleting id %d: ids must never be reused", next.ID, last.ID)
	}
	hist, err := e.svc.History(e.ctx, last.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[1].Action != "delete" {
		t.Errorf("deleted part's history = %v, want create then delete", actions(hist))
	}
}

func testImportIDs(t *testing.T, e *env) {
	first := e.create(t, sample(1))
	p := sample(2)
	p.ID = first.ID + 40
	p.CreatedAt = time.Date(2021, 3, 4, 5, 6, 7, 8000, time.UTC)
	p.UpdatedAt = p.CreatedAt
	created, err := e.svc.ImportPart(e.ctx, p, "importer")
	if err != nil || !created {
		t.Fatalf("ImportPart = %v, %v; want created", created, err)
	}
	got := e.get(t, p.ID)
	if got.PartID != p.PartID || !got.CreatedAt.Equal(p.CreatedAt) {
		t.Errorf("imported part = %+v, want id %d created %v", got, p.ID, p.CreatedAt)
	}
	if again, err := e.svc.ImportPart(e.ctx, p, "importer"); err != nil || again {
		t.Errorf("second import = %v, %v; want skipped", again, err)
	}
	dup := sample(3)
	dup.ID = first.ID
	err = e.store.Update(e.ctx, func(ctx context.Context, tx parts.Tx) error { return tx.CreatePart(ctx, dup) })
	if !errors.Is(err, parts.ErrConflict) {
		t.Errorf("CreatePart with a taken id = %v, want ErrConflict", err)
	}
	if next := e.create(t, sample(4)); next.ID <= p.ID {
		t.Errorf("new part got id %d, want above the imported id %d", next.ID, p.ID)
	}
}

func actions(evs []*parts.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Action
	}
	return out
}

func testRacingClaims(t *testing.T, e *env) {
	p := e.create(t, sample(1))
	if _, err := e.svc.Approve(e.ctx, p.ID, parts.ActionInput{Reviewer: "r"}); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = e.svc.Assign(e.ctx, p.ID, parts.ActionInput{Assignee: fmt.Sprintf("worker-%d", i), Actor: "w"})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("both worker-%d and worker-%d claimed the part", winner, i)
			}
			winner = i
		case !errors.Is(err, parts.ErrConflict):
			t.Errorf("worker-%d: %v, want ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no claim succeeded")
	}
	got := e.get(t, p.ID)
	if want := fmt.Sprintf("worker-%d", winner); got.Assigned != want || got.Status != parts.StatusInProgress {
		t.Errorf("part assigned to %q (%s), want %q (In Progress)", got.Assigned, got.Status, want)
	}
	if got.Version != 3 {
		t.Errorf("version %d after create, approve and one claim; want 3", got.Version)
	}
	hist, _ := e.store.FindEvents(e.ctx, p.ID)
	if a := actions(hist); !slices.Equal(a, []string{"create", "approve", "assign"}) {
		t.Errorf("history %v, want exactly one assign", a)
	}
}

func testConcurrentUpdates(t *testing.T, e *env) {
	const workers, each = 8, 5
	t.Run("through the Service", func(t *testing.T) {
		p := e.create(t, sample(1))
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					_, err := e.svc.UpdatePart(e.ctx, p.ID, parts.Update{Notes: ptr(fmt.Sprintf("w%d-%d", w, i))})
					if err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("UpdatePart: %v", err)
		}
		got := e.get(t, p.ID)
		if want := int64(1 + workers*each); got.Version != want {
			t.Errorf("version %d after %d updates, want %d", got.Version, workers*each, want)
		}
		hist, _ := e.store.FindEvents(e.ctx, p.ID)
		if len(hist) != 1+workers*each {
			t.Errorf("%d events, want %d", len(hist), 1+workers*each)
		}
	})
	t.Run("read-modify-write in Update", func(t *testing.T) {
		id := e.put(t, &parts.Part{PartID: "COUNTER", Material: "m", Subsystem: "s", Status: parts.StatusPending,
			Category: parts.CategoryReview, Amount: 1, Version: 1, CreatedAt: e.clk.now(), UpdatedAt: e.clk.now()})
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for range workers {
			wg.Go(func() {
				for range each {
					// The contract lets a store fail a racing write with
					// ErrConflict instead of serialising: then try again.
					for attempt := 0; ; attempt++ {
						err := e.store.Update(e.ctx, func(ctx context.Context, tx parts.Tx) error {
							cur, err := tx.FindPartByID(ctx, id)
							if err != nil {
								return err
							}
							next := cur.Clone()
							next.Amount, next.Version = cur.Amount+1, cur.Version+1
							return tx.UpdatePart(ctx, next, cur.Version)
						})
						if err == nil {
							break
						}
						if !errors.Is(err, parts.ErrConflict) || attempt > 100 {
							errs <- err
							break
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("Update: %v", err)
		}
		got := e.get(t, id)
		if got.Amount != 1+workers*each || got.Version != 1+workers*each {
			t.Errorf("amount %d, version %d after %d increments; want %d and %d (a write was lost)",
				got.Amount, got.Version, workers*each, 1+workers*each, 1+workers*each)
		}
	})
}

func testCategoryFilter(t *testing.T, e *env) {
	want := map[parts.Category][]string{}
	for i := range 12 {
		p := sample(i)
		p.Category = parts.Categories[i%len(parts.Categories)]
		if p.Category == parts.CategoryCompleted {
			p.Status = parts.StatusCompleted
		}
		e.create(t, p)
		want[p.Category] = append(want[p.Category], p.PartID)
	}
	for _, c := range parts.Categories {
		ps, n := e.find(t, parts.Filter{Category: c})
		if got := partIDs(ps); !slices.Equal(got, want[c]) || n != len(want[c]) {
			t.Errorf("category %s: %v (total %d), want %v", c, got, n, want[c])
		}
		for _, p := range ps {
			if p.Category != c {
				t.Errorf("category %s filter returned part in %s", c, p.Category)
			}
		}
	}
	if _, n := e.find(t, parts.Filter{}); n != 12 {
		t.Errorf("no filter: total %d, want 12", n)
	}
}

func searchFixture(t *testing.T, e *env) {
	t.Helper()
	fixture := []*parts.Part{
		{PartID: "AB_12", Name: "Motor mount", Material: "Steel", Subsystem: "Drive"},
		{PartID: "AB-12", Name: "Motor plate", Material: "steel", Subsystem: "drive"},
		{PartID: "C-3", Name: "Bracket", Material: "Aluminum 6061", Subsystem: "Arm", Notes: "100% infill, print twice"},
		{PartID: "C-4", Name: "Spacer", Material: "Delrin", Subsystem: "Intake", Notes: "Tolerance is 5\" over"},
		{PartID: "D-5", Name: "ÄRGER-Welle", Material: "Messing", Subsystem: "Getriebe", Notes: "Σίσυφος shaft"},
		{PartID: "E-6", Name: "Hook", Material: "Titanium", Subsystem: "Climber", Assigned: "Grace Hopper"},
		{PartID: "F-7", Name: "Alpha", Material: "Beta", Subsystem: "Gamma", OnshapeURL: "https://example.com/zebra", File: "zebra.step"},
	}
	for _, p := range fixture {
		e.create(t, p)
	}
}

func testSearch(t *testing.T, e *env) {
	searchFixture(t, e)
	cases := []struct {
		name, q string
		want    []string
	}{
		{"name matches ignoring case", "MOTOR", []string{"AB-12", "AB_12"}},
		{"partId matches", "c-3", []string{"C-3"}},
		{"notes match", "INFILL", []string{"C-3"}},
		{"subsystem matches", "intak", []string{"C-4"}},
		{"assigned matches", "hopper", []string{"E-6"}},
		{"material matches", "6061", []string{"C-3"}},
		{"substring inside a word matches", "racke", []string{"C-3"}},
		{"percent is literal", "0%", []string{"C-3"}},
		{"lone percent is literal", "%", []string{"C-3"}},
		{"underscore is literal", "b_1", []string{"AB_12"}},
		{"lone underscore is literal", "_", []string{"AB_12"}},
		{"double quote is literal", `5"`, []string{"C-4"}},
		{"one character matches", "k", []string{"C-3", "C-4", "E-6"}},
		{"two characters match", "ST", []string{"AB-12", "AB_12"}},
		{"non-ASCII matches ignoring case", "ärger", []string{"D-5"}},
		{"short non-ASCII matches ignoring case", "Ä", []string{"D-5"}},
		{"Greek matches ignoring case and final sigma", "ΣΊΣΥΦΟΣ", []string{"D-5"}},
		{"query spanning two fields matches nothing", "alphabeta", nil},
		{"fields outside the list are not searched", "zebra", nil},
		{"no match gives nothing", "unobtainium", nil},
		{"surrounding spaces are trimmed by the service", "  hook ", []string{"E-6"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps, n := e.find(t, parts.Filter{Search: tc.q})
			got := partIDs(ps)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if len(got) == 0 && len(want) == 0 {
				got, want = nil, nil
			}
			if !slices.Equal(got, want) || n != len(tc.want) {
				t.Errorf("search %q = %v (total %d), want %v", tc.q, got, n, tc.want)
			}
		})
	}
	t.Run("search combines with a category", func(t *testing.T) {
		ps, _ := e.find(t, parts.Filter{Search: "motor"})
		if _, err := e.svc.Approve(e.ctx, ps[0].ID, parts.ActionInput{}); err != nil {
			t.Fatal(err)
		}
		got, n := e.find(t, parts.Filter{Search: "motor", Category: parts.CategoryHand})
		if n != 1 || len(got) != 1 || got[0].ID != ps[0].ID {
			t.Errorf("motor in hand = %v (total %d), want only %s", partIDs(got), n, ps[0].PartID)
		}
		got, n = e.find(t, parts.Filter{Search: "mo", Category: parts.CategoryReview})
		if n != 1 || len(got) != 1 || got[0].ID == ps[0].ID {
			t.Errorf("short search in review = %v (total %d), want the other motor part", partIDs(got), n)
		}
	})
	t.Run("search pages with the full total", func(t *testing.T) {
		ps, n := e.find(t, parts.Filter{Search: "t", SortBy: parts.SortPartID, Asc: true, Limit: 2, Offset: 1})
		all, total := e.find(t, parts.Filter{Search: "t", SortBy: parts.SortPartID, Asc: true})
		if n != total || total != len(all) || len(ps) != 2 || !slices.Equal(ids(ps), ids(all[1:3])) {
			t.Errorf("page %v (total %d) of %v (total %d)", ids(ps), n, ids(all), total)
		}
	})
}

func testSearchFollowsWrites(t *testing.T, e *env) {
	p := e.create(t, &parts.Part{PartID: "S-1", Name: "Gusset", Material: "Steel", Subsystem: "Frame", Notes: "old words"})
	if _, n := e.find(t, parts.Filter{Search: "old words"}); n != 1 {
		t.Fatalf("new part not found by its notes")
	}
	if _, err := e.svc.UpdatePart(e.ctx, p.ID, parts.Update{Notes: ptr("fresh text"), Name: ptr("Rib")}); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{"old words": 0, "gusset": 0, "fresh": 1, "rib": 1, "ld": 0, "fr": 1} {
		if _, n := e.find(t, parts.Filter{Search: q}); n != want {
			t.Errorf("after update, search %q finds %d, want %d", q, n, want)
		}
	}
	// A refused action writes nothing (the strict workflow refuses a claim
	// on a part in review).
	strict := parts.NewService(e.store, &parts.Options{Now: e.clk.now, Workflow: parts.StrictWorkflow()})
	if _, err := strict.Assign(e.ctx, p.ID, parts.ActionInput{Assignee: "Linus"}); err == nil {
		t.Fatal("assign from review should fail under the strict workflow")
	}
	if _, n := e.find(t, parts.Filter{Search: "linus"}); n != 0 {
		t.Errorf("a refused claim made the part searchable by its assignee")
	}
	if _, err := e.svc.UpdatePart(e.ctx, p.ID, parts.Update{Assigned: ptr("Linus")}); err != nil {
		t.Fatal(err)
	}
	if _, n := e.find(t, parts.Filter{Search: "linus"}); n != 1 {
		t.Errorf("new assignee not searchable")
	}
	if err := e.svc.DeletePart(e.ctx, p.ID, 0, "x"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"fresh", "rib", "linus", "r"} {
		if ps, n := e.find(t, parts.Filter{Search: q}); n != 0 || len(ps) != 0 {
			t.Errorf("deleted part still found by %q", q)
		}
	}
}

// sortKey extracts the value a sort field orders by; nil sorts apart.
func sortKey(p *parts.Part, f parts.SortField) any {
	switch f {
	case parts.SortCreatedAt:
		return p.CreatedAt.UnixMicro()
	case parts.SortUpdatedAt:
		return p.UpdatedAt.UnixMicro()
	case parts.SortID:
		return p.ID
	case parts.SortPartID:
		return p.PartID
	case parts.SortName:
		return p.Name
	case parts.SortType:
		return string(p.Type)
	case parts.SortMaterial:
		return p.Material
	case parts.SortSubsystem:
		return p.Subsystem
	case parts.SortAssigned:
		return p.Assigned
	case parts.SortStatus:
		return string(p.Status)
	case parts.SortCategory:
		return string(p.Category)
	case parts.SortAmount:
		return int64(p.Amount)
	case parts.SortClaimedDate:
		if p.ClaimedDate == nil {
			return nil
		}
		return p.ClaimedDate.UnixMicro()
	}
	panic("unknown sort field " + string(f))
}

func compareKeys(a, b any) int {
	switch x := a.(type) {
	case int64:
		return cmp.Compare(x, b.(int64))
	case string:
		return strings.Compare(x, b.(string))
	}
	panic(fmt.Sprintf("unexpected key %T", a))
}

func testSortAndPaging(t *testing.T, e *env) {
	// Few distinct values, so every field has ties; lower-case ASCII text,
	// so any sane collation orders it the same way.
	words := []string{"delta", "alpha", "charlie", "bravo"}
	const n = 23
	for i := range n {
		p := &parts.Part{
			PartID:    fmt.Sprintf("p%02d", (i*7)%n),
			Name:      words[i%4],
			Type:      []parts.Type{parts.TypeCNC, parts.TypeHand, parts.TypeNone}[i%3],
			Material:  words[(i/2)%4],
			Subsystem: words[(i/3)%4],
			Amount:    1 + (i*5)%3,
			Category:  parts.Categories[i%3],
			Status:    []parts.Status{parts.StatusPending, parts.StatusReviewed, parts.StatusInProgress}[i%3],
		}
		if p.Category == parts.CategoryReview {
			p.Type = parts.TypeCNC
		}
		if i%4 != 0 {
			p.Assigned = words[(i/4)%4]
		}
		created := e.create(t, p)
		if i%5 == 0 {
			if _, err := e.svc.UpdatePart(e.ctx, created.ID, parts.Update{Notes: ptr("touched")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, field := range parts.SortFields {
		for _, asc := range []bool{true, false} {
			name := fmt.Sprintf("%s %s", field, map[bool]string{true: "asc", false: "desc"}[asc])
			t.Run(name, func(t *testing.T) {
				all, total := e.find(t, parts.Filter{SortBy: field, Asc: asc})
				if total != n || len(all) != n {
					t.Fatalf("unpaged: %d parts, total %d; want %d", len(all), total, n)
				}
				checkOrder(t, all, field, asc)
				var walked []int64
				for off := 0; off < n+5; off += 5 {
					page, pt := e.find(t, parts.Filter{SortBy: field, Asc: asc, Limit: 5, Offset: off})
					if pt != n {
						t.Errorf("page at offset %d: total %d, want %d", off, pt, n)
					}
					if want := min(5, max(0, n-off)); len(page) != want {
						t.Errorf("page at offset %d has %d parts, want %d", off, len(page), want)
					}
					walked = append(walked, ids(page)...)
				}
				if !slices.Equal(walked, ids(all)) {
					t.Errorf("pages %v differ from the unpaged order %v", walked, ids(all))
				}
				seen := map[int64]bool{}
				for _, id := range walked {
					if seen[id] {
						t.Errorf("part %d appears twice across pages", id)
					}
					seen[id] = true
				}
			})
		}
	}
	t.Run("default sort is created_at desc", func(t *testing.T) {
		def, _ := e.find(t, parts.Filter{})
		want, _ := e.find(t, parts.Filter{SortBy: parts.SortCreatedAt})
		if !slices.Equal(ids(def), ids(want)) {
			t.Errorf("default order %v, want created_at desc %v", ids(def), ids(want))
		}
	})
}

// checkOrder checks that ps is sorted by field in the direction asked, with
// ties broken by id in the same direction. Parts without a value (a nil
// claimed date) must be grouped together at one end.
func checkOrder(t *testing.T, ps []*parts.Part, field parts.SortField, asc bool) {
	t.Helper()
	sign := 1
	if !asc {
		sign = -1
	}
	var withValue []*parts.Part
	nilRun := 0
	for i, p := range ps {
		if sortKey(p, field) != nil {
			withValue = append(withValue, p)
			continue
		}
		if i > 0 && sortKey(ps[i-1], field) != nil && nilRun > 0 {
			t.Errorf("parts without a %s are not grouped at one end", field)
		}
		nilRun++
		if nilRun > 1 && sign*cmp.Compare(ps[i-1].ID, p.ID) > 0 {
			t.Errorf("parts without a %s: id %d before %d breaks the tie order", field, ps[i-1].ID, p.ID)
		}
	}
	for i := 1; i < len(withValue); i++ {
		a, b := withValue[i-1], withValue[i]
		c := sign * compareKeys(sortKey(a, field), sortKey(b, field))
		if c > 0 || (c == 0 && sign*cmp.Compare(a.ID, b.ID) > 0) {
			t.Errorf("%s order broken between part %d (%v) and part %d (%v)", field, a.ID, sortKey(a, field), b.ID, sortKey(b, field))
		}
	}
}

func testTotals(t *testing.T, e *env) {
	for i := range 7 {
		p := sample(i)
		if i < 3 {
			p.Category = parts.CategoryHand
			p.Type = parts.TypeHand
		}
		e.create(t, p)
	}
	cases := []struct {
		name          string
		f             parts.Filter
		page, total   int
		wantFirstSkip int
	}{
		{"first page", parts.Filter{Limit: 2}, 2, 7, 0},
		{"middle page", parts.Filter{Limit: 3, Offset: 3}, 3, 7, 3},
		{"last partial page", parts.Filter{Limit: 5, Offset: 5}, 2, 7, 5},
		{"offset past the end", parts.Filter{Limit: 5, Offset: 50}, 0, 7, 0},
		{"offset without limit", parts.Filter{Offset: 4}, 3, 7, 4},
		{"category page", parts.Filter{Category: parts.CategoryHand, Limit: 2}, 2, 3, 0},
		{"search page", parts.Filter{Search: "bracket", Limit: 4, Offset: 2}, 4, 7, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps, n := e.find(t, tc.f)
			if len(ps) != tc.page || n != tc.total {
				t.Errorf("got %d parts, total %d; want %d, total %d", len(ps), n, tc.page, tc.total)
			}
			if ps == nil {
				t.Errorf("an empty page must be an empty slice, not nil")
			}
		})
	}
}

// statsOf computes the stats a store should report, from a full listing.
func statsOf(ps []*parts.Part) *parts.Stats {
	st := &parts.Stats{Total: len(ps), ByCategory: map[parts.Category]int{}, ByStatus: map[parts.Status]int{}}
	for _, p := range ps {
		st.ByCategory[p.Category]++
		st.ByStatus[p.Status]++
		if p.Assigned != "" {
			st.Assigned++
		} else {
			st.Unassigned++
		}
	}
	return st
}

func withoutZeros(st *parts.Stats) *parts.Stats {
	c := *st
	c.ByCategory, c.ByStatus = map[parts.Category]int{}, map[parts.Status]int{}
	for k, v := range st.ByCategory {
		if v != 0 {
			c.ByCategory[k] = v
		}
	}
	for k, v := range st.ByStatus {
		if v != 0 {
			c.ByStatus[k] = v
		}
	}
	return &c
}

func testStats(t *testing.T, e *env) {
	check := func(step string) {
		t.Helper()
		all, _ := e.find(t, parts.Filter{})
		got, err := e.svc.Stats(e.ctx)
		if err != nil {
			t.Fatalf("%s: Stats: %v", step, err)
		}
		if d := gocmp.Diff(withoutZeros(statsOf(all)), withoutZeros(got)); d != "" {
			t.Errorf("%s: stats differ from the parts (-want +got):\n%s", step, d)
		}
	}
	check("empty store")
	var ps []*parts.Part
	for i := range 6 {
		p := sample(i)
		if i%2 == 1 {
			p.Type = parts.TypeHand
		}
		ps = append(ps, e.create(t, p))
	}
	check("after creates")
	for _, p := range ps[:4] {
		if _, err := e.svc.Approve(e.ctx, p.ID, parts.ActionInput{}); err != nil {
			t.Fatal(err)
		}
	}
	check("after approvals")
	for i, p := range ps[:3] {
		if _, err := e.svc.Assign(e.ctx, p.ID, parts.ActionInput{Assignee: fmt.Sprintf("w%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	check("after claims")
	if _, err := e.svc.Complete(e.ctx, ps[0].ID, parts.ActionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Unclaim(e.ctx, ps[1].ID, parts.ActionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdatePart(e.ctx, ps[4].ID, parts.Update{Notes: ptr("no count change")}); err != nil {
		t.Fatal(err)
	}
	check("after complete, unclaim and an edit")
	for _, p := range ps[2:5] {
		if err := e.svc.DeletePart(e.ctx, p.ID, 0, "x"); err != nil {
			t.Fatal(err)
		}
	}
	check("after deletes")
	got, _ := e.svc.Stats(e.ctx)
	want := &parts.Stats{Total: 3, Assigned: 1, Unassigned: 2,
		ByCategory: map[parts.Category]int{parts.CategoryCompleted: 1, parts.CategoryHand: 1, parts.CategoryReview: 1},
		ByStatus:   map[parts.Status]int{parts.StatusCompleted: 1, parts.StatusAlreadyStarted: 1, parts.StatusPending: 1}}
	if d := gocmp.Diff(want, withoutZeros(got)); d != "" {
		t.Errorf("final stats (-want +got):\n%s", d)
	}
}

func testHistory(t *testing.T, e *env) {
	p := e.create(t, &parts.Part{PartID: "H-1", Name: "Pulley", Type: parts.TypeHand, Material: "Nylon", Subsystem: "Lift", Notes: "a"})
	steps := []func() error{
		func() error {
			_, err := e.svc.UpdatePart(e.ctx, p.ID, parts.Update{Notes: ptr("b"), Actor: "ed"})
			return err
		},
		func() error {
			_, err := e.svc.Approve(e.ctx, p.ID, parts.ActionInput{Reviewer: "rev", Actor: "rev"})
			return err
		},
		func() error {
			_, err := e.svc.Assign(e.ctx, p.ID, parts.ActionInput{Assignee: "ann", Actor: "ann"})
			return err
		},
		func() error { _, err := e.svc.Complete(e.ctx, p.ID, parts.ActionInput{Actor: "ann"}); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	hist, err := e.svc.History(e.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a := actions(hist); !slices.Equal(a, []string{"create", "update", "approve", "assign", "complete"}) {
		t.Fatalf("actions %v", a)
	}
	for i, ev := range hist {
		if ev.PartID != p.ID || ev.ID <= 0 {
			t.Errorf("event %d: part %d id %d", i, ev.PartID, ev.ID)
		}
		if i > 0 && (ev.ID <= hist[i-1].ID || ev.At.Before(hist[i-1].At)) {
			t.Errorf("event %d is not after event %d", i, i-1)
		}
		if ev.At.Location() != time.UTC {
			t.Errorf("event %d time in %v, want UTC", i, ev.At.Location())
		}
	}
	if got := []string{hist[0].Actor, hist[1].Actor, hist[2].Actor}; !slices.Equal(got, []string{"tester", "ed", "rev"}) {
		t.Errorf("actors %v", got)
	}
	if d := gocmp.Diff([]parts.Change{{Field: "notes", Before: "a", After: "b"}}, hist[1].Changes); d != "" {
		t.Errorf("update changes (-want +got):\n%s", d)
	}
	wantApprove := []parts.Change{
		{Field: "status", Before: "Pending", After: "Reviewed"},
		{Field: "category", Before: "review", After: "hand"},
		{Field: "miscInfo", Before: nil, After: map[string]any{"reviewer": "rev"}},
	}
	if d := gocmp.Diff(wantApprove, hist[2].Changes); d != "" {
		t.Errorf("approve changes (-want +got):\n%s", d)
	}
	var sawAmount bool
	for _, c := range hist[0].Changes {
		if c.Field == "amount" {
			sawAmount = c.Before == nil && c.After == float64(1)
		}
	}
	if !sawAmount {
		t.Errorf("create changes lack amount nil -> 1: %+v", hist[0].Changes)
	}
	wantLast := hist[len(hist)-1]
	if err := e.svc.DeletePart(e.ctx, p.ID, 0, "boss"); err != nil {
		t.Fatal(err)
	}
	after, err := e.svc.History(e.ctx, p.ID)
	if err != nil {
		t.Fatalf("history of a deleted part: %v", err)
	}
	if len(after) != len(hist)+1 || after[len(after)-1].Action != "delete" || after[len(after)-1].Actor != "boss" {
		t.Errorf("history after delete %v", actions(after))
	}
	if d := gocmp.Diff(wantLast, after[len(hist)-1]); d != "" {
		t.Errorf("an old event changed (-before +after):\n%s", d)
	}
}

// leaseAt is a job lease for owner taken at at, lasting a minute.
func leaseAt(owner string, at time.Time) parts.Lease {
	return parts.Lease{Owner: owner, Now: at, Until: at.Add(time.Minute)}
}

func testJobs(t *testing.T, e *env) {
	base := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	if _, err := e.store.NextJob(e.ctx, leaseAt("a", base)); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("NextJob on an empty queue: %v, want ErrNotFound", err)
	}
	jobs := []*parts.Job{
		{PartID: 1, Source: "s-late", CreatedAt: base.Add(2 * time.Minute)},
		{PartID: 2, Source: "s-early", CreatedAt: base},
		{PartID: 3, Source: "s-mid", CreatedAt: base.Add(time.Minute)},
	}
	err := e.store.Update(e.ctx, func(ctx context.Context, tx parts.Tx) error {
		for _, j := range jobs {
			if err := tx.EnqueueJob(ctx, j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range jobs {
		if j.ID <= 0 || j.State != parts.JobQueued {
			t.Errorf("job %d after EnqueueJob: id %d, state %q", i, j.ID, j.State)
		}
	}
	first, err := e.store.NextJob(e.ctx, leaseAt("a", base))
	if err != nil {
		t.Fatal(err)
	}
	if first.Source != "s-early" || first.State != parts.JobRunning || first.Attempts != 1 || first.PartID != 2 ||
		first.LeaseOwner != "a" || !first.LeaseUntil.Equal(base.Add(time.Minute)) {
		t.Errorf("first job %+v, want the oldest (s-early), running, 1 attempt, leased to a for a minute", first)
	}
	if !first.CreatedAt.Equal(base) || first.CreatedAt.Location() != time.UTC || first.UpdatedAt.Location() != time.UTC {
		t.Errorf("job times %v / %v, want created %v, UTC", first.CreatedAt, first.UpdatedAt, base)
	}
	second, err := e.store.NextJob(e.ctx, leaseAt("a", base))
	if err != nil || second.Source != "s-mid" {
		t.Fatalf("second job %+v, %v; want s-mid", second, err)
	}
	if err := e.store.FinishJob(e.ctx, first.ID, "b", parts.JobDone, ""); !errors.Is(err, parts.ErrConflict) {
		t.Errorf("FinishJob by an owner without the lease: %v, want ErrConflict", err)
	}
	if err := e.store.FinishJob(e.ctx, first.ID, "a", parts.JobDone, ""); err != nil {
		t.Errorf("FinishJob done: %v", err)
	}
	if err := e.store.FinishJob(e.ctx, first.ID, "a", parts.JobDone, ""); !errors.Is(err, parts.ErrConflict) {
		t.Errorf("FinishJob twice: %v, want ErrConflict", err)
	}
	if err := e.store.FinishJob(e.ctx, first.ID+1000, "a", parts.JobFailed, "x"); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("FinishJob of an unknown job: %v, want ErrNotFound", err)
	}
	testLeaseExpiry(t, e, base, second)
}

// testLeaseExpiry: a live lease is never taken, a renewed one lives on, an
// expired one goes to the next claimer (with one more attempt), and the
// first owner then can neither renew nor finish it.
func testLeaseExpiry(t *testing.T, e *env, base time.Time, held *parts.Job) {
	last, err := e.store.NextJob(e.ctx, leaseAt("b", base.Add(30*time.Second)))
	if err != nil || last.Source != "s-late" {
		t.Fatalf("third job %+v, %v; want s-late (s-mid's lease is live)", last, err)
	}
	if _, err := e.store.NextJob(e.ctx, leaseAt("b", base.Add(30*time.Second))); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("NextJob with only live leases: %v, want ErrNotFound", err)
	}
	if err := e.store.RenewJob(e.ctx, held.ID, leaseAt("a", base.Add(50*time.Second))); err != nil {
		t.Errorf("RenewJob by the owner: %v", err)
	}
	if _, err := e.store.NextJob(e.ctx, leaseAt("b", base.Add(90*time.Second))); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("NextJob before the renewed lease ends: %v, want ErrNotFound (s-late's lease is b's and live)", err)
	}
	taken, err := e.store.NextJob(e.ctx, leaseAt("b", base.Add(111*time.Second)))
	if err != nil || taken.ID != held.ID || taken.Attempts != 2 || taken.LeaseOwner != "b" {
		t.Fatalf("NextJob after the lease ended = %+v, %v; want s-mid for b with 2 attempts", taken, err)
	}
	if err := e.store.RenewJob(e.ctx, held.ID, leaseAt("a", base.Add(112*time.Second))); !errors.Is(err, parts.ErrConflict) {
		t.Errorf("RenewJob of a lost lease: %v, want ErrConflict", err)
	}
	if err := e.store.FinishJob(e.ctx, held.ID, "a", parts.JobDone, ""); !errors.Is(err, parts.ErrConflict) {
		t.Errorf("FinishJob of a lost lease: %v, want ErrConflict", err)
	}
	if err := e.store.ReleaseJob(e.ctx, held.ID, "b"); err != nil {
		t.Errorf("ReleaseJob: %v", err)
	}
	again, err := e.store.NextJob(e.ctx, leaseAt("c", base.Add(113*time.Second)))
	if err != nil || again.ID != held.ID || again.Attempts != 3 {
		t.Fatalf("NextJob after a release = %+v, %v; want s-mid again with 3 attempts", again, err)
	}
	if err := e.store.FinishJob(e.ctx, again.ID, "c", parts.JobFailed, "converter crashed"); err != nil {
		t.Errorf("FinishJob failed: %v", err)
	}
	if err := e.store.RenewJob(e.ctx, held.ID+1000, leaseAt("c", base)); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("RenewJob of an unknown job: %v, want ErrNotFound", err)
	}
	if _, err := e.store.NextJob(e.ctx, leaseAt("d", base.Add(time.Hour))); err != nil {
		t.Errorf("NextJob after s-late's lease ended: %v, want s-late (done and failed jobs stay finished)", err)
	}
	if _, err := e.store.NextJob(e.ctx, leaseAt("d", base.Add(time.Hour))); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("NextJob with done, failed and live jobs: %v, want ErrNotFound", err)
	}
}

func testJobsConcurrent(t *testing.T, e *env) {
	const jobs, workers = 40, 8
	err := e.store.Update(e.ctx, func(ctx context.Context, tx parts.Tx) error {
		for i := range jobs {
			if err := tx.EnqueueJob(ctx, &parts.Job{PartID: int64(i + 1), Source: fmt.Sprint(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	claimed := map[int64]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				j, err := e.store.NextJob(e.ctx, leaseAt("w", time.Now()))
				if errors.Is(err, parts.ErrNotFound) {
					return
				}
				if err != nil {
					t.Errorf("NextJob: %v", err)
					return
				}
				mu.Lock()
				claimed[j.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != jobs {
		t.Errorf("%d distinct jobs claimed, want %d", len(claimed), jobs)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("job %d handed out %d times", id, n)
		}
	}
}

func testTimes(t *testing.T, e *env) {
	zone := time.FixedZone("odd", -(3*3600 + 27*60))
	at := time.Date(2023, 7, 9, 8, 7, 6, 543210987, zone) // nanoseconds beyond the microsecond
	p := sample(1)
	p.Status, p.Category, p.Version = parts.StatusPending, parts.CategoryReview, 1
	p.CreatedAt, p.UpdatedAt = at.Truncate(time.Microsecond), at.Truncate(time.Microsecond).Add(time.Microsecond)
	id := e.put(t, p)
	got := e.get(t, id)
	if got.CreatedAt.Location() != time.UTC || got.UpdatedAt.Location() != time.UTC {
		t.Errorf("times come back in %v / %v, want UTC", got.CreatedAt.Location(), got.UpdatedAt.Location())
	}
	if !got.CreatedAt.Equal(p.CreatedAt) || got.UpdatedAt.Sub(got.CreatedAt) != time.Microsecond {
		t.Errorf("times %v / %v, want %v and one microsecond later", got.CreatedAt, got.UpdatedAt, p.CreatedAt)
	}
	created := e.create(t, sample(2))
	stored := e.get(t, created.ID)
	if !stored.CreatedAt.Equal(created.CreatedAt) || stored.CreatedAt.Nanosecond()%1000 != 0 || stored.CreatedAt.Location() != time.UTC {
		t.Errorf("service-created time %v stored as %v", created.CreatedAt, stored.CreatedAt)
	}
	if stored.CreatedAt.Nanosecond() == 0 {
		t.Errorf("microseconds were lost: %v", stored.CreatedAt)
	}
	hist, _ := e.store.FindEvents(e.ctx, created.ID)
	if len(hist) != 1 || !hist[0].At.Equal(created.CreatedAt) || hist[0].At.Location() != time.UTC {
		t.Errorf("event time %v, want %v in UTC", hist[0].At, created.CreatedAt)
	}
	// The newest part sorts first by created_at even within one second.
	ps, _ := e.find(t, parts.Filter{SortBy: parts.SortUpdatedAt})
	if len(ps) != 2 || ps[0].ID != created.ID {
		t.Errorf("updated_at desc order %v, want %d first", ids(ps), created.ID)
	}
}

func testCancelled(t *testing.T, e *env) {
	p := e.create(t, sample(1))
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	called := false
	checks := map[string]error{}
	_, checks["FindPartByID"] = e.store.FindPartByID(ctx, p.ID)
	_, _, checks["FindParts"] = e.store.FindParts(ctx, parts.Filter{SortBy: parts.SortCreatedAt})
	_, _, checks["FindParts with search"] = e.store.FindParts(ctx, parts.Filter{SortBy: parts.SortCreatedAt, Search: "bracket"})
	_, checks["Stats"] = e.store.Stats(ctx)
	_, checks["FindEvents"] = e.store.FindEvents(ctx, p.ID)
	checks["Update"] = e.store.Update(ctx, func(ctx context.Context, tx parts.Tx) error {
		called = true
		return tx.CreatePart(ctx, sample(2))
	})
	_, checks["NextJob"] = e.store.NextJob(ctx, leaseAt("a", time.Now()))
	checks["RenewJob"] = e.store.RenewJob(ctx, 1, leaseAt("a", time.Now()))
	checks["FinishJob"] = e.store.FinishJob(ctx, 1, "a", parts.JobDone, "")
	checks["ReleaseJob"] = e.store.ReleaseJob(ctx, 1, "a")
	_, checks["Service.CreatePart"] = e.svc.CreatePart(ctx, sample(3), "x")
	for name, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want an error wrapping context.Canceled", name, err)
		}
	}
	if all, n := e.find(t, parts.Filter{}); n != 1 || len(all) != 1 {
		t.Errorf("writes with a cancelled context stored parts: total %d (called fn: %v)", n, called)
	}

	// Cancelling in the middle of a transaction rolls it back.
	ctx2, cancel2 := context.WithCancel(e.ctx)
	err := e.store.Update(ctx2, func(ctx context.Context, tx parts.Tx) error {
		if err := tx.CreatePart(ctx, sample(4)); err != nil {
			return err
		}
		cancel2()
		return tx.CreatePart(ctx, sample(5))
	})
	if err == nil {
		t.Errorf("Update whose context was cancelled midway succeeded")
	}
	if _, n := e.find(t, parts.Filter{}); n != 1 {
		t.Errorf("a cancelled transaction left %d parts, want 1", n)
	}
}

func testNoAliasing(t *testing.T, e *env) {
	in := full()
	id := e.put(t, in)
	want := e.get(t, id)

	// Mutating the part given to CreatePart does not reach the store.
	in.Name = "changed after create"
	in.MiscInfo["reviewer"] = "someone else"
	in.Files[0].Name = "evil.step"
	*in.ClaimedDate = in.ClaimedDate.Add(time.Hour)

	got := e.get(t, id)
	got.Name = "mutated"
	got.MiscInfo["reviewer"] = "mutated"
	got.MiscInfo["nested"].(map[string]any)["depth"] = 99.0
	got.MiscInfo["handWorkers"].([]any)[0].(map[string]any)["name"] = "mutated"
	got.Files[0].Key = "mutated"
	*got.ClaimedDate = time.Time{}

	list, _ := e.find(t, parts.Filter{})
	list[0].MiscInfo["reviewer"] = "mutated via list"
	list[0].Files[1].Size = -1

	if d := gocmp.Diff(want, e.get(t, id)); d != "" {
		t.Errorf("mutating parts outside the store changed it (-want +got):\n%s", d)
	}
	again, _ := e.find(t, parts.Filter{})
	if d := gocmp.Diff(want, again[0]); d != "" {
		t.Errorf("FindParts shares state with earlier results (-want +got):\n%s", d)
	}
	created := e.create(t, &parts.Part{PartID: "N-1", Material: "m", Subsystem: "s", MiscInfo: map[string]any{"k": "v"}})
	created.MiscInfo["k"] = "changed"
	if got := e.get(t, created.ID); got.MiscInfo["k"] != "v" {
		t.Errorf("mutating Service.CreatePart's result changed the store: %v", got.MiscInfo)
	}
}
