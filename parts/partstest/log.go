package partstest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
)

// Opener opens a Store on one database; it may be called more than once,
// each call giving another Store on the same data, as another process
// would open it.
type Opener func(t *testing.T) parts.Store

// RunLog runs the change-log conformance suite. newDB must create a new,
// empty database and return an Opener for it; RunLog closes every store it
// opens. It covers the order and content of the log, no gaps visible to
// readers while writers commit, filters and paging, subscribers (also to
// events committed through a second Store on the same database), resuming
// from a cursor, retention and ErrCursorExpired, deleted parts, slow
// subscribers, 8 concurrent writers delivered exactly once, and events
// delivered to subscribers identical to ReadLog's for every kind of write.
func RunLog(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, l *logEnv)
	}{
		{"every change is logged in order with the part after it", testLogOrder},
		{"filters and paging move past events that do not match", testLogFilters},
		{"a subscriber gets events from a second store on the same database", testLogSecondStore},
		{"a subscriber resumes after its cursor", testLogResume},
		{"pruned events give ErrCursorExpired never a gap", testLogExpiry},
		{"a slow subscriber blocks no writer and catches up", testLogSlowSubscriber},
		{"concurrent writers are seen exactly once and without gaps", testLogConcurrent},
		{"subscribers get every kind of event exactly as ReadLog returns it", testLogDelivered},
		{"commits of another store between the Service's own reach its subscriber in order", testLogInterleaved},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			open := newDB(t)
			l := &logEnv{ctx: t.Context(), open: func(t *testing.T, o *parts.Options) *parts.Service {
				s := closedAtEnd(t, open(t))
				return parts.NewService(s, o)
			}}
			tc.fn(t, l)
		})
	}
}

type logEnv struct {
	ctx  context.Context
	open func(t *testing.T, o *parts.Options) *parts.Service
}

// fastPoll makes subscribers look for other stores' commits often, so
// tests waiting on a channel finish quickly.
var fastPoll = &parts.Options{Events: parts.EventOptions{Poll: 5 * time.Millisecond}}

func readLog(t *testing.T, ctx context.Context, svc *parts.Service, q parts.EventQuery) []*parts.Event {
	t.Helper()
	var out []*parts.Event
	limit := cmp.Or(q.Limit, parts.DefaultEventLimit)
	for {
		page, err := svc.Events(ctx, q)
		if err != nil {
			t.Fatalf("Events(%+v): %v", q, err)
		}
		out = append(out, page.Events...)
		if len(page.Events) < limit {
			return out
		}
		q.After = page.Next
	}
}

// collect receives n events from sub, failing after a deadline.
func collect(t *testing.T, sub *parts.Subscription, n int) []*parts.Event {
	t.Helper()
	var out []*parts.Event
	deadline := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case e, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription ended after %d of %d events: %v", len(out), n, sub.Err())
			}
			out = append(out, e)
		case <-deadline:
			t.Fatalf("got %d of %d events before the deadline", len(out), n)
		}
	}
	return out
}

