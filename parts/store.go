package parts

import (
	"context"
	"io"
	"slices"
	"strings"
	"time"
)

// Store persists parts, their history and conversion jobs. Drivers only
// persist: every business rule lives in Service. Implementations must be safe
// for concurrent use, return copies (never share mutable state with callers),
// store and return times in UTC, and honour context cancellation.
//
// Run parts/partstest.RunStore against a new driver.
type Store interface {
	// FindPartByID returns the part, or an error wrapping ErrNotFound.
	FindPartByID(ctx context.Context, id int64) (*Part, error)
	// FindParts returns one page of the parts matching f and the total number
	// of matches before paging. f has been normalised by the Service (a known
	// sort field, Limit >= 0, Offset >= 0). Ties in the sort order are broken
	// by ID in the same direction, so paging is stable.
	FindParts(ctx context.Context, f Filter) ([]*Part, int, error)
	// Stats returns counts over all parts. Drivers should keep counts up to
	// date on write rather than scan.
	Stats(ctx context.Context) (*Stats, error)
	// FindEvents returns a part's history, oldest first. A part without events
	// (or a deleted part's id) gives an empty list, not an error.
	FindEvents(ctx context.Context, partID int64) ([]*Event, error)
	// Update runs fn inside one write transaction. If fn returns an error the
	// transaction is rolled back and that error is returned unchanged.
	// Concurrent Update calls on one store serialise or fail with ErrConflict
	// from UpdatePart; they never lose a write.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// NextJob claims a job for l.Owner until l.Until: the oldest job that is
	// queued, or running under a lease that ended before l.Now (its holder
	// died). It marks it running, increments Attempts and returns it, or
	// returns an error wrapping ErrNotFound when no job can be claimed. Two
	// callers never get the same job, and a live lease is never taken.
	NextJob(ctx context.Context, l Lease) (*Job, error)
	// RenewJob extends the lease of a running job that l.Owner holds to
	// l.Until. It returns ErrNotFound for an unknown job and ErrConflict
	// when l.Owner no longer holds it (finished, released, or expired and
	// claimed by another owner).
	RenewJob(ctx context.Context, id int64, l Lease) error
	// FinishJob records the outcome of a running job that owner holds:
	// JobDone or JobFailed with a message. It returns ErrNotFound for an
	// unknown job and ErrConflict when owner does not hold it.
	FinishJob(ctx context.Context, id int64, owner string, state JobState, message string) error
	// ReleaseJob puts a running job that owner holds back in the queue (a
	// worker stopping cleanly), with the same errors as FinishJob.
	ReleaseJob(ctx context.Context, id int64, owner string) error
	// ReadLog returns the change log after a cursor: up to q.Limit events
	// with ID > q.After that match q's filters, in ID order, and the cursor
	// to read from next (see EventPage). q has been normalised by the
	// Service (Limit between 1 and MaxEventLimit). Event IDs are assigned in
	// commit order, so a reader never sees an event while an earlier one is
	// still to commit. It returns an error wrapping ErrCursorExpired when
	// events after q.After have been pruned (q.After is below the horizon
	// PruneLog left), never a page that silently skips them.
	ReadLog(ctx context.Context, q EventQuery) (*EventPage, error)
	// PruneLog deletes the oldest events: those before olderThan (when not
	// zero) and all but the newest keep (when keep > 0). It returns how many
	// it deleted. Readers whose cursor falls below the pruned range then get
	// ErrCursorExpired. A part's history loses the pruned events too.
	PruneLog(ctx context.Context, olderThan time.Time, keep int) (int, error)
	// Close releases the store's resources.
	Close() error
}

// StoredEventer is an optional interface of a Store. StoredEvent returns e,
// as given to Tx.AddEvent and with the ID it assigned, exactly as ReadLog
// will return it once committed: its time at the store's precision, its
// Changes' values as the store decodes them (numbers as float64, ...). It
// must not modify e. A Service whose store implements it hands the events
// its own commits add to its subscribers without reading them back;
// partstest.RunLog checks that they are identical to what ReadLog returns.
type StoredEventer interface {
	StoredEvent(e *Event) (*Event, error)
}

