package partstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/partflow/partflow/parts"
)

// RunFileStore runs the conformance suite for a parts.FileStore. newStore is
// called once per subtest and must return an empty store; it should register
// its own cleanup with t.Cleanup.
//
// Beyond the interface's documented contract the suite expects:
//   - Put returns an error wrapping the reader's error when the reader fails,
//     and one wrapping the context's error when ctx is cancelled;
//   - keys that are not clean relative slash-separated paths (empty, absolute,
//     with "." or ".." or empty segments, backslashes or NUL) are rejected
//     with an error wrapping parts.ErrInvalid, and nothing is written.
func RunFileStore(t *testing.T, newStore func(t *testing.T) parts.FileStore) {
	t.Helper()
	t.Run("PutThenOpenRoundTripsBytes", func(t *testing.T) { testFileRoundTrip(t, newStore(t)) })
	t.Run("EmptyObjectRoundTrips", func(t *testing.T) { testFileEmpty(t, newStore(t)) })
	t.Run("StatDescribesObject", func(t *testing.T) { testFileStat(t, newStore(t)) })
	t.Run("ListByPrefixIsSorted", func(t *testing.T) { testFileList(t, newStore(t)) })
	t.Run("DeleteThenNotFound", func(t *testing.T) { testFileDelete(t, newStore(t)) })
	t.Run("MissingKeyIsNotFound", func(t *testing.T) { testFileMissing(t, newStore(t)) })
	t.Run("OverwriteReplaces", func(t *testing.T) { testFileOverwrite(t, newStore(t)) })
	t.Run("FailingReaderLeavesNothing", func(t *testing.T) { testFileFailingReader(t, newStore(t)) })
	t.Run("SeekServesRanges", func(t *testing.T) { testFileSeek(t, newStore(t)) })
	t.Run("CancelledContextFails", func(t *testing.T) { testFileCancelled(t, newStore(t)) })
	t.Run("ConcurrentPutsToDifferentKeys", func(t *testing.T) { testFileConcurrent(t, newStore(t)) })
	t.Run("ConcurrentPutsToOneKeyEndWhole", func(t *testing.T) { testFileConcurrentSameKey(t, newStore(t)) })
	t.Run("UncleanKeysAreRejected", func(t *testing.T) { testFileBadKeys(t, newStore(t)) })
}

// payload returns n deterministic pseudo-random bytes for seed.
func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func put(t *testing.T, fs parts.FileStore, key string, data []byte, contentType string) parts.FileObject {
	t.Helper()
	obj, err := fs.Put(t.Context(), key, bytes.NewReader(data), contentType)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return obj
}

func readAll(t *testing.T, fs parts.FileStore, key string) []byte {
	t.Helper()
	rc, _, err := fs.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return b
}

func keys(objs []parts.FileObject) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Key
	}
	return out
}

func listKeys(t *testing.T, fs parts.FileStore, prefix string) []string {
	t.Helper()
	objs, err := fs.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys(objs)
}

func testFileRoundTrip(t *testing.T, fs parts.FileStore) {
	for _, tc := range []struct {
		name string
		size int
	}{
		{"small", 1000},
		{"multi-MiB", 6<<20 + 12345},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := payload(uint64(tc.size), tc.size)
			key := "parts/1/cad/" + tc.name + ".step"
			obj := put(t, fs, key, data, "application/step")
			if obj.Key != key || obj.Size != int64(len(data)) || obj.SHA256 != sum(data) {
				t.Errorf("Put = {Key %q, Size %d, SHA256 %s}, want {%q, %d, %s}", obj.Key, obj.Size, obj.SHA256, key, len(data), sum(data))
			}
			rc, info, err := fs.Open(t.Context(), key)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			got, err := io.ReadAll(rc)
			if cerr := rc.Close(); cerr != nil {
				t.Errorf("Close: %v", cerr)
			}
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes (sha %s), want %d bytes (sha %s)", len(got), sum(got), len(data), sum(data))
			}
			if info.Size != int64(len(data)) || info.SHA256 != sum(data) || info.ContentType != "application/step" {
				t.Errorf("Open info = {Size %d, SHA256 %s, ContentType %q}, want {%d, %s, application/step}", info.Size, info.SHA256, info.ContentType, len(data), sum(data))
			}
		})
	}
}

