package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// faultyFiles is a FileStore that fails writes the way a full or read-only
// file store does (blobfiles maps ENOSPC and EROFS to these errors) while
// its fault is set, and works normally otherwise.
type faultyFiles struct {
	parts.FileStore
	fault atomic.Pointer[error] // parts.ErrStorageFull, ErrStorageReadOnly or nil
}

func (f *faultyFiles) set(fault error) {
	if fault == nil {
		f.fault.Store(nil)
		return
	}
	f.fault.Store(&fault)
}

func (f *faultyFiles) failure() error {
	p := f.fault.Load()
	if p == nil {
		return nil
	}
	errno := syscall.ENOSPC
	if *p == parts.ErrStorageReadOnly {
		errno = syscall.EROFS
	}
	return &parts.StorageError{Store: "the file store", Fault: *p, Err: fmt.Errorf("write /srv/partflow/files/parts/1/x.tmp: %w", errno)}
}

func (f *faultyFiles) Put(ctx context.Context, key string, r io.Reader, ct string) (parts.FileObject, error) {
	if err := f.failure(); err != nil {
		io.Copy(io.Discard, r)
		return parts.FileObject{}, err
	}
	return f.FileStore.Put(ctx, key, r, ct)
}

func (f *faultyFiles) Delete(ctx context.Context, key string) error {
	if err := f.failure(); err != nil {
		return err
	}
	return f.FileStore.Delete(ctx, key)
}

func TestFileStoreFaultsAreNamedAndReadsGoOn(t *testing.T) {
	tests := []struct {
		fault   error
		status  int
		message string
	}{
		{parts.ErrStorageFull, 507, "The file store is full"},
		{parts.ErrStorageReadOnly, 503, "The file store is read-only"},
	}
	for _, tt := range tests {
		t.Run(tt.message, func(t *testing.T) {
			faulty := &faultyFiles{}
			c := newClock()
			e := newFilesEnv(t, func(po *parts.Options, ho *httpapi.Options) {
				faulty.FileStore = po.Files
				po.Files = faulty
				ho.Now = c.Now
			})
			p := e.part(nil)
			if r := e.upload(p, "a.step", stepData); r.status != 201 {
				t.Fatalf("upload before the fault: %d %s", r.status, r.body)
			}
			faulty.set(tt.fault)
			r := e.upload(p, "b.step", stepData)
			m := r.json(t)
			if r.status != tt.status || m["error"] != tt.message {
				t.Fatalf("upload during the fault: %d %s; want %d %q", r.status, r.body, tt.status, tt.message)
			}
			if bytes.Contains(r.body, []byte("/srv")) || bytes.Contains(r.body, []byte("internal")) {
				t.Errorf("the answer leaks the driver's error: %s", r.body)
			}
			if tt.status == 503 && r.header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			// Reads are served, and the first file is still there.
			if g := e.do("GET", p, nil, nil); g.status != 200 {
				t.Errorf("GET part during the fault: %d", g.status)
			}
			if g := e.do("GET", p+"/download", nil, nil); g.status != 200 || !bytes.Equal(g.body, stepData) {
				t.Errorf("download during the fault: %d", g.status)
			}
			ready := e.do("GET", "/ready", nil, nil)
			if ready.status != 503 || !strings.Contains(string(ready.body), strings.ToLower(tt.message[:1])+tt.message[1:]) {
				t.Errorf("/ready during the fault: %d %s", ready.status, ready.body)
			}
			// Space or permissions return: writes work at once.
			faulty.set(nil)
			if r := e.upload(p, "c.step", stepData); r.status != 201 {
				t.Fatalf("upload after the fault: %d %s", r.status, r.body)
			}
			c.Advance(time.Minute)
			if ready := e.do("GET", "/ready", nil, nil); ready.status != 200 {
				t.Errorf("/ready a minute after the fault: %d %s", ready.status, ready.body)
			}
		})
	}
}

func TestFullDatabaseAnswers507AndReadsGoOn(t *testing.T) {
	store, err := bunstore.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "p.db"), &bunstore.Options{MaxPageCount: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := parts.NewService(store, nil)
	h, err := httpapi.NewHandler(svc, &httpapi.Options{Keys: []httpapi.Key{{Name: "admin", Key: adminKey, Role: httpapi.RoleAdmin}},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path string, body any) (int, map[string]any) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		r := httptest.NewRequest(method, path, rd)
		r.Header.Set("X-API-Key", adminKey)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var m map[string]any
		json.Unmarshal(w.Body.Bytes(), &m)
		return w.Code, m
	}
	notes := strings.Repeat("a long note that fills pages ", 200)
	status, m := 201, map[string]any(nil)
	created := 0
	for i := 0; status == 201 && i < 1000; i++ {
		status, m = do("POST", "/api/parts/", map[string]any{"partId": fmt.Sprintf("F-%d", i), "material": "M", "subsystem": "S", "notes": notes})
		if status == 201 {
			created++
		}
	}
	if status != 507 || m["error"] != "The database is full" || created == 0 {
		t.Fatalf("after %d parts: %d %v, want 507 The database is full", created, status, m)
	}
	if st, list := do("GET", "/api/parts/?per_page=5", nil); st != 200 || list == nil {
		t.Errorf("list of a full database: %d", st)
	}
	if st, r := do("GET", "/ready", nil); st != 503 || !strings.Contains(fmt.Sprint(r), "the database is full") {
		t.Errorf("/ready: %d %v", st, r)
	}
	if !errors.Is(&parts.StorageError{Fault: parts.ErrStorageFull}, parts.ErrStorageFull) {
		t.Error("StorageError does not match its fault")
	}
}
