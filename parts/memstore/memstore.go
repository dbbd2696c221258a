package memstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/partflow/partflow/parts"
)

// Store is a parts.Store held in memory. The zero value is not usable; call
// New.
type Store struct {
	mu     sync.RWMutex
	parts  map[int64]*parts.Part
	events []*parts.Event // the change log, in ID order
	jobs   []*parts.Job   // in ID order
	// lastPart, lastEvent and lastJob are the highest ids handed out.
	lastPart, lastEvent, lastJob int64
	// horizon is the id of the newest pruned event.
	horizon int64
	now     func() time.Time
}

var _ parts.Store = (*Store)(nil)

// New returns an empty Store. now stamps jobs; nil is time.Now.
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{parts: map[int64]*parts.Part{}, now: now}
}

// stored returns the copy of p the store keeps: times in UTC at microsecond
// precision, like the SQL drivers.
func stored(p *parts.Part) *parts.Part {
	c := p.Clone()
	us := func(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
	c.CreatedAt, c.UpdatedAt = us(c.CreatedAt), us(c.UpdatedAt)
	if c.ClaimedDate != nil {
		t := us(*c.ClaimedDate)
		c.ClaimedDate = &t
	}
	for i := range c.Files {
		c.Files[i].UploadedAt = us(c.Files[i].UploadedAt)
	}
	return c
}

// FindPartByID implements parts.Store.
func (s *Store) FindPartByID(ctx context.Context, id int64) (*parts.Part, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.parts[id]
	if !ok {
		return nil, fmt.Errorf("part %d: %w", id, parts.ErrNotFound)
	}
	return p.Clone(), nil
}

// FindParts implements parts.Store.
func (s *Store) FindParts(ctx context.Context, f parts.Filter) ([]*parts.Part, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.RLock()
	var all []*parts.Part
	q := fold(f.Search)
	for _, p := range s.parts {
		if (f.Category == "" || p.Category == f.Category) && (q == "" || matches(p, q)) {
			all = append(all, p)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(all, func(a, b *parts.Part) int {
		c := cmp.Or(compareBy(a, b, f.SortBy), cmp.Compare(a.ID, b.ID))
		if !f.Asc {
			c = -c
		}
		return c
	})
	total := len(all)
	all = all[min(f.Offset, total):]
	if f.Limit > 0 {
		all = all[:min(f.Limit, len(all))]
	}
	out := make([]*parts.Part, len(all))
	for i, p := range all {
		out[i] = p.Clone()
	}
	return out, total, nil
}

// fold is the case folding of search: lower case, final sigma as sigma.
func fold(s string) string { return strings.ReplaceAll(strings.ToLower(s), "ς", "σ") }

// matches reports whether one searched field of p holds q (folded).
func matches(p *parts.Part, q string) bool {
	for _, v := range parts.SearchText(p) {
		if strings.Contains(fold(v), q) {
			return true
		}
	}
	return false
}

// compareBy orders a and b by field; a missing claim date sorts first.
func compareBy(a, b *parts.Part, field parts.SortField) int {
	switch field {
	case parts.SortUpdatedAt:
		return a.UpdatedAt.Compare(b.UpdatedAt)
	case parts.SortID:
		return 0
	case parts.SortClaimedDate:
		switch {
		case a.ClaimedDate == nil || b.ClaimedDate == nil:
			return cmp.Compare(claimed(a), claimed(b))
		default:
			return a.ClaimedDate.Compare(*b.ClaimedDate)
		}
	case parts.SortCreatedAt, "":
		return a.CreatedAt.Compare(b.CreatedAt)
	}
	if f, ok := plainSort[field]; ok {
		if f.Kind == parts.FieldInt {
			return cmp.Compare(*f.Int(a), *f.Int(b))
		}
		return strings.Compare(*f.Text(a), *f.Text(b))
	}
	return 0
}

// plainSort are the sortable plain fields by their sort field.
var plainSort = func() map[parts.SortField]parts.Field {
	out := map[parts.SortField]parts.Field{}
	for _, f := range parts.Fields() {
		if f.Sort {
			out[parts.SortField(f.Column)] = f
		}
	}
	return out
}()

func claimed(p *parts.Part) int {
	if p.ClaimedDate == nil {
		return 0
	}
	return 1
}

// Stats implements parts.Store.
func (s *Store) Stats(ctx context.Context) (*parts.Stats, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := &parts.Stats{ByCategory: map[parts.Category]int{}, ByStatus: map[parts.Status]int{}}
	for _, p := range s.parts {
		st.Total++
		st.ByCategory[p.Category]++
		st.ByStatus[p.Status]++
		if p.Assigned != "" {
			st.Assigned++
		} else {
			st.Unassigned++
		}
	}
	return st, nil
}

// FindEvents implements parts.Store.
func (s *Store) FindEvents(ctx context.Context, partID int64) ([]*parts.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []*parts.Event{}
	for _, e := range s.events {
		if e.PartID == partID {
			out = append(out, cloneEvent(e))
		}
	}
	return out, nil
}

// cloneEvent copies e; its changes go through JSON as the SQL drivers'
// do, so values come back as JSON decodes them.
func cloneEvent(e *parts.Event) *parts.Event {
	c := *e
	if b, err := json.Marshal(e.Changes); err == nil {
		c.Changes = nil
		_ = json.Unmarshal(b, &c.Changes)
	}
	return &c
}

// Close implements parts.Store; the data is dropped with the Store.
func (s *Store) Close() error { return nil }
