package parts_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/convert/glb"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/blobfiles"
	"github.com/partflow/partflow/storage/bunstore"
)

// fakeConverter is a small real converter: it turns a STEP file into a GLB
// with one triangle per line of the input, and rejects files that contain
// "BROKEN". It counts its conversions and can be held to test concurrency.
type fakeConverter struct {
	calls atomic.Int64
	hold  chan struct{} // when set, each conversion waits for a receive
}

func (c *fakeConverter) Info(context.Context) (convert.Info, error) {
	return convert.Info{Name: "fake", Version: "1", Conversions: []convert.Conversion{{From: convert.FormatSTEP, To: convert.FormatGLB}}}, nil
}

func (c *fakeConverter) Convert(ctx context.Context, req convert.Request) (*convert.Stats, error) {
	c.calls.Add(1)
	if c.hold != nil {
		select {
		case <-c.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	in, err := os.ReadFile(req.InputPath)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(in, []byte("BROKEN")) {
		return nil, fmt.Errorf("no geometry in %s: %w", filepath.Base(req.InputPath), convert.ErrInvalidInput)
	}
	var pos [][3]float32
	for i := range bytes.Count(in, []byte("\n")) {
		x := float32(i)
		pos = append(pos, [3]float32{x, 0, 0}, [3]float32{x + 1, 0, 0}, [3]float32{x, 1, 0})
	}
	b, err := glb.Encode(&glb.Model{Meshes: []glb.Mesh{{Primitives: []glb.Primitive{{Positions: pos, Material: glb.NoMaterial}}}}})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(req.OutputPath, b, 0o600); err != nil {
		return nil, err
	}
	return &convert.Stats{Triangles: int64(len(pos) / 3), Meshes: 1}, nil
}

func withConverter(conv convert.Converter) func(o *parts.Options) {
	return func(o *parts.Options) {
		reg := convert.NewRegistry()
		if err := reg.Register(context.Background(), conv); err != nil {
			panic(err)
		}
		o.Convert = parts.ConvertOptions{Converters: reg, PollInterval: time.Hour}
	}
}

// runWorkers runs the conversion workers until the test ends.
func runWorkers(t *testing.T, svc *parts.Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := svc.RunConversions(ctx, 2); err != nil {
			t.Errorf("RunConversions: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func waitReady(t *testing.T, svc *parts.Service, id int64) *parts.Part {
	t.Helper()
	p, err := svc.WaitModel(t.Context(), id, 20*time.Second)
	if err != nil {
		t.Fatalf("WaitModel: %v", err)
	}
	return p
}

func TestUploadQueuesConversionAndWorkerAttachesModel(t *testing.T) {
	conv := &fakeConverter{}
	e := newFileEnv(t, withConverter(conv))
	runWorkers(t, e.svc)
	p := e.newPart(t, parts.TypeCNC)
	res := e.upload(t, p.ID, "Bracket.step", stepBody)
	if res.Part.Model.State != parts.ModelPending {
		t.Fatalf("after upload model = %+v, want pending", res.Part.Model)
	}
	got := waitReady(t, e.svc, p.ID)
	if got.Model.State != parts.ModelReady || got.Model.Source != sha(stepBody) {
		t.Fatalf("model = %+v, want ready from the upload", got.Model)
	}
	body, f := e.read(t, func() (io.ReadSeekCloser, parts.File, error) {
		return e.svc.OpenFileOfKind(t.Context(), p.ID, parts.FileModel)
	})
	if f.Name != "Bracket.glb" || f.ContentType != "model/gltf-binary" {
		t.Fatalf("model file = %+v", f)
	}
	sum, err := glb.InspectBytes(body)
	if err != nil {
		t.Fatalf("model is not a valid GLB: %v", err)
	}
	if want := int64(bytes.Count(stepBody, []byte("\n"))); sum.Triangles != want {
		t.Fatalf("triangles = %d, want %d", sum.Triangles, want)
	}
	if got.File != "Bracket.step" {
		t.Fatalf("main file = %q, the model must not replace it", got.File)
	}
	evs, err := e.svc.History(t.Context(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range evs {
		actions = append(actions, ev.Action)
	}
	if !strings.Contains(strings.Join(actions, " "), "file.uploaded") {
		t.Fatalf("history %v lacks the model upload", actions)
	}
}

func TestSameFileAgainIsACacheHit(t *testing.T) {
	conv := &fakeConverter{}
	e := newFileEnv(t, withConverter(conv))
	runWorkers(t, e.svc)
	a, b := e.newPart(t, parts.TypeCNC), e.newPart(t, parts.TypeCNC)
	e.upload(t, a.ID, "a.step", stepBody)
	waitReady(t, e.svc, a.ID)
	e.upload(t, b.ID, "b.step", stepBody)
	if got := waitReady(t, e.svc, b.ID); got.Model.State != parts.ModelReady {
		t.Fatalf("model = %+v", got.Model)
	}
	if _, err := e.svc.ConvertNow(t.Context(), a.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if n := conv.calls.Load(); n != 1 {
		t.Fatalf("converter ran %d times for one input, want 1", n)
	}
	// Deleting a part keeps the cache for the other.
	if err := e.svc.DeletePart(t.Context(), a.ID, 0, "test"); err != nil {
		t.Fatal(err)
	}
	e.read(t, func() (io.ReadSeekCloser, parts.File, error) {
		return e.svc.OpenFileOfKind(t.Context(), b.ID, parts.FileModel)
	})
}

func TestRejectedFileFailsClearlyAndTheNextOneWorks(t *testing.T) {
	conv := &fakeConverter{}
	e := newFileEnv(t, withConverter(conv))
	runWorkers(t, e.svc)
	p := e.newPart(t, parts.TypeCNC)
	broken := append(bytes.Clone(stepBody), []byte("BROKEN\n")...)
	e.upload(t, p.ID, "bad.step", broken)
	got := waitReady(t, e.svc, p.ID)
	if got.Model.State != parts.ModelFailed || !strings.Contains(got.Model.Error, "could not be read") ||
		strings.Contains(got.Model.Error, "input.step") {
		t.Fatalf("model = %+v, want failed with a clear reason", got.Model)
	}
	_, err := e.svc.ConvertNow(t.Context(), p.ID, "test")
	var ce *parts.ConversionError
	if !errors.As(err, &ce) || !errors.Is(err, convert.ErrInvalidInput) {
		t.Fatalf("ConvertNow error = %v, want a ConversionError wrapping ErrInvalidInput", err)
	}
	e.upload(t, p.ID, "good.step", stepBody)
	if got := waitReady(t, e.svc, p.ID); got.Model.State != parts.ModelReady || got.Model.Error != "" {
		t.Fatalf("after a good upload model = %+v", got.Model)
	}
}

func TestWithoutConverterModelSaysHowToEnableIt(t *testing.T) {
	e := newFileEnv(t, nil)
	p := e.newPart(t, parts.TypeCNC)
	res := e.upload(t, p.ID, "a.step", stepBody)
	if res.Part.Model.State != parts.ModelNone {
		t.Fatalf("model = %+v, want none", res.Part.Model)
	}
	_, err := e.svc.ConvertNow(t.Context(), p.ID, "test")
	if !errors.Is(err, convert.ErrUnavailable) || !strings.Contains(err.Error(), "no converter is configured") {
		t.Fatalf("ConvertNow = %v, want ErrUnavailable saying how to enable", err)
	}
}

func TestConvertNowWithoutCADFileIsNotFound(t *testing.T) {
	e := newFileEnv(t, withConverter(&fakeConverter{}))
	p := e.newPart(t, parts.TypeCNC)
	if _, err := e.svc.ConvertNow(t.Context(), p.ID, "test"); !errors.Is(err, parts.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestConcurrentConvertNowShareOneConversion(t *testing.T) {
	conv := &fakeConverter{hold: make(chan struct{})}
	e := newFileEnv(t, withConverter(conv))
	p := e.newPart(t, parts.TypeCNC)
	e.upload(t, p.ID, "a.step", stepBody)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.svc.ConvertNow(t.Context(), p.ID, "test")
			errs <- err
		}()
	}
	conv.hold <- struct{}{} // let exactly one conversion through
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := conv.calls.Load(); n != 1 {
		t.Fatalf("converter ran %d times, want 1", n)
	}
}

func TestReplacedCADFileMakesTheOldJobObsolete(t *testing.T) {
	conv := &fakeConverter{}
	e := newFileEnv(t, withConverter(conv))
	p := e.newPart(t, parts.TypeCNC)
	e.upload(t, p.ID, "old.step", stepBody)
	newer := append(bytes.Clone(stepBody), []byte("/* rev B */\n")...)
	e.upload(t, p.ID, "new.step", newer)
	runWorkers(t, e.svc)
	got := waitReady(t, e.svc, p.ID)
	if got.Model.State != parts.ModelReady || got.Model.Source != sha(newer) {
		t.Fatalf("model = %+v, want ready from the new file", got.Model)
	}
	if m, _ := got.FileByKind(parts.FileModel); m.Name != "new.glb" {
		t.Fatalf("model file %q, want new.glb", m.Name)
	}
}

// TestQueuedJobSurvivesRestart queues a conversion, stops the service with
// the job queued and another one marked running (as if the process died
// mid-conversion), and checks a new service on the same database finishes
// both.
func TestQueuedJobSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	dsn := "sqlite:///" + filepath.Join(dir, "parts.db")
	files, err := blobfiles.Open(ctx, "file://"+filepath.Join(dir, "files"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	open := func() (*bunstore.Store, *parts.Service) {
		store, err := bunstore.Open(ctx, dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		reg := convert.NewRegistry()
		if err := reg.Register(ctx, &fakeConverter{}); err != nil {
			t.Fatal(err)
		}
		return store, parts.NewService(store, &parts.Options{Files: files,
			Convert: parts.ConvertOptions{Converters: reg, PollInterval: time.Hour}})
	}
	store, svc := open()
	var ids []int64
	for i := range 2 {
		p, err := svc.CreatePart(ctx, &parts.Part{PartID: fmt.Sprint("R-", i), Material: "m", Subsystem: "s"}, "t")
		if err != nil {
			t.Fatal(err)
		}
		body := append(bytes.Clone(stepBody), []byte(fmt.Sprintf("/* %d */\n", i))...)
		if _, err := svc.UploadFile(ctx, p.ID, parts.Upload{Name: "p.step", Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	// The "crashed" worker took one; its lease has ended by the restart.
	ended := time.Now().Add(-time.Minute)
	if _, err := store.NextJob(ctx, parts.Lease{Owner: "crashed", Now: ended, Until: ended.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	store.Close()

	store2, svc2 := open()
	defer store2.Close()
	runWorkers(t, svc2)
	for _, id := range ids {
		if got := waitReady(t, svc2, id); got.Model.State != parts.ModelReady {
			t.Fatalf("part %d model after restart = %+v", id, got.Model)
		}
	}
}

func TestGCExpiresCachedModelsButKeepsPartModels(t *testing.T) {
	e := newFileEnv(t, withConverter(&fakeConverter{}))
	p := e.newPart(t, parts.TypeCNC)
	e.upload(t, p.ID, "a.step", stepBody)
	if _, err := e.svc.ConvertNow(t.Context(), p.ID, "test"); err != nil {
		t.Fatal(err)
	}
	cached := func() int {
		n := 0
		for _, k := range e.keys(t) {
			if strings.HasPrefix(k, "cache/models/") {
				n++
			}
		}
		return n
	}
	if cached() != 1 {
		t.Fatalf("keys %v, want one cached model", e.keys(t))
	}
	if removed, err := e.svc.GC(t.Context()); err != nil || len(removed) != 0 {
		t.Fatalf("fresh GC removed %v, %v", removed, err)
	}
	e.offset.Store(int64(parts.CacheRetention + time.Hour))
	removed, err := e.svc.GC(t.Context())
	if err != nil || len(removed) != 1 || !strings.HasPrefix(removed[0], "cache/models/") {
		t.Fatalf("GC after the retention removed %v, %v; want the cached model only", removed, err)
	}
	e.read(t, func() (io.ReadSeekCloser, parts.File, error) {
		return e.svc.OpenFileOfKind(t.Context(), p.ID, parts.FileModel)
	})
}
