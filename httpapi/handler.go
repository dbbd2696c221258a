package httpapi

// Notes for route authors (the files feature in files.go, and anyone adding
// routes): what the package gives you.
//
//   - Routes: add them in (*handler).registerFileRoutes with
//     rt.add(route{Method, Path, Access, Handler, Doc}). Path is relative to
//     the base path and uses bunrouter syntax ("/api/parts/:id/upload").
//     rt.add registers the route on the router AND documents it in
//     /api/openapi.json (route.Doc: summary, query parameters, request body,
//     responses; shared schemas in components() in openapi.go, inline ones
//     with obj/str/arr/binary/ref); rt.add panics for a route without a
//     Summary. Path parameters are documented automatically (":id" as an
//     integer), and so are the error responses of the access level. Never
//     register on a bunrouter group directly: the route table is what the
//     404/405 answers and the OpenAPI document are built from. Add your
//     routes to contractRoutes in openapi_test.go: that test checks every
//     registered route is documented and every documented one is routed.
//   - Access: accessPublic (no key), accessRead (any valid key) or
//     accessWrite (an editor or admin key). Auth, the failed-key rate limit,
//     CORS, request IDs, logging and panic recovery are done for you.
//   - Handlers have the bunrouter signature
//     func(w http.ResponseWriter, req bunrouter.Request) error and return
//     errors; do not write error responses yourself. The one error table in
//     errors.go maps them: *parts.ValidationError / parts.ErrInvalid 400 (with
//     "field"), parts.ErrNotFound 404, parts.ErrConflict and
//     parts.ErrInvalidTransition 409, *parts.StaleError 412, parts.ErrTooLarge
//     and *http.MaxBytesError 413, parts.ErrUnsupportedType 415, anything
//     else 500. For another status use httpError(status, message).
//   - Helpers: h.partID(req) parses ":id" (a bad id is a 404); h.ifMatch(ctx,
//     req, id) turns If-Match into an expected version (0 = none);
//     h.actor(req) names the caller for history; writeJSON(w, status, v);
//     h.writePart(w, status, p) writes a part with its ETag; h.readJSON(req)
//     reads the capped JSON body once (auth may already have read it) and
//     decodeObject(body) checks it is one JSON object of valid UTF-8;
//     requestIDFrom(ctx) and h.log for logs. Multipart uploads are not read
//     by the auth layer (only JSON bodies are), so stream them yourself with
//     http.MaxBytesReader and your own limit.
//   - The svc field is the parts.Service; h.opts the normalised Options.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"time"
	"unicode"

	"github.com/uptrace/bunrouter"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/webhooks"
)

// Role is what an API key may do.
type Role int

// The roles. The zero value is RoleReadOnly, so a Key without a role can
// never write by accident.
const (
	// RoleReadOnly may call every GET route.
	RoleReadOnly Role = iota
	// RoleEditor may also create, edit, delete and move parts and upload files.
	RoleEditor
	// RoleAdmin may do everything. Today that is the same as RoleEditor; a
	// single shared key is one Key with RoleAdmin.
	RoleAdmin
)

// String returns the role's name: "read-only", "editor" or "admin".
func (r Role) String() string {
	switch r {
	case RoleReadOnly:
		return "read-only"
	case RoleEditor:
		return "editor"
	case RoleAdmin:
		return "admin"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ParseRole parses "read-only" (also "readonly", "read"), "editor" or "admin".
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "read-only", "readonly", "read_only", "read":
		return RoleReadOnly, nil
	case "editor", "edit", "write":
		return RoleEditor, nil
	case "admin":
		return RoleAdmin, nil
	}
	return 0, fmt.Errorf("unknown role %q (want read-only, editor or admin)", s)
}

// Key is one API key.
type Key struct {
	// Name identifies the key in logs and history ("admin", "ci", ...). It is
	// never secret. Empty names become "key1", "key2", ... by position.
	Name string
	// Key is the secret the client sends. It must not be empty.
	Key string
	// Role is what the key may do.
	Role Role
	// Roles are extra role names for a Policy (e.g. "qa", "lead"); the
	// principal of the key has Role's name and these.
	Roles []string
}

