package webhooks_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
	"github.com/partflow/partflow/webhooks"
)

const secret = "0123456789abcdef-secret"

// fakeClock hands every requested wait to the test, which fires it.
type fakeClock struct {
	now   time.Time
	waits chan wait
}

type wait struct {
	d    time.Duration
	fire chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now(), waits: make(chan wait, 16)}
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	w := wait{d: d, fire: make(chan time.Time, 1)}
	c.waits <- w
	return w.fire
}

func (c *fakeClock) next(t *testing.T) wait {
	t.Helper()
	select {
	case w := <-c.waits:
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("no retry was scheduled")
		return wait{}
	}
}

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a local webhook receiver on 127.0.0.1 answering with the
// statuses in answer (then 200).
type receiver struct {
	srv  *httptest.Server
	got  chan received
	mu   sync.Mutex
	plan []int
}

func newReceiver(t *testing.T, plan ...int) *receiver {
	r := &receiver{got: make(chan received, 100), plan: plan}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.got <- received{header: req.Header.Clone(), body: b}
		r.mu.Lock()
		status := 200
		if len(r.plan) > 0 {
			status, r.plan = r.plan[0], r.plan[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case g := <-r.got:
		return g
	case <-time.After(10 * time.Second):
		t.Fatal("receiver got nothing")
		return received{}
	}
}

type env struct {
	svc      *parts.Service
	clock    *fakeClock
	attempts chan webhooks.Attempt
	state    webhooks.StateStore
	dbURL    string
}

func newEnv(t *testing.T) *env {
	url := "sqlite://" + filepath.Join(t.TempDir(), "parts.db")
	s, err := bunstore.Open(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &env{svc: parts.NewService(s, nil), clock: newFakeClock(), attempts: make(chan webhooks.Attempt, 100),
		state: &webhooks.MemoryState{}, dbURL: url}
}

// start runs a manager until the test ends (or stop is called).
func (e *env) start(t *testing.T, o webhooks.Options) (*webhooks.Manager, func()) {
	t.Helper()
	o.Clock, o.State = e.clock, e.state
	o.OnAttempt = func(_ string, a webhooks.Attempt) { e.attempts <- a }
	m, err := webhooks.New(e.svc, &o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return m, stop
}

func (e *env) attempt(t *testing.T) webhooks.Attempt {
	t.Helper()
	select {
	case a := <-e.attempts:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no attempt recorded")
		return webhooks.Attempt{}
	}
}

func local(id, url string) webhooks.Endpoint {
	return webhooks.Endpoint{ID: id, URL: url, Secret: secret, Enabled: true, AllowHTTP: true, AllowPrivate: true}
}

func (e *env) create(t *testing.T, partID string) *parts.Part {
	t.Helper()
	p, err := e.svc.CreatePart(t.Context(), &parts.Part{PartID: partID, Name: "Gearbox plate", Material: "al",
		Subsystem: "drive", Type: parts.TypeHand}, "ada")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeliveries_signedAndInOrder(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t)
	m, _ := e.start(t, webhooks.Options{})
	if _, err := m.Put(t.Context(), local("a", r.srv.URL)); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		e.create(t, fmt.Sprint("DRV-", i))
	}
	for i := range 5 {
		g := r.next(t)
		if err := webhooks.Verify(secret, g.header, g.body, time.Now(), 5*time.Minute); err != nil {
			t.Fatalf("delivery %d does not verify: %v", i, err)
		}
		if !strings.Contains(string(g.body), fmt.Sprintf(`"partId":"DRV-%d"`, i)) {
			t.Fatalf("delivery %d is %s, want DRV-%d (sequence order)", i, g.body, i)
		}
		if g.header.Get(webhooks.HeaderDelivery) == "" {
			t.Error("no delivery id")
		}
		tampered := append([]byte(nil), g.body...)
		tampered[len(tampered)-2] ^= 1
		if webhooks.Verify(secret, g.header, tampered, time.Now(), 5*time.Minute) == nil {
			t.Fatal("a tampered body verifies")
		}
		if webhooks.Verify(secret, g.header, g.body, time.Now().Add(time.Hour), 5*time.Minute) == nil {
			t.Fatal("a replay an hour later verifies")
		}
	}
}

func TestDeliveries_retryScheduleWithBackoff(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, 500, 429, 408, 503)
	m, _ := e.start(t, webhooks.Options{BaseDelay: time.Second})
	if _, err := m.Put(t.Context(), local("a", r.srv.URL)); err != nil {
		t.Fatal(err)
	}
	e.create(t, "DRV-1")
	var ids []string
	for n := 1; n <= 4; n++ {
		ids = append(ids, r.next(t).header.Get(webhooks.HeaderDelivery))
		if a := e.attempt(t); a.Outcome != "retry" || a.Attempt != n {
			t.Fatalf("attempt %d: %+v, want a retry", n, a)
		}
		w := e.clock.next(t)
		full := time.Second << (n - 1)
		if w.d < full/2 || w.d > full {
			t.Fatalf("wait after attempt %d is %v, want within [%v, %v]", n, w.d, full/2, full)
		}
		w.fire <- time.Now()
	}
	ids = append(ids, r.next(t).header.Get(webhooks.HeaderDelivery))
	if a := e.attempt(t); a.Outcome != "delivered" || a.Attempt != 5 || a.StatusCode != 200 {
		t.Fatalf("last attempt %+v, want delivered on the 5th", a)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("delivery ids %v change across retries", ids)
		}
	}
	st, _ := m.Get("a")
	if len(st.Deliveries) != 5 || st.Secret != "" {
		t.Fatalf("delivery log has %d attempts (want 5), secret shown: %v", len(st.Deliveries), st.Secret != "")
	}
}

