package blobfiles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/partflow/partflow/parts"
)

// attrsExt is the suffix of the side file holding an object's attributes,
// in the layout of gocloud.dev/blob/fileblob, which earlier releases used:
// directories written by them open unchanged.
const attrsExt = ".attrs"

// dirAttrs is the JSON of an attributes side file (fileblob's field names).
type dirAttrs struct {
	ContentType string            `json:"user.content_type"`
	Metadata    map[string]string `json:"user.metadata"`
}

// dirBucket stores each object as a file under root, with its attributes in
// "<name>.attrs" next to it. Every path goes through an os.Root, so no key
// can reach outside the directory, even through a symbolic link.
type dirBucket struct {
	root *os.Root
	// publish serializes, per key (striped), writing an object's attributes
	// and renaming its bytes into place, so that concurrent writes to a key
	// end with the bytes and attributes of the same write.
	publish [64]sync.Mutex
}

var _ StreamWriter = (*dirBucket)(nil)

func openDirBucket(dir string) (*dirBucket, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &dirBucket{root: root}, nil
}

func (b *dirBucket) Close() error { return b.root.Close() }

// Write stores r at key with attributes a (see WriteStream).
func (b *dirBucket) Write(ctx context.Context, key string, r io.Reader, _ int64, a Attrs) error {
	return b.WriteStream(ctx, key, r, func() (Attrs, error) { return a, nil })
}

// tempName returns the name of a temporary file for name, in fileblob's
// pattern "<name>.<hex>.tmp" (hidden by List, removed by SweepDebris):
// the time in nanoseconds and a random number, so that concurrent writes
// to one key never pick the same name.
func tempName(name string) string {
	return name + "." + strconv.FormatInt(time.Now().UnixNano(), 16) +
		strconv.FormatUint(uint64(rand.Uint32())|1<<32, 16)[1:] + ".tmp"
}

// WriteStream copies r into a temporary file next to the final one, then
// writes the attributes and renames the file into place. A crash leaves at
// most the temporary file, which SweepDebris removes.
func (b *dirBucket) WriteStream(ctx context.Context, key string, r io.Reader, attrs func() (Attrs, error)) (err error) {
	name := path.Clean(key)
	if dir := path.Dir(name); dir != "." {
		if err := b.root.MkdirAll(dir, 0o750); err != nil {
			return err
		}
	}
	tmp := tempName(name)
	f, err := b.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = b.root.Remove(tmp)
		}
	}()
	if err = fillCopy(f, r); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = ctx.Err(); err != nil {
		return err
	}
	a, err := attrs()
	if err != nil {
		return err
	}
	mu := &b.publish[maphash.String(publishSeed, name)%uint64(len(b.publish))]
	mu.Lock()
	defer mu.Unlock()
	if err = b.writeAttrs(name, a); err != nil {
		return err
	}
	return b.root.Rename(tmp, name)
}

// copyBufs holds the buffers of fillCopy.
var copyBufs = sync.Pool{New: func() any { return new([copyBufSize]byte) }}

// fillCopy copies r to w in writes of a whole buffer: readers such as a
// multipart part return a few KiB at a time, and a write system call for
// each would cost more than the bytes.
func fillCopy(w io.Writer, r io.Reader) error {
	buf := copyBufs.Get().(*[copyBufSize]byte)
	defer copyBufs.Put(buf)
	for {
		n, err := 0, error(nil)
		for n < len(buf) && err == nil {
			var k int
			k, err = r.Read(buf[n:])
			n += k
		}
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// publishSeed hashes keys to their publish lock.
var publishSeed = maphash.MakeSeed()

func (b *dirBucket) writeAttrs(name string, a Attrs) error {
	data, err := json.Marshal(dirAttrs{ContentType: a.ContentType, Metadata: map[string]string{metaSHA256: a.SHA256}})
	if err != nil {
		return err
	}
	// Through a temporary file too, so that a crash never leaves a torn
	// attributes file behind.
	tmp := tempName(name + attrsExt)
	if err := b.root.WriteFile(tmp, append(data, '\n'), 0o640); err != nil {
		_ = b.root.Remove(tmp)
		return err
	}
	if err := b.root.Rename(tmp, name+attrsExt); err != nil {
		_ = b.root.Remove(tmp)
		return err
	}
	return nil
}

func (b *dirBucket) Attributes(ctx context.Context, key string) (Attrs, error) {
	if err := ctx.Err(); err != nil {
		return Attrs{}, err
	}
	info, err := b.root.Stat(path.Clean(key))
	if err != nil {
		return Attrs{}, notFound(err)
	}
	if !info.Mode().IsRegular() {
		return Attrs{}, parts.ErrNotFound
	}
	out := Attrs{Size: info.Size(), ModTime: info.ModTime(), ContentType: "application/octet-stream"}
	data, err := b.root.ReadFile(path.Clean(key) + attrsExt)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return out, nil // fileblob's default for a file without attributes
	case err != nil:
		return Attrs{}, err
	}
	var da dirAttrs
	if err := json.Unmarshal(data, &da); err != nil {
		return Attrs{}, fmt.Errorf("read attributes: %w", err)
	}
	if da.ContentType != "" {
		out.ContentType = da.ContentType
	}
	out.SHA256 = da.Metadata[metaSHA256]
	return out, nil
}

func (b *dirBucket) NewReader(ctx context.Context, key string) (io.ReadSeekCloser, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	f, err := b.root.Open(path.Clean(key))
	if err != nil {
		return nil, 0, notFound(err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, info.Size(), nil
}

func (b *dirBucket) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := path.Clean(key)
	if err := b.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := b.root.Remove(name + attrsExt); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// List walks the directory, skipping attribute files; the Store hides
// temporaries and dot names.
func (b *dirBucket) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := fs.WalkDir(b.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && strings.HasPrefix(p, prefix) && !strings.HasSuffix(p, attrsExt) {
			keys = append(keys, p)
		}
		return nil
	})
	return keys, err
}

// notFound maps a missing file to parts.ErrNotFound, keeping the cause.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w (%w)", parts.ErrNotFound, err)
	}
	return err
}
