package httpapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/partflow/partflow/parts"
)

// Bringing kept answers forward along the change log. When the change
// sequence has moved past a kept answer, the events since are read (they
// include other processes' writes, so replicas stay coherent): if none
// touches the answer, its bytes and ETag stay, valid under the newer
// number; if those that touch it cannot change which parts it holds or
// their order, the changed parts' bytes are replaced; otherwise, or after
// too many events, the answer is built again.

// maxAdvance is the most events an answer is brought forward across; after
// more, rebuilding is cheaper than reading them. Big answers (a whole
// category of 25,000 parts takes a while to build, and more writes come
// meanwhile) go across more: one event per 8 parts, up to
// parts.MaxEventLimit.
const maxAdvance = 64

// advanceLimit is how many events a is brought forward across.
func advanceLimit(a *answer) int {
	if a.list == nil {
		return maxAdvance
	}
	return min(max(maxAdvance, len(a.list.ids)/8), parts.MaxEventLimit)
}

// listing says where the parts of a list answer (without a search) lie in
// its body, so that a changed part's bytes can be replaced.
type listing struct {
	filter parts.Filter
	ids    []int64
	starts []int // the offset of each part's JSON in the body
	ends   []int // the offset just after it
}

// add records the part id encoded at body[start:end].
func (l *listing) add(id int64, start, end int) {
	if l == nil {
		return
	}
	l.ids = append(l.ids, id)
	l.starts = append(l.starts, start)
	l.ends = append(l.ends, end)
}

// newListing returns the listing of an answer to f, or nil when f has a
// search (any write rebuilds a search answer).
func newListing(f parts.Filter, n int) *listing {
	if f.Search != "" {
		return nil
	}
	return &listing{filter: f, ids: make([]int64, 0, n), starts: make([]int, 0, n), ends: make([]int, 0, n)}
}

// effect is what an event does to a kept list answer.
type effect int

const (
	untouched effect = iota // not a part of the answer, before or after
	patch                   // a part of it changed in place: same membership and order
	rebuild                 // membership or order may have changed
)

// sortChanges names the field whose change moves a part in a list sorted
// by each sort field ("" for fields no update changes).
var sortChanges = map[parts.SortField]string{
	parts.SortCreatedAt: "", parts.SortID: "", parts.SortPartID: "partId", parts.SortName: "name",
	parts.SortType: "type", parts.SortMaterial: "material", parts.SortSubsystem: "subsystem",
	parts.SortAssigned: "assigned", parts.SortStatus: "status", parts.SortCategory: "category",
	parts.SortAmount: "amount", parts.SortClaimedDate: "claimedDate",
}

// effectOn says what e does to a list answer to f (which has no search).
func effectOn(f parts.Filter, e *parts.Event) effect {
	if e.Category == "" {
		return rebuild // an event from before the log named categories
	}
	before, moved := e.Category, false
	for _, c := range e.Changes {
		if c.Field == "category" {
			s, _ := c.Before.(string)
			before, moved = parts.Category(s), true
		}
	}
	if f.Category != "" && before != f.Category && e.Category != f.Category {
		return untouched
	}
	switch e.Action {
	case "create", "import", "delete":
		return rebuild
	}
	key, known := sortChanges[f.SortBy]
	if moved || !known || f.SortBy == parts.SortUpdatedAt {
		return rebuild
	}
	for _, c := range e.Changes {
		if key != "" && c.Field == key {
			return rebuild
		}
	}
	return patch
}

// advance brings a (the answer as of change from) forward along the change
// log: a itself when no event since touches it, a patched copy when the
// events since only changed its parts in place, with the change it is now
// valid at; or nil when it must be built again.
func (h *handler) advance(ctx context.Context, a *answer, from int64) (*answer, int64, error) {
	limit := advanceLimit(a)
	page, err := h.svc.Events(ctx, parts.EventQuery{After: from, Limit: limit})
	if errors.Is(err, parts.ErrCursorExpired) {
		return nil, 0, nil
	} else if err != nil {
		return nil, 0, err
	}
	if len(page.Events) == limit {
		return nil, 0, nil // perhaps more: rebuild
	}
	if len(page.Events) == 0 {
		return a, page.Next, nil
	}
	if a.list == nil {
		return nil, 0, nil
	}
	touched := map[int64]int64{} // part id -> its version after the last event
	for _, e := range page.Events {
		switch effectOn(a.list.filter, e) {
		case rebuild:
			return nil, 0, nil
		case patch:
			touched[e.PartID] = e.Version
		}
	}
	if len(touched) == 0 {
		return a, page.Next, nil
	}
	next, err := h.patchAnswer(ctx, a, touched)
	if next == nil || next == a || err != nil {
		return next, page.Next, err
	}
	next.seq = page.Next
	next.tag = h.answers.tag(a.key, page.Next)
	return next, page.Next, nil
}

// patchAnswer returns a copy of a with the parts in touched re-encoded at
// the versions given, or nil when a part is no longer at that version (a
// newer write: the answer is then built again, never a mix of states).
// Parts in touched that a does not hold (beyond a page) leave it as it is.
func (h *handler) patchAnswer(ctx context.Context, a *answer, touched map[int64]int64) (*answer, error) {
	l := a.list
	var at []int // positions in the list, ascending
	for i, id := range l.ids {
		if _, ok := touched[id]; ok {
			at = append(at, i)
		}
	}
	if len(at) == 0 {
		return a, nil
	}
	repl := make([][]byte, len(at))
	for k, i := range at {
		p, err := h.svc.FindPartByID(ctx, l.ids[i])
		if errors.Is(err, parts.ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		if p.Version != touched[p.ID] || (l.filter.Category != "" && p.Category != l.filter.Category) {
			return nil, nil
		}
		if repl[k], err = h.parts.appendPart(nil, p); err != nil {
			return nil, fmt.Errorf("encode part %d: %w", p.ID, err)
		}
	}
	body, nl := l.replace(a.body, at, repl)
	return &answer{key: a.key, body: body, list: nl}, nil
}

// replace returns body with the parts at positions at (ascending) replaced
// by repl, and the listing of the result.
func (l *listing) replace(body []byte, at []int, repl [][]byte) ([]byte, *listing) {
	grow := 0
	for k, i := range at {
		grow += len(repl[k]) - (l.ends[i] - l.starts[i])
	}
	out := make([]byte, 0, len(body)+grow)
	prev := 0
	for k, i := range at {
		out = append(out, body[prev:l.starts[i]]...)
		out = append(out, repl[k]...)
		prev = l.ends[i]
	}
	out = append(out, body[prev:]...)
	nl := &listing{filter: l.filter, ids: l.ids, starts: make([]int, len(l.ids)), ends: make([]int, len(l.ids))}
	shift, k := 0, 0
	for j := range l.ids {
		nl.starts[j] = l.starts[j] + shift
		if k < len(at) && at[k] == j {
			shift += len(repl[k]) - (l.ends[j] - l.starts[j])
			k++
		}
		nl.ends[j] = l.ends[j] + shift
	}
	return out, nl
}
