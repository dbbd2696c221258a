// Package httpapi is Partflow's REST API: NewHandler serves the routes of the
// compatibility contract (shared/API.md) over a parts.Service, on
// github.com/uptrace/bunrouter, under any base path.
//
// Every response under /api is JSON. Errors from the library are mapped to
// statuses in one place (see errors.go); a 500 tells the client only
// "internal error" and a request ID, the detail goes to the log. Requests are
// authenticated with API keys (header, query, or JSON body, in that order),
// compared in constant time; repeated wrong keys from one client address are
// rate-limited. The handler also serves an OpenAPI 3.0 document of every
// route at {BASE}/api/openapi.json, liveness and readiness probes at
// {BASE}/health and {BASE}/ready, and, optionally, a built single-page client
// from a directory.
//
// Use ServerTimeouts (or NewServer) for the http.Server around the handler.
package httpapi
