package parts

import (
	"errors"
	"fmt"
)

// Sentinel errors. Match them with errors.Is; every error the library returns
// wraps one of these (or a context error) when the cause is known.
var (
	// ErrNotFound: the part, file or event does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write lost a race (stale version) or a claim is held by
	// someone else.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input failed validation. *ValidationError matches it.
	ErrInvalid = errors.New("invalid input")
	// ErrInvalidTransition: the workflow table does not allow the action from
	// the part's current state. *TransitionError matches it.
	ErrInvalidTransition = errors.New("invalid transition")
	// ErrUnauthorized: the caller is not allowed to do this.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrTooLarge: an upload or value exceeds its size limit.
	ErrTooLarge = errors.New("too large")
	// ErrUnsupportedType: an upload's extension or content is not accepted.
	ErrUnsupportedType = errors.New("unsupported file type")
	// ErrCursorExpired: events after the reader's cursor have been pruned
	// from the change log. The reader must resync (read the current parts,
	// then follow the log from its head) instead of skipping them.
	ErrCursorExpired = errors.New("event cursor expired: events after it were pruned; resync from the current state")
)

// ErrNoDrawingSource: the Service was built without Options.Drawings and
// holds no drawing for the part.
var ErrNoDrawingSource = errors.New("fetching drawings is not configured")

// ErrUpstream: a system the Service fetches from (a DrawingSource) refused
// or failed. *UpstreamError matches it.
var ErrUpstream = errors.New("upstream failed")

// UpstreamError reports a refusal or failure of a system the Service
// fetches from. It matches ErrUpstream.
type UpstreamError struct {
	// Reason is one sentence for users, without secrets.
	Reason string
}

// Error implements error.
func (e *UpstreamError) Error() string { return e.Reason }

// Is makes UpstreamError match ErrUpstream.
func (e *UpstreamError) Is(target error) bool { return target == ErrUpstream }

// Not-found errors that say what is missing. Each matches ErrNotFound.
var (
	// ErrFileNotFound: the part exists but holds no file of the requested
	// name, kind or view.
	ErrFileNotFound = fmt.Errorf("file %w", ErrNotFound)
	// ErrKeyNotFound: no stored API key has this id.
	ErrKeyNotFound = fmt.Errorf("key %w", ErrNotFound)
)

// keyNotFound makes a key store's ErrNotFound an ErrKeyNotFound.
func keyNotFound(err error) error {
	if errors.Is(err, ErrNotFound) && !errors.Is(err, ErrKeyNotFound) {
		return fmt.Errorf("%w (%v)", ErrKeyNotFound, err)
	}
	return err
}

// ValidationError reports one invalid field. It matches ErrInvalid.
type ValidationError struct {
	// Field is the JSON (camelCase) name of the field.
	Field string
	// Reason is a human-readable sentence, e.g. "Part ID is required".
	Reason string
}

// Error implements error.
func (e *ValidationError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// TransitionError reports an action the workflow does not allow. It matches
// ErrInvalidTransition.
type TransitionError struct {
	Action   Action
	Category Category
	Status   Status
	// Reason explains the guard that failed.
	Reason string
}

// Error implements error.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s a part in %s (%s): %s", e.Action, e.Category, e.Status, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidTransition) true.
func (e *TransitionError) Is(target error) bool { return target == ErrInvalidTransition }

// ClaimConflictError reports a claim on a part someone else holds. It matches ErrConflict.
type ClaimConflictError struct {
	// HeldBy is the current assignee.
	HeldBy string
}

// Error implements error.
func (e *ClaimConflictError) Error() string {
	return fmt.Sprintf("part is already claimed by %s", e.HeldBy)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ClaimConflictError) Is(target error) bool { return target == ErrConflict }

// FileTypeError reports an upload that is not accepted: its extension is not
// allowed (Extension is true) or its content does not match its extension.
// It matches ErrUnsupportedType.
type FileTypeError struct {
	// Reason is a sentence for the uploader.
	Reason string
	// Extension is true when the file's name (not its content) was refused.
	Extension bool
}

// Error implements error.
func (e *FileTypeError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrUnsupportedType) true.
func (e *FileTypeError) Is(target error) bool { return target == ErrUnsupportedType }

// TooLargeError reports an upload over its size limit. It matches ErrTooLarge.
type TooLargeError struct {
	// Reason is a sentence for the uploader.
	Reason string
	// Limit is the limit in bytes.
	Limit int64
}

// Error implements error.
func (e *TooLargeError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Storage faults: a store that cannot take writes for a reason an operator
// must fix. *StorageError matches them. Reads usually still work, and
// writes work again as soon as the cause is gone.
var (
	// ErrStorageFull: the disk, quota or database size limit is reached.
	ErrStorageFull = errors.New("storage is full")
	// ErrStorageReadOnly: the storage refuses writes (a read-only mount,
	// lost permissions, a read-only database file).
	ErrStorageReadOnly = errors.New("storage is read-only")
)

// StorageError reports a storage fault of one store. It matches its Fault
// (ErrStorageFull or ErrStorageReadOnly) and unwraps to the driver's error.
// Drivers return it from their error mapping.
type StorageError struct {
	// Store names the store for people: "the file store", "the database".
	Store string
	// Fault is ErrStorageFull or ErrStorageReadOnly.
	Fault error
	// Err is the driver's error.
	Err error
}

// Error implements error, e.g. "the file store is full".
func (e *StorageError) Error() string {
	what := "full"
	if e.Fault == ErrStorageReadOnly {
		what = "read-only"
	}
	return e.Store + " is " + what
}

// Is makes errors.Is(err, e.Fault) true.
func (e *StorageError) Is(target error) bool { return target == e.Fault }

// Unwrap returns the driver's error.
func (e *StorageError) Unwrap() error { return e.Err }
