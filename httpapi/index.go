package httpapi

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// mountPrefix returns the part of the request's path that an outer handler
// (http.StripPrefix, a mux pattern) removed before this handler saw it, so
// that paths in answers are the ones the client must use. It is "" when the
// handler sees the whole path, or when the original path is unknown (a
// request built in a test without RequestURI).
func mountPrefix(r *http.Request) string {
	if r.RequestURI == "" || r.RequestURI == "*" {
		return ""
	}
	u, err := url.ParseRequestURI(r.RequestURI)
	if err != nil {
		return ""
	}
	prefix, ok := strings.CutSuffix(u.EscapedPath(), r.URL.EscapedPath())
	if !ok || strings.HasSuffix(prefix, "/") {
		return ""
	}
	return prefix
}

// errMountedWithoutSlash answers a request whose path lost its leading
// slash, as http.StripPrefix("/x/", h) does: the mount is wrong, and guessing
// would produce wrong paths in answers.
var errMountedWithoutSlash = &statusError{status: http.StatusNotFound, message: "Not found",
	details: `httpapi received a path without a leading "/": mount it with http.StripPrefix("/prefix", h), without a trailing slash`}

// root is the path answers should use for the handler's root: the mount
// prefix and the base path.
func (h *handler) root(r *http.Request) string {
	return stateFrom(r.Context()).mount + h.opts.BasePath
}

// indexPage is the HTML answered at {BASE}/ when no web client is served.
var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Partflow {{.Version}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46em;margin:2em auto;padding:0 1em}code{background:#eee;padding:0 .2em}</style>
</head>
<body>
<h1>Partflow {{.Version}}</h1>
<p>This is Partflow's REST API server: a parts-tracking backend, a drop-in for the original parts-workflow API.
It serves no web client here.</p>
<ul>
<li><a href="{{.OpenAPI}}">{{.OpenAPI}}</a>: the OpenAPI 3 document of every route (open it in any OpenAPI viewer, or read the JSON)</li>
<li><a href="{{.Health}}">{{.Health}}</a>: liveness; <a href="{{.Ready}}">{{.Ready}}</a>: readiness</li>
<li><code>{{.API}}</code>: the parts API; send the API key in the <code>X-API-Key</code> header</li>
</ul>
<p>The README covers <em>Quick start</em>, <em>Running the server</em> (a curl session), <em>Configuration</em>,
<em>Embedding the library</em> and <em>Converter plugins</em>.</p>
<p>To serve a web client from this address, build the client (a single-page app) and start the server with
<code>partflow serve --static path/to/dist</code> (or <code>static_dir</code> in the config file): its files are then
served here, and every other path outside <code>/api</code> gets its <code>index.html</code>.</p>
</body>
</html>
`))

// indexInfo is what the index page shows; its JSON form answers API clients.
type indexInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	OpenAPI string `json:"openapi"`
	Health  string `json:"health"`
	Ready   string `json:"ready"`
	API     string `json:"api"`
	Static  string `json:"static_client"`
}

// serveIndex answers {BASE}/ without a web client: a small HTML page for
// browsers, the same facts as JSON for anything that does not accept HTML.
func (h *handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.writeError(w, r, notAllowed(r.Method, []string{http.MethodGet, http.MethodHead}))
		return
	}
	root := h.root(r)
	info := indexInfo{Name: "Partflow", Version: h.opts.Version, OpenAPI: root + "/api/openapi.json",
		Health: root + "/health", Ready: root + "/ready", API: root + "/api/parts/",
		Static: "none: start the server with --static <dir> (static_dir) to serve a built web client here"}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Vary", "Accept")
	if !acceptsHTML(r) {
		writeJSON(w, http.StatusOK, info)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	_ = indexPage.Execute(w, info)
}

// acceptsHTML reports whether the client asks for HTML, as browsers do.
func acceptsHTML(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/html") {
			return true
		}
	}
	return false
}

// openAPIFor returns the OpenAPI document with its server URL set to where
// this request reached the handler (the mount prefix and the base path).
func (h *handler) openAPIFor(r *http.Request) []byte {
	mount := stateFrom(r.Context()).mount
	if mount == "" {
		return h.openapi
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(h.openapi, &doc); err != nil {
		return h.openapi
	}
	servers, err := json.Marshal([]map[string]string{{"url": mount + h.opts.BasePath}})
	if err != nil {
		return h.openapi
	}
	doc["servers"] = servers
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return h.openapi
	}
	return b
}
