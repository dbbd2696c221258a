package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/uptrace/bunrouter"

	"github.com/partflow/partflow/parts"
)

// access says who may call a route.
type access int

const (
	// accessPublic routes need no key (health, readiness, the OpenAPI document).
	accessPublic access = iota
	// accessRead routes need any valid key.
	accessRead
	// accessWrite routes need an editor or admin key.
	accessWrite
	// accessAdmin routes need an admin key (webhook management).
	accessAdmin
)

// route is one row of the route table: what the router serves and what the
// OpenAPI document describes.
type route struct {
	// Method is the HTTP method ("GET", "POST", ...).
	Method string
	// Path is relative to the base path, in bunrouter syntax:
	// "/api/parts/:id/approve".
	Path string
	// Access says who may call it.
	Access access
	// Handler serves it; errors go to the error table.
	Handler bunrouter.HandlerFunc
	// Doc describes it in the OpenAPI document.
	Doc op
}

// op documents one operation. Schemas are OpenAPI schema objects written as
// Go maps (obj, arr, str, ... below help), or refs to components (ref).
type op struct {
	// Summary is required: one line.
	Summary string
	// Description is optional, longer text (choices the contract left open).
	Description string
	// Params describes path parameters other than ":id" (by name); a
	// parameter not listed is a plain string.
	Params []param
	// Query lists the query parameters.
	Query []param
	// Body is the request body; nil means none.
	Body *body
	// IfMatch says the route honours If-Match (documents 412).
	IfMatch bool
	// Responses maps status codes to their description and schema. Error
	// responses of the access level and path parameters are added
	// automatically (400 for bodies, 401/403/429 for keys, 404 for ":id").
	Responses map[int]response
}

// param is a query parameter.
type param struct {
	Name        string
	Description string
	Schema      schema
	Required    bool
}

// body is a request body.
type body struct {
	// ContentType is "application/json" or "multipart/form-data".
	ContentType string
	Schema      schema
	Required    bool
}

// response is one documented response.
type response struct {
	Description string
	// ContentType defaults to application/json when Schema is set.
	ContentType string
	Schema      schema
	// Headers names response headers set, with descriptions.
	Headers map[string]string
}

// schema is an OpenAPI schema object.
type schema = map[string]any

// answerHeaders and notModified document the conditional, compressed
// answers of lists, searches, stats and the leaderboard.
var (
	answerHeaders = map[string]string{
		"ETag": "Strong tag of this answer (from the store's change sequence and the query; " +
			"each content coding has its own); If-None-Match answers 304 while nothing changed",
		"Cache-Control":    "no-cache: revalidate before each use",
		"Vary":             "Accept-Encoding",
		"Content-Encoding": "br or gzip when Accept-Encoding allows and the answer is over 1 KiB",
	}
	notModified = response{Description: "Not modified: If-None-Match names the current answer"}
)

// routeTable registers routes on the router and remembers them for the
// OpenAPI document and the 405 Allow header.
type routeTable struct {
	h      *handler
	group  *bunrouter.Group
	routes []route
}

// add registers r. It panics on a route without a handler or summary, or a
// duplicate: those are programming errors found by the first test.
func (rt *routeTable) add(r route) {
	if r.Handler == nil || r.Doc.Summary == "" || !strings.HasPrefix(r.Path, "/") {
		panic(fmt.Sprintf("httpapi: route %s %s needs a handler, a summary and an absolute path", r.Method, r.Path))
	}
	for _, o := range rt.routes {
		if o.Method == r.Method && o.Path == r.Path {
			panic(fmt.Sprintf("httpapi: route %s %s added twice", r.Method, r.Path))
		}
	}
	rt.routes = append(rt.routes, r)
	h := rt.h.withAccess(r.Access, r.Handler)
	rt.group.Handle(r.Method, r.Path, h)
	if r.Method == http.MethodGet {
		// HEAD is GET without the body: net/http drops what the handler
		// writes, and http.ServeContent does not read the file.
		rt.group.Handle(http.MethodHead, r.Path, h)
	}
}

