package bunstore_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// TestCopyKeepsTheEventHorizon copies a store whose log was pruned, as
// partflow copy and restore do, and checks that a cursor into the pruned
// range is expired on the copy too instead of silently skipping events.
func TestCopyKeepsTheEventHorizon(t *testing.T) {
	open := func() *bunstore.Store {
		s, err := bunstore.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "parts.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	src, dst := open(), open()
	svc := parts.NewService(src, nil)
	for i := range 5 {
		if _, err := svc.CreatePart(t.Context(), &parts.Part{PartID: fmt.Sprint("P-", i), Material: "al", Subsystem: "d"}, "a"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := src.PruneLog(t.Context(), time.Time{}, 2); err != nil {
		t.Fatal(err)
	}
	rows := map[string][]bunstore.Row{}
	err := src.ReadTables(t.Context(), nil, func(tb bunstore.Table, r bunstore.Row) error {
		rows[tb.Name] = append(rows[tb.Name], r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range bunstore.DataTables {
		if len(rows[tb.Name]) > 0 {
			if err := dst.WriteRows(t.Context(), tb.Name, rows[tb.Name]); err != nil {
				t.Fatal(err)
			}
		}
	}
	last, err := src.LastIDs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.SetLastIDs(t.Context(), last); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.ReadLog(t.Context(), parts.EventQuery{After: 1, Limit: 10}); !errors.Is(err, parts.ErrCursorExpired) {
		t.Fatalf("cursor 1 on the copy: %v, want ErrCursorExpired", err)
	}
	page, err := dst.ReadLog(t.Context(), parts.EventQuery{After: 3, Limit: 10})
	if err != nil || len(page.Events) != 2 || page.Events[0].PartNumber != "P-3" {
		t.Fatalf("after the horizon on the copy: %+v, %v; want P-3 and P-4 with their fields", page, err)
	}
}
