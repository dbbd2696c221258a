package bunstore

import (
	"slices"
	"strings"
	"sync"

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

// keyOrders are the sorts topByKey selects with slotKeys: the key each
// orders by first (then by id, as memSorts orders them).
var keyOrders = map[string]int{"id": byID, "created_at": byCreated, "updated_at": byUpdated}

const (
	byID = iota
	byCreated
	byUpdated
)

// primary is k's first sort key for the order by.
func (k *slotKey) primary(by int) int64 {
	switch by {
	case byCreated:
		return k.createdAt
	case byUpdated:
		return k.updatedAt
	}
	return k.id
}

// keyed is a match in topByKey's heap.
type keyed struct {
	p, id int64 // primary key and id
	slot  uint32
}

// slotBufs are scratch slices for the slots of a search's matches.
var slotBufs = sync.Pool{New: func() any { return new([]uint32) }}

// topByKey is topOf for the sorts of keyOrders: the page (offset, limit > 0)
// of the matches in cand of category cat (any when empty) that contain q
// (all of cand when exact), and how many match. The matches' slots are
// copied out in bulk and walked best first (slots mostly follow creation),
// comparing numbers in place. x.mu is held.
func (x *textIndex) topByKey(cand *roaring.Bitmap, q string, exact bool, cat, col string, asc bool,
	offset, limit int) ([]*textDoc, int) {
	var code uint16
	if cat != "" {
		var ok bool
		if code, ok = x.cats[cat]; !ok {
			return nil, 0
		}
	}
	by := keyOrders[col]
	// worse reports whether a sorts after b in the page's order.
	worse := func(a, b keyed) bool {
		if a.p != b.p {
			return (a.p > b.p) == asc
		}
		return (a.id > b.id) == asc
	}
	h := worstFirst[keyed]{docs: make([]keyed, 0, min(offset+limit, int(cand.GetCardinality()))),
		cmp: func(a, b keyed) int {
			if worse(a, b) {
				return 1
			} else if worse(b, a) {
				return -1
			}
			return 0
		}}
	bp := slotBufs.Get().(*[]uint32)
	slots := bulkSlots(cand, (*bp)[:0])
	total := 0
	for n := range slots {
		i := n
		if !asc {
			i = len(slots) - 1 - n
		}
		k := &x.keys[slots[i]]
		if (code != 0 && k.cat != code) || (!exact && !strings.Contains(x.docs[slots[i]].text, q)) {
			continue
		}
		total++
		e := keyed{p: k.primary(by), id: k.id, slot: slots[i]}
		if len(h.docs) < offset+limit {
			h.docs = append(h.docs, e)
			h.up(len(h.docs) - 1)
			continue
		}
		// Does the heap's worst sort after e? (worse, inlined)
		if w := h.docs[0]; (w.p != e.p && (w.p > e.p) == asc) || (w.p == e.p && (w.id > e.id) == asc) {
			h.docs[0] = e
			h.down(0)
		}
	}
	*bp = slots
	slotBufs.Put(bp)
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

// bulkSlots appends the slots of bm to dst, ascending.
func bulkSlots(bm *roaring.Bitmap, dst []uint32) []uint32 {
	it := bm.ManyIterator()
	var chunk [256]uint32
	for {
		n := it.NextMany(chunk[:])
		if n == 0 {
			return dst
		}
		dst = append(dst, chunk[:n]...)
	}
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
