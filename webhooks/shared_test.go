package webhooks_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/partflow/partflow/internal/pgtest"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
	_ "github.com/partflow/partflow/storage/bunstore/pgengine" // postgres://
	"github.com/partflow/partflow/webhooks"
)

// replicaSet is three Managers over one database, as on three servers:
// deliverer runs (it holds the "webhooks" lock), a and b only serve the
// admin API.
type replicaSet struct {
	svc       *parts.Service
	a, b      *webhooks.Manager
	deliverer *webhooks.Manager
	attempts  chan webhooks.Attempt
	refreshed chan struct{}
}

func newReplicaSet(t *testing.T, url string) *replicaSet {
	t.Helper()
	s, err := bunstore.Open(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := &replicaSet{svc: parts.NewService(s, nil), attempts: make(chan webhooks.Attempt, 100),
		refreshed: make(chan struct{}, 1)}
	manager := func(o *webhooks.Options) *webhooks.Manager {
		o.State = &webhooks.SettingsState{Store: s}
		m, err := webhooks.New(r.svc, o)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	r.a, r.b = manager(&webhooks.Options{}), manager(&webhooks.Options{})
	r.deliverer = manager(&webhooks.Options{Refresh: 20 * time.Millisecond,
		OnAttempt: func(_ string, a webhooks.Attempt) { r.attempts <- a },
		OnRefresh: func() {
			select {
			case r.refreshed <- struct{}{}:
			default:
			}
		}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.deliverer.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// settled returns after the deliverer reloaded the endpoints at least once
// after the call: changes saved before it are applied.
func (r *replicaSet) settled(t *testing.T) {
	t.Helper()
	for range 2 {
		select {
		case <-r.refreshed:
		case <-time.After(10 * time.Second):
			t.Fatal("the delivering manager did not reload the endpoints")
		}
	}
}

func (r *replicaSet) attempt(t *testing.T) webhooks.Attempt {
	t.Helper()
	select {
	case a := <-r.attempts:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no attempt recorded")
		return webhooks.Attempt{}
	}
}

func (r *replicaSet) create(t *testing.T, partID string) {
	t.Helper()
	if _, err := r.svc.CreatePart(t.Context(), &parts.Part{PartID: partID, Name: "Gearbox plate", Material: "al",
		Subsystem: "drive", Type: parts.TypeHand}, "ada"); err != nil {
		t.Fatal(err)
	}
}

// engines give a new database's URL on each engine.
var engines = map[string]func(t *testing.T) string{
	"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "parts.db") },
	"postgres": func(t *testing.T) string { return pgtest.NewDatabase(t) },
}

func TestSharedState_managersOnOneDatabase(t *testing.T) {
	for name, url := range engines {
		t.Run(name, func(t *testing.T) { testSharedState(t, url(t)) })
	}
}

func testSharedState(t *testing.T, url string) {
	r := newReplicaSet(t, url)
	one, two := newReceiver(t), newReceiver(t)
	// An endpoint added through replica a is delivered by the deliverer.
	if _, err := r.a.Put(t.Context(), local("one", one.srv.URL)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.a.Put(t.Context(), local("two", two.srv.URL)); err != nil {
		t.Fatal(err)
	}
	r.settled(t)
	r.create(t, "P-1")
	one.next(t)
	two.next(t)
	first := r.attempt(t)
	r.attempt(t)
	// Its delivery log and cursor are readable on replica b.
	st, err := r.b.Get("one")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Deliveries) != 1 || st.Deliveries[0].Outcome != "delivered" || st.Cursor != first.Seq || st.Secret != "" {
		t.Fatalf("endpoint one on replica b = %+v; want one delivery, cursor %d, no secret", st, first.Seq)
	}
	// Disabled through replica b (keeping its secret): the cursor the
	// deliverer advanced is kept, and deliveries stop.
	off := local("one", one.srv.URL)
	off.Secret, off.Enabled = "", false
	if _, err := r.b.Put(t.Context(), off); err != nil {
		t.Fatal(err)
	}
	// No wait for the deliverer's reload: it checks before every attempt.
	r.create(t, "P-2")
	two.next(t)
	if a := r.attempt(t); a.DeliveryID[:4] != "two-" {
		t.Fatalf("attempt after disabling one = %+v", a)
	}
	select {
	case got := <-one.got:
		t.Fatalf("disabled endpoint got a delivery: %s", got.body)
	default:
	}
	st, err = r.a.Get("one")
	if err != nil {
		t.Fatal(err)
	}
	if st.Enabled || st.Cursor != first.Seq || len(st.Deliveries) != 1 {
		t.Fatalf("endpoint one on replica a after disabling = %+v; want disabled, cursor %d kept", st, first.Seq)
	}
	// Enabled again through a, it resumes after its cursor: it gets P-2.
	if _, err := r.a.Put(t.Context(), local("one", one.srv.URL)); err != nil {
		t.Fatal(err)
	}
	if got := one.next(t); !bytes.Contains(got.body, []byte(`"P-2"`)) {
		t.Fatalf("re-enabled endpoint got %s; want the P-2 event", got.body)
	}
	// Deleted through b: gone on every replica.
	if err := r.b.Delete("two"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.a.Get("two"); err != webhooks.ErrNotFound {
		t.Fatalf("deleted endpoint on replica a: %v; want ErrNotFound", err)
	}
	if list := r.deliverer.List(); len(list) != 1 || list[0].ID != "one" {
		t.Fatalf("deliverer lists %+v; want only one", list)
	}
}

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestSettingsState_concurrentUpdatesLoseNothing has two servers' states
// update one endpoint at once, one its cursor and the other its failures,
// as a deliverer and an admin would: every update survives.
func TestSettingsState_concurrentUpdatesLoseNothing(t *testing.T) {
	for name, url := range engines {
		t.Run(name, func(t *testing.T) { testConcurrentUpdates(t, url(t)) })
	}
}

func testConcurrentUpdates(t *testing.T, url string) {
	states := [2]*webhooks.SettingsState{}
	for i := range states {
		s, err := bunstore.Open(t.Context(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		states[i] = &webhooks.SettingsState{Store: s}
	}
	if err := states[0].Save([]webhooks.Status{{Endpoint: local("x", "http://127.0.0.1:1")}}); err != nil {
		t.Fatal(err)
	}
	const n = 30
	var wg sync.WaitGroup
	for i, st := range states {
		wg.Go(func() {
			for range n {
				err := st.Update(func(eps []webhooks.Status) ([]webhooks.Status, error) {
					if i == 0 {
						eps[0].Cursor++
					} else {
						eps[0].Failures++
					}
					return eps, nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	eps, err := states[1].Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 1 || eps[0].Cursor != n || eps[0].Failures != n || eps[0].Secret != secret {
		t.Fatalf("after concurrent updates: %+v; want cursor and failures %d", eps, n)
	}
}
