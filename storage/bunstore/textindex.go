package bunstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/uptrace/bun"

	"github.com/partflow/partflow/parts"
)

// textIndex is the search index, held in memory: for every part the
// case-folded text of its searchable fields (joined by NUL, which stored text
// never contains, so a match never spans two fields) and its category, and
// for every trigram (three consecutive bytes) of that text the set of parts
// whose text holds it, as a compressed bitmap.
//
// A query of three or more bytes intersects the bitmaps of its trigrams; a
// part whose text contains the query holds each of them, so the intersection
// holds every match, and each candidate is then checked against its text, so
// the answer is exact. Shorter queries check every part's text. Substrings of
// UTF-8 text are substrings of its bytes, so byte trigrams serve every
// script.
//
// The index learns about writes, its own process's and any other's, from the
// part_changes table that triggers fill in every writing transaction: before
// each search it reads the changes after the last one it applied (one indexed
// range read, normally empty) and reloads those parts' fields. It loads all
// parts on first use, and again when it fell too far behind (the changes it
// needs were pruned, or there are more than a quarter of its size).
type textIndex struct {
	refresh sync.Mutex // serialises loading and catching up

	mu     sync.RWMutex // guards the fields below
	loaded bool
	seq    int64                      // the last change applied
	docs   []textDoc                  // by slot
	slots  map[int64]uint32           // part id -> slot
	free   []uint32                   // slots of removed parts, for reuse
	grams  map[uint32]*roaring.Bitmap // trigram -> slots
	live   *roaring.Bitmap            // slots in use
	words  *wordIndex                 // words -> slots, for word queries
	keys   []slotKey                  // by slot: the numeric sort keys and category, compact
	cats   map[string]uint16          // category -> its code in keys
	buf    []uint32                   // scratch for trigrams, under mu
}

// textDoc is one part in the index: what a search filters on and sorts by.
type textDoc struct {
	id                   int64
	text                 string // folded searchable fields, NUL-joined
	category             string
	partID, name         string // as stored, for sorting
	createdAt, updatedAt int64  // as stored (microseconds)
	version              int64  // the part's version (Part.Version) these fields are of
	// seq is the number of the last change of the part the index applied
	// (or the change the index was loaded at): the row cache's version.
	seq int64
}

// memSorts are the sort columns a search orders in memory; others are
// sorted by SQLite.
var memSorts = map[string]func(a, b *textDoc) int{
	"id": func(a, b *textDoc) int { return cmp.Compare(a.id, b.id) },
	"created_at": func(a, b *textDoc) int {
		if a.createdAt != b.createdAt {
			return cmp.Compare(a.createdAt, b.createdAt)
		}
		return cmp.Compare(a.id, b.id)
	},
	"updated_at": func(a, b *textDoc) int {
		if a.updatedAt != b.updatedAt {
			return cmp.Compare(a.updatedAt, b.updatedAt)
		}
		return cmp.Compare(a.id, b.id)
	},
	"name": func(a, b *textDoc) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	},
	"part_id": func(a, b *textDoc) int {
		if c := strings.Compare(a.partID, b.partID); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	},
}

// maxChangeBatch is the least number of changes the index applies one by
// one; it applies up to a quarter of its size that way, and reloads
// everything for more, which is then cheaper. (A variable so that tests can
// force a reload.)
var maxChangeBatch = 2000

// keepChanges is how many of the newest part_changes rows pruning keeps. An
// index further behind than that reloads.
const keepChanges = 100_000

const (
	qLastChange   = "SELECT coalesce(max(seq), 0) FROM part_changes"
	qChangesSince = "SELECT seq, part_id FROM part_changes WHERE seq > ? ORDER BY seq LIMIT ?"
	qPruneChanges = "DELETE FROM part_changes WHERE seq <= (SELECT max(seq) FROM part_changes) - ?"
)

// qTextColumns reads what the index holds of a part: the fixed columns
// readTexts scans first, then the searched fields' columns.
var qTextColumns = "SELECT id, part_id, name, category, created_at, updated_at, version, " +
	strings.Join(searchColumns(), ", ") + " FROM parts"

// searchColumns are the columns of the searched fields, in table order.
func searchColumns() []string {
	var out []string
	for _, f := range parts.Fields() {
		if f.Search {
			out = append(out, f.Column)
		}
	}
	return out
}