func testFileEmpty(t *testing.T, fs parts.FileStore) {
	obj := put(t, fs, "empty/object", nil, "application/octet-stream")
	if obj.Size != 0 || obj.SHA256 != sum(nil) {
		t.Errorf("Put empty = {Size %d, SHA256 %s}, want {0, %s}", obj.Size, obj.SHA256, sum(nil))
	}
	if got := readAll(t, fs, "empty/object"); len(got) != 0 {
		t.Errorf("read back %d bytes, want 0", len(got))
	}
}

func testFileStat(t *testing.T, fs parts.FileStore) {
	before := time.Now().Add(-time.Minute)
	data := payload(7, 4096)
	put(t, fs, "parts/2/drawing/a.pdf", data, "application/pdf")
	st, err := fs.Stat(t.Context(), "parts/2/drawing/a.pdf")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Key != "parts/2/drawing/a.pdf" || st.Size != 4096 || st.SHA256 != sum(data) || st.ContentType != "application/pdf" {
		t.Errorf("Stat = %+v, want key, size 4096, sha %s, application/pdf", st, sum(data))
	}
	if st.ModTime.Before(before) || st.ModTime.After(time.Now().Add(time.Minute)) {
		t.Errorf("Stat ModTime = %v, want about now", st.ModTime)
	}
}

func testFileList(t *testing.T, fs parts.FileStore) {
	contents := map[string][]byte{}
	for i, k := range []string{"p/2/x", "p/1/b", "p/10/a", "p/1/a", "q/1/a", "pp/1/a"} {
		contents[k] = payload(uint64(100+i), 10+i)
		put(t, fs, k, contents[k], "text/plain")
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"p/", []string{"p/1/a", "p/1/b", "p/10/a", "p/2/x"}},
		{"p/1/", []string{"p/1/a", "p/1/b"}},
		{"p/1", []string{"p/1/a", "p/1/b", "p/10/a"}},
		{"", []string{"p/1/a", "p/1/b", "p/10/a", "p/2/x", "pp/1/a", "q/1/a"}},
		{"none/", nil},
	} {
		t.Run(fmt.Sprintf("prefix %q", tc.prefix), func(t *testing.T) {
			objs, err := fs.List(t.Context(), tc.prefix)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if got := keys(objs); !slices.Equal(got, tc.want) {
				t.Fatalf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
			}
			for _, o := range objs {
				if o.Size != int64(len(contents[o.Key])) || o.SHA256 != sum(contents[o.Key]) {
					t.Errorf("List entry %q = {Size %d, SHA256 %s}, want {%d, %s}", o.Key, o.Size, o.SHA256, len(contents[o.Key]), sum(contents[o.Key]))
				}
			}
		})
	}
}

func testFileDelete(t *testing.T, fs parts.FileStore) {
	put(t, fs, "d/1", []byte("gone soon"), "text/plain")
	put(t, fs, "d/2", []byte("stays"), "text/plain")
	if err := fs.Delete(t.Context(), "d/1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := fs.Stat(t.Context(), "d/1"); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("Stat after Delete: %v, want ErrNotFound", err)
	}
	if _, _, err := fs.Open(t.Context(), "d/1"); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("Open after Delete: %v, want ErrNotFound", err)
	}
	if err := fs.Delete(t.Context(), "d/1"); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if got := listKeys(t, fs, "d/"); !slices.Equal(got, []string{"d/2"}) {
		t.Errorf("List after Delete = %q, want [d/2]", got)
	}
}

func testFileMissing(t *testing.T, fs parts.FileStore) {
	if _, err := fs.Stat(t.Context(), "no/such/key"); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("Stat: %v, want ErrNotFound", err)
	}
	if _, _, err := fs.Open(t.Context(), "no/such/key"); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("Open: %v, want ErrNotFound", err)
	}
	if err := fs.Delete(t.Context(), "no/such/key"); !errors.Is(err, parts.ErrNotFound) {
		t.Errorf("Delete: %v, want ErrNotFound", err)
	}
}

func testFileOverwrite(t *testing.T, fs parts.FileStore) {
	put(t, fs, "o/k", payload(1, 5000), "application/step")
	second := payload(2, 300)
	obj := put(t, fs, "o/k", second, "application/pdf")
	if obj.Size != 300 || obj.SHA256 != sum(second) {
		t.Errorf("second Put = %+v, want size 300 sha %s", obj, sum(second))
	}
	if got := readAll(t, fs, "o/k"); !bytes.Equal(got, second) {
		t.Errorf("read back %d bytes, want the second object's 300", len(got))
	}
	st, err := fs.Stat(t.Context(), "o/k")
	if err != nil || st.SHA256 != sum(second) || st.ContentType != "application/pdf" {
		t.Errorf("Stat = %+v, %v; want the second object", st, err)
	}
}

