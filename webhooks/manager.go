package webhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/partflow/partflow/parts"
)

// Clock is the time source of retries; tests inject a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options configure a Manager. Zero fields get the defaults.
type Options struct {
	// State keeps endpoints, cursors and delivery logs; default in memory.
	State StateStore
	// Clock times retries and signatures; default the real clock.
	Clock Clock
	// Logger receives delivery failures (never secrets or bodies).
	Logger *slog.Logger
	// MaxAttempts is how often one delivery is tried; default 8.
	MaxAttempts int
	// BaseDelay is the wait after a first failed attempt; it doubles after
	// each further one, up to MaxDelay, and is jittered down by up to half.
	// Defaults 1s and 15m.
	BaseDelay, MaxDelay time.Duration
	// Timeout bounds one attempt (connect, TLS, response); default 10s.
	Timeout time.Duration
	// DisableAfter disables an endpoint after this many failed deliveries
	// in a row (final 4xx answers); default 20. A delivery whose retries
	// run out disables it at once.
	DisableAfter int
	// LogSize is how many attempts each delivery log keeps; default 50.
	LogSize int
	// Rand returns a number in [0, 1) for jitter; default math/rand/v2.
	Rand func() float64
	// OnAttempt, when set, is called after every attempt is recorded
	// (metrics, tests). It must not block for long.
	OnAttempt func(endpoint string, a Attempt)
	// Refresh is how often a running Manager over a SharedState reloads
	// the endpoints, to start, stop or restart its workers after changes
	// made by other servers; default 2s.
	Refresh time.Duration
	// OnRefresh, when set, is called after every such reload (tests).
	OnRefresh func()
}

