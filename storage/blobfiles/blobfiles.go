package blobfiles

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage"
)

func init() {
	for _, scheme := range []string{"file", "mem"} {
		storage.RegisterFiles(scheme, func(ctx context.Context, url string) (parts.FileStore, error) {
			return Open(ctx, url, nil)
		})
	}
}

// Options configure a Store. A nil *Options gives the defaults.
type Options struct {
	// SpoolDir was where Put spooled mem:// uploads while computing their
	// checksum. file:// and mem:// stores now write each upload straight
	// into its object, hashing on the way, and use no spool; the field is
	// kept so that existing callers compile.
	SpoolDir string
}

// metaSHA256 is the blob metadata key holding the object's hex SHA-256.
const metaSHA256 = "sha256"

// spoolName is the hidden directory of a file:// store's root that earlier
// releases spooled uploads in; Open and SweepDebris remove their leftovers.
const spoolName = ".spool"

// staleSpool is the age after which Open removes a leftover spool file.
const staleSpool = time.Hour

// copyBufSize is the buffer size for streaming copies.
const copyBufSize = 256 << 10

// Store is a parts.FileStore on a Bucket.
type Store struct {
	bucket   Bucket
	spoolDir string
	dir      string // root of a file:// store, else ""
}

var _ parts.FileStore = (*Store)(nil)

// Open opens the file store for a file:// or mem:// URL (see the package
// documentation). opts may be nil. s3:// is opened by storage/s3files.
func Open(ctx context.Context, rawURL string, opts *Options) (*Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("blobfiles: parse URL: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "file":
		return openDir(u)
	case "mem":
		if u.Host != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("blobfiles: mem URL takes no host, path or parameters: %q", rawURL)
		}
		return &Store{bucket: newMemBucket()}, nil
	case "s3":
		return nil, fmt.Errorf("blobfiles: s3 URLs are opened by the storage/s3files package (import it)")
	}
	return nil, fmt.Errorf("blobfiles: unsupported URL scheme %q (want file or mem)", u.Scheme)
}

// dirFromURL returns the directory of a file:// URL: file:///abs/path,
// file://localhost/abs/path, or file://./relative/path.
func dirFromURL(u *url.URL) (string, error) {
	if u.RawQuery != "" {
		return "", fmt.Errorf("blobfiles: file URL takes no parameters")
	}
	if u.Opaque != "" {
		return "", fmt.Errorf("blobfiles: file URL must be file:///path or file://./path")
	}
	p := u.Path
	switch u.Host {
	case "", "localhost":
	case ".", "..":
		p = u.Host + p
	default:
		return "", fmt.Errorf("blobfiles: file URL host %q is not supported (want file:///path or file://./path)", u.Host)
	}
	if p == "" {
		return "", fmt.Errorf("blobfiles: file URL has no path")
	}
	return filepath.Clean(filepath.FromSlash(p)), nil
}

func openDir(u *url.URL) (*Store, error) {
	dir, err := dirFromURL(u)
	if err != nil {
		return nil, err
	}
	b, err := openDirBucket(dir)
	if err != nil {
		return nil, fmt.Errorf("blobfiles: open %s: %w", dir, err)
	}
	removeStaleSpool(filepath.Join(dir, spoolName), time.Now().Add(-staleSpool))
	return &Store{bucket: b, dir: dir}, nil
}

// removeStaleSpool deletes spool files last written before cutoff: leftovers
// of a process that died mid-upload. Younger files may belong to another
// process sharing the directory.
func removeStaleSpool(dir string, cutoff time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "put-") {
			continue
		}
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.ModTime().Before(cutoff) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Close releases the bucket.
func (s *Store) Close() error {
	if err := s.bucket.Close(); err != nil {
		return fmt.Errorf("blobfiles: close: %w", err)
	}
	return nil
}

// fileblobTemp matches the names of temporary files written next to the
// final file (fileblob's naming, kept by the local bucket): "<name>.<hex nanoseconds>.tmp".
var fileblobTemp = regexp.MustCompile(`\.[0-9a-f]+\.tmp$`)

