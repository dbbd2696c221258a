package bunstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/uptrace/bun"

	"github.com/partflow/partflow/parts"
)

// findParts runs one FindParts: the total, then the page. Every query is
// fixed SQL with placeholders (one shape per sort field, direction and filter
// combination), so prepared statements are reused.
//
// A search runs its match once: the matching ids come back in one row, their
// number is the total, and the page is chosen among them (see searchPage).
func (s *Store) findParts(ctx context.Context, db bun.IDB, f parts.Filter, col string) ([]*parts.Part, int, error) {
	dir := "DESC"
	if f.Asc {
		dir = "ASC"
	}
	if f.Search != "" {
		sq, none := s.eng.search(f.Search)
		if none {
			return []*parts.Part{}, 0, nil
		}
		return s.searchParts(ctx, db, f, col, dir, sq)
	}
	kind, key := "total", ""
	if f.Category != "" {
		kind, key = "category", string(f.Category)
	}
	var total int
	row, err := s.queryRow(ctx, db, qCount, kind, key)
	if err == nil {
		err = row.Scan(&total)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("count: %w", err)
	}
	if total == 0 || f.Offset >= total {
		return []*parts.Part{}, total, nil
	}
	var (
		b    strings.Builder
		args []any
	)
	b.WriteString("SELECT " + prefixedColumns("p") + " FROM parts AS p")
	if f.Category != "" {
		// Without a (category, col) index, walk the col index and skip the
		// other categories: the unary + keeps SQLite from filtering by the
		// category index and then sorting the whole category.
		if walkIndexes[col] && !walkCategoryIndexes[col] {
			b.WriteString(" WHERE +p.category = ?")
		} else {
			b.WriteString(" WHERE p.category = ?")
		}
		args = append(args, string(f.Category))
	}
	b.WriteString(" ORDER BY p." + col + " " + dir + ", p.id " + dir + " LIMIT ? OFFSET ?")
	args = append(args, pageLimit(f), f.Offset)
	out, err := s.scanParts(ctx, db, b.String(), args...)
	return out, total, err
}

// pageLimit is f's LIMIT argument: -1 means no limit.
func pageLimit(f parts.Filter) int64 {
	if f.Limit > 0 {
		return int64(f.Limit)
	}
	return -1
}

// sortedScanThreshold is the number of matches above which a search walks
// the sort index and probes the match set instead of sorting the matches.
// (A variable so that tests can force either plan.)
var sortedScanThreshold = 2000

// walkIndexes lists the sort columns that have an index usable for walking
// the sort order: without a category filter, and with one (category plus
// the column).
var (
	walkIndexes         = map[string]bool{"id": true, "created_at": true, "updated_at": true, "name": true, "part_id": true}
	walkCategoryIndexes = map[string]bool{"created_at": true, "name": true, "part_id": true}
)

// searchParts answers a FindParts with a search. It collects the ids of all
// matches in one statement (one pass over the search index, its result one
// comma-separated row: far cheaper than a row per id); their number is the
// total. With few matches, SQLite sorts just those ids and returns the
// page; with many, the sort index is walked in order and each id probed
// against the match set until the page is full, and only the page's rows
// are read.
func (s *Store) searchParts(ctx context.Context, db bun.IDB, f parts.Filter, col, dir string, sq searchQuery) ([]*parts.Part, int, error) {
	q, args := "SELECT group_concat(id) FROM ("+sq.ids+")", sq.args
	if f.Category != "" {
		q = "SELECT group_concat(p.id) FROM parts AS p WHERE p.category = ? AND p.id IN (" + sq.ids + ")"
		args = append([]any{string(f.Category)}, sq.args...)
	}
	var list sql.NullString
	row, err := s.queryRow(ctx, db, q, args...)
	if err == nil {
		err = row.Scan(&list)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("search: %w", err)
	}
	ids, err := parseIDs(list.String)
	if err != nil {
		return nil, 0, fmt.Errorf("search: %w", err)
	}
	total := len(ids)
	if total == 0 || f.Offset >= total {
		return []*parts.Part{}, total, nil
	}
	order := " ORDER BY p." + col + " " + dir + ", p.id " + dir
	walk := walkIndexes[col]
	if f.Category != "" {
		walk = walkCategoryIndexes[col]
	}
	switch {
	case !walk || total <= sortedScanThreshold:
		out, err := s.sortMatches(ctx, db, f, col, dir, list.String)
		return out, total, err
	case f.Limit <= 0:
		// Every match from the offset on: SQLite walks the index.
		out, err := s.walkMatches(ctx, db, f, order, list.String)
		return out, total, err
	}
	page, done, err := s.walkSortIndex(ctx, db, f, order, ids)
	if err != nil {
		return nil, 0, err
	}
	if !done {
		// The matches lie far down the sort order: let SQLite walk on.
		out, err := s.walkMatches(ctx, db, f, order, list.String)
		return out, total, err
	}
	if len(page) == 0 {
		return []*parts.Part{}, total, nil
	}
	out, err := s.scanParts(ctx, db, "SELECT "+prefixedColumns("p")+" FROM parts AS p WHERE p.id IN (SELECT value FROM json_each(?))"+order,
		idList(page))
	return out, total, err
}

