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

// Store conformance: history, jobs and their leases, times, cancellation and aliasing.

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