func TestDeliveries_final4xxAndDisable(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, 400, 404, 410)
	m, _ := e.start(t, webhooks.Options{DisableAfter: 2})
	if _, err := m.Put(t.Context(), local("a", r.srv.URL)); err != nil {
		t.Fatal(err)
	}
	e.create(t, "DRV-1")
	e.create(t, "DRV-2")
	for i := range 2 {
		r.next(t)
		if a := e.attempt(t); a.Outcome != "failed" || a.Attempt != 1 {
			t.Fatalf("delivery %d: %+v, want one final failure", i, a)
		}
	}
	select {
	case w := <-e.clock.waits:
		t.Fatalf("a final 4xx scheduled a retry in %v", w.d)
	default:
	}
	st, _ := m.Get("a")
	if st.Enabled || !strings.Contains(st.DisabledReason, "2 deliveries failed in a row") {
		t.Fatalf("endpoint enabled=%v reason %q, want disabled after 2 failures", st.Enabled, st.DisabledReason)
	}
}

func TestDeliveries_disabledWhenRetriesRunOut(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, 503, 503, 503)
	m, _ := e.start(t, webhooks.Options{MaxAttempts: 2})
	if _, err := m.Put(t.Context(), local("a", r.srv.URL)); err != nil {
		t.Fatal(err)
	}
	e.create(t, "DRV-1")
	r.next(t)
	e.attempt(t)
	e.clock.next(t).fire <- time.Now()
	r.next(t)
	if a := e.attempt(t); a.Outcome != "gave-up" {
		t.Fatalf("last attempt %+v, want gave-up", a)
	}
	st, _ := m.Get("a")
	if st.Enabled || !strings.Contains(st.DisabledReason, "failed 2 times") {
		t.Fatalf("enabled=%v reason %q", st.Enabled, st.DisabledReason)
	}
	// Re-enabling resumes with the undelivered event.
	if _, err := m.Put(t.Context(), local("a", r.srv.URL)); err != nil {
		t.Fatal(err)
	}
	if g := r.next(t); !strings.Contains(string(g.body), "DRV-1") {
		t.Fatalf("after re-enabling got %s, want DRV-1 again", g.body)
	}
}

