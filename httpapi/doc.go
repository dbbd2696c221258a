// Package httpapi is Partflow's REST API: NewHandler serves the routes of the
// original parts-workflow API (a drop-in for its web client and scripts) over
// a parts.Service, on github.com/uptrace/bunrouter, under any base path
// (Options.BasePath) or mount: behind http.StripPrefix("/prefix", h) the
// paths in its answers (upload file_path, the OpenAPI servers entry, the
// index page's links) carry the stripped prefix; a mount that strips the
// leading slash is refused with a 404 saying so.
//
// Every response under /api is JSON. Errors from the library are mapped to
// statuses in one place (see errors.go); a 500 tells the client only
// "internal error" and a request ID, the detail goes to the log. Requests are
// authenticated with API keys (header, query, or JSON body, in that order),
// compared in constant time; repeated wrong keys from one client address are
// rate-limited. The handler also serves an OpenAPI 3.0 document of every
// route at {BASE}/api/openapi.json, liveness and readiness probes at
// {BASE}/health and {BASE}/ready, and, optionally, a built single-page client
// from a directory (Options.StaticDir); without one, {BASE}/ answers a small
// page naming the server and these routes (JSON for API clients).
//
// Use NewServer for an http.Server around the handler with sensible
// timeouts.
package httpapi
