package flaskimport

import (
	"database/sql"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/parts/memstore"
)

func TestFlaskTime(t *testing.T) {
	want := time.Date(2024, 1, 1, 9, 30, 0, 123456000, time.UTC)
	for _, tc := range []struct {
		in   sql.NullString
		want time.Time
		ok   bool
	}{
		{sql.NullString{String: "2024-01-01 09:30:00.123456", Valid: true}, want, true},
		{sql.NullString{String: "2024-01-01T09:30:00.123456", Valid: true}, want, true},
		{sql.NullString{String: "2024-01-01T10:30:00.123456+01:00", Valid: true}, want, true},
		{sql.NullString{String: "2024-01-01", Valid: true}, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{sql.NullString{}, time.Time{}, true},
		{sql.NullString{String: "yesterday", Valid: true}, time.Time{}, false},
	} {
		got, err := flaskTime(tc.in)
		if (err == nil) != tc.ok || !got.Equal(tc.want) {
			t.Errorf("flaskTime(%q) = %v, %v; want %v (ok %t)", tc.in.String, got, err, tc.want, tc.ok)
		}
	}
}

// TestToPartRepairsWithTheLibrarysRules: a row the library's validation
// refuses is repaired field by field, each repair a warning, and the
// result passes parts.Part.Validate.
func TestToPartRepairsWithTheLibrarysRules(t *testing.T) {
	r := flaskRow{id: 7, typ: sql.NullString{String: "laser", Valid: true}, partID: sql.NullString{String: "DRV-007", Valid: true},
		subsystem: sql.NullString{String: "Drive", Valid: true}, status: sql.NullString{String: "Lost", Valid: true},
		miscInfo: sql.NullString{String: "[1]", Valid: true}, amount: sql.NullInt64{Int64: parts.MaxAmount + 1, Valid: true},
		createdAt: sql.NullString{String: "2024-02-01 12:00:00", Valid: true}}
	var warnings []string
	p, err := r.toPart(func(id int64, format string, args ...any) {
		if id != 7 {
			t.Errorf("warning for part %d, want 7", id)
		}
		warnings = append(warnings, format)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("repaired part does not validate: %v", err)
	}
	if p.Material != "(unknown)" || p.Status != parts.StatusPending || p.Type != parts.TypeNone ||
		p.Amount != parts.MaxAmount || p.Category != parts.CategoryReview || p.MiscInfo != nil {
		t.Errorf("repaired part = %+v", p)
	}
	if len(warnings) != 5 { // misc_info, material, amount, status, type; category is a quiet default
		t.Errorf("warnings = %q, want 5", warnings)
	}
}

func TestImportNeedsTheDatabase(t *testing.T) {
	svc := parts.NewService(memstore.New(nil), nil)
	_, err := Import(t.Context(), svc, filepath.Join(t.TempDir(), "missing.db"), "", io.Discard)
	if err == nil || !strings.Contains(err.Error(), "flask database") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want a missing flask database", err)
	}
}