// checkKey reports whether key is a clean relative slash-separated path the
// store accepts.
func checkKey(key string) error {
	bad := func(reason string) error {
		return fmt.Errorf("%w: file key %q %s", parts.ErrInvalid, key, reason)
	}
	switch {
	case key == "":
		return bad("is empty")
	case len(key) > 1024:
		return bad("is longer than 1024 bytes")
	case !utf8.ValidString(key):
		return bad("is not valid UTF-8")
	case strings.HasPrefix(key, "/"):
		return bad("is absolute")
	case strings.ContainsRune(key, '\\'):
		return bad("contains a backslash")
	case strings.HasSuffix(key, ".attrs") || fileblobTemp.MatchString(key):
		return bad("uses a reserved suffix")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return bad("contains a control character")
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return bad("has an empty segment")
		case seg == "." || seg == "..":
			return bad("has a dot segment")
		case strings.HasPrefix(seg, "."):
			return bad("has a segment starting with a dot (reserved)")
		}
	}
	return nil
}

// checkPrefix accepts "" or a prefix that would be a clean key once
// completed: no unclean segment before its last slash.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	probe := prefix
	if strings.HasSuffix(probe, "/") {
		probe += "x"
	}
	if err := checkKey(probe); err != nil {
		return fmt.Errorf("%w: list prefix %q is not a clean path prefix", parts.ErrInvalid, prefix)
	}
	return nil
}

// hidden reports whether a listed key is the store's own bookkeeping (spool
// files, fileblob temporaries) rather than an object.
func hidden(key string) bool {
	if fileblobTemp.MatchString(key) {
		return true
	}
	for seg := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

// mapErr adds context to a bucket's error; buckets already wrap
// parts.ErrNotFound and context errors.
func mapErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, parts.ErrNotFound) {
		return fmt.Errorf("blobfiles: %s %q: %w", op, key, parts.ErrNotFound)
	}
	return fmt.Errorf("blobfiles: %s %q: %w", op, key, err)
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// onlyWriter hides optional interfaces (ReaderFrom) so io.CopyBuffer uses its buffer.
type onlyWriter struct{ io.Writer }

// Put streams r to key with its SHA-256 in the object's attributes. On disk
// and in memory each byte is written once, hashed on its way into the
// object; for buckets that need the checksum before the bytes (S3) Put
// spools the upload first. See the package doc for the atomicity
// guarantees.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, contentType string) (_ parts.FileObject, err error) {
	obj, err := s.put(ctx, key, r, contentType)
	return obj, fault(err)
}

func (s *Store) put(ctx context.Context, key string, r io.Reader, contentType string) (_ parts.FileObject, err error) {
	if err := checkKey(key); err != nil {
		return parts.FileObject{}, err
	}
	if err := ctx.Err(); err != nil {
		return parts.FileObject{}, fmt.Errorf("blobfiles: put %q: %w", key, err)
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	var size int64
	var sum string
	if sw, ok := s.bucket.(StreamWriter); ok {
		size, sum, err = s.putStream(ctx, sw, key, r, contentType)
	} else {
		size, sum, err = s.putSpooled(ctx, key, r, contentType)
	}
	if err != nil {
		return parts.FileObject{}, err
	}
	obj := parts.FileObject{Key: key, Size: size, SHA256: sum, ContentType: contentType, ModTime: time.Now().UTC()}
	if a, err := s.bucket.Attributes(ctx, key); err == nil {
		obj.ModTime = a.ModTime.UTC()
	}
	return obj, nil
}

// hashReader counts and hashes what is read through it.
type hashReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	done bool // r returned io.EOF
}

func (hr *hashReader) Read(p []byte) (int, error) {
	k, err := hr.r.Read(p)
	hr.h.Write(p[:k])
	hr.n += int64(k)
	if err == io.EOF {
		hr.done = true
	}
	return k, err
}

// putStream writes r straight into a bucket that takes its attributes after
// the bytes: each byte is written once.
func (s *Store) putStream(ctx context.Context, sw StreamWriter, key string, r io.Reader, contentType string) (int64, string, error) {
	hr := &hashReader{r: ctxReader{ctx, r}, h: sha256.New()}
	var sum string
	err := sw.WriteStream(ctx, key, hr, func() (Attrs, error) {
		if !hr.done {
			return Attrs{}, fmt.Errorf("the bucket stopped reading before the end of the upload")
		}
		sum = hex.EncodeToString(hr.h.Sum(nil))
		return Attrs{ContentType: contentType, SHA256: sum}, nil
	})
	if err != nil {
		return 0, "", mapErr("put", key, err)
	}
	return hr.n, sum, nil
}

