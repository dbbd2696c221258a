package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/partflow/partflow/storage"
	_ "github.com/partflow/partflow/storage/bunstore" // registers sqlite:// and postgres://, as the command does
)

// TestDatabaseURLUnknownSchemeListsKnown: an unknown database scheme gets
// the storage registry's error, naming the schemes it knows.
func TestDatabaseURLUnknownSchemeListsKnown(t *testing.T) {
	_, _, err := NormalizeDatabaseURL("mysql://h/db")
	if !errors.Is(err, storage.ErrUnknownScheme) {
		t.Fatalf("err = %v, want storage.ErrUnknownScheme", err)
	}
	for _, s := range storage.Schemes() {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not list known scheme %q", err, s)
		}
	}
	if len(storage.Schemes()) == 0 {
		t.Fatal("no storage schemes registered in the command")
	}
}
