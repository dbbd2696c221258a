package webhooks

import (
	"context"
	"reflect"
	"slices"
	"time"
)

// With a SharedState the saved endpoints are the truth and the Manager's
// map a copy: every change is an Update of the saved ones (fn runs on
// them, maybe more than once), reads reload them, and a running Manager
// reloads them every Options.Refresh to follow other servers' changes.

// updateLocked applies fn to the endpoints and saves them. Without a
// SharedState it changes the Manager's own and saves them all.
func (m *Manager) updateLocked(fn func(eps map[string]*Status) error) error {
	shared, ok := m.o.State.(SharedState)
	if !ok {
		if err := fn(m.eps); err != nil {
			return err
		}
		return m.saveLocked()
	}
	var now map[string]*Status
	err := shared.Update(func(list []Status) ([]Status, error) {
		now = byID(list)
		if err := fn(now); err != nil {
			return nil, err
		}
		return sorted(now), nil
	})
	if err == nil {
		m.eps = now
	}
	return err
}

// byID indexes a saved list.
func byID(list []Status) map[string]*Status {
	out := make(map[string]*Status, len(list))
	for i := range list {
		s := list[i]
		out[s.ID] = &s
	}
	return out
}

// sorted lists eps by id.
func sorted(eps map[string]*Status) []Status {
	list := make([]Status, 0, len(eps))
	for _, s := range eps {
		list = append(list, *s)
	}
	slices.SortFunc(list, func(a, b Status) int { return compareStrings(a.ID, b.ID) })
	return list
}

// reload replaces the Manager's endpoints by the saved ones, when they are
// shared; on an error it keeps the ones it has.
func (m *Manager) reload() {
	shared, ok := m.o.State.(SharedState)
	if !ok {
		return
	}
	list, err := shared.Load()
	if err != nil {
		m.o.Logger.Warn("webhooks: reload state", "err", err)
		return
	}
	m.mu.Lock()
	m.eps = byID(list)
	m.mu.Unlock()
}

// follow waits for ctx to end; over a SharedState it meanwhile reloads the
// endpoints every Refresh and brings the workers in line with them.
func (m *Manager) follow(ctx context.Context) {
	if _, ok := m.o.State.(SharedState); !ok {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(m.o.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.reload()
		m.reconcile()
		if m.o.OnRefresh != nil {
			m.o.OnRefresh()
		}
	}
}

// reconcile stops the workers of endpoints deleted, disabled or changed,
// and starts one for every enabled endpoint without a running worker.
func (m *Manager) reconcile() {
	m.mu.Lock()
	var stale []string
	for id, w := range m.workers {
		s, ok := m.eps[id]
		if !ok || !s.Enabled || !reflect.DeepEqual(w.ep, s.Endpoint) {
			stale = append(stale, id)
		}
	}
	m.mu.Unlock()
	for _, id := range stale {
		m.stop(id)
	}
	// A stopped worker may have moved the cursor: start from the saved one.
	m.reload()
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, s := range m.eps {
		w, running := m.workers[id]
		if running {
			select {
			case <-w.done:
				running = false
			default:
			}
		}
		if s.Enabled && !running && m.ctx.Err() == nil {
			m.startLocked(id)
		}
	}
}

// current says whether ep is still saved, unchanged and enabled. Without a
// SharedState, or when the saved endpoints cannot be read, it is.
func (m *Manager) current(ep *Endpoint) bool {
	shared, ok := m.o.State.(SharedState)
	if !ok {
		return true
	}
	list, err := shared.Load()
	if err != nil {
		m.o.Logger.Warn("webhooks: reload state", "err", err)
		return true
	}
	for _, s := range list {
		if s.ID == ep.ID {
			return s.Enabled && reflect.DeepEqual(s.Endpoint, *ep)
		}
	}
	return false
}