// Options configure the handler. A nil *Options gives the defaults listed on
// each field.
type Options struct {
	// BasePath mounts everything under a sub-path, e.g.
	// "/part-management-system". Default "" (the root). A trailing slash is
	// removed and a leading one added.
	BasePath string
	// Keys are the accepted API keys. With no keys every authenticated route
	// answers 401, so a server is never open by accident. They are not used
	// when Authenticator is set.
	Keys []Key
	// Authenticator, when set, replaces the API keys: it turns each request
	// to an authenticated route into a Principal, whose name is the actor
	// in the history. Default: the API keys of Keys.
	Authenticator Authenticator
	// Policy decides what each principal may do. Default BuiltinPolicy
	// (read: anyone authenticated; write: editor or admin). A RolePolicy is
	// validated by NewHandler.
	Policy Policy
	// AllowQueryKey accepts the key in the api_key query parameter. Default
	// false: keys in URLs end up in proxy logs.
	AllowQueryKey bool
	// MaxBodyBytes caps JSON request bodies; larger bodies get 413. Default
	// 1 MiB. (File uploads have their own limit.)
	MaxBodyBytes int64
	// CORSOrigins are the browser origins allowed to call the API, e.g.
	// "https://parts.example.org"; "*" allows any origin. Default none (no
	// CORS headers).
	CORSOrigins []string
	// StaticDir, when set, is a built single-page client served at
	// {BasePath}/: existing files as they are (with .br/.gz siblings when the
	// client accepts them), index.html for any other non-/api path.
	StaticDir string
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For / X-Real-IP headers name the real client. The headers of
	// any other peer are ignored. Default none.
	TrustedProxies []netip.Prefix
	// AuthCheckInterval is how soon the same client (key and address) may
	// call /api/parts/auth/check again; earlier calls get 429. Default 2s.
	AuthCheckInterval time.Duration
	// FailedAuthLimit is how many wrong keys one client address may send per
	// FailedAuthWindow before its further wrong keys get 429 with
	// Retry-After (instead of 401) until the window ends. A valid key is
	// always served, whatever its address sent before: the limit slows
	// guessing, the keys' entropy defeats it. Default 10; a negative value
	// disables the limit.
	FailedAuthLimit int
	// FailedAuthWindow is the window of FailedAuthLimit. Default 1 minute.
	FailedAuthWindow time.Duration
	// Logger receives one structured line per request (never an API key, a
	// query string or a body) and the details of 500 errors. Default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock for rate limits and timestamps. Default time.Now.
	Now func() time.Time
	// Files configures the file routes (upload body slack, upload rates);
	// see FileOptions. Drawings are fetched by the Service's
	// parts.Options.Drawings.
	Files FileOptions
	// Convert configures the model routes (how long they wait for a
	// conversion); see ConvertOptions.
	Convert ConvertOptions
	// Cache sizes the caches of encoded answers; see CacheOptions.
	Cache CacheOptions
	// Version is the server's version, shown by the page at {BasePath}/
	// when no StaticDir is served. Default "dev".
	Version string
	// Events configures the change-feed routes (stream heartbeats, ending
	// streams at shutdown); see EventOptions.
	Events EventOptions
	// Webhooks, when set, is managed through /api/webhooks (admin keys).
	// Without it those routes answer 404.
	Webhooks *webhooks.Manager
	// Metrics, when set, count every request and are served at GET
	// /metrics to admin keys. Without it /metrics answers 404.
	Metrics *Metrics

	// extraRoutes lets this package's tests add routes (export_test.go).
	extraRoutes []route
}

// Defaults of Options.
const (
	DefaultMaxBodyBytes      = 1 << 20
	DefaultAuthCheckInterval = 2 * time.Second
	DefaultFailedAuthLimit   = 10
	DefaultFailedAuthWindow  = time.Minute
)

// maxLimiterEntries bounds the memory of each rate limiter.
const maxLimiterEntries = 10000

