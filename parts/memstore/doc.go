// Package memstore is a parts.Store held in memory, for embedders' tests
// and examples: a Service on memstore.New(nil) behaves like one on a SQL
// store (it passes parts/partstest.RunStore), without a database or files
// on disk. Nothing survives the process.
//
// It declines the optional capabilities (parts.ChangeCounter,
// parts.VersionLister): callers that find them missing fall back to the
// plain Store methods. Search scans every part; it is meant for tests, not
// for many thousands of parts.
package memstore
