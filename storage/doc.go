// Package storage is Partflow's registry of storage drivers, keyed by URL
// scheme, in the style of database/sql's Register and go-cloud's openurl.
//
// Drivers register themselves in their init function; programs pick a
// driver with a blank import and open it by URL:
//
//	import _ "github.com/partflow/partflow/storage/bunstore" // registers "sqlite"
//
//	store, err := storage.Open(ctx, "sqlite:///var/lib/partflow/parts.db", nil)
//
// Part stores (parts.Store) and file stores (parts.FileStore) have separate
// registries: Register/Open and RegisterFiles/OpenFiles. Registering a scheme
// twice panics; opening an unknown scheme returns an error wrapping
// ErrUnknownScheme that lists the registered schemes. The registries are the
// package's only state and are safe for concurrent use.
//
// # Adding a driver
//
//  1. Write the driver in its own package (storage/<name>) with its own
//     Open and Close; it implements parts.Store (or parts.FileStore) and
//     only persists: every rule lives in parts.Service. It maps its errors
//     to the parts sentinels at the boundary (parts.ErrNotFound,
//     parts.ErrConflict).
//  2. In its init, register each scheme, lower case and without "://":
//     storage.Register("mydb", func(ctx context.Context, url string, o
//     *storage.Options) (parts.Store, error) {...}) for a part store, whose
//     opts may be nil; storage.RegisterFiles("myfs", func(ctx
//     context.Context, url string) (parts.FileStore, error) {...}) for a
//     file store. The function gets the whole URL, scheme included.
//     Open lower-cases the URL's scheme before the lookup.
//  3. Its tests run the conformance suite: partstest.RunStore (and the
//     workflow suites) for a part store, partstest.RunFileStore for a file
//     store.
//  4. For the partflow binary to offer it, add the blank import beside the
//     others in cmd/partflow/app.go. The configuration then accepts the
//     scheme in database_url or files_url and passes the URL on unchanged;
//     an unknown scheme is refused with the registry's error listing the
//     known ones.
package storage