func (o *Options) normalize() (*Options, error) {
	out := Options{}
	if o != nil {
		out = *o
	}
	out.BasePath = strings.TrimRight(strings.TrimSpace(out.BasePath), "/")
	if out.BasePath != "" && !strings.HasPrefix(out.BasePath, "/") {
		out.BasePath = "/" + out.BasePath
	}
	if strings.ContainsAny(out.BasePath, "?#:*") || strings.Contains(out.BasePath, "//") {
		return nil, fmt.Errorf("httpapi: invalid base path %q", out.BasePath)
	}
	if out.MaxBodyBytes <= 0 {
		out.MaxBodyBytes = DefaultMaxBodyBytes
	}
	out.Convert = out.Convert.withDefaults()
	out.Events = out.Events.withDefaults()
	out.Cache = out.Cache.withDefaults()
	if out.AuthCheckInterval <= 0 {
		out.AuthCheckInterval = DefaultAuthCheckInterval
	}
	if out.FailedAuthLimit == 0 {
		out.FailedAuthLimit = DefaultFailedAuthLimit
	}
	if out.Files.MinUploadRate == 0 {
		out.Files.MinUploadRate = DefaultMinUploadRate
	}
	if out.Files.UploadRateWindow <= 0 {
		out.Files.UploadRateWindow = DefaultUploadRateWindow
	}
	if out.Files.MaxUploadsPerClient == 0 {
		out.Files.MaxUploadsPerClient = DefaultMaxUploadsPerClient
	}
	if out.FailedAuthWindow <= 0 {
		out.FailedAuthWindow = DefaultFailedAuthWindow
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.Version == "" {
		out.Version = "dev"
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.Policy == nil {
		out.Policy = BuiltinPolicy{}
	}
	if rp, ok := out.Policy.(RolePolicy); ok {
		if err := rp.Validate(); err != nil {
			return nil, fmt.Errorf("httpapi: %w", err)
		}
	}
	keys := make([]Key, len(out.Keys))
	names := map[string]bool{}
	for i, k := range out.Keys {
		if k.Key == "" {
			return nil, fmt.Errorf("httpapi: key %d (%q) is empty", i+1, k.Name)
		}
		if k.Role < RoleReadOnly || k.Role > RoleAdmin {
			return nil, fmt.Errorf("httpapi: key %d (%q) has unknown role %d", i+1, k.Name, int(k.Role))
		}
		if k.Name == "" {
			k.Name = fmt.Sprintf("key%d", i+1)
		}
		if names[k.Name] {
			return nil, fmt.Errorf("httpapi: two keys are named %q", k.Name)
		}
		names[k.Name] = true
		keys[i] = k
	}
	out.Keys = keys
	out.CORSOrigins = append([]string(nil), out.CORSOrigins...)
	out.TrustedProxies = append([]netip.Prefix(nil), out.TrustedProxies...)
	return &out, nil
}

// handler is the http.Handler NewHandler returns.
type handler struct {
	svc    *parts.Service
	opts   *Options
	log    *slog.Logger
	router *bunrouter.Router
	routes *routeTable
	keys   *keyring
	static *staticFiles // nil without StaticDir

	authChecks *limiter      // key name + address -> last successful auth check
	failures   *limiter      // address -> failed key attempts in the window
	openapi    []byte        // the generated document
	bigLists   chan struct{} // slots for unpaged or very large list requests
	hub        *streamHub    // fans new events out to stream clients
	faults     storageFaults // storage faults requests ran into, for /ready
	uploads    uploadSlots   // uploads in progress per client address
	parts      *partCache    // encoded parts by id and version
	answers    *answerCache  // encoded answers by query, for the current change sequence
	seqs       *seqReader    // the store's change sequence, read once for concurrent requests
}

// NewHandler returns the API over svc. It fails for invalid options (an empty
// key, a StaticDir that cannot be opened, a bad base path).
func NewHandler(svc *parts.Service, opts *Options) (http.Handler, error) {
	if svc == nil {
		return nil, errors.New("httpapi: nil service")
	}
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	h := &handler{
		svc:        svc,
		opts:       o,
		log:        o.Logger,
		keys:       newKeyring(o.Keys),
		authChecks: newLimiter(maxLimiterEntries),
		failures:   newLimiter(maxLimiterEntries),
		hub:        &streamHub{svc: svc, log: o.Logger},
		bigLists:   make(chan struct{}, runtime.GOMAXPROCS(0)), // one per core: more would not finish sooner
		parts:      newPartCache(o.Cache.PartBytes),
		answers:    newAnswerCache(o.Cache.AnswerBytes),
		seqs:       &seqReader{read: svc.ChangeSeq},
	}
	h.answers.advance = h.advance
	if o.StaticDir != "" {
		if h.static, err = openStatic(o.StaticDir); err != nil {
			return nil, err
		}
	}
	h.router = bunrouter.New(
		bunrouter.Use(h.metricsRoute, h.errorMiddleware),
		bunrouter.WithNotFoundHandler(h.notFound),
		bunrouter.WithMethodNotAllowedHandler(h.methodNotAllowed),
	)
	h.routes = &routeTable{h: h, group: h.router.NewGroup(o.BasePath)}
	h.registerRoutes(h.routes)
	h.registerKeyRoutes(h.routes)
	h.registerFileRoutes(h.routes)
	h.registerEventRoutes(h.routes)
	h.registerWebhookRoutes(h.routes)
	h.registerMetricsRoute(h.routes)
	for _, r := range o.extraRoutes {
		h.routes.add(r)
	}
	if h.openapi, err = h.routes.openAPI(); err != nil {
		return nil, err
	}
	if o.Metrics != nil {
		o.Metrics.attach(h)
	}
	return h, nil
}

// ServeHTTP runs the outer layer every request passes: request ID, client
// address, logging, panic recovery, CORS, then the API router or the static
// client.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := &requestState{
		id:     requestID(r.Header.Get("X-Request-ID")),
		client: h.clientAddr(r),
		mount:  mountPrefix(r),
	}
	rw := &responseWriter{ResponseWriter: w}
	rw.Header().Set("X-Request-ID", st.id)
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	if m := h.opts.Metrics; m != nil {
		m.inflight.Inc()
		defer func() {
			m.inflight.Dec()
			m.observe(st.route, r.Method, rw.statusCode(), time.Since(start))
		}()
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.ErrorContext(r.Context(), "panic", "request_id", st.id, "panic", fmt.Sprint(v), "stack", stack())
			if !rw.wroteHeader {
				h.writeError(rw, r, fmt.Errorf("panic: %v", v))
			}
		}
		h.logRequest(r, rw, st, start)
	}()
	if h.cors(rw, r) {
		return
	}
	h.dispatch(rw, r)
}

