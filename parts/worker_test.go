package parts_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/blobfiles"
	"github.com/partflow/partflow/storage/bunstore"
)

// pollCounter is a Store that counts NextJob calls and reports each.
type pollCounter struct {
	parts.Store
	n    atomic.Int64
	poll chan struct{}
}

func (p *pollCounter) NextJob(ctx context.Context, l parts.Lease) (*parts.Job, error) {
	p.n.Add(1)
	select {
	case p.poll <- struct{}{}:
	default:
	}
	return p.Store.NextJob(ctx, l)
}

// TestLeaseIsRenewedWhileConverting: two servers on one database, leases of
// one second. Server A converts for longer than two leases; server B polls the
// queue all the while and never takes A's job, because A renews its lease.
func TestLeaseIsRenewedWhileConverting(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	files, err := blobfiles.Open(ctx, "file://"+filepath.Join(dir, "files"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	open := func(owner string, conv convert.Converter, wrap func(parts.Store) parts.Store) *parts.Service {
		store, err := bunstore.Open(ctx, "sqlite:///"+filepath.Join(dir, "parts.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		reg := convert.NewRegistry()
		if err := reg.Register(ctx, conv); err != nil {
			t.Fatal(err)
		}
		return parts.NewService(wrap(store), &parts.Options{Files: files, Convert: parts.ConvertOptions{
			Converters: reg, Owner: owner, Lease: time.Second, PollInterval: 20 * time.Millisecond,
			WorkDir: t.TempDir()}})
	}
	convA := &fakeConverter{hold: make(chan struct{})}
	started := make(chan struct{}, 1)
	a := open("a", startedConverter{convA, started}, func(s parts.Store) parts.Store { return s })
	p, err := a.CreatePart(ctx, &parts.Part{PartID: "L-1", Material: "m", Subsystem: "s"}, "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.UploadFile(ctx, p.ID, parts.Upload{Name: "p.step", Body: bytes.NewReader(stepBody)}); err != nil {
		t.Fatal(err)
	}
	runWorkers(t, a)
	<-started
	convB := &fakeConverter{}
	counter := &pollCounter{poll: make(chan struct{})}
	b := open("b", convB, func(s parts.Store) parts.Store { counter.Store = s; return counter })
	runWorkers(t, b)
	// B polls for two and a half leases' worth. A renews every third of a
	// lease, so a renewal may be late by more than half a lease (a loaded
	// CI machine) before B could take the job.
	start := time.Now()
	for counter.n.Load() < 10 || time.Since(start) < 2500*time.Millisecond {
		<-counter.poll
	}
	if n := convB.calls.Load(); n != 0 {
		t.Fatalf("server B converted %d times while A held a renewed lease", n)
	}
	convA.hold <- struct{}{}
	if got := waitReady(t, a, p.ID); got.Model.State != parts.ModelReady {
		t.Fatalf("model = %+v", got.Model)
	}
	if n := convA.calls.Load(); n != 1 {
		t.Errorf("A converted %d times, want once", n)
	}
}

// startedConverter tells when each conversion starts.
type startedConverter struct {
	*fakeConverter
	started chan struct{}
}

func (c startedConverter) Convert(ctx context.Context, req convert.Request) (*convert.Stats, error) {
	c.started <- struct{}{}
	return c.fakeConverter.Convert(ctx, req)
}
