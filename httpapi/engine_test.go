package httpapi_test

import (
	"os"
	"testing"

	"github.com/partflow/partflow/internal/pgtest"
	_ "github.com/partflow/partflow/storage/bunstore/pgengine" // postgres://
)

// The HTTP tests run on an in-memory SQLite store, or, with
// PARTFLOW_TEST_ENGINE=postgres (make test runs both), each test on a new
// database of a private PostgreSQL server, which TestMain stops at the end.

// testStoreURL returns the store URL for one test's environment.
func testStoreURL(t *testing.T) string {
	t.Helper()
	switch engine := os.Getenv("PARTFLOW_TEST_ENGINE"); engine {
	case "", "sqlite":
		return "sqlite://:memory:"
	case "postgres":
		return pgtest.NewDatabase(t)
	default:
		t.Fatalf("PARTFLOW_TEST_ENGINE=%q: want sqlite or postgres", engine)
		return ""
	}
}
