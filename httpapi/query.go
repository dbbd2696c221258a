package httpapi

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/partflow/partflow/parts"
)

// listQuery is a parsed list request.
type listQuery struct {
	Filter parts.Filter
	// LimitSet is false when the client sent no limit (all matches).
	LimitSet bool
}

// key is the normalised query: equal for requests with the same answer.
func (q listQuery) key() string {
	f := q.Filter
	limit := "-"
	if q.LimitSet {
		limit = strconv.Itoa(f.Limit)
	}
	return fmt.Sprintf("list\x00%s\x00%s\x00%s\x00%t\x00%s\x00%d", f.Category, f.Search, f.SortBy, f.Asc, limit, f.Offset)
}

// maxOffset is the largest offset accepted.
const maxOffset = math.MaxInt32

// parseListQuery parses the query string of a list request under workflow
// flow. category, when non-empty, fixes the category (the
// categories/{category} route) and the category parameter is then ignored. Every problem is a
// *parts.ValidationError naming the parameter; a nil error means the Filter
// is valid for Service.FindParts.
func parseListQuery(flow *parts.Workflow, rawQuery string, category string) (listQuery, error) {
	var q listQuery
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return q, &parts.ValidationError{Field: "query", Reason: "Malformed query string"}
	}
	get := func(name string) string {
		if v := vals[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	for _, name := range []string{"category", "search", "sort_by", "sort_order", "limit", "offset"} {
		if !utf8.ValidString(get(name)) {
			return q, &parts.ValidationError{Field: name, Reason: name + " is not valid UTF-8"}
		}
	}
	fromPath := category != ""
	if !fromPath {
		category = get("category")
	}
	if c := parts.Category(strings.ToLower(strings.TrimSpace(category))); c != "" {
		if !flow.HasStage(c) {
			return q, &parts.ValidationError{Field: "category",
				Reason: fmt.Sprintf("Unknown category %q (want %s)", category, stageList(stageNames(flow)))}
		}
		q.Filter.Category = c
	}
	q.Filter.Search = strings.TrimSpace(get("search"))
	if n := utf8.RuneCountInString(q.Filter.Search); n > parts.MaxSearchLen {
		return q, &parts.ValidationError{Field: "search",
			Reason: fmt.Sprintf("search is too long (%d characters, at most %d)", n, parts.MaxSearchLen)}
	}
	sf, err := parts.ParseSortField(strings.TrimSpace(get("sort_by")))
	if err != nil {
		return q, err
	}
	q.Filter.SortBy = sf
	switch strings.ToLower(strings.TrimSpace(get("sort_order"))) {
	case "", "desc":
	case "asc":
		q.Filter.Asc = true
	default:
		return q, &parts.ValidationError{Field: "sort_order", Reason: "sort_order must be asc or desc"}
	}
	if s := strings.TrimSpace(get("limit")); s != "" {
		n, ok := parseCount(s)
		if !ok || n < 1 || n > parts.MaxLimit {
			return q, &parts.ValidationError{Field: "limit",
				Reason: fmt.Sprintf("limit must be a whole number from 1 to %d", parts.MaxLimit)}
		}
		q.Filter.Limit, q.LimitSet = n, true
	}
	if s := strings.TrimSpace(get("offset")); s != "" {
		n, ok := parseCount(s)
		if !ok || n > maxOffset {
			return q, &parts.ValidationError{Field: "offset",
				Reason: fmt.Sprintf("offset must be a whole number from 0 to %d", maxOffset)}
		}
		q.Filter.Offset = n
	}
	return q, nil
}

// parseCount parses a non-negative decimal integer of plain digits.
func parseCount(s string) (int, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > math.MaxInt32 {
		return 0, false
	}
	return int(n), true
}
