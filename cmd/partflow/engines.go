package main

// The SQL engines beside SQLite that the binary supports: each registers
// its URL schemes with bunstore and the storage registry on import.
import _ "github.com/partflow/partflow/storage/bunstore/pgengine" // postgres://, postgresql://
