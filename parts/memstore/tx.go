package memstore

import (
	"context"
	"fmt"

	"github.com/partflow/partflow/parts"
)

// tx is one Update: its writes are staged and applied when fn succeeds.
// The Store's write lock is held throughout, so transactions serialise.
type tx struct {
	s      *Store
	staged map[int64]*parts.Part // nil: deleted
	events []*parts.Event
	jobs   []*parts.Job
	// lastPart, lastEvent and lastJob are the Store's, advanced by this tx.
	lastPart, lastEvent, lastJob int64
}

// Update implements parts.Store.
func (s *Store) Update(ctx context.Context, fn func(ctx context.Context, tx parts.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &tx{s: s, staged: map[int64]*parts.Part{}, lastPart: s.lastPart, lastEvent: s.lastEvent, lastJob: s.lastJob}
	if err := fn(ctx, t); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for id, p := range t.staged {
		if p == nil {
			delete(s.parts, id)
		} else {
			s.parts[id] = p
		}
	}
	s.events = append(s.events, t.events...)
	s.jobs = append(s.jobs, t.jobs...)
	s.lastPart, s.lastEvent, s.lastJob = t.lastPart, t.lastEvent, t.lastJob
	return nil
}

// find returns the part as this transaction sees it (not a copy).
func (t *tx) find(id int64) (*parts.Part, bool) {
	if p, ok := t.staged[id]; ok {
		return p, p != nil
	}
	p, ok := t.s.parts[id]
	return p, ok
}

// FindPartByID implements parts.Tx.
func (t *tx) FindPartByID(ctx context.Context, id int64) (*parts.Part, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, ok := t.find(id)
	if !ok {
		return nil, fmt.Errorf("part %d: %w", id, parts.ErrNotFound)
	}
	return p.Clone(), nil
}

// CreatePart implements parts.Tx. A part with an ID (an import) keeps it;
// new ids go above every id handed out.
func (t *tx) CreatePart(ctx context.Context, p *parts.Part) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.ID != 0 {
		if _, taken := t.find(p.ID); taken {
			return fmt.Errorf("create part %d: id is taken: %w", p.ID, parts.ErrConflict)
		}
		t.lastPart = max(t.lastPart, p.ID)
	} else {
		t.lastPart++
		p.ID = t.lastPart
	}
	t.staged[p.ID] = stored(p)
	return nil
}

// UpdatePart implements parts.Tx.
func (t *tx) UpdatePart(ctx context.Context, p *parts.Part, prevVersion int64) error {
	if err := t.check(ctx, p.ID, prevVersion); err != nil {
		return fmt.Errorf("update part %d: %w", p.ID, err)
	}
	t.staged[p.ID] = stored(p)
	return nil
}

// DeletePart implements parts.Tx.
func (t *tx) DeletePart(ctx context.Context, id int64, prevVersion int64) error {
	if err := t.check(ctx, id, prevVersion); err != nil {
		return fmt.Errorf("delete part %d: %w", id, err)
	}
	t.staged[id] = nil
	return nil
}

// check explains a write guarded by the part's version: the part is gone
// (ErrNotFound) or has moved on (ErrConflict).
func (t *tx) check(ctx context.Context, id, prev int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cur, ok := t.find(id)
	if !ok {
		return parts.ErrNotFound
	}
	if cur.Version != prev {
		return fmt.Errorf("%w: stored version is %d, expected %d", parts.ErrConflict, cur.Version, prev)
	}
	return nil
}

// AddEvent implements parts.Tx.
func (t *tx) AddEvent(ctx context.Context, e *parts.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t.lastEvent++
	e.ID = t.lastEvent
	c := cloneEvent(e)
	c.At = c.At.UTC().Truncate(1000)
	t.events = append(t.events, c)
	return nil
}

// EnqueueJob implements parts.Tx.
func (t *tx) EnqueueJob(ctx context.Context, j *parts.Job) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = t.s.now()
	}
	if j.UpdatedAt.IsZero() {
		j.UpdatedAt = j.CreatedAt
	}
	j.State = parts.JobQueued
	j.CreatedAt, j.UpdatedAt = j.CreatedAt.UTC().Truncate(1000), j.UpdatedAt.UTC().Truncate(1000)
	t.lastJob++
	j.ID = t.lastJob
	c := *j
	t.jobs = append(t.jobs, &c)
	return nil
}
