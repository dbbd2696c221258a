package webhooks

import (
	"context"
	"fmt"
	"net/http"

	"github.com/partflow/partflow/parts"
)

// deliver sends e to ep until it is delivered, answered finally, or its
// retries run out. Over a SharedState every attempt first checks that ep
// is still saved as it is and enabled: a change made on another server
// stops it at once (the worker is restarted, if need be, at the next
// reload). It returns false when the worker must stop (the
// endpoint was disabled or ctx ended); the cursor then stays before e, so
// e is delivered again after a restart or re-enabling.
func (m *Manager) deliver(ctx context.Context, c *http.Client, ep *Endpoint, e *parts.Event) bool {
	body, err := Body(ep.Format, e)
	if err != nil {
		m.disable(ep.ID, "cannot encode event: "+err.Error())
		return false
	}
	id := fmt.Sprintf("%s-%d", ep.ID, e.ID)
	for n := 1; ; n++ {
		if !m.current(ep) {
			return false
		}
		now := m.o.Clock.Now()
		r := post(ctx, c, ep, id, body, now)
		if ctx.Err() != nil {
			return false
		}
		a := Attempt{At: now.UTC(), Seq: e.ID, DeliveryID: id, Attempt: n, StatusCode: r.status, Latency: r.latency}
		if r.err != nil {
			a.Error = r.err.Error()
		}
		switch {
		case r.err == nil:
			a.Outcome = "delivered"
			return m.record(ep.ID, a, e.ID, false, "")
		case r.retry && n < m.o.MaxAttempts:
			a.Outcome = "retry"
			m.record(ep.ID, a, 0, false, "")
			select {
			case <-m.o.Clock.After(m.backoff(n)):
			case <-ctx.Done():
				return false
			}
		case r.retry:
			a.Outcome = "gave-up"
			m.o.Logger.Warn("webhook delivery gave up; endpoint disabled", "endpoint", ep.ID, "seq", e.ID, "err", a.Error)
			return m.record(ep.ID, a, 0, true,
				fmt.Sprintf("delivery %s failed %d times (last: %s)", id, n, a.Error))
		default:
			a.Outcome = "failed"
			m.o.Logger.Warn("webhook delivery failed", "endpoint", ep.ID, "seq", e.ID, "err", a.Error)
			return m.record(ep.ID, a, e.ID, true, "")
		}
	}
}

// record appends a to the endpoint's log and saves the state. cursor > 0
// moves the cursor past a handled event; failed counts a failed delivery
// (a final one disables the endpoint after DisableAfter in a row, one with
// a reason disables it at once). It returns whether the worker goes on.
func (m *Manager) record(id string, a Attempt, cursor int64, failed bool, reason string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	goOn := false
	err := m.updateLocked(func(eps map[string]*Status) error {
		s, ok := eps[id]
		if !ok {
			goOn = false
			return nil
		}
		s.Deliveries = append(s.Deliveries, a)
		if n := len(s.Deliveries) - m.o.LogSize; n > 0 {
			s.Deliveries = append([]Attempt(nil), s.Deliveries[n:]...)
		}
		if cursor > 0 {
			s.Cursor = max(s.Cursor, cursor)
		}
		why := reason
		switch {
		case failed:
			s.Failures++
			if why == "" && s.Failures >= m.o.DisableAfter {
				why = fmt.Sprintf("%d deliveries failed in a row (last: %s)", s.Failures, a.Error)
			}
		case a.Outcome == "delivered":
			s.Failures = 0
		}
		if why != "" {
			s.Enabled, s.DisabledReason = false, why
		}
		goOn = s.Enabled
		return nil
	})
	if err != nil {
		m.o.Logger.Error("webhooks: save state", "err", err)
	}
	if m.o.OnAttempt != nil {
		m.o.OnAttempt(id, a)
	}
	return goOn
}

// disable turns an endpoint off with a reason.
func (m *Manager) disable(id, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.updateLocked(func(eps map[string]*Status) error {
		if s, ok := eps[id]; ok {
			s.Enabled, s.DisabledReason = false, reason
		}
		return nil
	})
	if err != nil {
		m.o.Logger.Error("webhooks: save state", "err", err)
	}
	m.o.Logger.Warn("webhook endpoint disabled", "endpoint", id, "reason", reason)
}
