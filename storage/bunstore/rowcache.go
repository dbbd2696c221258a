package bunstore

import (
	"context"
	"sync"

	"github.com/uptrace/bun"

	"github.com/partflow/partflow/parts"
)

// rowCacheSize bounds the row cache: about 1 KiB per row.
const rowCacheSize = 2048

// rowCache keeps recently read part rows, so that the pages everyone looks
// at (the newest parts, the first page of a search) are not read and
// converted from SQLite on every request. Each row is tagged with its part's
// version in the search index (textDoc.seq, the part's last change there)
// as it was before the row was read, so the row is at least that new; it is
// used only while the index still has that version, and the index learns of
// every change, from any process, before each list. Rows are immutable once
// cached; every caller gets its own parts.Part decoded from them.
type rowCache struct {
	mu sync.Mutex
	m  map[int64]cachedRow
}

type cachedRow struct {
	seq int64
	row *partRow
}

func (c *rowCache) get(id, seq int64) *partRow {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok && e.seq == seq {
		return e.row
	}
	return nil
}

func (c *rowCache) put(id, seq int64, r *partRow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[int64]cachedRow, rowCacheSize)
	}
	if len(c.m) >= rowCacheSize {
		// Full: drop a quarter, chosen by map order (random enough).
		n := rowCacheSize / 4
		for k := range c.m {
			delete(c.m, k)
			if n--; n == 0 {
				break
			}
		}
	}
	c.m[id] = cachedRow{seq: seq, row: r}
}

// partsByID returns the parts with the given ids, in that order; ids of
// parts that are gone are skipped. The search index must have caught up
// (catchUp) during this request: cached rows are checked against it.
func (s *Store) partsByID(ctx context.Context, db bun.IDB, ids []int64) ([]*parts.Part, error) {
	if len(ids) == 0 {
		return []*parts.Part{}, nil
	}
	seqs := s.text.versions(ids)
	rows := make([]*partRow, len(ids))
	var missing []int64
	for i, id := range ids {
		if seqs[i] >= 0 {
			if r := s.rows.get(id, seqs[i]); r != nil {
				rows[i] = r
				continue
			}
		}
		missing = append(missing, id)
	}
	if len(missing) > 0 {
		at := make(map[int64]int, len(ids))
		for i, id := range ids {
			at[id] = i
		}
		err := s.eachRow(ctx, db, func(r *partRow) error {
			i := at[r.ID]
			rows[i] = r
			if seqs[i] >= 0 {
				s.rows.put(r.ID, seqs[i], r)
			}
			return nil
		}, "SELECT "+prefixedColumns("p")+" FROM parts AS p WHERE p.id IN ("+s.syn.IDsFromJSON+")", idList(missing))
		if err != nil {
			return nil, err
		}
	}
	out := make([]*parts.Part, 0, len(ids))
	for _, r := range rows {
		if r == nil {
			continue
		}
		p, err := r.toPart()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