func (o *Options) normalize() Options {
	out := Options{}
	if o != nil {
		out = *o
	}
	if out.State == nil {
		out.State = &MemoryState{}
	}
	if out.Clock == nil {
		out.Clock = realClock{}
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	out.MaxAttempts = cmpOr(out.MaxAttempts, 8)
	out.BaseDelay = cmpOr(out.BaseDelay, time.Second)
	out.MaxDelay = cmpOr(out.MaxDelay, 15*time.Minute)
	out.Timeout = cmpOr(out.Timeout, 10*time.Second)
	out.DisableAfter = cmpOr(out.DisableAfter, 20)
	out.LogSize = cmpOr(out.LogSize, 50)
	out.Refresh = cmpOr(out.Refresh, 2*time.Second)
	if out.Rand == nil {
		out.Rand = rand.Float64
	}
	return out
}

func cmpOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Manager delivers a Service's change log to the configured endpoints.
type Manager struct {
	svc *parts.Service
	o   Options

	mu      sync.Mutex
	eps     map[string]*Status
	workers map[string]*worker
	ctx     context.Context // set by Run
}

type worker struct {
	ep     Endpoint // the configuration it delivers with
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Manager over svc with the endpoints saved in opts.State.
func New(svc *parts.Service, opts *Options) (*Manager, error) {
	o := opts.normalize()
	saved, err := o.State.Load()
	if err != nil {
		return nil, err
	}
	m := &Manager{svc: svc, o: o, eps: map[string]*Status{}, workers: map[string]*worker{}}
	for i := range saved {
		s := saved[i]
		m.eps[s.ID] = &s
	}
	return m, nil
}

// Run starts a worker per enabled endpoint and blocks until ctx ends, then
// waits for the workers. Deliveries in flight are retried after a restart.
func (m *Manager) Run(ctx context.Context) error {
	m.reload()
	m.mu.Lock()
	m.ctx = ctx
	for id, s := range m.eps {
		if s.Enabled {
			m.startLocked(id)
		}
	}
	m.mu.Unlock()
	m.follow(ctx)
	m.mu.Lock()
	ws := make([]*worker, 0, len(m.workers))
	for _, w := range m.workers {
		ws = append(ws, w)
	}
	m.mu.Unlock()
	for _, w := range ws {
		<-w.done
	}
	return nil
}

// List returns every endpoint with its state, secrets removed, by id.
func (m *Manager) List() []Status {
	m.reload()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Status, 0, len(m.eps))
	for _, s := range m.eps {
		out = append(out, s.Redacted())
	}
	slices.SortFunc(out, func(a, b Status) int { return compareStrings(a.ID, b.ID) })
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Get returns one endpoint without its secret, or ErrNotFound.
func (m *Manager) Get(id string) (Status, error) {
	m.reload()
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.eps[id]
	if !ok {
		return Status{}, ErrNotFound
	}
	return s.Redacted(), nil
}

// Put creates or replaces endpoint e. An existing endpoint keeps its
// cursor, delivery log and (when e.Secret is empty) its secret; enabling it
// clears the reason it was disabled, and it resumes after its cursor. A new
// endpoint starts at the head of the log: it gets events from now on.
func (m *Manager) Put(ctx context.Context, e Endpoint) (Status, error) {
	page, err := m.svc.Events(ctx, parts.EventQuery{After: parts.FromHead})
	if err != nil {
		return Status{}, fmt.Errorf("webhooks: put %s: %w", e.ID, err)
	}
	m.stop(e.ID)
	m.mu.Lock()
	defer m.mu.Unlock()
	var out Status
	err = m.updateLocked(func(eps map[string]*Status) error {
		e := e
		old, exists := eps[e.ID]
		if exists && e.Secret == "" {
			e.Secret = old.Secret
		}
		if err := e.Validate(); err != nil {
			return err
		}
		s := &Status{Endpoint: e, Cursor: page.Next, Deliveries: []Attempt{}}
		if exists {
			s.Cursor, s.Deliveries, s.Failures, s.DisabledReason = old.Cursor, old.Deliveries, old.Failures, old.DisabledReason
			if e.Enabled {
				s.Failures, s.DisabledReason = 0, ""
			}
		}
		s.Actions = append([]string(nil), e.Actions...)
		eps[e.ID] = s
		out = s.Redacted()
		return nil
	})
	if err != nil {
		return Status{}, err
	}
	if out.Enabled && m.ctx != nil {
		m.startLocked(e.ID)
	}
	return out, nil
}

// Delete removes an endpoint (its pending deliveries are dropped), or
// returns ErrNotFound.
func (m *Manager) Delete(id string) error {
	m.stop(id)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.updateLocked(func(eps map[string]*Status) error {
		if _, ok := eps[id]; !ok {
			return ErrNotFound
		}
		delete(eps, id)
		return nil
	})
}

// stop ends the worker of id, if any, and waits for it.
func (m *Manager) stop(id string) {
	m.mu.Lock()
	w := m.workers[id]
	delete(m.workers, id)
	m.mu.Unlock()
	if w != nil {
		w.cancel()
		<-w.done
	}
}

func (m *Manager) startLocked(id string) {
	ctx, cancel := context.WithCancel(m.ctx)
	ep := m.eps[id].Endpoint
	w := &worker{ep: ep, cancel: cancel, done: make(chan struct{})}
	m.workers[id] = w
	cursor := m.eps[id].Cursor
	go func() {
		defer close(w.done)
		m.work(ctx, ep, cursor)
	}()
}

func (m *Manager) saveLocked() error {
	if err := m.o.State.Save(sorted(m.eps)); err != nil {
		m.o.Logger.Error("webhooks: save state", "err", err)
		return err
	}
	return nil
}

// work delivers the events after cursor to ep, in order, until ctx ends or
// the endpoint is disabled.
func (m *Manager) work(ctx context.Context, ep Endpoint, cursor int64) {
	sub, err := m.svc.Subscribe(ctx, parts.EventQuery{After: cursor, Category: ep.Category, Actions: ep.Actions})
	if err != nil {
		m.disable(ep.ID, "invalid filter: "+err.Error())
		return
	}
	client := newClient(ep.AllowPrivate, m.o.Timeout)
	defer client.CloseIdleConnections()
	for e := range sub.C {
		if !m.deliver(ctx, client, &ep, e) {
			return
		}
	}
	if errors.Is(sub.Err(), parts.ErrCursorExpired) {
		m.disable(ep.ID, "events after the cursor were pruned before delivery; delete and add the endpoint again to follow from now")
	}
}

// backoff is the wait after attempt n (1-based) failed.
func (m *Manager) backoff(n int) time.Duration {
	d := m.o.BaseDelay
	for i := 1; i < n && d < m.o.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, m.o.MaxDelay)
	return d/2 + time.Duration(m.o.Rand()*float64(d/2))
}
