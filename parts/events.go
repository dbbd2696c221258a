package parts

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// DefaultEventLimit is the page size of the change log when EventQuery.Limit is 0.
const DefaultEventLimit = 100

// MaxEventLimit is the largest page of the change log a reader may ask for.
const MaxEventLimit = 1000

// FromHead as EventQuery.After starts at the head of the log: a reader that
// wants only events committed from now on.
const FromHead int64 = -1

// EventQuery selects events of the change log after a cursor.
type EventQuery struct {
	// After is the cursor: events with ID > After are read. 0 is the start
	// of the log; FromHead (any negative value) is its current head.
	After int64
	// Limit is the page size: 0 means DefaultEventLimit; at most
	// MaxEventLimit.
	Limit int
	// PartID restricts to one part's events; 0 means all parts.
	PartID int64
	// Category restricts to events whose part is in that category after
	// the change; empty means all.
	Category Category
	// Actions restricts to events with one of these actions ("create",
	// "complete", "file.uploaded", ...); empty means all.
	Actions []string
}

// Match reports whether e passes q's filters (not its cursor).
func (q *EventQuery) Match(e *Event) bool {
	if q.PartID != 0 && e.PartID != q.PartID {
		return false
	}
	if q.Category != "" && e.Category != q.Category {
		return false
	}
	if len(q.Actions) == 0 {
		return true
	}
	for _, a := range q.Actions {
		if a == e.Action {
			return true
		}
	}
	return false
}

// EventPage is one page of the change log.
type EventPage struct {
	// Events are the matching events, oldest first.
	Events []*Event
	// Next is the cursor to read from next: the ID of the last event of a
	// full page, or the head of the log when the page is not full, so that
	// a filtered reader moves past events it does not want. It is never
	// below the query's cursor.
	Next int64
	// Head is the ID of the newest event in the log when it was read (0
	// for an empty log).
	Head int64
}

// EventOptions configure the change log of a Service. Zero fields get the
// defaults.
type EventOptions struct {
	// Poll is how often subscribers look for events committed by other
	// processes (or other Services) sharing the store; default 250ms.
	// Commits through this Service wake them at once.
	Poll time.Duration
	// Coalesce is the shortest time between two reads of new events for
	// subscribers, default 20ms: under a burst of commits each wake-up of
	// the subscribers carries a batch instead of one event. While a burst
	// goes on (a read found 16 events or more) the next read waits five
	// times as long. A commit after a quiet spell is read at once.
	Coalesce time.Duration
	// Buffer is how many recent events the Service keeps in memory for
	// subscribers that are caught up; default 4096. Subscribers further
	// behind read from the store.
	Buffer int
	// MaxAge and MaxCount bound the log for PruneEvents: events older than
	// MaxAge, and all but the newest MaxCount, are deleted. Zero means no
	// bound of that kind. A part's history loses pruned events too.
	MaxAge   time.Duration
	MaxCount int
}

func (o EventOptions) normalize() EventOptions {
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.Coalesce <= 0 {
		o.Coalesce = 20 * time.Millisecond
	}
	if o.Buffer <= 0 {
		o.Buffer = 4096
	}
	return o
}

// newEvent describes a change of p (the part after it; for a delete, the
// part as it was).
func newEvent(p *Part, action, actor string, at time.Time, changes []Change) *Event {
	return &Event{PartID: p.ID, PartNumber: p.PartID, Name: p.Name, Category: p.Category,
		Version: p.Version, Action: action, Actor: actor, At: at, Changes: changes}
}

// update runs fn in one store transaction and, once it has committed, wakes
// this Service's subscribers: with the events the transaction added when
// the store can give their stored form (StoredEventer), so the feed need
// not read them back, else with a note to read the store.
func (s *Service) update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	if s.feed.stored == nil {
		err := s.store.Update(ctx, fn)
		s.feed.notify(true)
		return err
	}
	var added []*Event
	err := s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		added = added[:0] // a store may run fn again
		return fn(ctx, &eventTx{Tx: tx, added: &added})
	})
	if err != nil {
		// Whether it committed may be unknown: read the store.
		s.feed.notify(true)
		return err
	}
	s.feed.committed(added)
	return nil
}

// eventTx records the events a transaction adds.
type eventTx struct {
	Tx
	added *[]*Event
}

