package blobfiles

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/partflow/partflow/parts"
)

// memObject is one object of a memBucket; its data is never modified after
// it is stored, so readers share it.
type memObject struct {
	data  []byte
	attrs Attrs
}

// memBucket keeps objects in memory, for tests and throwaway servers.
type memBucket struct {
	mu      sync.RWMutex
	objects map[string]memObject
}

func newMemBucket() *memBucket { return &memBucket{objects: map[string]memObject{}} }

func (b *memBucket) Close() error { return nil }

var _ StreamWriter = (*memBucket)(nil)

func (b *memBucket) Write(ctx context.Context, key string, r io.Reader, size int64, a Attrs) error {
	var buf bytes.Buffer
	if size > 0 {
		buf.Grow(int(size))
	}
	return b.store(ctx, key, &buf, r, func() (Attrs, error) { return a, nil })
}

// WriteStream reads r into memory, then stores it with the attributes.
func (b *memBucket) WriteStream(ctx context.Context, key string, r io.Reader, attrs func() (Attrs, error)) error {
	return b.store(ctx, key, new(bytes.Buffer), r, attrs)
}

func (b *memBucket) store(ctx context.Context, key string, buf *bytes.Buffer, r io.Reader, attrs func() (Attrs, error)) error {
	if _, err := io.Copy(buf, r); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	a, err := attrs()
	if err != nil {
		return err
	}
	a.Size = int64(buf.Len())
	a.ModTime = time.Now().UTC()
	b.mu.Lock()
	b.objects[key] = memObject{data: buf.Bytes(), attrs: a}
	b.mu.Unlock()
	return nil
}

func (b *memBucket) get(ctx context.Context, key string) (memObject, error) {
	if err := ctx.Err(); err != nil {
		return memObject{}, err
	}
	b.mu.RLock()
	o, ok := b.objects[key]
	b.mu.RUnlock()
	if !ok {
		return memObject{}, parts.ErrNotFound
	}
	return o, nil
}

func (b *memBucket) Attributes(ctx context.Context, key string) (Attrs, error) {
	o, err := b.get(ctx, key)
	return o.attrs, err
}

// memReader adds a no-op Close to a bytes.Reader.
type memReader struct{ *bytes.Reader }

func (memReader) Close() error { return nil }

func (b *memBucket) NewReader(ctx context.Context, key string) (io.ReadSeekCloser, int64, error) {
	o, err := b.get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	return memReader{bytes.NewReader(o.data)}, int64(len(o.data)), nil
}

func (b *memBucket) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	delete(b.objects, key)
	b.mu.Unlock()
	return nil
}

func (b *memBucket) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	var keys []string
	for k := range b.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}