// Tx is the write side of a Store, valid only inside Store.Update.
type Tx interface {
	// FindPartByID returns the part as the transaction sees it, or ErrNotFound.
	FindPartByID(ctx context.Context, id int64) (*Part, error)
	// CreatePart inserts p. With p.ID zero it assigns a new ID; with p.ID set
	// (an import) it stores the part under that ID, or returns ErrConflict if
	// the ID is taken. IDs are never reused after a delete: new IDs are always
	// greater than every ID stored before.
	CreatePart(ctx context.Context, p *Part) error
	// UpdatePart replaces the stored part p.ID with p if its stored version is
	// still prevVersion; otherwise it returns ErrConflict and writes nothing.
	// It returns ErrNotFound if the part does not exist.
	UpdatePart(ctx context.Context, p *Part, prevVersion int64) error
	// DeletePart removes the part if its stored version is prevVersion (else
	// ErrConflict), or ErrNotFound if it does not exist. Events are kept.
	DeletePart(ctx context.Context, id int64, prevVersion int64) error
	// AddEvent appends e to the history and the change log, assigning e.ID:
	// a store-wide sequence number greater than every ID assigned before,
	// and, once the transaction commits, greater than that of every event
	// committed before it (commit order).
	AddEvent(ctx context.Context, e *Event) error
	// EnqueueJob adds a queued job, assigning j.ID.
	EnqueueJob(ctx context.Context, j *Job) error
}

// SortField is a field parts can be sorted by.
type SortField string

// The sort fields, named as the client sends them.
const (
	SortCreatedAt   SortField = "created_at"
	SortUpdatedAt   SortField = "updated_at"
	SortID          SortField = "id"
	SortPartID      SortField = "part_id"
	SortName        SortField = "name"
	SortType        SortField = "type"
	SortMaterial    SortField = "material"
	SortSubsystem   SortField = "subsystem"
	SortAssigned    SortField = "assigned"
	SortStatus      SortField = "status"
	SortCategory    SortField = "category"
	SortAmount      SortField = "amount"
	SortClaimedDate SortField = "claimed_date"
)

// SortFields is the whitelist of sort fields: the creation and update
// times, the id, every plain field with Field.Sort (named as its column),
// and the claim date. Stores may treat it as read-only.
var SortFields = sortFields()

func sortFields() []SortField {
	out := []SortField{SortCreatedAt, SortUpdatedAt, SortID}
	for _, f := range fieldTable {
		if f.Sort {
			out = append(out, SortField(f.Column))
		}
	}
	return append(out, SortClaimedDate)
}

// ParseSortField accepts a sort field in snake_case or camelCase ("part_id",
// "partId"); the empty string gives SortCreatedAt. Unknown names give a
// *ValidationError for field sort_by.
func ParseSortField(s string) (SortField, error) {
	if s == "" {
		return SortCreatedAt, nil
	}
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	name := SortField(b.String())
	if slices.Contains(SortFields, name) {
		return name, nil
	}
	for _, f := range fieldTable {
		if f.Column == string(name) {
			return "", invalid("sort_by", "cannot sort by %q", s)
		}
	}
	return "", invalid("sort_by", "unknown sort field %q", s)
}

// MaxLimit is the largest page size FindParts accepts.
const MaxLimit = 10000

// Filter selects, orders and pages parts.
type Filter struct {
	// Category restricts to one category; empty means all.
	Category Category
	// Search is a case-insensitive substring matched against each searched
	// field (Field.Search; SearchText gives their text). % and _ are
	// literal.
	Search string
	// SortBy is the sort field; empty means SortCreatedAt.
	SortBy SortField
	// Asc sorts ascending; the default is descending.
	Asc bool
	// Limit is the page size; 0 means no limit.
	Limit int
	// Offset skips that many matches.
	Offset int
}

// Stats are counts over all parts.
type Stats struct {
	Total      int
	ByCategory map[Category]int
	ByStatus   map[Status]int
	Assigned   int
	Unassigned int
}

// Change is one field's value before and after an event.
type Change struct {
	// Field is the JSON (camelCase) field name.
	Field  string
	Before any
	After  any
}

