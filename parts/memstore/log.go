package memstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/partflow/partflow/parts"
)

// NextJob implements parts.Store.
func (s *Store) NextJob(ctx context.Context, l parts.Lease) (*parts.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := l.Check(); err != nil {
		return nil, fmt.Errorf("next job: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var next *parts.Job
	for _, j := range s.jobs {
		free := j.State == parts.JobQueued || (j.State == parts.JobRunning && j.LeaseUntil.Before(l.Now))
		if free && (next == nil || j.CreatedAt.Before(next.CreatedAt)) {
			next = j
		}
	}
	if next == nil {
		return nil, fmt.Errorf("next job: %w", parts.ErrNotFound)
	}
	next.State, next.UpdatedAt = parts.JobRunning, micros(s.now())
	next.LeaseOwner, next.LeaseUntil = l.Owner, micros(l.Until)
	next.Attempts++
	c := *next
	return &c, nil
}

func micros(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// held runs set on job id if owner holds it; otherwise it explains why not.
func (s *Store) held(ctx context.Context, verb string, id int64, owner string, set func(j *parts.Job)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.jobs, func(j *parts.Job) bool { return j.ID == id })
	if i < 0 {
		return fmt.Errorf("%s job %d: %w", verb, id, parts.ErrNotFound)
	}
	j := s.jobs[i]
	switch {
	case j.State != parts.JobRunning:
		return fmt.Errorf("%s job %d: job is %s, not running: %w", verb, id, j.State, parts.ErrConflict)
	case j.LeaseOwner != owner:
		return fmt.Errorf("%s job %d: %q holds the job, not %q: %w", verb, id, j.LeaseOwner, owner, parts.ErrConflict)
	}
	j.UpdatedAt = micros(s.now())
	set(j)
	return nil
}

// RenewJob implements parts.Store.
func (s *Store) RenewJob(ctx context.Context, id int64, l parts.Lease) error {
	return s.held(ctx, "renew", id, l.Owner, func(j *parts.Job) { j.LeaseUntil = micros(l.Until) })
}

// FinishJob implements parts.Store.
func (s *Store) FinishJob(ctx context.Context, id int64, owner string, state parts.JobState, message string) error {
	if state != parts.JobDone && state != parts.JobFailed {
		return fmt.Errorf("finish job %d: %w", id, &parts.ValidationError{Field: "state",
			Reason: fmt.Sprintf("a job finishes as %s or %s, not %q", parts.JobDone, parts.JobFailed, state)})
	}
	return s.held(ctx, "finish", id, owner, func(j *parts.Job) {
		j.State, j.Error, j.LeaseOwner, j.LeaseUntil = state, message, "", time.Time{}
	})
}

// ReleaseJob implements parts.Store.
func (s *Store) ReleaseJob(ctx context.Context, id int64, owner string) error {
	return s.held(ctx, "release", id, owner, func(j *parts.Job) {
		j.State, j.LeaseOwner, j.LeaseUntil = parts.JobQueued, "", time.Time{}
	})
}

// ReadLog implements parts.Store.
func (s *Store) ReadLog(ctx context.Context, q parts.EventQuery) (*parts.EventPage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	page := &parts.EventPage{Events: []*parts.Event{}, Head: s.lastEvent}
	if q.After < 0 {
		page.Next = s.lastEvent
		return page, nil
	}
	if q.After < s.horizon {
		return nil, fmt.Errorf("read log after %d (pruned up to %d): %w", q.After, s.horizon, parts.ErrCursorExpired)
	}
	page.Next = max(q.After, s.lastEvent)
	for _, e := range s.events {
		if e.ID <= q.After || !q.Match(e) {
			continue
		}
		page.Events = append(page.Events, cloneEvent(e))
		if len(page.Events) == q.Limit {
			page.Next = e.ID
			break
		}
	}
	return page, nil
}

// PruneLog implements parts.Store.
func (s *Store) PruneLog(ctx context.Context, olderThan time.Time, keep int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cut := 0
	if !olderThan.IsZero() {
		for cut < len(s.events) && s.events[cut].At.Before(olderThan) {
			cut++
		}
	}
	if keep > 0 && len(s.events)-cut > keep {
		cut = len(s.events) - keep
	}
	if cut == 0 {
		return 0, nil
	}
	s.horizon = s.events[cut-1].ID
	s.events = slices.Delete(s.events, 0, cut)
	return cut, nil
}

// StoredEvent implements parts.StoredEventer: e as ReadLog returns it once
// committed (as AddEvent stores it, then cloned as ReadLog clones it).
func (s *Store) StoredEvent(e *parts.Event) (*parts.Event, error) {
	c := cloneEvent(e)
	c.At = c.At.UTC().Truncate(1000)
	return cloneEvent(c), nil
}
