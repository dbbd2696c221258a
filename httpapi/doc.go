// Package httpapi is Partflow's REST API: NewHandler serves the routes of the
// original parts-workflow API (a drop-in for its web client and scripts) over
// a parts.Service, on github.com/uptrace/bunrouter.
//
// # Routes
//
// Under {BASE} (the mount prefix and Options.BasePath, see below):
//
//	/api/parts/                  list (search, filters, sort, pages), create
//	/api/parts/stats, /leaderboard, /categories/{category}, /auth/check
//	/api/parts/{id}              get, update (PUT), delete; /history
//	/api/parts/{id}/approve, /assign, /unclaim, /complete, /revert, /status
//	                             the workflow actions (Options' workflow)
//	/api/parts/{id}/upload, /download, /download/{filename}, /file,
//	/views, /views/{i}, /drawing files, views and drawings
//	/api/parts/{id}/model, /convert  the converted 3D model
//	/api/events, /api/events/stream  the change log and its event stream
//	/api/keys, /api/webhooks     per-person keys and webhook endpoints (admin)
//	/api/openapi.json            an OpenAPI 3.0 document of every route
//	/health, /ready              liveness and readiness probes (no key)
//	/metrics                     Prometheus metrics (admin key)
//
// The route table (routes.go and one registration function per group) is
// the one list: the router, the access checks and the OpenAPI document are
// all built from it, so /api/openapi.json is the complete reference.
//
// Every response under /api is JSON. Errors from the library are mapped to
// statuses in one place (see errors.go); a 500 tells the client only
// "internal error" and a request ID, the detail goes to the log. Requests are
// authenticated with API keys (header, query, or JSON body, in that order),
// compared in constant time; repeated wrong keys from one client address are
// rate-limited. Optionally the handler serves a built single-page client
// from a directory (Options.StaticDir); without one, {BASE}/ answers a small
// page naming the server and its routes (JSON for API clients).
//
// # Mounting under a prefix
//
// Options.BasePath (e.g. "/part-management-system"; a trailing slash is
// dropped and a leading one added) is a prefix the handler expects in every
// request's path: a request outside it answers 404. Give the handler the
// whole path, e.g. mux.Handle("/part-management-system/", h) with that
// BasePath.
//
// Alternatively strip the prefix in front of the handler with
// http.StripPrefix("/prefix", h), without a trailing slash, and leave
// BasePath empty (or set it to what follows the prefix). The handler learns
// the stripped prefix by comparing the request's RequestURI with its
// URL.Path, and the paths in its answers (an upload's file_path, the
// OpenAPI document's servers entry, the index page's links) are the
// stripped prefix plus BasePath, the paths the client must use. A request
// without RequestURI (one built in a test) counts as unstripped. A mount
// that strips the leading slash as well, such as http.StripPrefix("/x/",
// h), is refused with a 404 saying how to mount it, rather than answering
// with wrong paths.
//
// Use NewServer for an http.Server around the handler with sensible
// timeouts.
package httpapi