// dispatch sends /api, /health and /ready to the router, everything else
// under the base path to the static client.
func (h *handler) dispatch(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/") {
		h.writeError(w, r, errMountedWithoutSlash)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, h.opts.BasePath)
	if !ok || (rest != "" && rest[0] != '/') {
		h.writeError(w, r, errRouteNotFound)
		return
	}
	if strings.ContainsFunc(rest, unicode.IsControl) {
		// No route, file or part name holds one; the router must never
		// see one either.
		h.writeError(w, r, errControlInPath)
		return
	}
	if rest == "/api" || strings.HasPrefix(rest, "/api/") || rest == "/health" || rest == "/ready" || rest == "/metrics" {
		r, ok = canonicalAPIPath(r, h.opts.BasePath, rest)
		if !ok {
			h.writeError(w, r, errRouteNotFound)
			return
		}
		h.router.ServeHTTP(w, r)
		return
	}
	if h.static == nil {
		if rest == "" || rest == "/" {
			h.serveIndex(w, r)
			return
		}
		h.writeError(w, r, errRouteNotFound)
		return
	}
	h.serveStatic(w, r, rest)
}

// canonicalAPIPath answers an API path in the one spelling the router knows,
// so the router never redirects: "/api/parts" becomes "/api/parts/", any
// other trailing slash is dropped, and paths with empty, "." or ".."
// segments are rejected.
func canonicalAPIPath(r *http.Request, base, rest string) (*http.Request, bool) {
	raw := r.URL.EscapedPath()
	raw = strings.TrimPrefix(raw, base)
	if strings.Contains(raw, "//") {
		return r, false
	}
	for seg := range strings.SplitSeq(strings.Trim(raw, "/"), "/") {
		s := strings.ToLower(seg)
		if s == "." || s == ".." || s == "%2e" || s == "%2e%2e" || s == ".%2e" || s == "%2e." {
			return r, false
		}
	}
	want := rest
	switch {
	case rest == "/api/parts":
		want = "/api/parts/"
	case rest != "/api/parts/" && len(rest) > 1 && strings.HasSuffix(rest, "/"):
		want = strings.TrimSuffix(rest, "/")
	}
	if want == rest {
		return r, true
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = base + want
	r2.URL.RawPath = ""
	return r2, true
}

// requestState is what the outer layer learns about a request, shared with
// the inner layers through the context.
type requestState struct {
	id     string
	client netip.Addr
	// mount is the path prefix an outer handler stripped (see mountPrefix).
	mount string
	// keyName is the authenticated principal's name, "" before auth.
	keyName string
	// principal is who was authenticated.
	principal Principal
	// body is the JSON body once read (auth or handler), bodyRead says so.
	body     []byte
	bodyErr  error
	bodyRead bool
	// route is the matched route pattern (for metrics), "" if none.
	route string
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	if st, ok := ctx.Value(stateKey{}).(*requestState); ok {
		return st
	}
	return &requestState{}
}

// requestIDFrom returns the request ID of the request ctx belongs to.
func requestIDFrom(ctx context.Context) string { return stateFrom(ctx).id }

// responseWriter records the status and size of a response.
type responseWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

// statusCode is the status sent, 200 when the handler wrote none.
func (w *responseWriter) statusCode() int {
	if !w.wroteHeader {
		return http.StatusOK
	}
	return w.status
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy fast for file downloads.
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := io.Copy(w.ResponseWriter, r)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush,
// deadlines).
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
