package bunstore

import (
	"github.com/partflow/partflow/parts"
)

// dbName names the database in storage faults.
const dbName = "the database"

// storageFault turns a database's "full" and "read-only" errors, as a
// registered engine's Fault tells them, into a *parts.StorageError and
// returns other errors unchanged.
func storageFault(err error) error {
	if err == nil {
		return nil
	}
	var fault error
	anyEngine(func(e Engine) bool {
		fault = e.Fault(err)
		return fault != nil
	})
	if fault == nil {
		return err
	}
	return &parts.StorageError{Store: dbName, Fault: fault, Err: err}
}