// searchResult is a search answered by the index.
type searchResult struct {
	total int
	// ids are the page's ids in sort order when sorted; otherwise the ids
	// of all matches, ascending, for SQLite to sort and page.
	ids    []int64
	sorted bool
	// updated holds each match's updated_at as indexed, by id: a row read
	// later with the same updated_at is the version that matched.
	updated map[int64]int64
	// versions are the versions of the page's parts that matched, when
	// sorted.
	versions []int64
}

// Warm builds the in-memory search index now instead of on the first list
// or search (a fraction of a second at 10,000 parts, a few seconds at
// 100,000). A server calls it in the background at start.
func (s *Store) Warm(ctx context.Context) error {
	if err := s.text.catchUp(ctx, s); err != nil {
		return fmt.Errorf("bunstore: warm search index: %w", mapErr(ctx, err))
	}
	return nil
}

// match answers a search for q among the parts of category cat (any when
// empty): the number of matches and, when col is one of memSorts, the ids of
// the page (offset, limit; 0 is no limit) in that order; otherwise the ids
// of all matches. It first brings the index up to date with the database.
func (x *textIndex) match(ctx context.Context, s *Store, q, cat, col string, asc bool, offset, limit int) (searchResult, error) {
	if err := x.catchUp(ctx, s); err != nil {
		return searchResult{}, fmt.Errorf("search index: %w", err)
	}
	return x.find(fold(q), cat, col, asc, offset, limit), nil
}

