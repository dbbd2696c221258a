package partstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/partflow/partflow/parts"
)

// Store conformance: writes, versions, transactions and ids.

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