// sortMatches returns the page of f among the matches list (comma-separated
// ids) by sorting the matches. For a page, SQLite sorts only the matches'
// ids (narrow sorter rows) and then reads the page's rows; without a limit
// it sorts the rows once.
func (s *Store) sortMatches(ctx context.Context, db bun.IDB, f parts.Filter, col, dir, list string) ([]*parts.Part, error) {
	order := " ORDER BY p." + col + " " + dir + ", p.id " + dir
	if f.Limit <= 0 {
		return s.scanParts(ctx, db, "SELECT "+prefixedColumns("p")+" FROM parts AS p WHERE p.id IN (SELECT value FROM json_each(?))"+
			order+" LIMIT -1 OFFSET ?", "["+list+"]", f.Offset)
	}
	inner := " ORDER BY m." + col + " " + dir + ", m.id " + dir
	return s.scanParts(ctx, db, "SELECT "+prefixedColumns("p")+" FROM parts AS p WHERE p.id IN ("+
		"SELECT m.id FROM parts AS m WHERE m.id IN (SELECT value FROM json_each(?))"+inner+" LIMIT ? OFFSET ?)"+order,
		"["+list+"]", f.Limit, f.Offset)
}

// walkMatches returns the page of f among the matches list (comma-separated
// ids) by letting SQLite walk the sort index and probe a temporary index of
// the matches (the unary + keeps the planner from driving the query by id).
func (s *Store) walkMatches(ctx context.Context, db bun.IDB, f parts.Filter, order, list string) ([]*parts.Part, error) {
	q, args := "SELECT "+prefixedColumns("p")+" FROM parts AS p WHERE ", []any(nil)
	if f.Category != "" {
		q, args = q+"p.category = ? AND ", []any{string(f.Category)}
	}
	return s.scanParts(ctx, db, q+"+p.id IN (SELECT value FROM json_each(?))"+order+" LIMIT ? OFFSET ?",
		append(args, "["+list+"]", pageLimit(f), f.Offset)...)
}

// minWalkRows is the least number of index entries walkSortIndex reads
// before it gives up; it reads at least four per match. (A variable so that
// tests can force the fallback.)
var minWalkRows = 10_000

// walkSortIndex walks the ids of parts (of f's category) in sort order and
// returns the ids of the page: matches (ids, sorted ascending) number
// f.Offset to f.Offset+f.Limit. done is false when it gave up because the
// walk grew long (the matches lie far down the sort order): each entry costs
// a round trip to Go, so the caller lets SQLite walk on instead.
func (s *Store) walkSortIndex(ctx context.Context, db bun.IDB, f parts.Filter, order string, ids []int64) (page []int64, done bool, err error) {
	q, args := "SELECT p.id FROM parts AS p", []any(nil)
	if f.Category != "" {
		q, args = q+" WHERE p.category = ?", []any{string(f.Category)}
	}
	rows, err := s.query(ctx, db, q+order, args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	budget := max(minWalkRows, 4*len(ids))
	skip := f.Offset
	page = make([]int64, 0, f.Limit)
	for len(page) < f.Limit && rows.Next() {
		if budget--; budget < 0 {
			return nil, false, rows.Close()
		}
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, false, err
		}
		if _, ok := slices.BinarySearch(ids, id); !ok {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		page = append(page, id)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	return page, true, rows.Close()
}

// parseIDs parses the comma-separated ids of group_concat and returns them
// sorted ascending.
func parseIDs(list string) ([]int64, error) {
	if list == "" {
		return nil, nil
	}
	ids := make([]int64, 0, strings.Count(list, ",")+1)
	var (
		n      int64
		digits int
		neg    bool
	)
	for i := 0; i <= len(list); i++ {
		if i == len(list) || list[i] == ',' {
			if digits == 0 {
				return nil, fmt.Errorf("bad id list near byte %d", i)
			}
			if neg {
				n = -n
			}
			ids = append(ids, n)
			n, digits, neg = 0, 0, false
			continue
		}
		c := list[i]
		if c == '-' && digits == 0 && !neg {
			neg = true
			continue
		}
		if c < '0' || c > '9' || digits >= 18 {
			return nil, fmt.Errorf("bad id list near byte %d", i)
		}
		n = n*10 + int64(c-'0')
		digits++
	}
	if !slices.IsSorted(ids) {
		slices.Sort(ids)
	}
	return ids, nil
}

// idList formats ids as a JSON array for json_each.
func idList(ids []int64) string {
	b := make([]byte, 0, 8*len(ids)+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

// scanParts runs query and converts every row (partColumns) to a part.
func (s *Store) scanParts(ctx context.Context, db bun.IDB, query string, args ...any) ([]*parts.Part, error) {
	rows, err := s.query(ctx, db, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*parts.Part{}
	for rows.Next() {
		var r partRow
		if err := rows.Scan(r.fields()...); err != nil {
			return nil, err
		}
		p, err := r.toPart()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