func (t *eventTx) AddEvent(ctx context.Context, e *Event) error {
	if err := t.Tx.AddEvent(ctx, e); err != nil {
		return err
	}
	*t.added = append(*t.added, e)
	return nil
}

// maxActions bounds the action filter of an EventQuery.
const maxActions = 32

// normalizeQuery validates q and fills in the defaults.
func normalizeQuery(q EventQuery) (EventQuery, error) {
	if q.After < 0 {
		q.After = FromHead
	}
	if q.Limit == 0 {
		q.Limit = DefaultEventLimit
	}
	if q.Limit < 0 || q.Limit > MaxEventLimit {
		return q, invalid("limit", "limit must be between 1 and %d", MaxEventLimit)
	}
	if q.PartID < 0 {
		return q, invalid("part", "part must be a positive id")
	}
	if q.Category != "" && !q.Category.Valid() {
		return q, invalid("category", "unknown category %q", q.Category)
	}
	if len(q.Actions) > maxActions {
		return q, invalid("action", "at most %d actions", maxActions)
	}
	for _, a := range q.Actions {
		if a == "" || len(a) > 64 || !utf8.ValidString(a) {
			return q, invalid("action", "action must be a name of at most 64 bytes")
		}
	}
	q.Actions = append([]string(nil), q.Actions...)
	return q, nil
}

// Events reads one page of the change log after q.After. Invalid queries
// give a *ValidationError; a cursor behind the retained log gives an error
// wrapping ErrCursorExpired.
func (s *Service) Events(ctx context.Context, q EventQuery) (*EventPage, error) {
	q, err := normalizeQuery(q)
	if err != nil {
		return nil, err
	}
	page, err := s.store.ReadLog(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", q.After, err)
	}
	return page, nil
}

// PruneEvents applies the retention of Options.Events to the log and
// returns how many events it deleted; without a bound it deletes nothing.
func (s *Service) PruneEvents(ctx context.Context) (int, error) {
	o := s.feed.opts
	if o.MaxAge <= 0 && o.MaxCount <= 0 {
		return 0, nil
	}
	var before time.Time
	if o.MaxAge > 0 {
		before = s.clock().Add(-o.MaxAge)
	}
	n, err := s.store.PruneLog(ctx, before, o.MaxCount)
	if err != nil {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	return n, nil
}

// cloneEvent returns a deep copy of e, so subscribers never share data.
func cloneEvent(e *Event) *Event {
	c := *e
	if e.Changes != nil {
		c.Changes = make([]Change, len(e.Changes))
		for i, ch := range e.Changes {
			c.Changes[i] = Change{Field: ch.Field, Before: cloneValue(ch.Before), After: cloneValue(ch.After)}
		}
	}
	return &c
}

// eventJSON is the wire form of an event (the HTTP feed and webhooks).
type eventJSON struct {
	Seq     int64        `json:"seq"`
	At      string       `json:"at"`
	Action  string       `json:"action"`
	Actor   string       `json:"actor"`
	Part    eventPart    `json:"part"`
	Changes []changeJSON `json:"changes"`
}

type eventPart struct {
	ID       int64    `json:"id"`
	PartID   string   `json:"partId"`
	Name     string   `json:"name"`
	Category Category `json:"category"`
	Version  int64    `json:"version"`
}

type changeJSON struct {
	Field  string `json:"field"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// MarshalJSON gives the wire form of the change log, used by the HTTP event
// feed and webhooks:
//
//	{"seq":12,"at":"2026-01-02T03:04:05.000006Z","action":"complete","actor":"ada",
//	 "part":{"id":5,"partId":"DRV-001","name":"Gearbox plate","category":"completed","version":4},
//	 "changes":[{"field":"status","before":"In Progress","after":"Completed"}]}
func (e *Event) MarshalJSON() ([]byte, error) {
	out := eventJSON{Seq: e.ID, At: e.At.UTC().Format(time.RFC3339Nano), Action: e.Action, Actor: e.Actor,
		Part:    eventPart{ID: e.PartID, PartID: e.PartNumber, Name: e.Name, Category: e.Category, Version: e.Version},
		Changes: make([]changeJSON, len(e.Changes))}
	for i, c := range e.Changes {
		out.Changes[i] = changeJSON(c)
	}
	return json.Marshal(out)
}
