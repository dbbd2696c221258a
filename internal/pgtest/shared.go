package pgtest

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
)

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the test binary's server, starting it on first use. Main
// stops it.
func Shared() (*Server, error) {
	shared.once.Do(func() {
		shared.srv, shared.err = Start(context.Background(), nil)
	})
	return shared.srv, shared.err
}

// Main runs the tests (m.Run) and then stops and removes the shared server,
// if one was started, returning the exit code:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int { return Done(m.Run()) }

// Done stops and removes the shared server, if one was started, and
// returns code, or 1 if stopping failed. A TestMain that runs the tests
// itself (several times, say) calls it at the end:
//
//	os.Exit(pgtest.Done(code))
func Done(code int) int {
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil && code == 0 {
			os.Stderr.WriteString("pgtest: stop: " + err.Error() + "\n")
			code = 1
		}
	}
	return code
}

// Required reports whether a missing server is a failure rather than a
// skip (PARTFLOW_REQUIRE_POSTGRES=1, which CI sets).
func Required() bool { return os.Getenv("PARTFLOW_REQUIRE_POSTGRES") == "1" }

// NewDatabase returns the URL of a new, empty database on the shared
// server, dropped when tb ends. Without PostgreSQL binaries it skips tb, or
// fails it when Required.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	srv, err := Shared()
	if err != nil {
		if errors.Is(err, ErrNoBinaries) && !Required() {
			tb.Skipf("%v (PARTFLOW_REQUIRE_POSTGRES=1 makes this a failure)", err)
		}
		tb.Fatal(err)
	}
	db, err := srv.CreateDatabase(tb.Context(), "")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Drop(); err != nil {
			tb.Errorf("drop test database: %v", err)
		}
	})
	return db.URL
}
