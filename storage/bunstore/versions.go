package bunstore

import (
	"context"
	"fmt"

	"github.com/partflow/partflow/parts"
)

var _ parts.VersionLister = (*Store)(nil)

// FindVersions returns the ids and versions of the parts FindParts returns
// for f (which has no search), in the same order, and the total: the same
// index walk, reading two columns instead of whole rows.
func (s *Store) FindVersions(ctx context.Context, f parts.Filter) ([]parts.PartVersion, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if f.SortBy == "" {
		f.SortBy = parts.SortCreatedAt
	}
	col, ok := sortColumns[f.SortBy]
	if !ok || f.Search != "" || f.Limit < 0 || f.Offset < 0 {
		return nil, 0, &parts.ValidationError{Field: "filter", Reason: "FindVersions takes a valid filter without a search"}
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