// Event is one entry in a part's history and in the store's change log.
type Event struct {
	// ID is the event's sequence number in the change log: store-wide,
	// strictly increasing in commit order. It is the log's cursor.
	ID int64
	// PartID is the part's id (Part.ID).
	PartID int64
	// PartNumber, Name, Category and Version are the part's partId, name,
	// category and version after the change; for a delete, as the part was
	// when deleted. Events recorded before the change log existed may lack
	// them.
	PartNumber string
	Name       string
	Category   Category
	Version    int64
	// Action names what happened: "create", "update", "delete", "import", a
	// workflow action ("approve", "assign", ...), a file event
	// ("file.uploaded", "file.replaced", "file.deleted"; a converted model
	// arrives as a file event of its GLB) or a model event
	// ("model.requested", "model.failed").
	Action string
	// Actor is who did it, when known.
	Actor   string
	At      time.Time
	Changes []Change
}

// JobState is the state of a background conversion job.
type JobState string

// The job states.
const (
	JobQueued  JobState = "queued"
	JobRunning JobState = "running"
	JobDone    JobState = "done"
	JobFailed  JobState = "failed"
)

// Job is a durable background job: today, converting a part's CAD file to GLB.
type Job struct {
	ID     int64
	PartID int64
	// Source is the SHA-256 of the file to convert; a job whose part has moved
	// on to another file is obsolete.
	Source    string
	State     JobState
	Attempts  int
	Error     string
	CreatedAt time.Time
	UpdatedAt time.Time
	// LeaseOwner and LeaseUntil say who holds a running job and until when.
	LeaseOwner string
	LeaseUntil time.Time
}

// Lease is a claim on a running job: Owner (a server's id) holds it until
// Until unless it renews it. Now is the caller's clock: a lease that ended
// before Now may be claimed by another owner. Several servers on one store
// must have clocks that agree to well within the lease length.
type Lease struct {
	Owner string
	Now   time.Time
	Until time.Time
}

// Check returns a *ValidationError when l cannot be held: it has no Owner.
// Stores call it first in NextJob.
func (l Lease) Check() error {
	if l.Owner == "" {
		return &ValidationError{Field: "owner", Reason: "a lease needs an owner"}
	}
	return nil
}

// FileObject describes stored bytes in a FileStore.
type FileObject struct {
	Key         string
	Size        int64
	SHA256      string
	ContentType string
	ModTime     time.Time
}

// FileStore holds the bytes of part files. Keys are generated by the library
// (see Service), never taken from clients; drivers may still reject keys that
// are not clean relative slash-separated paths. Implementations must be safe
// for concurrent use.
//
// Run parts/partstest.RunFileStore against a new driver.
type FileStore interface {
	// Put streams r to key and returns the stored object's size and SHA-256.
	// It is atomic: on any error (including a reader that fails midway) no
	// object is left at key and a previous object at key is unchanged.
	Put(ctx context.Context, key string, r io.Reader, contentType string) (FileObject, error)
	// Open returns a reader positioned at the start of the object, with Seek
	// for range requests, and its description. It returns ErrNotFound if the
	// key does not exist.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, FileObject, error)
	// Stat describes the object at key, or returns ErrNotFound.
	Stat(ctx context.Context, key string) (FileObject, error)
	// Delete removes the object at key; it returns ErrNotFound if it is absent.
	Delete(ctx context.Context, key string) error
	// List returns every object whose key starts with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]FileObject, error)
}

// ChangeCounter is an optional capability of a Store: a number that tells
// whether anything a read can see has changed. Answers derived from the
// store (lists, searches, stats) may be cached and revalidated under it.
type ChangeCounter interface {
	// ChangeSeq returns the sequence number of the newest committed write
	// of a part (create, update, delete, file and model changes, imports),
	// by this process or any other sharing the store. It grows with every
	// such write and never repeats for one store; two calls returning the
	// same number saw the same parts.
	ChangeSeq(ctx context.Context) (int64, error)
}

// PartVersion names one version of a part.
type PartVersion struct {
	ID, Version int64
}

// VersionLister is an optional capability of a Store: which parts, in which
// versions, a list without a search holds, without reading the parts. A
// caller that keeps parts by version (an encoded-answer cache) reads only
// the ones it does not hold.
type VersionLister interface {
	// FindVersions returns the ids and versions of the parts FindParts(ctx,
	// f) returns, in the same order, and the same total. For a filter it
	// cannot list that way (a search, say) it returns an error wrapping
	// errors.ErrUnsupported, and callers use FindParts.
	FindVersions(ctx context.Context, f Filter) ([]PartVersion, int, error)
}
