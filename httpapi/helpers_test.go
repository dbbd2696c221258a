package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// Keys used by the tests.
const (
	adminKey  = "admin-secret-key-0123456789"
	editorKey = "editor-secret-key-abcdef"
	readerKey = "reader-secret-key-xyz"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is a handler over a real Service on an in-memory bunstore.
type env struct {
	t     *testing.T
	h     http.Handler
	svc   *parts.Service
	store *bunstore.Store
	clock *clock
	logs  *syncBuffer
	opts  *httpapi.Options
}

// newEnv builds the handler; configure may change the options first.
func newEnv(t *testing.T, configure func(o *httpapi.Options)) *env {
	t.Helper()
	return newFlowEnv(t, flow, configure)
}

// newFlowEnv is newEnv with the service on workflow w.
func newFlowEnv(t *testing.T, w *parts.Workflow, configure func(o *httpapi.Options)) *env {
	t.Helper()
	ctx := context.Background()
	store, err := bunstore.Open(ctx, testStoreURL(t), nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	c := newClock()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := parts.NewService(store, &parts.Options{Now: c.Now, Logger: logger, Workflow: w})
	o := &httpapi.Options{
		Keys: []httpapi.Key{
			{Name: "admin", Key: adminKey, Role: httpapi.RoleAdmin},
			{Name: "editor", Key: editorKey, Role: httpapi.RoleEditor},
			{Name: "reader", Key: readerKey, Role: httpapi.RoleReadOnly},
		},
		Logger: logger,
		Now:    c.Now,
	}
	if configure != nil {
		configure(o)
	}
	h, err := httpapi.NewHandler(svc, o)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	return &env{t: t, h: h, svc: svc, store: store, clock: c, logs: logs, opts: o}
}

// resp is a recorded response.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value, failing the test if it is not JSON.
func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object (status %d): %v\n%s", r.status, err, r.body)
	}
	return m
}

// req describes a request; zero fields get defaults (admin key in the header).
type req struct {
	method, path string
	body         any               // string/[]byte sent raw, anything else JSON-encoded
	header       map[string]string // extra headers; "X-API-Key": "" removes the key
	remote       string
	ctx          context.Context // nil: the request's default
}

func (e *env) do(r req) resp {
	e.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.ctx != nil {
		hr = hr.WithContext(r.ctx)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("X-API-Key", adminKey)
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
			continue
		}
		hr.Header.Set(k, v)
	}
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	return resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// must does r and fails unless the status is want; it returns the JSON body.
func (e *env) must(want int, r req) map[string]any {
	e.t.Helper()
	got := e.do(r)
	if got.status != want {
		e.t.Fatalf("%s %s: status %d, want %d\n%s", r.method, r.path, got.status, want, got.body)
	}
	return got.json(e.t)
}

// create makes a part through the API and returns its JSON.
func (e *env) create(fields map[string]any) map[string]any {
	e.t.Helper()
	body := map[string]any{"partId": "P-1", "material": "Aluminium", "subsystem": "Drive", "name": "Bracket"}
	for k, v := range fields {
		body[k] = v
	}
	return e.must(http.StatusCreated, req{method: "POST", path: "/api/parts/", body: body})
}

// partPath returns the path of a part JSON, plus suffix.
func partPath(p map[string]any, suffix string) string {
	return "/api/parts/" + jsonInt(p["id"]) + suffix
}

func jsonInt(v any) string {
	f, _ := v.(float64)
	return strconv.FormatInt(int64(f), 10)
}

// wantError checks an error response: status, JSON content type, and (when
// non-empty) the error message and field.
func wantError(t *testing.T, r resp, status int, message, field string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d\n%s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	m := r.json(t)
	if _, ok := m["error"].(string); !ok {
		t.Fatalf("no error message in %s", r.body)
	}
	if message != "" && m["error"] != message {
		t.Errorf("error %q, want %q", m["error"], message)
	}
	if field != "" && m["field"] != field {
		t.Errorf("field %v, want %q", m["field"], field)
	}
	return m
}
