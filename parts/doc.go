// Package parts is Partflow's domain library: the Part model, validation,
// the workflow (review -> cnc or hand -> completed) as a declarative
// transition table, search and paging, history, and the Service that ties
// them together over pluggable storage.
//
// Callers use Service. It validates every write, applies the workflow table,
// owns the clock (UTC, microseconds), bumps each part's Version on every change
// (for ETags and optimistic concurrency), and records an Event for every
// change, all in one Store transaction per operation.
//
// The events form one ordered change log: each has a store-wide sequence
// number (Event.ID) assigned in the transaction of its change, in commit
// order. Service.Events reads a page after a cursor with filters;
// Service.Subscribe follows the log from a cursor, including commits by other
// processes sharing the store, until its context ends (at-least-once; the
// sequence de-duplicates). Retention (EventOptions, PruneEvents) bounds the
// log; a cursor behind it gives ErrCursorExpired: resync, never skip.
//
// Storage is behind two small interfaces defined here, next to the types they
// move: Store (parts, history, jobs) and FileStore (file bytes). Drivers live
// elsewhere (storage/bunstore, storage/blobfiles) and must pass the
// conformance suites in parts/partstest. This package imports only the
// standard library and convert.
//
// Errors wrap the sentinels ErrNotFound, ErrConflict, ErrInvalid,
// ErrInvalidTransition, ErrUnauthorized, ErrTooLarge, ErrUnsupportedType and
// ErrCursorExpired;
// match them with errors.Is. *ValidationError names the bad field.
package parts