// catchUp applies the changes committed since the index last looked, or
// loads it.
func (x *textIndex) catchUp(ctx context.Context, s *Store) error {
	x.mu.RLock()
	loaded, seq := x.loaded, x.seq
	x.mu.RUnlock()
	if loaded {
		// The common case: nothing changed. No lock is held while reading.
		changes, err := s.changesSince(ctx, seq, 1)
		if err != nil || len(changes) == 0 {
			return err
		}
	}
	x.refresh.Lock()
	defer x.refresh.Unlock()
	x.mu.RLock()
	loaded, seq, size := x.loaded, x.seq, len(x.slots)
	x.mu.RUnlock()
	if !loaded {
		return x.load(ctx, s)
	}
	batch := max(maxChangeBatch, size/4)
	changes, err := s.changesSince(ctx, seq, batch+1)
	if err != nil || len(changes) == 0 {
		return err
	}
	if changes[0].seq != seq+1 || len(changes) > batch {
		// Pruned past what we know, or a bulk change: start over.
		return x.load(ctx, s)
	}
	ids := make([]int64, 0, len(changes))
	last := make(map[int64]int64, len(changes))
	for _, c := range changes {
		ids = append(ids, c.partID)
		last[c.partID] = c.seq
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	// The fields are read after the changes, so they are at least as new as
	// the last change read; anything newer is listed after it and applied
	// again next time.
	docs, err := s.readTexts(ctx, qTextColumns+" WHERE id IN ("+s.syn.IDsFromJSON+")", idList(ids))
	if err != nil {
		return err
	}
	found := make(map[int64]textDoc, len(docs))
	for _, d := range docs {
		found[d.id] = d
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, id := range ids {
		if d, ok := found[id]; ok {
			d.seq = last[id]
			x.put(d)
		} else {
			x.remove(id)
		}
	}
	x.seq = changes[len(changes)-1].seq
	return nil
}

// loadBatch is how many docs load indexes between additions to the
// trigram bitmaps.
const loadBatch = 4096

// load rebuilds the index from all parts.
func (x *textIndex) load(ctx context.Context, s *Store) error {
	var seq int64
	row, err := s.queryRow(ctx, s.r, qLastChange)
	if err == nil {
		err = row.Scan(&seq)
	}
	if err != nil {
		return err
	}
	// Read after the sequence number, so at least as new (see catchUp).
	docs, err := s.readTexts(ctx, qTextColumns)
	if err != nil {
		return err
	}
	// Build outside the lock: slots are assigned in order, so each
	// trigram's slots are collected sorted and added to its bitmap a batch
	// of docs at a time (collecting all of them first held about 120 MB
	// of slot lists at 100,000 parts).
	slots := make(map[int64]uint32, len(docs))
	grams := map[uint32]*roaring.Bitmap{}
	lists := map[uint32][]uint32{}
	flush := func() {
		for g, l := range lists {
			bm := grams[g]
			if bm == nil {
				bm = roaring.New()
				grams[g] = bm
			}
			bm.AddMany(l)
			lists[g] = l[:0]
		}
	}
	var buf []uint32
	for i := range docs {
		docs[i].seq = seq
		slots[docs[i].id] = uint32(i)
		buf = trigrams(buf[:0], docs[i].text)
		for _, g := range buf {
			lists[g] = append(lists[g], uint32(i))
		}
		if (i+1)%loadBatch == 0 {
			flush()
		}
	}
	flush()
	for _, bm := range grams {
		bm.RunOptimize()
	}
	live := roaring.New()
	live.AddRange(0, uint64(len(docs)))
	x.mu.Lock()
	defer x.mu.Unlock()
	words := newWordIndex()
	for i := range docs {
		words.post(uint32(i), docs[i].text, true)
	}
	x.docs, x.slots, x.free, x.grams, x.live, x.words = docs, slots, nil, grams, live, words
	x.keys = make([]slotKey, len(docs))
	for i := range docs {
		x.keys[i] = x.keyOf(&docs[i])
	}
	x.seq, x.loaded = seq, true
	return nil
}

// versions returns the seq of each id's part as the index knows it, -1 for
// a part it does not know.
func (x *textIndex) versions(ids []int64) []int64 {
	out := make([]int64, len(ids))
	x.mu.RLock()
	defer x.mu.RUnlock()
	for i, id := range ids {
		out[i] = -1
		if slot, ok := x.slots[id]; ok {
			out[i] = x.docs[slot].seq
		}
	}
	return out
}

// put adds or replaces a part. x.mu must be held for writing.
func (x *textIndex) put(d textDoc) {
	slot, ok := x.slots[d.id]
	if ok {
		old := &x.docs[slot]
		x.keys[slot] = x.keyOf(&d)
		if old.text == d.text {
			*old = d
			return
		}
		x.post(slot, old.text, false)
	} else {
		if n := len(x.free); n > 0 {
			slot, x.free = x.free[n-1], x.free[:n-1]
		} else {
			slot = uint32(len(x.docs))
			x.docs = append(x.docs, textDoc{})
			x.keys = append(x.keys, slotKey{})
		}
		x.slots[d.id] = slot
		x.live.Add(slot)
		x.keys[slot] = x.keyOf(&d)
	}
	x.docs[slot] = d
	x.post(slot, d.text, true)
}

// remove drops a part; an unknown id is a no-op. x.mu must be held for
// writing.
func (x *textIndex) remove(id int64) {
	slot, ok := x.slots[id]
	if !ok {
		return
	}
	old := x.docs[slot]
	x.post(slot, old.text, false)
	delete(x.slots, id)
	x.live.Remove(slot)
	x.docs[slot] = textDoc{}
	x.keys[slot] = slotKey{}
	x.free = append(x.free, slot)
}

// post adds slot to (or removes it from) the bitmaps of text's trigrams
// and words.
func (x *textIndex) post(slot uint32, text string, add bool) {
	x.words.post(slot, text, add)
	x.buf = trigrams(x.buf[:0], text)
	for _, g := range x.buf {
		bm := x.grams[g]
		switch {
		case add && bm == nil:
			bm = roaring.New()
			x.grams[g] = bm
			fallthrough
		case add:
			bm.Add(slot)
		case bm != nil:
			bm.Remove(slot)
			if bm.IsEmpty() {
				delete(x.grams, g)
			}
		}
	}
}

// candidates returns the slots of the parts that may contain q (nil when
// none can) and whether they all do (exact): for a word query, the parts of
// the words containing it; else those holding all of q's trigrams (every
// part for a query shorter than a trigram). x.mu is held.
func (x *textIndex) candidates(q string) (cand *roaring.Bitmap, exact bool) {
	grams := trigrams(nil, q)
	switch {
	case isWordQuery(q):
		return x.words.match(q), true
	case len(grams) == 0:
		return x.live, false
	}
	bms := make([]*roaring.Bitmap, 0, len(grams))
	for _, g := range grams {
		bm := x.grams[g]
		if bm == nil {
			return nil, false
		}
		bms = append(bms, bm)
	}
	if len(bms) == 1 {
		return bms[0], false
	}
	// Smallest first: each intersection is at most that size.
	slices.SortFunc(bms, func(a, b *roaring.Bitmap) int {
		return cmp.Compare(a.GetCardinality(), b.GetCardinality())
	})
	return roaring.FastAnd(bms...), false
}

// find answers a folded query from the index as it is (see match).
func (x *textIndex) find(q, cat, col string, asc bool, offset, limit int) searchResult {
	x.mu.RLock()
	defer x.mu.RUnlock()
	cand, exact := x.candidates(q)
	if cand == nil {
		return searchResult{ids: []int64{}, sorted: true}
	}
	keep := func(d *textDoc) bool {
		return (cat == "" || d.category == cat) && (exact || strings.Contains(d.text, q))
	}
	var res searchResult
	var hits []*textDoc
	if less, ok := memSorts[col]; ok && limit > 0 {
		if !asc {
			asc := less
			less = func(a, b *textDoc) int { return asc(b, a) }
		}
		if _, byKey := keyOrders[col]; byKey {
			hits, res.total = x.topByKey(cand, q, exact, cat, col, asc, offset, limit)
		} else {
			hits, res.total = x.topOf(cand, keep, less, !asc, offset, limit)
		}
		res.sorted = true
	} else {
		hits = make([]*textDoc, 0, min(cand.GetCardinality(), uint64(len(x.slots))))
		it := cand.Iterator()
		for it.HasNext() {
			if d := &x.docs[it.Next()]; keep(d) {
				hits = append(hits, d)
			}
		}
		res.total = len(hits)
		if less, ok := memSorts[col]; ok {
			if !asc {
				asc := less
				less = func(a, b *textDoc) int { return asc(b, a) }
			}
			hits, res.sorted = pageOf(hits, less, offset, limit), true
		}
	}
	res.ids = make([]int64, len(hits))
	res.updated = make(map[int64]int64, len(hits))
	if res.sorted {
		res.versions = make([]int64, len(hits))
	}
	for i, d := range hits {
		res.ids[i] = d.id
		res.updated[d.id] = d.updatedAt
		if res.sorted {
			res.versions[i] = d.version
		}
	}
	if !res.sorted {
		slices.Sort(res.ids)
	}
	return res
}

// trigrams appends the distinct trigrams of s (three consecutive bytes, none
// of them NUL) to dst, sorted.
func trigrams(dst []uint32, s string) []uint32 {
	start := len(dst)
	for i := 0; i+3 <= len(s); i++ {
		a, b, c := s[i], s[i+1], s[i+2]
		if a == 0 || b == 0 || c == 0 {
			continue
		}
		dst = append(dst, uint32(a)<<16|uint32(b)<<8|uint32(c))
	}
	out := dst[start:]
	slices.Sort(out)
	return append(dst[:start], slices.Compact(out)...)
}

// docText is the indexed text of a part's searched fields (texts, in
// table order): each folded, joined by NUL.
func docText(texts []string) string {
	for i, t := range texts {
		texts[i] = fold(t)
	}
	return strings.Join(texts, "\x00")
}

// change is one row of part_changes.
type change struct {
	seq, partID int64
}

// changesSince returns up to limit changes after seq, oldest first.
func (s *Store) changesSince(ctx context.Context, seq int64, limit int) ([]change, error) {
	rows, err := s.query(ctx, s.r, qChangesSince, seq, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []change
	for rows.Next() {
		var c change
		if err := rows.Scan(&c.seq, &c.partID); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// readTexts runs qTextColumns (maybe with a WHERE clause) and returns the
// parts' index entries.
func (s *Store) readTexts(ctx context.Context, q string, args ...any) ([]textDoc, error) {
	rows, err := s.query(ctx, s.r, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []textDoc
	var d textDoc
	texts := make([]string, len(searchColumns()))
	dest := []any{&d.id, &d.partID, &d.name, &d.category, &d.createdAt, &d.updatedAt, &d.version}
	for i := range texts {
		dest = append(dest, &texts[i])
	}
	for rows.Next() {
		d = textDoc{}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		d.text = docText(texts)
		out = append(out, d)
	}
	return out, rows.Err()
}

// pruneChanges deletes all but the newest keepChanges rows of part_changes.
func (s *Store) pruneChanges(ctx context.Context, db bun.IDB) error {
	_, err := db.ExecContext(ctx, qPruneChanges, keepChanges)
	return err
}

// ChangeSeq returns the number of the newest part_changes row: every write
// of a part, by any process sharing the database, takes a larger one. It is
// one read of the table's primary key.
func (s *Store) ChangeSeq(ctx context.Context) (int64, error) {
	var seq int64
	row, err := s.queryRow(ctx, s.r, qLastChange)
	if err == nil {
		err = row.Scan(&seq)
	}
	if err != nil {
		return 0, fmt.Errorf("bunstore: change sequence: %w", mapErr(ctx, err))
	}
	return seq, nil
}
