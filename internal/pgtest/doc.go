// Package pgtest starts a private PostgreSQL server for tests and hands out
// empty databases on it.
//
// The server runs from the PostgreSQL binaries on this machine (15 or
// newer: $PARTFLOW_PG_BIN, else `pg_config --bindir`, else the newest
// /usr/lib/postgresql/*/bin, else postgres on $PATH; Debian's `postgresql`
// package, which `make ci-deps` installs). It is initialised into a
// temporary directory, listens only on a unix socket inside it (no TCP),
// trusts local connections, and is stopped and removed when the test binary
// ends. PostgreSQL refuses to run as root: as root the server runs as the
// `postgres` user (created by the package), with the directory handed to
// that user.
//
// A package's tests share one server, started on first use:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.NewDatabase(t) // postgres://...; dropped after the test
//	}
//
// Without binaries NewDatabase skips the test with a message saying how to
// install them, unless PARTFLOW_REQUIRE_POSTGRES=1 (set by CI), which makes
// it a failure.
package pgtest
