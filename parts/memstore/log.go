package memstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/partflow/partflow/parts"
)

// NextJob implements parts.Store.
func (s *Store) NextJob(ctx context.Context) (*parts.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var next *parts.Job
	for _, j := range s.jobs {
		if j.State == parts.JobQueued && (next == nil || j.CreatedAt.Before(next.CreatedAt)) {
			next = j
		}
	}
	if next == nil {
		return nil, fmt.Errorf("next job: %w", parts.ErrNotFound)
	}
	next.State, next.UpdatedAt = parts.JobRunning, s.now().UTC().Truncate(time.Microsecond)
	next.Attempts++
	c := *next
	return &c, nil
}

// FinishJob implements parts.Store.
func (s *Store) FinishJob(ctx context.Context, id int64, state parts.JobState, message string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.jobs, func(j *parts.Job) bool { return j.ID == id })
	if i < 0 {
		return fmt.Errorf("finish job %d: %w", id, parts.ErrNotFound)
	}
	j := s.jobs[i]
	j.State, j.Error, j.UpdatedAt = state, message, s.now().UTC().Truncate(time.Microsecond)
	return nil
}

// RequeueRunningJobs implements parts.Store.
func (s *Store) RequeueRunningJobs(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, j := range s.jobs {
		if j.State == parts.JobRunning {
			j.State = parts.JobQueued
			n++
		}
	}
	return n, nil
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
