package partstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
)

// testLogDelivered checks that a subscriber gets every event exactly as
// ReadLog returns it (a Service may hand its own commits to subscribers
// without reading them back): the same Go values and the same JSON, for a
// random sequence of every kind of write.
func testLogDelivered(t *testing.T, l *logEnv) {
	svc := l.open(t, &parts.Options{Files: newMemFiles(), Events: parts.EventOptions{Poll: time.Hour}})
	sub, err := svc.Subscribe(l.ctx, parts.EventQuery{After: parts.FromHead})
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	w := &writer{t: t, ctx: l.ctx, svc: svc, rng: rand.New(rand.NewPCG(13, seed))}
	w.create(0)
	p := w.parts[0]
	in := parts.ActionInput{Actor: "rev", Reviewer: "rev", Assignee: "cam", MiscInfo: map[string]any{"score": 4}}
	for _, act := range []func(context.Context, int64, parts.ActionInput) (*parts.Part, error){
		svc.Approve, svc.Assign, svc.Start, svc.Complete} {
		if _, err := act(l.ctx, p.ID, in); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.upload(p, "first.step", parts.FileCAD, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DeleteFile(l.ctx, p.ID, "first.step", "bob"); err != nil {
		t.Fatal(err)
	}
	for i := range 120 {
		w.step(i + 1)
	}
	all := readLog(t, l.ctx, svc, parts.EventQuery{})
	got := collect(t, sub, len(all))
	seen := map[string]bool{}
	for i, want := range all {
		seen[want.Action] = true
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("delivered event %d differs from ReadLog's:\n got %#v\nwant %#v", want.ID, got[i], want)
		}
		gb, err1 := got[i].MarshalJSON()
		wb, err2 := want.MarshalJSON()
		if err1 != nil || err2 != nil || !bytes.Equal(gb, wb) {
			t.Errorf("delivered event %d JSON differs:\n got %s (%v)\nwant %s (%v)", want.ID, gb, err1, wb, err2)
		}
	}
	for _, a := range []string{"create", "update", "delete", "import", "approve", "assign", "complete",
		"file.uploaded", "file.deleted"} {
		if !seen[a] {
			t.Errorf("the random writes made no %q event (seen %v)", a, seen)
		}
	}
}

// testLogInterleaved checks that commits of a second store between this
// Service's own reach its subscriber in order without a gap, with no poll
// to find them: a handed-over commit that does not follow the last event
// seen makes the Service read the store.
func testLogInterleaved(t *testing.T, l *logEnv) {
	first := l.open(t, &parts.Options{Events: parts.EventOptions{Poll: time.Hour}})
	second := l.open(t, nil)
	sub, err := first.Subscribe(l.ctx, parts.EventQuery{After: parts.FromHead})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		mustCreate(t, l.ctx, second, 2*i)
		mustCreate(t, l.ctx, first, 2*i+1)
	}
	all := readLog(t, l.ctx, first, parts.EventQuery{})
	got := collect(t, sub, len(all))
	for i, want := range all {
		if !reflect.DeepEqual(got[i], want) {
			t.Fatalf("event %d: got %d %s of part %d, want %d %s of part %d", i, got[i].ID, got[i].Action,
				got[i].PartID, want.ID, want.Action, want.PartID)
		}
	}
}

// writer makes random writes of every kind through a Service.
type writer struct {
	t     *testing.T
	ctx   context.Context
	svc   *parts.Service
	rng   *rand.Rand
	parts []*parts.Part
}