var errReaderBroke = errors.New("reader broke midway")

func testFileFailingReader(t *testing.T, fs parts.FileStore) {
	t.Run("NewKeyStaysAbsent", func(t *testing.T) {
		_, err := fs.Put(t.Context(), "f/new", io.MultiReader(bytes.NewReader(payload(3, 3<<20)), iotest.ErrReader(errReaderBroke)), "application/step")
		if !errors.Is(err, errReaderBroke) {
			t.Fatalf("Put = %v, want an error wrapping the reader's", err)
		}
		if _, err := fs.Stat(t.Context(), "f/new"); !errors.Is(err, parts.ErrNotFound) {
			t.Errorf("Stat after failed Put: %v, want ErrNotFound", err)
		}
		if got := listKeys(t, fs, ""); len(got) != 0 {
			t.Errorf("List after failed Put = %q, want nothing (no partial or temporary objects)", got)
		}
	})
	t.Run("PreviousObjectIsKept", func(t *testing.T) {
		old := payload(4, 2000)
		put(t, fs, "f/old", old, "application/pdf")
		_, err := fs.Put(t.Context(), "f/old", io.MultiReader(bytes.NewReader(payload(5, 100000)), iotest.ErrReader(errReaderBroke)), "application/step")
		if !errors.Is(err, errReaderBroke) {
			t.Fatalf("Put = %v, want an error wrapping the reader's", err)
		}
		if got := readAll(t, fs, "f/old"); !bytes.Equal(got, old) {
			t.Errorf("object after failed overwrite: %d bytes, want the previous %d", len(got), len(old))
		}
		st, err := fs.Stat(t.Context(), "f/old")
		if err != nil || st.SHA256 != sum(old) || st.ContentType != "application/pdf" {
			t.Errorf("Stat after failed overwrite = %+v, %v; want the previous object", st, err)
		}
		if got := listKeys(t, fs, ""); !slices.Equal(got, []string{"f/old"}) {
			t.Errorf("List = %q, want [f/old]", got)
		}
	})
}

func testFileSeek(t *testing.T, fs parts.FileStore) {
	data := payload(9, 100000)
	put(t, fs, "s/obj", data, "application/octet-stream")
	rc, info, err := fs.Open(t.Context(), "s/obj")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	if info.Size != int64(len(data)) {
		t.Fatalf("Open size = %d, want %d", info.Size, len(data))
	}
	end, err := rc.Seek(0, io.SeekEnd)
	if err != nil || end != int64(len(data)) {
		t.Fatalf("Seek(0, End) = %d, %v; want %d", end, err, len(data))
	}
	for _, tc := range []struct {
		name           string
		offset         int64
		whence         int
		wantPos, wantN int
	}{
		{"from start", 1000, io.SeekStart, 1000, 500},
		{"from current", 2000, io.SeekCurrent, 3500, 100},
		{"from end", -300, io.SeekEnd, len(data) - 300, 300},
		{"back to start", 0, io.SeekStart, 0, 64},
	} {
		pos, err := rc.Seek(tc.offset, tc.whence)
		if err != nil || pos != int64(tc.wantPos) {
			t.Fatalf("%s: Seek = %d, %v; want %d", tc.name, pos, err, tc.wantPos)
		}
		buf := make([]byte, tc.wantN)
		if _, err := io.ReadFull(rc, buf); err != nil {
			t.Fatalf("%s: read: %v", tc.name, err)
		}
		if !bytes.Equal(buf, data[tc.wantPos:tc.wantPos+tc.wantN]) {
			t.Fatalf("%s: bytes at %d differ", tc.name, tc.wantPos)
		}
	}
}

// cancellingReader cancels its context after handing out the first chunk.
type cancellingReader struct {
	data   []byte
	cancel context.CancelFunc
	served bool
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	if r.served {
		r.cancel()
	}
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 4096)], r.data)
	r.data = r.data[n:]
	r.served = true
	return n, nil
}

