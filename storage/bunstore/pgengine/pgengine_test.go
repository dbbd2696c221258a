package pgengine_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/partflow/partflow/internal/pgtest"
	"github.com/partflow/partflow/storage"
	"github.com/partflow/partflow/storage/bunstore"
	"github.com/partflow/partflow/storage/bunstore/pgengine"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestImportRegistersTheSchemes checks that importing the package is
// enough: bunstore.Open and the storage registry know every spelling.
func TestImportRegistersTheSchemes(t *testing.T) {
	for _, scheme := range pgengine.Schemes {
		if !slices.Contains(bunstore.Schemes(), scheme) {
			t.Errorf("bunstore.Schemes() = %v, lacks %s", bunstore.Schemes(), scheme)
		}
		if !slices.Contains(storage.Schemes(), scheme) {
			t.Errorf("storage.Schemes() = %v, lacks %s", storage.Schemes(), scheme)
		}
	}
}

// TestEachSpellingOpensPostgreSQL opens one database under each scheme.
func TestEachSpellingOpensPostgreSQL(t *testing.T) {
	url := pgtest.NewDatabase(t)
	_, rest, _ := strings.Cut(url, "://")
	for _, scheme := range pgengine.Schemes {
		t.Run(scheme, func(t *testing.T) {
			s, err := storage.Open(t.Context(), scheme+"://"+rest, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.(*bunstore.Store).Engine(); got != "postgres" {
				t.Errorf("Engine() = %q, want postgres", got)
			}
		})
	}
}

// TestUnknownSchemeListsTheRegisteredOnes checks Open's error for a scheme
// no engine registered.
func TestUnknownSchemeListsTheRegisteredOnes(t *testing.T) {
	_, err := bunstore.Open(t.Context(), "mysql://u:secret@db/parts", nil)
	if err == nil || !strings.Contains(err.Error(), "postgres, postgresql, postgresql+psycopg2, sqlite") || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open(mysql://...) = %v, want an error listing the registered schemes without the password", err)
	}
}