func (w *writer) step(i int) {
	t := w.t
	if len(w.parts) < 3 || w.rng.IntN(6) == 0 {
		w.create(i)
		return
	}
	k := w.rng.IntN(len(w.parts))
	p := w.parts[k]
	var err error
	var next *parts.Part
	switch w.rng.IntN(7) {
	case 0:
		notes := fmt.Sprintf("note %d ünïcode", i)
		amount := 1 + w.rng.IntN(9)
		claimed := time.Now().Add(-time.Duration(w.rng.IntN(1e9)) * time.Nanosecond)
		next, err = w.svc.UpdatePart(w.ctx, p.ID, parts.Update{Notes: &notes, Amount: &amount, ClaimedDate: &claimed,
			MiscInfo: map[string]any{"n": i, "f": 1.5, "list": []any{1, "x", true}, "nested": map[string]any{"k": int64(7)}},
			Actor:    "ada"})
	case 1:
		next, err = w.workflow(p)
	case 2:
		next, err = w.upload(p, fmt.Sprintf("part%d.step", i), parts.FileCAD, nil)
	case 3:
		model := &parts.Model{State: parts.ModelReady, Source: strings.Repeat("a", 64)}
		next, err = w.upload(p, fmt.Sprintf("model%d.glb", i), parts.FileModel, model)
	case 4:
		if f, ok := p.FileByKind(parts.FileCAD); ok {
			next, err = w.svc.DeleteFile(w.ctx, p.ID, f.Name, "bob")
		} else {
			next, err = w.upload(p, "drawing.pdf", parts.FileDrawing, nil)
		}
	case 5:
		if err := w.svc.DeletePart(w.ctx, p.ID, 0, "eve"); err != nil {
			t.Fatalf("DeletePart: %v", err)
		}
		w.parts = append(w.parts[:k], w.parts[k+1:]...)
		return
	case 6:
		q := sample(1000 + i)
		q.ID = int64(100000 + i)
		q.MiscInfo = map[string]any{"legacy": float64(i)}
		if _, err := w.svc.ImportPart(w.ctx, q, "importer"); err != nil {
			t.Fatalf("ImportPart: %v", err)
		}
		next, err = w.svc.FindPartByID(w.ctx, q.ID)
		w.parts = append(w.parts, next)
		return
	}
	if err != nil {
		t.Logf("write %d on part %d: %v (no event)", i, p.ID, err)
		return
	}
	w.parts[k] = next
}

func (w *writer) create(i int) {
	p := sample(i)
	p.MiscInfo = map[string]any{"size": 3, "tags": []any{"a", 2.25}}
	out, err := w.svc.CreatePart(w.ctx, p, "ada")
	if err != nil {
		w.t.Fatalf("CreatePart: %v", err)
	}
	w.parts = append(w.parts, out)
}

// workflow runs the next workflow action that applies to p.
func (w *writer) workflow(p *parts.Part) (*parts.Part, error) {
	in := parts.ActionInput{Actor: "rev", Reviewer: "rev", Assignee: "cam", MiscInfo: map[string]any{"score": w.rng.IntN(5)}}
	actions := []func(context.Context, int64, parts.ActionInput) (*parts.Part, error){
		w.svc.Approve, w.svc.Assign, w.svc.Start, w.svc.Complete, w.svc.Unclaim, w.svc.Revert}
	first := w.rng.IntN(len(actions))
	var err error
	for i := range actions {
		var next *parts.Part
		if next, err = actions[(first+i)%len(actions)](w.ctx, p.ID, in); err == nil {
			return next, nil
		}
	}
	return nil, err
}

func (w *writer) upload(p *parts.Part, name string, kind parts.FileKind, model *parts.Model) (*parts.Part, error) {
	body := map[parts.FileKind]string{parts.FileCAD: "ISO-10303-21;\nHEADER;\n", parts.FileDrawing: "%PDF-1.4\n",
		parts.FileModel: "glTF"}[kind] + name
	res, err := w.svc.UploadFile(w.ctx, p.ID, parts.Upload{Name: name, Kind: kind, Body: strings.NewReader(body),
		Model: model, Actor: "cam"})
	if err != nil {
		return nil, err
	}
	return res.Part, nil
}

// memFiles is a FileStore in memory for the log suite.
type memFiles struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func newMemFiles() *memFiles { return &memFiles{objs: map[string][]byte{}} }

func (m *memFiles) Put(ctx context.Context, key string, r io.Reader, contentType string) (parts.FileObject, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return parts.FileObject{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = b
	return m.object(key, b, contentType), nil
}

func (m *memFiles) object(key string, b []byte, contentType string) parts.FileObject {
	h := sha256.Sum256(b)
	return parts.FileObject{Key: key, Size: int64(len(b)), SHA256: hex.EncodeToString(h[:]), ContentType: contentType}
}

func (m *memFiles) Open(ctx context.Context, key string) (io.ReadSeekCloser, parts.FileObject, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return nil, parts.FileObject{}, parts.ErrNotFound
	}
	return nopCloser{bytes.NewReader(b)}, m.object(key, b, ""), nil
}

func (m *memFiles) Stat(ctx context.Context, key string) (parts.FileObject, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return parts.FileObject{}, parts.ErrNotFound
	}
	return m.object(key, b, ""), nil
}

func (m *memFiles) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, key)
	return nil
}

func (m *memFiles) List(ctx context.Context, prefix string) ([]parts.FileObject, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []parts.FileObject
	for k, b := range m.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, m.object(k, b, ""))
		}
	}
	return out, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