// putSpooled streams r into a spool file while hashing, then copies the
// spool into a bucket that needs the checksum before the bytes.
func (s *Store) putSpooled(ctx context.Context, key string, r io.Reader, contentType string) (int64, string, error) {
	spool, err := os.CreateTemp(s.spoolDir, "put-*")
	if err != nil {
		return 0, "", fmt.Errorf("blobfiles: put %q: create spool file: %w", key, err)
	}
	defer func() {
		_ = spool.Close()
		_ = os.Remove(spool.Name())
	}()
	buf := make([]byte, copyBufSize)
	h := sha256.New()
	size, err := io.CopyBuffer(onlyWriter{io.MultiWriter(spool, h)}, ctxReader{ctx, r}, buf)
	if err != nil {
		return 0, "", fmt.Errorf("blobfiles: put %q: read upload: %w", key, err)
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return 0, "", fmt.Errorf("blobfiles: put %q: rewind spool: %w", key, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	attrs := Attrs{ContentType: contentType, SHA256: sum}
	if err := s.bucket.Write(ctx, key, ctxReader{ctx, spool}, size, attrs); err != nil {
		return 0, "", mapErr("put", key, err)
	}
	return size, sum, nil
}

// Open returns a seekable reader of the object at key and its description.
func (s *Store) Open(ctx context.Context, key string) (io.ReadSeekCloser, parts.FileObject, error) {
	obj, err := s.Stat(ctx, key)
	if err != nil {
		return nil, parts.FileObject{}, err
	}
	r, size, err := s.bucket.NewReader(ctx, key)
	if err != nil {
		return nil, parts.FileObject{}, mapErr("open", key, err)
	}
	obj.Size = size
	return r, obj, nil
}

// Stat describes the object at key.
func (s *Store) Stat(ctx context.Context, key string) (parts.FileObject, error) {
	if err := checkKey(key); err != nil {
		return parts.FileObject{}, err
	}
	if err := ctx.Err(); err != nil {
		return parts.FileObject{}, fmt.Errorf("blobfiles: stat %q: %w", key, err)
	}
	a, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return parts.FileObject{}, mapErr("stat", key, err)
	}
	return parts.FileObject{
		Key:         key,
		Size:        a.Size,
		SHA256:      a.SHA256,
		ContentType: a.ContentType,
		ModTime:     a.ModTime.UTC(),
	}, nil
}

// Delete removes the object at key.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blobfiles: delete %q: %w", key, err)
	}
	// S3 deletes are idempotent, so look first to report a missing key.
	if _, err := s.bucket.Attributes(ctx, key); err != nil {
		return mapErr("delete", key, err)
	}
	return fault(mapErr("delete", key, s.bucket.Delete(ctx, key)))
}

// List returns every object whose key starts with prefix, sorted by key.
// It stats each object for its checksum.
func (s *Store) List(ctx context.Context, prefix string) ([]parts.FileObject, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("blobfiles: list %q: %w", prefix, err)
	}
	var out []parts.FileObject
	keys, err := s.bucket.List(ctx, prefix)
	if err != nil {
		return nil, mapErr("list", prefix, err)
	}
	for _, key := range keys {
		if hidden(key) || checkKey(key) != nil {
			continue
		}
		obj, err := s.Stat(ctx, key)
		if errors.Is(err, parts.ErrNotFound) {
			continue // deleted while listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	slices.SortFunc(out, func(a, b parts.FileObject) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Ping checks that the bucket can be reached (readiness checks), when the
// bucket can tell (a Bucket with a Ping method, such as storage/s3files'
// buckets); local and memory buckets are always reachable.
func (s *Store) Ping(ctx context.Context) error {
	p, ok := s.bucket.(interface{ Ping(context.Context) error })
	if !ok {
		return nil
	}
	if err := p.Ping(ctx); err != nil {
		return fmt.Errorf("blobfiles: ping: %w", err)
	}
	return nil
}