func eventIDs(evs []*parts.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func mustCreate(t *testing.T, ctx context.Context, svc *parts.Service, i int) *parts.Part {
	t.Helper()
	p, err := svc.CreatePart(ctx, sample(i), "ada")
	if err != nil {
		t.Fatalf("CreatePart: %v", err)
	}
	return p
}

func testLogOrder(t *testing.T, l *logEnv) {
	svc := l.open(t, nil)
	p := mustCreate(t, l.ctx, svc, 1)
	if _, err := svc.Approve(l.ctx, p.ID, parts.ActionInput{Actor: "rev", Reviewer: "rev"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Complete(l.ctx, p.ID, parts.ActionInput{Actor: "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeletePart(l.ctx, p.ID, 0, "eve"); err != nil {
		t.Fatal(err)
	}
	evs := readLog(t, l.ctx, svc, parts.EventQuery{})
	want := []struct {
		action, actor string
		cat           parts.Category
		version       int64
	}{{"create", "ada", parts.CategoryReview, 1}, {"approve", "rev", parts.CategoryCNC, 2},
		{"complete", "bob", parts.CategoryCompleted, 3}, {"delete", "eve", parts.CategoryCompleted, 3}}
	if len(evs) != len(want) {
		t.Fatalf("got %d events, want %d", len(evs), len(want))
	}
	for i, w := range want {
		e := evs[i]
		if i > 0 && e.ID <= evs[i-1].ID {
			t.Errorf("event %d has ID %d after %d: not increasing", i, e.ID, evs[i-1].ID)
		}
		if e.Action != w.action || e.Actor != w.actor || e.Category != w.cat || e.Version != w.version {
			t.Errorf("event %d = %s by %s in %s v%d, want %s by %s in %s v%d", i, e.Action, e.Actor,
				e.Category, e.Version, w.action, w.actor, w.cat, w.version)
		}
		if e.PartID != p.ID || e.PartNumber != "P-001" || e.Name != "bracket 1" {
			t.Errorf("event %d is about %d %q %q, want %d P-001 bracket 1", i, e.PartID, e.PartNumber, e.Name, p.ID)
		}
		if e.At.Location() != time.UTC {
			t.Errorf("event %d time %v is not UTC", i, e.At)
		}
	}
	if len(evs[1].Changes) == 0 {
		t.Errorf("approve event lists no changed fields")
	}
}

func testLogFilters(t *testing.T, l *logEnv) {
	svc := l.open(t, nil)
	a, b := mustCreate(t, l.ctx, svc, 1), mustCreate(t, l.ctx, svc, 2)
	if _, err := svc.Approve(l.ctx, a.ID, parts.ActionInput{Actor: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Complete(l.ctx, a.ID, parts.ActionInput{Actor: "x"}); err != nil {
		t.Fatal(err)
	}
	all := readLog(t, l.ctx, svc, parts.EventQuery{})
	head := all[len(all)-1].ID
	byPart := readLog(t, l.ctx, svc, parts.EventQuery{PartID: b.ID})
	if len(byPart) != 1 || byPart[0].PartID != b.ID {
		t.Errorf("part filter gave %d events, want b's create", len(byPart))
	}
	page, err := svc.Events(l.ctx, parts.EventQuery{Actions: []string{"complete"}})
	if err != nil || len(page.Events) != 1 || page.Events[0].Action != "complete" || page.Next != head {
		t.Fatalf("action filter: %+v, %v; want the complete event and Next %d", page, err, head)
	}
	page, err = svc.Events(l.ctx, parts.EventQuery{Category: parts.CategoryCNC})
	if err != nil || len(page.Events) != 1 || page.Events[0].Action != "approve" {
		t.Fatalf("category filter: %+v, %v; want the approve event", page, err)
	}
	page, err = svc.Events(l.ctx, parts.EventQuery{Limit: 2})
	if err != nil || len(page.Events) != 2 || page.Next != all[1].ID || page.Head != head {
		t.Fatalf("limit 2: %+v, %v; want 2 events, Next %d, Head %d", page, err, all[1].ID, head)
	}
	page, err = svc.Events(l.ctx, parts.EventQuery{After: parts.FromHead})
	if err != nil || len(page.Events) != 0 || page.Next != head {
		t.Fatalf("FromHead: %+v, %v; want no events and Next %d", page, err, head)
	}
	for _, bad := range []parts.EventQuery{{Limit: parts.MaxEventLimit + 1}, {Category: "nope"}, {Actions: []string{""}}, {PartID: -1}} {
		if _, err := svc.Events(l.ctx, bad); !errors.Is(err, parts.ErrInvalid) {
			t.Errorf("Events(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func testLogSecondStore(t *testing.T, l *logEnv) {
	first := l.open(t, fastPoll)
	second := l.open(t, nil)
	mustCreate(t, l.ctx, first, 0) // before the subscription: not delivered
	sub, err := first.Subscribe(l.ctx, parts.EventQuery{After: parts.FromHead})
	if err != nil {
		t.Fatal(err)
	}
	p := mustCreate(t, l.ctx, second, 1)
	got := collect(t, sub, 1)
	if got[0].PartID != p.ID || got[0].Action != "create" {
		t.Fatalf("got %s of part %d, want the second store's create of %d", got[0].Action, got[0].PartID, p.ID)
	}
}

func testLogResume(t *testing.T, l *logEnv) {
	svc := l.open(t, nil)
	for i := range 5 {
		mustCreate(t, l.ctx, svc, i)
	}
	all := readLog(t, l.ctx, svc, parts.EventQuery{})
	ctx, cancel := context.WithCancel(l.ctx)
	sub, err := svc.Subscribe(ctx, parts.EventQuery{After: all[1].ID})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, sub, 3)
	if !slices.Equal(eventIDs(got), eventIDs(all[2:])) {
		t.Fatalf("resumed after %d: got %v, want %v", all[1].ID, eventIDs(got), eventIDs(all[2:]))
	}
	p := mustCreate(t, l.ctx, svc, 9)
	if got := collect(t, sub, 1); got[0].PartID != p.ID {
		t.Fatalf("live event is about part %d, want %d", got[0].PartID, p.ID)
	}
	cancel()
	for range sub.C {
	}
	if !errors.Is(sub.Err(), context.Canceled) {
		t.Errorf("Err after cancel = %v, want context.Canceled", sub.Err())
	}
}

func testLogExpiry(t *testing.T, l *logEnv) {
	clk := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	svc := l.open(t, &parts.Options{Now: clk.now, Events: parts.EventOptions{MaxCount: 3}})
	for i := range 6 {
		mustCreate(t, l.ctx, svc, i)
	}
	all := readLog(t, l.ctx, svc, parts.EventQuery{})
	if n, err := svc.PruneEvents(l.ctx); err != nil || n != 3 {
		t.Fatalf("PruneEvents = %d, %v; want 3", n, err)
	}
	if _, err := svc.Events(l.ctx, parts.EventQuery{}); !errors.Is(err, parts.ErrCursorExpired) {
		t.Fatalf("reading from 0 after pruning = %v, want ErrCursorExpired", err)
	}
	if _, err := svc.Events(l.ctx, parts.EventQuery{After: all[1].ID}); !errors.Is(err, parts.ErrCursorExpired) {
		t.Fatalf("reading inside the pruned range = %v, want ErrCursorExpired", err)
	}
	rest := readLog(t, l.ctx, svc, parts.EventQuery{After: all[2].ID})
	if !slices.Equal(eventIDs(rest), eventIDs(all[3:])) {
		t.Fatalf("after the horizon: %v, want %v", eventIDs(rest), eventIDs(all[3:]))
	}
	sub, err := svc.Subscribe(l.ctx, parts.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for range sub.C {
		t.Fatal("an expired subscription delivered an event")
	}
	if !errors.Is(sub.Err(), parts.ErrCursorExpired) {
		t.Fatalf("subscription from 0 ended with %v, want ErrCursorExpired", sub.Err())
	}
	// Age: every event is older than a day once the clock moves on.
	clk.mu.Lock()
	clk.t = clk.t.Add(48 * time.Hour)
	clk.mu.Unlock()
	aged := l.open(t, &parts.Options{Now: clk.now, Events: parts.EventOptions{MaxAge: 24 * time.Hour}})
	if n, err := aged.PruneEvents(l.ctx); err != nil || n != 3 {
		t.Fatalf("PruneEvents by age = %d, %v; want 3", n, err)
	}
	page, err := aged.Events(l.ctx, parts.EventQuery{After: all[5].ID})
	if err != nil || len(page.Events) != 0 {
		t.Fatalf("reading at the head after pruning all = %+v, %v", page, err)
	}
}

func testLogSlowSubscriber(t *testing.T, l *logEnv) {
	svc := l.open(t, &parts.Options{Events: parts.EventOptions{Buffer: 4}})
	sub, err := svc.Subscribe(l.ctx, parts.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for i := range 40 {
			if _, err := svc.CreatePart(l.ctx, sample(i), "w"); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("writers blocked behind a subscriber that does not read")
	}
	got := collect(t, sub, 40)
	for i := 1; i < len(got); i++ {
		if got[i].ID <= got[i-1].ID {
			t.Fatalf("event %d has ID %d after %d", i, got[i].ID, got[i-1].ID)
		}
	}
}

func testLogConcurrent(t *testing.T, l *logEnv) {
	svc := l.open(t, nil)
	const writers, each = 8, 15
	sub, err := svc.Subscribe(l.ctx, parts.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	seen := make(chan []int64, 1)
	go func() { seen <- pollReader(l.ctx, svc, stop) }()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				p, err := svc.CreatePart(l.ctx, sample(w*100+i), fmt.Sprint("w", w))
				if err == nil {
					_, err = svc.Approve(l.ctx, p.ID, parts.ActionInput{Actor: "s"})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	close(stop)
	all := readLog(t, l.ctx, svc, parts.EventQuery{})
	got := collect(t, sub, len(all))
	if !slices.Equal(eventIDs(got), eventIDs(all)) {
		t.Fatalf("subscriber got %d events %v..., want the %d logged", len(got), eventIDs(got)[:min(5, len(got))], len(all))
	}
	if polled := <-seen; !slices.Equal(polled, eventIDs(all)) {
		t.Fatalf("a reader polling during the writes saw %d events, want all %d once each in order (a gap or repeat)", len(polled), len(all))
	}
}

// pollReader pages through the log while writers run, then to the end: it
// returns every ID it saw. A gap visible after commit would show as a
// missing ID, since the cursor never moves back.
func pollReader(ctx context.Context, svc *parts.Service, stop <-chan struct{}) []int64 {
	var out []int64
	var cursor int64
	for stopped := false; ; {
		select {
		case <-stop:
			stopped = true
		default:
		}
		page, err := svc.Events(ctx, parts.EventQuery{After: cursor, Limit: 7})
		if err != nil {
			return nil
		}
		out = append(out, eventIDs(page.Events)...)
		cursor = page.Next
		if stopped && len(page.Events) == 0 {
			return out
		}
	}
}
