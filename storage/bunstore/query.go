package bunstore

import (
	"context"
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
// A search is answered by the in-memory index (textindex.go): it counts the
// matches and, for the sort fields it keeps (created_at, updated_at, id,
// name, part_id), picks the page's ids, whose rows are then read by id. For
// other sort fields SQLite sorts the matches.
func (s *Store) findParts(ctx context.Context, db bun.IDB, f parts.Filter, col string) ([]*parts.Part, int, error) {
	dir := "DESC"
	if f.Asc {
		dir = "ASC"
	}
	if f.Search != "" {
		return s.searchParts(ctx, db, f, col, dir)
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
	// A page: select its ids (narrow rows; an index walk reads only the
	// index), then the rows, most of them from the row cache.
	paged := f.Limit > 0
	if paged {
		if err := s.text.catchUp(ctx, s); err != nil {
			return nil, 0, fmt.Errorf("search index: %w", err)
		}
	}
	cols := "p.id"
	if !paged {
		cols = prefixedColumns("p")
	}
	query, args := s.listSQL(f, col, dir, cols)
	if !paged {
		out, err := s.scanParts(ctx, db, query, args...)
		return out, total, err
	}
	ids, err := s.scanIDs(ctx, db, query, args...)
	if err != nil {
		return nil, 0, err
	}
	out, err := s.partsByID(ctx, db, ids)
	return out, total, err
}

// listSQL returns the query selecting cols of the parts of a list without
// a search (f's category, sort and page) and its arguments.
func (s *Store) listSQL(f parts.Filter, col, dir, cols string) (string, []any) {
	var (
		b    strings.Builder
		args []any
	)
	b.WriteString("SELECT " + cols + " FROM parts AS p")
	if f.Category != "" {
		// Without a (category, col) index, walk the col index and skip the
		// other categories: the unary + keeps SQLite from filtering by the
		// category index and then sorting the whole category.
		if walkIndexes[col] && !walkCategoryIndexes[col] {
			b.WriteString(" WHERE " + s.syn.Unindexed + "p.category = ?")
		} else {
			b.WriteString(" WHERE p.category = ?")
		}
		args = append(args, string(f.Category))
	}
	b.WriteString(" ORDER BY p." + col + " " + dir + ", p.id " + dir + " LIMIT ? OFFSET ?")
	return b.String(), append(args, s.pageLimit(f), f.Offset)
}

// scanIDs runs query, which selects one id column.
func (s *Store) scanIDs(ctx context.Context, db bun.IDB, query string, args ...any) ([]int64, error) {
	rows, err := s.query(ctx, db, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// pageLimit is f's LIMIT argument; the engine's NoLimit means no limit.
func (s *Store) pageLimit(f parts.Filter) any {
	if f.Limit > 0 {
		return int64(f.Limit)
	}
	return s.syn.NoLimit
}

// walkIndexes lists the sort columns that have an index usable for walking
// the sort order: without a category filter, and with one (category plus
// the column).
var (
	walkIndexes         = map[string]bool{"id": true, "created_at": true, "updated_at": true, "name": true, "part_id": true}
	walkCategoryIndexes = map[string]bool{"created_at": true, "name": true, "part_id": true}
)

// sqlSortOnly makes every search sort its matches in SQLite (tests compare
// the two ways).
var sqlSortOnly = false

// searchParts answers a FindParts with a search.
func (s *Store) searchParts(ctx context.Context, db bun.IDB, f parts.Filter, col, dir string) ([]*parts.Part, int, error) {
	if strings.ContainsRune(f.Search, 0) {
		return []*parts.Part{}, 0, nil // stored text never holds NUL
	}
	memCol := col
	if sqlSortOnly {
		memCol = ""
	}
	res, err := s.text.match(ctx, s, f.Search, string(f.Category), memCol, f.Asc, f.Offset, f.Limit)
	if err != nil {
		return nil, 0, err
	}
	if res.total == 0 || f.Offset >= res.total {
		return []*parts.Part{}, res.total, nil
	}
	var page []*parts.Part
	if res.sorted {
		page, err = s.partsByID(ctx, db, res.ids)
	} else {
		page, err = s.sortMatches(ctx, db, f, col, dir, idList(res.ids))
	}
	if err != nil {
		return nil, 0, err
	}
	// The rows are read after the matches were found: drop a part that
	// was changed in between and no longer matches.
	q := fold(f.Search)
	return slices.DeleteFunc(page, func(p *parts.Part) bool {
		if at, ok := res.updated[p.ID]; ok && at == micros(p.UpdatedAt) {
			return false // the version that matched
		}
		return !strings.Contains(docText(parts.SearchText(p)), q) ||
			(f.Category != "" && p.Category != f.Category)
	}), res.total, nil
}

// sortMatches returns the page of f among the matches list (a JSON array
// of ids) by sorting the matches. For a page, SQLite sorts only the matches'
// ids (narrow sorter rows) and then reads the page's rows; without a limit
// it sorts the rows once.
func (s *Store) sortMatches(ctx context.Context, db bun.IDB, f parts.Filter, col, dir, list string) ([]*parts.Part, error) {
	order := " ORDER BY p." + col + " " + dir + ", p.id " + dir
	if f.Limit <= 0 {
		return s.scanParts(ctx, db, "SELECT "+prefixedColumns("p")+" FROM parts AS p WHERE p.id IN ("+s.syn.IDsFromJSON+")"+
			order+" LIMIT ? OFFSET ?", list, s.syn.NoLimit, f.Offset)
	}
	inner := " ORDER BY m." + col + " " + dir + ", m.id " + dir
	return s.scanParts(ctx, db, "SELECT "+prefixedColumns("p")+" FROM parts AS p WHERE p.id IN ("+
		"SELECT m.id FROM parts AS m WHERE m.id IN ("+s.syn.IDsFromJSON+")"+inner+" LIMIT ? OFFSET ?)"+order,
		list, f.Limit, f.Offset)
}

// idList formats ids as a JSON array for the engine's IDsFromJSON.
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
	out := []*parts.Part{}
	err := s.eachRow(ctx, db, func(r *partRow) error {
		p, err := r.toPart()
		if err == nil {
			out = append(out, p)
		}
		return err
	}, query, args...)
	return out, err
}

// eachRow runs query, which selects partColumns, and calls fn with each row
// as it is read; fn may keep the row.
func (s *Store) eachRow(ctx context.Context, db bun.IDB, fn func(r *partRow) error, query string, args ...any) error {
	rows, err := s.query(ctx, db, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r := &partRow{}
		if err := rows.Scan(r.fields()...); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}
