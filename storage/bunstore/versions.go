package bunstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/partflow/partflow/parts"
)

var _ parts.VersionLister = (*Store)(nil)

// FindVersions returns the ids and versions of the parts FindParts returns
// for f, in the same order, and the total: without a search, the same index
// walk, reading two columns instead of whole rows; with one, the page the
// search index selects, with the versions that matched, when it sorts by
// f's field in memory (errors.ErrUnsupported otherwise).
func (s *Store) FindVersions(ctx context.Context, f parts.Filter) ([]parts.PartVersion, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if f.SortBy == "" {
		f.SortBy = parts.SortCreatedAt
	}
	col, ok := sortColumns[f.SortBy]
	if !ok || f.Limit < 0 || f.Offset < 0 {
		return nil, 0, &parts.ValidationError{Field: "filter", Reason: "FindVersions takes a valid filter"}
	}
	if f.Search != "" {
		return s.searchVersions(ctx, f, col)
	}
	dir := "DESC"
	if f.Asc {
		dir = "ASC"
	}
	kind, key := "total", ""
	if f.Category != "" {
		kind, key = "category", string(f.Category)
	}
	var total int
	row, err := s.queryRow(ctx, s.r, qCount, kind, key)
	if err == nil {
		err = row.Scan(&total)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("find versions: count: %w", mapErr(ctx, err))
	}
	if total == 0 || f.Offset >= total {
		return []parts.PartVersion{}, total, nil
	}
	query, args := s.listSQL(f, col, dir, "p.id, p.version")
	rows, err := s.query(ctx, s.r, query, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("find versions: %w", mapErr(ctx, err))
	}
	defer rows.Close()
	n := total - f.Offset
	if f.Limit > 0 {
		n = min(n, f.Limit)
	}
	out := make([]parts.PartVersion, 0, n)
	for rows.Next() {
		var v parts.PartVersion
		if err := rows.Scan(&v.ID, &v.Version); err != nil {
			return nil, 0, fmt.Errorf("find versions: %w", mapErr(ctx, err))
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("find versions: %w", mapErr(ctx, err))
	}
	return out, total, nil
}

// searchVersions answers FindVersions for a search the index sorts.
func (s *Store) searchVersions(ctx context.Context, f parts.Filter, col string) ([]parts.PartVersion, int, error) {
	if _, ok := memSorts[col]; !ok || sqlSortOnly {
		return nil, 0, fmt.Errorf("find versions: search sorted by %s: %w", col, errors.ErrUnsupported)
	}
	if strings.ContainsRune(f.Search, 0) {
		return []parts.PartVersion{}, 0, nil // stored text never holds NUL
	}
	res, err := s.text.match(ctx, s, f.Search, string(f.Category), col, f.Asc, f.Offset, f.Limit)
	if err != nil {
		return nil, 0, fmt.Errorf("find versions: %w", mapErr(ctx, err))
	}
	out := make([]parts.PartVersion, len(res.ids))
	for i, id := range res.ids {
		out[i] = parts.PartVersion{ID: id, Version: res.versions[i]}
	}
	return out, res.total, nil
}
