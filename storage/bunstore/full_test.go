package bunstore_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

func TestFullDatabaseIsAStorageFaultAndReadsGoOn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parts.db")
	s, err := bunstore.Open(t.Context(), "sqlite://"+path, &bunstore.Options{MaxPageCount: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	svc := parts.NewService(s, nil)
	notes := strings.Repeat("a long note that fills pages ", 200)
	var full error
	created := 0
	for i := range 1000 {
		_, err := svc.CreatePart(t.Context(), &parts.Part{PartID: fmt.Sprintf("F-%d", i), Name: "Filler", Type: parts.TypeCNC,
			Material: "6061", Subsystem: "Drive", Notes: notes}, "test")
		if err != nil {
			full = err
			break
		}
		created++
	}
	var se *parts.StorageError
	if !errors.Is(full, parts.ErrStorageFull) || !errors.As(full, &se) || se.Error() != "the database is full" {
		t.Fatalf("after %d parts: error %v, want the database is full", created, full)
	}
	if created == 0 {
		t.Fatal("no part fitted: the cap is too small for the test to mean anything")
	}
	_, total, err := s.FindParts(t.Context(), parts.Filter{})
	if err != nil || total != created {
		t.Fatalf("reads of a full database: %d parts, %v; want %d", total, err, created)
	}
}

func TestPostgresFullAndReadOnlyAreStorageFaults(t *testing.T) {
	for code, fault := range map[string]error{"53100": parts.ErrStorageFull, "25006": parts.ErrStorageReadOnly} {
		err := bunstore.StorageFault(fmt.Errorf("insert part: %w", &pgconn.PgError{Code: code, Message: "x"}))
		var se *parts.StorageError
		if !errors.Is(err, fault) || !errors.As(err, &se) || se.Store != "the database" {
			t.Errorf("code %s: %v, want a storage fault %v", code, err, fault)
		}
	}
	other := &pgconn.PgError{Code: "23505"}
	if err := bunstore.StorageFault(other); err != other {
		t.Errorf("a unique violation became %v", err)
	}
}