// allowed returns the methods registered for a full router path pattern
// (base path included), sorted.
func (rt *routeTable) allowed(pattern string) []string {
	var out []string
	for _, r := range rt.routes {
		if rt.h.opts.BasePath+r.Path == pattern {
			out = append(out, r.Method)
			if r.Method == http.MethodGet {
				out = append(out, http.MethodHead)
			}
		}
	}
	slices.Sort(out)
	return out
}

// allowedForPath returns the methods of the most specific route pattern
// matching a request path (base path included), or nil when no route
// matches it with any method. bunrouter does not report a method mismatch
// for a parameter followed by more segments ("/api/parts/:id/approve"), so
// the not-found handler asks this instead.
func (rt *routeTable) allowedForPath(path string) []string {
	segs := strings.Split(path, "/")
	best := ""
	for _, r := range rt.routes {
		pattern := rt.h.opts.BasePath + r.Path
		if !matchPattern(strings.Split(pattern, "/"), segs) {
			continue
		}
		if best == "" || moreSpecific(pattern, best) {
			best = pattern
		}
	}
	if best == "" {
		return nil
	}
	return rt.allowed(best)
}

// matchPattern matches path segments against pattern segments, where
// ":name" matches one non-empty segment and "*name" the rest.
func matchPattern(pattern, path []string) bool {
	for i, p := range pattern {
		if strings.HasPrefix(p, "*") {
			return true
		}
		if i >= len(path) {
			return false
		}
		if strings.HasPrefix(p, ":") {
			if path[i] == "" {
				return false
			}
			continue
		}
		if p != path[i] {
			return false
		}
	}
	return len(pattern) == len(path)
}

// moreSpecific reports whether pattern a beats b: at the first segment where
// they differ, a static segment beats a parameter.
func moreSpecific(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] == bs[i] {
			continue
		}
		aParam := strings.HasPrefix(as[i], ":") || strings.HasPrefix(as[i], "*")
		bParam := strings.HasPrefix(bs[i], ":") || strings.HasPrefix(bs[i], "*")
		return !aParam && bParam
	}
	return false
}