func testFileCancelled(t *testing.T, fs parts.FileStore) {
	t.Run("BeforePut", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := fs.Put(ctx, "c/before", bytes.NewReader([]byte("x")), "text/plain"); !errors.Is(err, context.Canceled) {
			t.Errorf("Put = %v, want context.Canceled", err)
		}
		if _, err := fs.Stat(t.Context(), "c/before"); !errors.Is(err, parts.ErrNotFound) {
			t.Errorf("Stat: %v, want ErrNotFound", err)
		}
	})
	t.Run("DuringPut", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		r := &cancellingReader{data: payload(11, 1<<20), cancel: cancel}
		if _, err := fs.Put(ctx, "c/during", r, "text/plain"); !errors.Is(err, context.Canceled) {
			t.Errorf("Put = %v, want context.Canceled", err)
		}
		if got := listKeys(t, fs, ""); len(got) != 0 {
			t.Errorf("List after cancelled Put = %q, want nothing", got)
		}
	})
	t.Run("OpenStatListDelete", func(t *testing.T) {
		put(t, fs, "c/kept", []byte("kept"), "text/plain")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if rc, _, err := fs.Open(ctx, "c/kept"); err == nil {
			// Some drivers open lazily; reading must then fail.
			_, err = io.ReadAll(rc)
			rc.Close()
			if err == nil {
				t.Errorf("Open+read with a cancelled context succeeded")
			}
		}
		if _, err := fs.Stat(ctx, "c/kept"); err == nil {
			t.Errorf("Stat with a cancelled context succeeded")
		}
		if _, err := fs.List(ctx, ""); err == nil {
			t.Errorf("List with a cancelled context succeeded")
		}
		if err := fs.Delete(ctx, "c/kept"); err == nil {
			t.Errorf("Delete with a cancelled context succeeded")
		}
		if got := readAll(t, fs, "c/kept"); string(got) != "kept" {
			t.Errorf("object after cancelled Delete = %q, want kept", got)
		}
	})
}

func testFileConcurrent(t *testing.T, fs parts.FileStore) {
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			data := payload(uint64(1000+i), 50000+i*997)
			_, errs[i] = fs.Put(t.Context(), fmt.Sprintf("cc/%02d", i), bytes.NewReader(data), "application/octet-stream")
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	for i := range n {
		want := payload(uint64(1000+i), 50000+i*997)
		if got := readAll(t, fs, fmt.Sprintf("cc/%02d", i)); !bytes.Equal(got, want) {
			t.Errorf("object %d: read %d bytes, want %d", i, len(got), len(want))
		}
	}
	if got := listKeys(t, fs, "cc/"); len(got) != n {
		t.Errorf("List = %d objects, want %d", len(got), n)
	}
}

// testFileConcurrentSameKey races Puts of different contents to one key:
// the object left is one of them whole, and its size and checksum are its own.
func testFileConcurrentSameKey(t *testing.T, fs parts.FileStore) {
	const n = 8
	datas := make([][]byte, n)
	for i := range n {
		datas[i] = payload(uint64(2000+i), 40000+i*1013)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = fs.Put(t.Context(), "same/key", bytes.NewReader(datas[i]), "application/octet-stream")
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	got := readAll(t, fs, "same/key")
	if !slices.ContainsFunc(datas, func(d []byte) bool { return bytes.Equal(d, got) }) {
		t.Fatalf("object is none of the %d uploads whole (%d bytes)", n, len(got))
	}
	st, err := fs.Stat(t.Context(), "same/key")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Size != int64(len(got)) || st.SHA256 != sum(got) {
		t.Errorf("Stat = size %d sha %s, want the object's own %d %s", st.Size, st.SHA256, len(got), sum(got))
	}
	if got := listKeys(t, fs, "same/"); !slices.Equal(got, []string{"same/key"}) {
		t.Errorf("List = %q, want only same/key", got)
	}
}

func testFileBadKeys(t *testing.T, fs parts.FileStore) {
	for _, key := range []string{"", "/etc/passwd", "../escape", "a/../../b", "a/./b", "a//b", "a/", `a\b`, "a\x00b", ".."} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			_, err := fs.Put(t.Context(), key, bytes.NewReader([]byte("x")), "text/plain")
			if !errors.Is(err, parts.ErrInvalid) {
				t.Errorf("Put(%q) = %v, want ErrInvalid", key, err)
			}
			if _, _, err := fs.Open(t.Context(), key); err == nil {
				t.Errorf("Open(%q) succeeded", key)
			}
		})
	}
	if got := listKeys(t, fs, ""); len(got) != 0 {
		t.Errorf("List after rejected keys = %q, want nothing", got)
	}
}
