package s3files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage"
	"github.com/partflow/partflow/storage/blobfiles"
)

func init() {
	storage.RegisterFiles("s3", func(ctx context.Context, url string) (parts.FileStore, error) {
		return Open(ctx, url, nil)
	})
}

// Options configure an s3:// store. A nil *Options gives the defaults.
type Options struct {
	// SpoolDir is where Put spools uploads while computing their checksum.
	// Default: the system's temporary directory.
	SpoolDir string
	// Credentials, when set, sign requests with this static key instead of
	// the AWS SDK's default credential chain, and no AWS environment
	// variable or shared config file is read.
	Credentials *Credentials
	// HTTPClient, when set, is the HTTP client for S3 requests.
	HTTPClient *http.Client
}

// Open opens the file store of an s3:// URL (see the package documentation).
// opts may be nil.
func Open(ctx context.Context, rawURL string, opts *Options) (*blobfiles.Store, error) {
	if opts == nil {
		opts = &Options{}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("s3files: parse URL: %w", err)
	}
	if !strings.EqualFold(u.Scheme, "s3") {
		return nil, fmt.Errorf("s3files: unsupported URL scheme %q (want s3)", u.Scheme)
	}
	b, err := openS3(ctx, u, opts)
	if err != nil {
		return nil, err
	}
	return OpenBucket(b, opts.SpoolDir), nil
}

// OpenBucket returns a Store over an already opened gocloud.dev/blob bucket
// (any provider), spooling uploads in spoolDir ("" = the system's temporary
// directory). The Store takes ownership of the bucket and closes it in
// Close.
func OpenBucket(b *blob.Bucket, spoolDir string) *blobfiles.Store {
	return blobfiles.NewStore(gocloudBucket{b}, spoolDir)
}

// gocloudBucket adapts a *blob.Bucket to blobfiles.Bucket.
type gocloudBucket struct{ b *blob.Bucket }

var _ blobfiles.Bucket = gocloudBucket{}

// metaSHA256 is the blob metadata key holding the object's hex SHA-256, as
// earlier releases wrote it.
const metaSHA256 = "sha256"

func (g gocloudBucket) Close() error { return mapErr(g.b.Close()) }

// Ping checks that the bucket exists and can be read with the credentials.
func (g gocloudBucket) Ping(ctx context.Context) error {
	ok, err := g.b.IsAccessible(ctx)
	if err != nil {
		return mapErr(err)
	}
	if !ok {
		return errors.New("s3files: the bucket does not exist or cannot be read")
	}
	return nil
}

// Write streams r into a blob writer; on any failure it cancels the
// writer's context before closing it, so the upload is aborted, never
// committed.
func (g gocloudBucket) Write(ctx context.Context, key string, r io.Reader, _ int64, a blobfiles.Attrs) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := g.b.NewWriter(wctx, key, &blob.WriterOptions{
		ContentType: a.ContentType,
		Metadata:    map[string]string{metaSHA256: a.SHA256},
	})
	if err != nil {
		return mapErr(err)
	}
	if _, err := io.Copy(w, r); err != nil {
		cancel()
		_ = w.Close()
		return mapErr(err)
	}
	return mapErr(w.Close())
}

func (g gocloudBucket) Attributes(ctx context.Context, key string) (blobfiles.Attrs, error) {
	a, err := g.b.Attributes(ctx, key)
	if err != nil {
		return blobfiles.Attrs{}, mapErr(err)
	}
	return blobfiles.Attrs{Size: a.Size, ContentType: a.ContentType, SHA256: a.Metadata[metaSHA256], ModTime: a.ModTime}, nil
}

func (g gocloudBucket) NewReader(ctx context.Context, key string) (io.ReadSeekCloser, int64, error) {
	r, err := g.b.NewReader(ctx, key, nil)
	if err != nil {
		return nil, 0, mapErr(err)
	}
	return r, r.Size(), nil
}

func (g gocloudBucket) Delete(ctx context.Context, key string) error {
	err := g.b.Delete(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil
	}
	return mapErr(err)
}

func (g gocloudBucket) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	it := g.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return keys, nil
		}
		if err != nil {
			return nil, mapErr(err)
		}
		if !o.IsDir {
			keys = append(keys, o.Key)
		}
	}
}

// mapErr maps gocloud error codes to the parts and context sentinels.
func mapErr(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return fmt.Errorf("%w: %w", parts.ErrNotFound, err)
	case gcerrors.Canceled:
		return fmt.Errorf("%w: %w", context.Canceled, err)
	case gcerrors.DeadlineExceeded:
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return err
}
