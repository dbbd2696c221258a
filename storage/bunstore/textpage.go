package bunstore

import (
	"cmp"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
)

// Selecting a page of search matches.

// slotKey is what a search filters on and sorts by when the sort is
// numeric, by slot, kept apart from the docs: walking many thousands of
// matches then reads a few bytes each, in slot order, instead of a doc each
// scattered over memory.
type slotKey struct {
	createdAt, updatedAt, id int64
	cat                      uint16 // code of the category, see textIndex.cats; 0 for a free slot
}

// keyOf returns d's slotKey, giving its category a code if it has none.
// x.mu must be held for writing.
func (x *textIndex) keyOf(d *textDoc) slotKey {
	if x.cats == nil {
		x.cats = map[string]uint16{}
	}
	c, ok := x.cats[d.category]
	if !ok {
		c = uint16(len(x.cats) + 1)
		x.cats[d.category] = c
	}
	return slotKey{createdAt: d.createdAt, updatedAt: d.updatedAt, id: d.id, cat: c}
}

// keyOrders are the sorts topByKey selects with slotKeys, ordered as
// memSorts orders them (ascending).
var keyOrders = map[string]func(a, b *slotKey) int{
	"id": func(a, b *slotKey) int { return cmp.Compare(a.id, b.id) },
	"created_at": func(a, b *slotKey) int {
		if a.createdAt != b.createdAt {
			return cmp.Compare(a.createdAt, b.createdAt)
		}
		return cmp.Compare(a.id, b.id)
	},
	"updated_at": func(a, b *slotKey) int {
		if a.updatedAt != b.updatedAt {
			return cmp.Compare(a.updatedAt, b.updatedAt)
		}
		return cmp.Compare(a.id, b.id)
	},
}

// keyed is a match in topByKey's heap.
type keyed struct {
	k    *slotKey
	slot uint32
}

// topByKey is topOf for the sorts of keyOrders: the page (offset, limit > 0)
// of the matches in cand of category cat (any when empty) that contain q
// (all of cand when exact), and how many match. x.mu is held.
func (x *textIndex) topByKey(cand *roaring.Bitmap, q string, exact bool, cat, col string, asc bool,
	offset, limit int) ([]*textDoc, int) {
	var code uint16
	if cat != "" {
		var ok bool
		if code, ok = x.cats[cat]; !ok {
			return nil, 0
		}
	}
	less := keyOrders[col]
	if !asc {
		up := less
		less = func(a, b *slotKey) int { return up(b, a) }
	}
	h := worstFirst[keyed]{docs: make([]keyed, 0, min(offset+limit, int(cand.GetCardinality()))),
		cmp: func(a, b keyed) int { return less(a.k, b.k) }}
	var it roaring.IntIterable
	if asc {
		it = cand.Iterator()
	} else {
		it = cand.ReverseIterator() // slots mostly follow creation: the best come first
	}
	total := 0
	for it.HasNext() {
		slot := it.Next()
		k := &x.keys[slot]
		if (code != 0 && k.cat != code) || (!exact && !strings.Contains(x.docs[slot].text, q)) {
			continue
		}
		total++
		switch {
		case len(h.docs) < offset+limit:
			h.docs = append(h.docs, keyed{k, slot})
			h.up(len(h.docs) - 1)
		case less(k, h.docs[0].k) < 0:
			h.docs[0] = keyed{k, slot}
			h.down(0)
		}
	}
	slices.SortFunc(h.docs, h.cmp)
	if offset >= len(h.docs) {
		return nil, total
	}
	out := make([]*textDoc, 0, len(h.docs)-offset)
	for _, e := range h.docs[offset:] {
		out = append(out, &x.docs[e.slot])
	}
	return out, total
}

// topOf returns the page (offset, limit > 0) of the docs in cand that keep
// accepts, sorted by cmp, and how many it accepts, without collecting them
// all: a heap holds the best offset+limit seen so far, its worst on top.
// Slots mostly follow creation, so when the page wants the newest (desc)
// the slots are walked from the end, and few docs beat the heap's worst.
func (x *textIndex) topOf(cand *roaring.Bitmap, keep func(*textDoc) bool, cmp func(a, b *textDoc) int,
	desc bool, offset, limit int) ([]*textDoc, int) {
	h := worstFirst[*textDoc]{docs: make([]*textDoc, 0, min(offset+limit, int(cand.GetCardinality()))), cmp: cmp}
	var it roaring.IntIterable
	if desc {
		it = cand.ReverseIterator()
	} else {
		it = cand.Iterator()
	}
	total := 0
	for it.HasNext() {
		d := &x.docs[it.Next()]
		if !keep(d) {
			continue
		}
		total++
		switch {
		case len(h.docs) < offset+limit:
			h.docs = append(h.docs, d)
			h.up(len(h.docs) - 1)
		case cmp(d, h.docs[0]) < 0:
			h.docs[0] = d
			h.down(0)
		}
	}
	hits := h.docs
	slices.SortFunc(hits, cmp)
	if offset >= len(hits) {
		return nil, total
	}
	return hits[offset:], total
}

// pageOf returns hits[offset:offset+limit] (limit 0: to the end) of hits
// sorted by cmp. A small page of many hits is selected without sorting them
// all: a heap keeps the best offset+limit seen so far, its worst on top.
func pageOf(hits []*textDoc, cmp func(a, b *textDoc) int, offset, limit int) []*textDoc {
	if offset >= len(hits) {
		return nil
	}
	keep := offset + limit
	if limit <= 0 || keep*4 > len(hits) {
		slices.SortFunc(hits, cmp)
	} else {
		h := worstFirst[*textDoc]{docs: make([]*textDoc, 0, keep), cmp: cmp}
		if cmp(hits[len(hits)-1], hits[0]) < 0 {
			// Hits come in slot order, which mostly follows ids and
			// creation; when the page wants the newest, start from the
			// end, so that few hits beat the heap's worst.
			slices.Reverse(hits)
		}
		for _, d := range hits {
			switch {
			case len(h.docs) < keep:
				h.docs = append(h.docs, d)
				h.up(len(h.docs) - 1)
			case cmp(d, h.docs[0]) < 0:
				h.docs[0] = d
				h.down(0)
			}
		}
		hits = h.docs
		slices.SortFunc(hits, cmp)
	}
	hits = hits[offset:]
	if limit > 0 {
		hits = hits[:min(limit, len(hits))]
	}
	return hits
}

// worstFirst is a binary heap with the item that sorts last on top.
type worstFirst[T any] struct {
	docs []T
	cmp  func(a, b T) int
}

func (h *worstFirst[T]) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if h.cmp(h.docs[i], h.docs[parent]) <= 0 {
			return
		}
		h.docs[i], h.docs[parent] = h.docs[parent], h.docs[i]
		i = parent
	}
}

func (h *worstFirst[T]) down(i int) {
	for {
		worst, l, r := i, 2*i+1, 2*i+2
		if l < len(h.docs) && h.cmp(h.docs[l], h.docs[worst]) > 0 {
			worst = l
		}
		if r < len(h.docs) && h.cmp(h.docs[r], h.docs[worst]) > 0 {
			worst = r
		}
		if worst == i {
			return
		}
		h.docs[i], h.docs[worst] = h.docs[worst], h.docs[i]
		i = worst
	}
}
