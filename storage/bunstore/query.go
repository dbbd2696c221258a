package bunstore

import (
	"context"
	"fmt"
	"math"

	"github.com/uptrace/bun"

	"github.com/partflow/partflow/parts"
)

// findParts runs one FindParts inside a read transaction: the total, then the
// page.
func (s *Store) findParts(ctx context.Context, db bun.IDB, f parts.Filter, col string) ([]*parts.Part, int, error) {
	var (
		sub     string
		subArgs []any
	)
	if f.Search != "" {
		var none bool
		sub, subArgs, none = s.eng.searchIDs(f.Search)
		if none {
			return []*parts.Part{}, 0, nil
		}
	}
	total, err := s.countParts(ctx, db, f, sub, subArgs)
	if err != nil {
		return nil, 0, err
	}
	out := []*parts.Part{}
	if total == 0 || (f.Offset >= total) {
		return out, total, nil
	}
	dir := "DESC"
	if f.Asc {
		dir = "ASC"
	}
	var rows []partRow
	q := db.NewSelect().Model(&rows)
	if f.Category != "" {
		q = q.Where("p.category = ?", string(f.Category))
	}
	if sub != "" {
		q = q.Where("p.id IN ("+sub+")", subArgs...)
	}
	q = q.OrderExpr("p." + col + " " + dir).OrderExpr("p.id " + dir)
	if f.Limit > 0 {
		q = q.Limit(int64(f.Limit))
	} else if f.Offset > 0 {
		q = q.Limit(math.MaxInt64) // SQLite needs a LIMIT before OFFSET
	}
	if f.Offset > 0 {
		q = q.Offset(int64(f.Offset))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, 0, err
	}
	for i := range rows {
		p, err := rows[i].toPart()
		if err != nil {
			return nil, 0, err
		}
		out = append(out, p)
	}
	return out, total, nil
}

// countParts counts the matches of f. Without a search the counts table
// answers; with one the search index does.
func (s *Store) countParts(ctx context.Context, db bun.IDB, f parts.Filter, sub string, subArgs []any) (int, error) {
	var n int
	var err error
	switch {
	case sub == "":
		kind, key := "total", ""
		if f.Category != "" {
			kind, key = "category", string(f.Category)
		}
		err = db.NewRaw("SELECT coalesce(sum(n), 0) FROM part_counts WHERE kind = ? AND key = ?", kind, key).Scan(ctx, &n)
	case f.Category == "":
		err = db.NewRaw("SELECT count(*) FROM ("+sub+") AS m", subArgs...).Scan(ctx, &n)
	default:
		args := append([]any{string(f.Category)}, subArgs...)
		err = db.NewRaw("SELECT count(*) FROM parts AS p WHERE p.category = ? AND p.id IN ("+sub+")", args...).Scan(ctx, &n)
	}
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return n, nil
}
