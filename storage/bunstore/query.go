package bunstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"github.com/partflow/partflow/parts"
)

// findParts runs one FindParts inside a read transaction: the total, then the
// page. Every query is fixed SQL with placeholders (one shape per sort field,
// direction and filter combination), so prepared statements are reused.
func (s *Store) findParts(ctx context.Context, db bun.IDB, f parts.Filter, col string) ([]*parts.Part, int, error) {
	var sq searchQuery
	if f.Search != "" {
		var none bool
		sq, none = s.eng.search(f.Search)
		if none {
			return []*parts.Part{}, 0, nil
		}
	}
	total, err := s.countParts(ctx, db, f, sq)
	if err != nil {
		return nil, 0, err
	}
	out := []*parts.Part{}
	if total == 0 || f.Offset >= total {
		return out, total, nil
	}
	dir := "DESC"
	if f.Asc {
		dir = "ASC"
	}
	var (
		where []string
		args  []any
	)
	if f.Category != "" {
		where = append(where, "p.category = ?")
		args = append(args, string(f.Category))
	}
	if sq.ids != "" {
		// With many matches, walking the sort order and probing the match
		// set beats fetching and sorting every match; the unary + keeps the
		// planner from driving the query by id.
		probe := "p.id"
		if total > sortedScanThreshold {
			probe = "+p.id"
		}
		where = append(where, probe+" IN ("+sq.ids+")")
		args = append(args, sq.args...)
	}
	var b strings.Builder
	b.WriteString("SELECT " + prefixedColumns("p") + " FROM parts AS p")
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY p." + col + " " + dir + ", p.id " + dir + " LIMIT ? OFFSET ?")
	limit := int64(-1) // no limit
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	args = append(args, limit, f.Offset)
	rows, err := s.query(ctx, db, b.String(), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var r partRow
		if err := rows.Scan(r.fields()...); err != nil {
			return nil, 0, err
		}
		p, err := r.toPart()
		if err != nil {
			return nil, 0, err
		}
		out = append(out, p)
	}
	return out, total, rows.Err()
}

// sortedScanThreshold is the number of matches above which a search walks
// the sort order instead of sorting the matches.
const sortedScanThreshold = 2000

// countParts counts the matches of f. Without a search the counts table
// answers; with one the search index does.
func (s *Store) countParts(ctx context.Context, db bun.IDB, f parts.Filter, sq searchQuery) (int, error) {
	var (
		q    string
		args []any
	)
	switch {
	case sq.ids == "":
		kind, key := "total", ""
		if f.Category != "" {
			kind, key = "category", string(f.Category)
		}
		q, args = qCount, []any{kind, key}
	case f.Category == "":
		q, args = sq.count, sq.args
	default:
		q = "SELECT count(*) FROM parts AS p WHERE p.category = ? AND p.id IN (" + sq.ids + ")"
		args = append([]any{string(f.Category)}, sq.args...)
	}
	var n int
	row, err := s.queryRow(ctx, db, q, args...)
	if err == nil {
		err = row.Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return n, nil
}
