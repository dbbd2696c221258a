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
	n := 0
	for _, sg := range a.segs {
		n += len(sg.ids)
	}
	return min(max(maxAdvance, n/8), parts.MaxEventLimit)
}

// listing says where the parts of a newly built list answer (without a
// search) lie in its body, so that the answer can be cut into segments and
// a changed part's bytes replaced later.
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

// segBytes is about the size of an answer's segments: a patch copies the
// segments holding the changed parts, not the whole answer (15 MB for a
// whole category of 25,000 parts). A variable so that tests can cut small
// answers into many segments.
var segBytes = 64 << 10

// segment is a run of an answer's bytes and where the parts in it lie.
// Segments are never changed once made; a patch makes new ones.
type segment struct {
	b      []byte
	ids    []int64
	starts []int32  // offsets in b
	ends   []int32  //
	z      *segGzip // b's gzip run (seggzip.go), shared by the answers holding the segment
}

// cut returns body in segments of about segBytes, split at the ends of the
// parts l lists (one segment without l). The segments share body's bytes.
func cut(body []byte, l *listing) []segment {
	if l == nil {
		l = &listing{}
	}
	var out []segment
	cur, lo := segment{z: &segGzip{}}, 0
	for i, id := range l.ids {
		cur.ids = append(cur.ids, id)
		cur.starts = append(cur.starts, int32(l.starts[i]-lo))
		cur.ends = append(cur.ends, int32(l.ends[i]-lo))
		if l.ends[i]-lo >= segBytes && i+1 < len(l.ids) {
			cur.b = body[lo:l.ends[i]:l.ends[i]]
			out = append(out, cur)
			cur, lo = segment{z: &segGzip{}}, l.ends[i]
		}
	}
	cur.b = body[lo:len(body):len(body)]
	return append(out, cur)
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
// the versions given (only the segments holding them are copied), or nil
// when a part is no longer at that version (a newer write: the answer is
// then built again, never a mix of states). Parts in touched that a does
// not hold (beyond a page) leave it as it is.
func (h *handler) patchAnswer(ctx context.Context, a *answer, touched map[int64]int64) (*answer, error) {
	type place struct{ seg, at int }
	var at []place // ascending
	for si := range a.segs {
		for j, id := range a.segs[si].ids {
			if _, ok := touched[id]; ok {
				at = append(at, place{si, j})
			}
		}
	}
	if len(at) == 0 {
		return a, nil
	}
	repl := make([][]byte, len(at))
	for k, pl := range at {
		p, err := h.svc.FindPartByID(ctx, a.segs[pl.seg].ids[pl.at])
		if errors.Is(err, parts.ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		if p.Version != touched[p.ID] || (a.list.filter.Category != "" && p.Category != a.list.filter.Category) {
			return nil, nil
		}
		if repl[k], err = h.parts.appendPart(nil, p); err != nil {
			return nil, fmt.Errorf("encode part %d: %w", p.ID, err)
		}
	}
	segs := append([]segment(nil), a.segs...)
	for k := 0; k < len(at); {
		si, n := at[k].seg, 0
		var js []int
		for ; k+n < len(at) && at[k+n].seg == si; n++ {
			js = append(js, at[k+n].at)
		}
		segs[si] = segs[si].replace(js, repl[k:k+n])
		k += n
	}
	next := &answer{key: a.key, segs: segs, list: a.list, patched: true}
	for _, sg := range segs {
		next.size += len(sg.b)
	}
	return next, nil
}

// replace returns a copy of s with the parts at positions at (ascending)
// replaced by repl.
func (s segment) replace(at []int, repl [][]byte) segment {
	grow := 0
	for k, i := range at {
		grow += len(repl[k]) - int(s.ends[i]-s.starts[i])
	}
	out := segment{b: make([]byte, 0, len(s.b)+grow), ids: s.ids, z: &segGzip{},
		starts: make([]int32, len(s.ids)), ends: make([]int32, len(s.ids))}
	prev := int32(0)
	for k, i := range at {
		out.b = append(out.b, s.b[prev:s.starts[i]]...)
		out.b = append(out.b, repl[k]...)
		prev = s.ends[i]
	}
	out.b = append(out.b, s.b[prev:]...)
	shift, k := int32(0), 0
	for j := range s.ids {
		out.starts[j] = s.starts[j] + shift
		if k < len(at) && at[k] == j {
			shift += int32(len(repl[k])) - (s.ends[j] - s.starts[j])
			k++
		}
		out.ends[j] = s.ends[j] + shift
	}
	return out
}
