package transfer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/partflow/partflow/convert/glb"
	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/internal/pgtest"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/blobfiles"
	"github.com/partflow/partflow/storage/bunstore"
	_ "github.com/partflow/partflow/storage/bunstore/pgengine" // postgres://
	"github.com/partflow/partflow/storage/s3files"
	"github.com/partflow/partflow/storage/transfer"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// deployment is a store and its files.
type deployment struct {
	store *bunstore.Store
	files *blobfiles.Store
}

func openStore(t *testing.T, url string) *bunstore.Store {
	t.Helper()
	s, err := bunstore.Open(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openFiles(t *testing.T, url string) *blobfiles.Store {
	t.Helper()
	var fs *blobfiles.Store
	var err error
	if strings.HasPrefix(url, "s3:") {
		fs, err = s3files.Open(t.Context(), url, &s3files.Options{SpoolDir: t.TempDir(),
			Credentials: &s3files.Credentials{AccessKeyID: "test-key", SecretAccessKey: "test-secret"}})
	} else {
		fs, err = blobfiles.Open(t.Context(), url, &blobfiles.Options{SpoolDir: t.TempDir()})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

func sqliteDeployment(t *testing.T) deployment {
	dir := t.TempDir()
	return deployment{openStore(t, "sqlite://"+filepath.Join(dir, "parts.db")), openFiles(t, "file://"+filepath.Join(dir, "files"))}
}

// postgresS3Deployment is a new PostgreSQL database and a bucket on an
// in-process S3 server.
func postgresS3Deployment(t *testing.T) deployment {
	backend := s3mem.New()
	if err := backend.CreateBucket("parts"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(gofakes3.New(backend).Server())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return deployment{openStore(t, pgtest.NewDatabase(t)),
		openFiles(t, "s3://parts?endpoint="+srv.URL+"&region=eu-west-1&use_path_style=true")}
}

func (d deployment) service() *parts.Service {
	return parts.NewService(d.store, &parts.Options{Files: d.files})
}

var (
	stepBody = []byte("ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n")
	pdfBody  = []byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
)

// seed fills d with parts in every state, edits, a deleted part (whose
// history stays), CAD files and drawings, a converted model and jobs.
func seed(t *testing.T, d deployment) {
	ctx := t.Context()
	svc := d.service()
	model, err := glb.Encode(&glb.Model{Meshes: []glb.Mesh{{Primitives: []glb.Primitive{{
		Positions: [][3]float32{{0, 0, 0}, {1, 0, 0}, {0, 1, 0}}, Material: glb.NoMaterial}}}}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i := range 23 {
		p, err := svc.CreatePart(ctx, &parts.Part{PartID: fmt.Sprintf("RT-%02d", i), Name: fmt.Sprintf("Bracket ünïcode %d", i),
			Type: []parts.Type{parts.TypeCNC, parts.TypeHand}[i%2], Material: "6061", Subsystem: "Drive", Amount: 1 + i,
			Notes: "100% done_" + strings.Repeat("x", i), MiscInfo: map[string]any{"i": float64(i)}}, "seeder")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	for i, id := range ids {
		if i%3 == 0 {
			if _, err := svc.Approve(ctx, id, parts.ActionInput{Reviewer: "Rita"}); err != nil {
				t.Fatal(err)
			}
		}
		if i%6 == 0 {
			if _, err := svc.Assign(ctx, id, parts.ActionInput{Assignee: "Ada"}); err != nil {
				t.Fatal(err)
			}
		}
		if i%4 == 1 {
			if _, err := svc.UploadFile(ctx, id, parts.Upload{Name: fmt.Sprintf("part-%d.step", i), Body: bytes.NewReader(stepBody), Actor: "a"}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.UploadFile(ctx, id, parts.Upload{Name: "drawing.pdf", Body: bytes.NewReader(pdfBody), Actor: "a"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	sum := sha256.Sum256(stepBody)
	if _, err := svc.UploadFile(ctx, ids[1], parts.Upload{Name: "part.glb", Kind: parts.FileModel, Body: bytes.NewReader(model),
		Model: &parts.Model{State: parts.ModelReady, Source: hex.EncodeToString(sum[:])}, Actor: "converter"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeletePart(ctx, ids[22], 0, "seeder"); err != nil {
		t.Fatal(err)
	}
	// API keys: a live one that expires and was used, and a revoked one
	// (whose name a new key then reuses).
	at := time.Date(2026, 3, 1, 12, 0, 0, 123000, time.UTC)
	exp := at.Add(90 * 24 * time.Hour)
	for i, k := range []*parts.APIKey{
		{Name: "ada", Role: "admin", Roles: []string{"qa"}, Digest: bytes.Repeat([]byte{1}, 32), Prefix: "pf_aaaa", CreatedAt: at, ExpiresAt: &exp},
		{Name: "bob", Role: "editor", Digest: bytes.Repeat([]byte{2}, 32), Prefix: "pf_bbbb", CreatedAt: at},
		{Name: "bob", Role: "read-only", Digest: bytes.Repeat([]byte{3}, 32), Prefix: "pf_cccc", CreatedAt: at},
	} {
		if err := d.store.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		switch i {
		case 0:
			err = d.store.TouchKey(ctx, k.ID, at.Add(time.Hour))
		case 1:
			err = d.store.RevokeKey(ctx, k.ID, at.Add(2*time.Hour))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	err = d.store.Update(ctx, func(ctx context.Context, tx parts.Tx) error {
		for _, id := range ids[5:8] {
			if err := tx.EnqueueJob(ctx, &parts.Job{PartID: id, Source: "cad"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// contents is everything a deployment serves.
type contents struct {
	Parts  []*parts.Part
	Events map[int64][]*parts.Event
	Files  map[string]string // key -> SHA-256 of the bytes
	Stats  *parts.Stats
	Search []int64
	Keys   []*parts.APIKey
}

func read(t *testing.T, d deployment) contents {
	t.Helper()
	ctx := t.Context()
	svc := d.service()
	ps, _, err := svc.FindParts(ctx, parts.Filter{SortBy: parts.SortID, Asc: true})
	if err != nil {
		t.Fatal(err)
	}
	c := contents{Parts: ps, Events: map[int64][]*parts.Event{}, Files: map[string]string{}}
	for id := int64(1); id <= 30; id++ { // deleted parts keep their history
		evs, err := d.store.FindEvents(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 0 {
			c.Events[id] = evs
		}
	}
	objs, err := d.files.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		r, _, err := d.files.Open(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, r)
		r.Close()
		c.Files[o.Key] = hex.EncodeToString(h.Sum(nil))
	}
	if c.Stats, err = svc.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Keys, err = d.store.ListKeys(ctx); err != nil {
		t.Fatal(err)
	}
	found, _, err := svc.FindParts(ctx, parts.Filter{Search: "ÜNÏCODE 1", SortBy: parts.SortID, Asc: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range found {
		c.Search = append(c.Search, p.ID)
	}
	return c
}

func same(t *testing.T, what string, got, want contents) {
	t.Helper()
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Fatalf("%s differs (-want +got):\n%s", what, diff)
	}
}

// serve checks that a handler over d serves a part and its files.
func serve(t *testing.T, d deployment, id int64) {
	t.Helper()
	h, err := httpapi.NewHandler(d.service(), &httpapi.Options{Keys: []httpapi.Key{{Name: "a", Key: "key-0123456789abcdef", Role: httpapi.RoleAdmin}},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fmt.Sprintf("/api/parts/%d", id), fmt.Sprintf("/api/parts/%d/file", id)} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-API-Key", "key-0123456789abcdef")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s from the copy: %d %s", path, rec.Code, rec.Body)
		}
	}
}

func copyAll(t *testing.T, dst, src deployment) *transfer.Report {
	t.Helper()
	rep, err := transfer.Copy(t.Context(), dst.store, src.store, dst.files, src.files, nil)
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	return rep
}

func TestCopyRoundTrip(t *testing.T) {
	src := sqliteDeployment(t)
	seed(t, src)
	want := read(t, src)
	if len(want.Files) < 5 || len(want.Events) < 23 {
		t.Fatalf("seed made %d files and the history of %d parts", len(want.Files), len(want.Events))
	}

	pg := postgresS3Deployment(t)
	rep := copyAll(t, pg, src)
	if rep.Copied["parts"] != 22 || rep.Copied["files"] != int64(len(want.Files)) || rep.Copied["jobs"] != 3 || rep.Copied["api_keys"] != 3 {
		t.Fatalf("copy to PostgreSQL + S3 copied %v", rep.Copied)
	}
	same(t, "PostgreSQL + S3 copy", read(t, pg), want)
	serve(t, pg, 2)

	// A second run copies nothing and still verifies.
	if rep := copyAll(t, pg, src); len(rep.Copied) != 0 {
		t.Fatalf("second copy copied %v", rep.Copied)
	}

	back := sqliteDeployment(t)
	copyAll(t, back, pg)
	same(t, "copy back to SQLite + file", read(t, back), want)

	// New parts get new ids above the copied ones on both engines.
	for _, d := range []deployment{pg, back} {
		p, err := d.service().CreatePart(t.Context(), &parts.Part{PartID: "NEW", Name: "n", Type: parts.TypeCNC, Material: "6061", Subsystem: "Drive", Amount: 1}, "a")
		if err != nil || p.ID != 24 {
			t.Fatalf("create after copy on %s: id %v, %v; want 24", d.store.Engine(), p, err)
		}
		k := &parts.APIKey{Name: "new", Role: "admin", Digest: bytes.Repeat([]byte{9}, 32), Prefix: "pf_new", CreatedAt: time.Now()}
		if err := d.store.CreateKey(t.Context(), k); err != nil || k.ID != 4 {
			t.Fatalf("key created after copy on %s: id %d, %v; want 4", d.store.Engine(), k.ID, err)
		}
		if err := d.store.CreateKey(t.Context(), &parts.APIKey{Name: "ada", Role: "admin", Digest: bytes.Repeat([]byte{8}, 32),
			Prefix: "pf_x", CreatedAt: time.Now()}); !errors.Is(err, parts.ErrConflict) {
			t.Fatalf("a second live key named ada on the copy (%s): %v, want ErrConflict", d.store.Engine(), err)
		}
	}
}

// cancelAfter is a progress writer that cancels the copy after n lines.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return len(p), nil
}

func TestCopyKilledHalfwayResumes(t *testing.T) {
	src := sqliteDeployment(t)
	seed(t, src)
	want := read(t, src)
	dst := postgresS3Deployment(t)

	for _, lines := range []int{2, 6} { // stop in the parts, then in the events
		ctx, cancel := context.WithCancel(t.Context())
		o := &transfer.Options{BatchSize: 5, Interval: time.Nanosecond, Progress: &cancelAfter{n: lines, cancel: cancel}}
		_, err := transfer.Copy(ctx, dst.store, src.store, dst.files, src.files, o)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted copy: %v, want context.Canceled", err)
		}
	}
	ids, err := dst.store.MaxIDs(t.Context())
	if err != nil || ids["parts"] == 0 || ids["parts"] == 23 {
		t.Fatalf("after the interrupted copies the target's ids are %v (%v); want some parts copied", ids, err)
	}
	copyAll(t, dst, src) // verifies counts and digests: no duplicates, nothing missing
	same(t, "resumed copy", read(t, dst), want)
}

// TestCopyRefusesAnotherDeploymentsData checks that a copy into a store
// holding other data writes nothing.
func TestCopyRefusesAnotherDeploymentsData(t *testing.T) {
	src, dst := sqliteDeployment(t), postgresS3Deployment(t)
	seed(t, src)
	_, err := dst.service().CreatePart(t.Context(), &parts.Part{PartID: "OTHER", Name: "o", Type: parts.TypeCNC,
		Material: "6061", Subsystem: "Drive", Amount: 1}, "a")
	if err != nil {
		t.Fatal(err)
	}
	before := read(t, dst)
	_, err = transfer.Copy(t.Context(), dst.store, src.store, dst.files, src.files, nil)
	if !errors.Is(err, transfer.ErrMismatch) || !strings.Contains(err.Error(), "not a copy of the source") {
		t.Fatalf("copy into another deployment's store: %v, want ErrMismatch", err)
	}
	same(t, "target after a refused copy", read(t, dst), before)
}

func backup(t *testing.T, d deployment) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backup.tar.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Backup(t.Context(), f, d.store, d.files, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func opener(path string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return os.Open(path) }
}

func TestBackupRestoreIntoEitherEngine(t *testing.T) {
	src := sqliteDeployment(t)
	seed(t, src)
	want := read(t, src)
	archive := backup(t, src)

	for name, d := range map[string]deployment{"postgres": postgresS3Deployment(t), "sqlite": sqliteDeployment(t)} {
		rep, err := transfer.Restore(t.Context(), opener(archive), d.store, d.files, nil)
		if err != nil {
			t.Fatalf("restore into %s: %v", name, err)
		}
		if rep.Copied["parts"] != 22 {
			t.Fatalf("restore into %s copied %v", name, rep.Copied)
		}
		same(t, "restored "+name, read(t, d), want)
		_, err = transfer.Restore(t.Context(), opener(archive), d.store, d.files, nil)
		if !errors.Is(err, transfer.ErrNotEmpty) {
			t.Fatalf("restore into the non-empty %s store: %v, want ErrNotEmpty", name, err)
		}
		if _, err := transfer.Restore(t.Context(), opener(archive), d.store, d.files, &transfer.Options{Force: true}); err != nil {
			t.Fatalf("forced restore over the same data: %v", err)
		}
		same(t, "after a forced restore over the same data "+name, read(t, d), want)
	}
}

func TestRestoreRefusesACorruptArchive(t *testing.T) {
	src := sqliteDeployment(t)
	seed(t, src)
	archive := backup(t, src)
	// Rewrite the archive with one byte of one file changed.
	dst := sqliteDeployment(t)
	bad := filepath.Join(t.TempDir(), "bad.tar.gz")
	if err := corrupt(archive, bad); err != nil {
		t.Fatal(err)
	}
	_, err := transfer.Restore(t.Context(), opener(bad), dst.store, dst.files, nil)
	if !errors.Is(err, transfer.ErrMismatch) {
		t.Fatalf("restore of a corrupt archive: %v, want ErrMismatch", err)
	}
	ids, err := dst.store.MaxIDs(t.Context())
	if err != nil || ids["parts"] != 0 {
		t.Fatalf("a refused restore wrote into the target: %v, %v", ids, err)
	}
}

// TestRestoreAnArchiveFromBeforeKeys restores an archive made before API
// keys were backed up (no api_keys table in it or its manifest): the parts
// come back, the keys table stays empty, and the check against the
// manifest still holds.
func TestRestoreAnArchiveFromBeforeKeys(t *testing.T) {
	src := sqliteDeployment(t)
	seed(t, src)
	want := read(t, src)
	want.Keys = []*parts.APIKey{}
	old := filepath.Join(t.TempDir(), "old.tar.gz")
	err := rewrite(backup(t, src), old, func(name string, b []byte) ([]byte, bool) {
		switch name {
		case "tables/api_keys.jsonl":
			return nil, false
		case "manifest.json":
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			tables := m["tables"].([]any)
			m["tables"] = slices.DeleteFunc(tables, func(x any) bool { return x.(map[string]any)["table"] == "api_keys" })
			if len(m["tables"].([]any)) != len(bunstore.DataTables)-1 {
				t.Fatalf("the manifest lists no api_keys table: %s", b)
			}
			b, _ = json.Marshal(m)
		}
		return b, true
	})
	if err != nil {
		t.Fatal(err)
	}
	dst := sqliteDeployment(t)
	rep, err := transfer.Restore(t.Context(), opener(old), dst.store, dst.files, nil)
	if err != nil {
		t.Fatalf("restore of an archive without keys: %v", err)
	}
	if rep.Copied["parts"] != 22 || rep.Copied["api_keys"] != 0 {
		t.Fatalf("restore copied %v", rep.Copied)
	}
	same(t, "restored from an archive without keys", read(t, dst), want)
}

// TestBackupWhileWritingIsOneSnapshot backs up while parts are being
// created (each create writes a part and one history entry): the archive
// is one snapshot, so it holds exactly as many history entries as parts.
func TestBackupWhileWritingIsOneSnapshot(t *testing.T) {
	for name, src := range map[string]deployment{"postgres": postgresS3Deployment(t), "sqlite": sqliteDeployment(t)} {
		t.Run(name, func(t *testing.T) {
			svc := src.service()
			create := func(i int) error {
				_, err := svc.CreatePart(context.Background(), &parts.Part{PartID: fmt.Sprintf("W-%d", i), Name: "w",
					Type: parts.TypeHand, Material: "PLA", Subsystem: "Arm", Amount: 1}, "w")
				return err
			}
			for i := range 200 {
				if err := create(i); err != nil {
					t.Fatal(err)
				}
			}
			stop, done := make(chan struct{}), make(chan error, 1)
			go func() {
				for i := 200; ; i++ {
					select {
					case <-stop:
						done <- nil
						return
					default:
					}
					if err := create(i); err != nil {
						done <- err
						return
					}
				}
			}()
			archive := backup(t, src)
			close(stop)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			dst := sqliteDeployment(t)
			rep, err := transfer.Restore(t.Context(), opener(archive), dst.store, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			rows := map[string]int64{}
			for _, s := range rep.Tables {
				rows[s.Table] = s.Rows
			}
			if rows["parts"] < 200 || rows["parts"] != rows["part_events"] {
				t.Fatalf("backup taken while writing holds %d parts and %d history entries; want equal", rows["parts"], rows["part_events"])
			}
		})
	}
}