// registerRoutes adds every route outside the files feature.
func (h *handler) registerRoutes(rt *routeTable) {
	idParam := "/api/parts/:id"
	stages := stageNames(h.svc.Workflow())
	rt.add(route{Method: http.MethodGet, Path: "/health", Access: accessPublic, Handler: h.health, Doc: op{
		Summary:   "Liveness probe",
		Responses: map[int]response{200: {Description: "The server is up", Schema: obj(props{"status": str()})}},
	}})
	rt.add(route{Method: http.MethodGet, Path: "/ready", Access: accessPublic, Handler: h.ready, Doc: op{
		Summary: "Readiness probe: the database is reachable and no storage fault was met in the last 30 s",
		Responses: map[int]response{
			200: {Description: "Ready", Schema: obj(props{"status": str()})},
			503: {Description: "The database is unreachable, or a storage fault (the file store or database full or read-only) was met; details.faults names them while reads are still served", Schema: ref("Error")},
		},
	}})
	rt.add(route{Method: http.MethodGet, Path: "/api/openapi.json", Access: accessPublic, Handler: h.openAPIDoc, Doc: op{
		Summary:   "This OpenAPI document",
		Responses: map[int]response{200: {Description: "OpenAPI 3.0 document", Schema: obj(nil)}},
	}})
	rt.add(route{Method: http.MethodGet, Path: "/api/parts/auth/check", Access: accessRead, Handler: h.authCheck, Doc: op{
		Summary: "Check an API key",
		Description: "Answers 200 for a valid key. The same client (key and address) may check once per " +
			"AuthCheckInterval (2 s by default); earlier checks get 429 with retry_after and Retry-After.",
		Responses: map[int]response{200: {Description: "Authenticated", Schema: ref("AuthCheck")}},
	}})
	listQuery := []param{
		{Name: "search", Description: "Case-insensitive substring over " + listWords(searchedNames()) + " (at most 200 characters)", Schema: str()},
		{Name: "sort_by", Description: "Sort field, snake_case or camelCase; created_at by default", Schema: enum(sortNames()...)},
		{Name: "sort_order", Description: "asc or desc (default desc)", Schema: enum("asc", "desc")},
		{Name: "limit", Description: "Page size 1..10000; absent means all", Schema: integer()},
		{Name: "offset", Description: "Matches to skip (default 0)", Schema: integer()},
	}
	rt.add(route{Method: http.MethodGet, Path: "/api/parts/", Access: accessRead, Handler: h.listParts, Doc: op{
		Summary: "List parts",
		Query: append([]param{{Name: "category", Description: stageList(stages) + "; empty means all",
			Schema: enum(stages...)}}, listQuery...),
		Responses: map[int]response{200: {Description: "One page of parts; total counts all matches", Schema: ref("PartList"), Headers: answerHeaders}, 304: notModified},
	}})
	rt.add(route{Method: http.MethodPost, Path: "/api/parts/", Access: accessWrite, Handler: h.createPart, Doc: op{
		Summary: "Create a part",
		Description: "partId, material and subsystem are required; status defaults to Pending, category to " +
			string(h.svc.Workflow().Initial()) + ", amount to 1 (also when amount is null or \"\"). snake_case spellings (part_id, " +
			"onshape_url, misc_info, claimed_date) are accepted; camelCase wins when both are sent. claimedDate " +
			"(RFC 3339, with or without a zone; without one it is UTC) is kept when given, else set on " +
			"assignment. A string holding invalid UTF-8 or a lone UTF-16 surrogate escape is 400 naming its " +
			"field. Unknown fields are ignored.",
		Body:      &body{ContentType: "application/json", Schema: ref("PartInput"), Required: true},
		Responses: map[int]response{201: {Description: "Created", Schema: ref("Part"), Headers: map[string]string{"ETag": "The part's entity tag"}}},
	}})
	rt.add(route{Method: http.MethodGet, Path: "/api/parts/stats", Access: accessRead, Handler: h.stats, Doc: op{
		Summary:   "Counts by category, status and assignment",
		Responses: map[int]response{200: {Description: "Counts", Schema: ref("Stats"), Headers: answerHeaders}, 304: notModified},
	}})
	rt.add(route{Method: http.MethodGet, Path: "/api/parts/leaderboard", Access: accessRead, Handler: h.leaderboard, Doc: op{
		Summary:   "Leaderboard over completed parts",
		Responses: map[int]response{200: {Description: "Highest score first", Schema: ref("Leaderboard"), Headers: answerHeaders}, 304: notModified},
	}})
	rt.add(route{Method: http.MethodGet, Path: "/api/parts/categories/:category", Access: accessRead, Handler: h.listCategory, Doc: op{
		Summary:   "List the parts of one category",
		Params:    []param{{Name: "category", Description: stageList(stages), Schema: enum(stages...)}},
		Query:     listQuery,
		Responses: map[int]response{200: {Description: "One page of parts", Schema: ref("PartList"), Headers: answerHeaders}, 304: notModified},
	}})
	etag := map[string]string{"ETag": "The part's entity tag (changes on every write)"}
	rt.add(route{Method: http.MethodGet, Path: idParam, Access: accessRead, Handler: h.getPart, Doc: op{
		Summary:   "Get a part",
		Responses: map[int]response{200: {Description: "The part", Schema: ref("Part"), Headers: etag}},
	}})
	rt.add(route{Method: http.MethodPut, Path: idParam, Access: accessWrite, Handler: h.updatePart, Doc: op{
		Summary: "Edit a part (partial update)", IfMatch: true,
		Description: "Fields present are validated as on create and set; absent fields are kept. An empty " +
			"body or {} is 400 \"No data provided\". An empty status (or amount \"\") keeps the current one; file " +
			"is a name only. claimedDate sets the claim time (RFC 3339, with or without a zone), null clears " +
			"it, anything else is 400. A new assignee of a hand part is appended to miscInfo.handWorkers; " +
			"miscInfo (when present) replaces the object. Honours If-Match.",
		Body:      &body{ContentType: "application/json", Schema: ref("PartInput"), Required: true},
		Responses: map[int]response{200: {Description: "The updated part", Schema: ref("Part"), Headers: etag}},
	}})
	rt.add(route{Method: http.MethodDelete, Path: idParam, Access: accessWrite, Handler: h.deletePart, Doc: op{
		Summary: "Delete a part and its files", IfMatch: true,
		Responses: map[int]response{200: {Description: "Deleted", Schema: ref("Message")}},
	}})
	rt.add(route{Method: http.MethodGet, Path: idParam + "/history", Access: accessRead, Handler: h.history, Doc: op{
		Summary:   "The part's history, oldest first",
		Responses: map[int]response{200: {Description: "Events", Schema: ref("History")}},
	}})
	actionDoc := func(summary, desc string, b schema, extra map[int]response) op {
		o := op{Summary: summary, Description: desc + " Honours If-Match.", IfMatch: true, Responses: map[int]response{
			200: {Description: "The updated part", Schema: ref("Part"), Headers: etag},
			409: {Description: "The workflow does not allow this action from the part's state", Schema: ref("Error")},
		}}
		if b != nil {
			o.Body = &body{ContentType: "application/json", Schema: b}
		}
		for k, v := range extra {
			o.Responses[k] = v
		}
		return o
	}
	misc := schema{"type": "object", "nullable": true, "additionalProperties": true}
	rt.add(route{Method: http.MethodPost, Path: idParam + "/approve", Access: accessWrite, Handler: h.approve, Doc: actionDoc(
		"Approve a part in review",
		"Status Reviewed; category cnc for cnc parts, else hand. reviewer is recorded as miscInfo.reviewer; miscInfo is merged.",
		obj(props{"reviewer": str(), "miscInfo": misc}), nil)})
	assignBody := obj(props{"assigned": str(), "notes": str()}, "assigned")
	claimed := map[int]response{409: {Description: "Someone else holds the part (details.assigned), or the workflow does not allow it", Schema: ref("Error")}}
	for _, m := range []string{http.MethodPost, http.MethodPut} {
		rt.add(route{Method: m, Path: idParam + "/assign", Access: accessWrite, Handler: h.assign, Doc: actionDoc(
			"Claim a part", "Sets assigned, claimedDate=now and status In Progress; notes, when given, replace the notes.", assignBody, claimed)})
		rt.add(route{Method: m, Path: idParam + "/unclaim", Access: accessWrite, Handler: h.unclaim, Doc: actionDoc(
			"Unclaim a part", "Clears assigned and claimedDate; In Progress becomes Already Started, anything else Pending.", nil, nil)})
	}
	rt.add(route{Method: http.MethodPost, Path: idParam + "/complete", Access: accessWrite, Handler: h.complete, Doc: actionDoc(
		"Complete a part", "Status Completed, category completed; miscInfo is merged.", obj(props{"miscInfo": misc}), nil)})
	rt.add(route{Method: http.MethodPost, Path: idParam + "/revert", Access: accessWrite, Handler: h.revert, Doc: actionDoc(
		"Revert a completed part",
		"Back to cnc or hand by type, status In Progress. A part that is not completed gives 400 (as the original API did).",
		nil, map[int]response{400: {Description: "The part is not completed", Schema: ref("Error")}})})
	rt.add(route{Method: http.MethodPut, Path: idParam + "/status", Access: accessWrite, Handler: h.setStatus, Doc: actionDoc(
		"Set the status through the workflow rules",
		"Reviewed approves, Completed completes, Pending/In Progress/Already Started keep the category.",
		obj(props{"status": enum(names(parts.Statuses)...), "notes": str()}, "status"), nil)})
}