func TestDeliveries_restartResumesPending(t *testing.T) {
	e := newEnv(t)
	e.state = &webhooks.FileState{Path: filepath.Join(t.TempDir(), "webhooks.json")}
	r := newReceiver(t, 503)
	m, stop := e.start(t, webhooks.Options{})
	if _, err := m.Put(t.Context(), local("a", r.srv.URL)); err != nil {
		t.Fatal(err)
	}
	e.create(t, "DRV-1")
	first := r.next(t)
	e.attempt(t)
	e.clock.next(t) // the retry is scheduled; the process stops before it
	stop()
	m2, _ := e.start(t, webhooks.Options{})
	again := r.next(t)
	if again.header.Get(webhooks.HeaderDelivery) != first.header.Get(webhooks.HeaderDelivery) {
		t.Fatalf("after restart got delivery %s, want the pending %s", again.header.Get(webhooks.HeaderDelivery),
			first.header.Get(webhooks.HeaderDelivery))
	}
	if a := e.attempt(t); a.Outcome != "delivered" {
		t.Fatalf("%+v", a)
	}
	st, _ := m2.Get("a")
	if st.Cursor == 0 || len(st.Deliveries) != 2 {
		t.Fatalf("state after restart: cursor %d, %d attempts logged", st.Cursor, len(st.Deliveries))
	}
}

func TestDeliveries_ssrfGuard(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t)
	target := newReceiver(t)
	redirect := httptest.NewServer(http.RedirectHandler(target.srv.URL, http.StatusFound))
	t.Cleanup(redirect.Close)
	m, _ := e.start(t, webhooks.Options{})

	guarded := local("guarded", r.srv.URL)
	guarded.AllowPrivate = false
	if _, err := m.Put(t.Context(), guarded); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(t.Context(), local("redirect", redirect.URL)); err != nil {
		t.Fatal(err)
	}
	e.create(t, "DRV-1")
	seen := map[string]webhooks.Attempt{}
	for range 2 {
		a := e.attempt(t)
		seen[strings.Split(a.DeliveryID, "-")[0]] = a
	}
	if a := seen["guarded"]; a.Outcome != "failed" || !strings.Contains(a.Error, "address not allowed") {
		t.Errorf("loopback without allowPrivate: %+v, want refused", a)
	}
	if a := seen["redirect"]; a.Outcome != "failed" || a.StatusCode != 302 || !strings.Contains(a.Error, "redirect") {
		t.Errorf("redirect: %+v, want a final failure", a)
	}
	select {
	case g := <-r.got:
		t.Errorf("the guarded receiver was reached: %s", g.body)
	case g := <-target.got:
		t.Errorf("the redirect was followed: %s", g.body)
	default:
	}
	for _, bad := range []webhooks.Endpoint{
		{ID: "h", URL: "http://example.org/hook", Secret: secret},
		{ID: "f", URL: "file:///etc/passwd", Secret: secret},
		{ID: "s", URL: "https://example.org/hook", Secret: "short"},
		{ID: "bad id", URL: "https://example.org/hook", Secret: secret},
	} {
		if _, err := m.Put(t.Context(), bad); !errors.Is(err, parts.ErrInvalid) {
			t.Errorf("Put(%s) = %v, want ErrInvalid", bad.URL, err)
		}
	}
}

func TestMessage_slackAndDiscord(t *testing.T) {
	ev := &parts.Event{PartID: 3, PartNumber: "DRV-001", Name: "Gearbox plate", Action: "complete", Actor: "Ada"}
	if got := webhooks.Message(ev); got != "Gearbox plate (DRV-001) completed by Ada" {
		t.Errorf("complete: %q", got)
	}
	claim := &parts.Event{PartNumber: "DRV-001", Name: "Gearbox plate", Action: "assign", Actor: "key1",
		Changes: []parts.Change{{Field: "assigned", After: "Bob"}}}
	if got := webhooks.Message(claim); got != "Gearbox plate (DRV-001) claimed by Bob" {
		t.Errorf("assign: %q", got)
	}
	ready := &parts.Event{PartNumber: "DRV-001", Name: "Gearbox plate", Action: "file.uploaded", Actor: "converter",
		Changes: []parts.Change{{Field: "model", After: map[string]any{"state": "ready"}}}}
	if got := webhooks.Message(ready); got != "Gearbox plate (DRV-001): model ready" {
		t.Errorf("model ready: %q", got)
	}
	for f, key := range map[webhooks.Format]string{webhooks.FormatSlack: `{"text":`, webhooks.FormatDiscord: `{"content":`} {
		b, err := webhooks.Body(f, ev)
		if err != nil || !strings.HasPrefix(string(b), key) || !strings.Contains(string(b), "completed by Ada") {
			t.Errorf("%s body %s, %v", f, b, err)
		}
	}
}
