package blobfiles

import (
	"context"
	"io"
	"time"
)

// Bucket is the object storage under a Store: a flat namespace of keys
// (clean slash-separated paths, already checked by the Store) holding bytes
// and a few attributes. The Store does the checksumming (and spooling, for
// a Bucket that is no StreamWriter), key checks and error wrapping; a
// Bucket only moves bytes. The local-disk and
// memory buckets live in this package; storage/s3files adapts a
// gocloud.dev/blob bucket (S3 and S3-compatible services), so importing this
// package compiles no cloud SDK.
//
// Errors: a missing key is an error wrapping parts.ErrNotFound; a context
// error is returned wrapped.
type Bucket interface {
	// Write stores size bytes from r at key with attrs (SHA256 and
	// ContentType are set; Size and ModTime are ignored), replacing any
	// object there. The object becomes visible only when the whole write
	// succeeds: when r fails or ctx is done, Write returns the error and the
	// previous object, if any, is left as it was.
	Write(ctx context.Context, key string, r io.Reader, size int64, attrs Attrs) error
	// Attributes describes the object at key.
	Attributes(ctx context.Context, key string) (Attrs, error)
	// NewReader opens the object at key for reading and seeking, and
	// returns its size.
	NewReader(ctx context.Context, key string) (io.ReadSeekCloser, int64, error)
	// Delete removes the object at key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the keys starting with prefix, in any order. It may
	// include the bucket's own bookkeeping names, which the Store hides.
	List(ctx context.Context, prefix string) ([]string, error)
	// Close releases the bucket.
	Close() error
}

// StreamWriter is an optional Bucket capability: a write whose attributes
// are known only once the bytes are written, so the Store can hash the
// upload on its way into the object instead of spooling it first. The
// local-disk and memory buckets have it; S3 does not (its metadata is sent
// before the bytes), so the Store spools for it.
type StreamWriter interface {
	// WriteStream stores the bytes of r at key, replacing any object there.
	// Once r has returned io.EOF it calls attrs for the attributes to store
	// (SHA256 and ContentType; Size and ModTime are ignored); an error from
	// attrs aborts the write. As for Write, the object becomes visible only
	// when the whole write succeeds, and after any error the previous
	// object, if any, is left as it was. Concurrent writes to one key end
	// with one of them whole, bytes and attributes together.
	WriteStream(ctx context.Context, key string, r io.Reader, attrs func() (Attrs, error)) error
}

// Attrs describes a stored object.
type Attrs struct {
	// Size is the object's length in bytes.
	Size int64
	// ContentType is the media type given at upload.
	ContentType string
	// SHA256 is the hex SHA-256 of the content, computed by the Store.
	SHA256 string
	// ModTime is when the object was last written.
	ModTime time.Time
}

// NewStore returns a Store over bucket, spooling uploads in spoolDir ("" =
// the system's temporary directory) unless bucket is a StreamWriter. The Store takes ownership of the
// bucket and closes it in Close. It is how other packages (storage/s3files)
// provide a FileStore on their own storage.
func NewStore(bucket Bucket, spoolDir string) *Store {
	return &Store{bucket: bucket, spoolDir: spoolDir}
}
