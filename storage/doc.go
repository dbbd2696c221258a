// Package storage is Partflow's registry of storage drivers, keyed by URL
// scheme, in the style of database/sql's Register and go-cloud's openurl.
//
// Drivers register themselves in their init function; programs pick a
// driver with a blank import and open it by URL:
//
//	import _ "github.com/partflow/partflow/storage/bunstore" // registers "sqlite", "postgres", ...
//
//	store, err := storage.Open(ctx, "sqlite:///var/lib/partflow/parts.db", nil)
//
// Part stores (parts.Store) and file stores (parts.FileStore) have separate
// registries: Register/Open and RegisterFiles/OpenFiles. Registering a scheme
// twice panics; opening an unknown scheme returns an error wrapping
// ErrUnknownScheme that lists the registered schemes. The registries are the
// package's only state and are safe for concurrent use.
package storage
