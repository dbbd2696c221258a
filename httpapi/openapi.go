package httpapi

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/partflow/partflow/parts"
)

// The OpenAPI document is generated from the route table: every route added
// with rt.add appears in it with its Doc. Shared schemas live in components
// below; route authors may use them with ref("Name") or write schemas inline
// with the helpers.

// props are the properties of an object schema.
type props = map[string]schema

// obj is an object schema with the given properties and required names.
func obj(p props, required ...string) schema {
	s := schema{"type": "object"}
	if p != nil {
		s["properties"] = p
	}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func str() schema             { return schema{"type": "string"} }
func integer() schema         { return schema{"type": "integer", "format": "int64"} }
func number() schema          { return schema{"type": "number"} }
func boolean() schema         { return schema{"type": "boolean"} }
func arr(items schema) schema { return schema{"type": "array", "items": items} }
func ref(name string) schema  { return schema{"$ref": "#/components/schemas/" + name} }
func binary() schema          { return schema{"type": "string", "format": "binary"} }

// orNull marks s as accepting null.
func orNull(s schema) schema {
	out := schema{"nullable": true}
	for k, v := range s {
		out[k] = v
	}
	return out
}

func enum(values ...string) schema { return schema{"type": "string", "enum": values} }

// names returns the library's list of values as strings, for enum.
func names[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

// components are the shared schemas of the document.
func components(stages []string) map[string]schema {
	misc := schema{"type": "object", "nullable": true, "additionalProperties": true,
		"description": "String keys; values strings, numbers, lists or objects; nulls are dropped. Known keys: reviewer, handWorkers, views."}
	out := map[string]schema{
		"Error": obj(props{
			"error":       str(),
			"details":     schema{"description": "More about the error (a string or an object)"},
			"field":       schema{"type": "string", "description": "The invalid field or parameter (400)"},
			"request_id":  schema{"type": "string", "description": "Quote it when reporting a 500"},
			"retry_after": schema{"type": "integer", "description": "Seconds to wait (429)"},
		}, "error"),
		"Message": obj(props{"message": str()}, "message"),
		"File": obj(props{"name": str(), "kind": enum(names(parts.FileKinds)...), "size": integer(),
			"sha256": str(), "contentType": str(), "uploadedAt": schema{"type": "string", "format": "date-time"}}),
		"Model":     obj(props{"state": enum(names(parts.ModelStates)...), "error": str()}, "state"),
		"Part":      partSchema(stages, misc),
		"PartInput": partInputSchema(stages, misc),
		"PartList": obj(props{
			"parts":  arr(ref("Part")),
			"total":  schema{"type": "integer", "description": "All matches before paging"},
			"limit":  schema{"type": "integer", "nullable": true},
			"offset": integer(),
		}, "parts", "total", "limit", "offset"),
		"Stats": obj(props{
			"by_category": obj(props{"review": integer(), "cnc": integer(), "hand": integer(), "completed": integer()}),
			"by_status": obj(props{"pending": integer(), "reviewed": integer(), "in_progress": integer(),
				"already_started": integer(), "completed": integer()}),
			"assignment": obj(props{"assigned": integer(), "unassigned": integer()}),
			"total":      integer(),
		}),
		"Leaderboard": obj(props{"leaderboard": arr(obj(props{"name": str(), "score": number()}))}),
		"History": obj(props{"id": integer(), "events": arr(obj(props{
			"id": integer(), "action": str(), "actor": str(), "at": schema{"type": "string", "format": "date-time"},
			"changes": arr(obj(props{"field": str(), "before": schema{}, "after": schema{}})),
		}))}),
		"AuthCheck": obj(props{"status": str(), "message": str(), "timestamp": schema{"type": "string", "format": "date-time"}}),
	}
	for k, v := range eventSchemas() {
		out[k] = v
	}
	for k, v := range webhookSchemas() {
		out[k] = v
	}
	return out
}

const apiDescription = `Partflow's REST API, a drop-in backend for the parts-workflow web client.

Authentication: an API key in the X-API-Key header, else the api_key query parameter (only when the server enables it), else "api_key" in the JSON body of a POST or PUT. A missing key is 401 "API key required", a wrong one 401 "Invalid API key"; read-only keys get 403 on writes. More than the configured number of wrong keys per minute from one client address makes that address's authenticated requests answer 429 with Retry-After until the minute ends.

Errors are JSON: {"error", "details"?, "field"?, "request_id"?}. Unknown /api routes answer 404 JSON, wrong methods 405 JSON with Allow. Every GET operation also answers HEAD: the same status and headers (Content-Length, ETag, Content-Type) without a body. Bad ids (not a positive integer that fits 64 bits) are 404. JSON bodies are capped (1 MiB by default; 413 above).

Concurrency: GET of a part sets ETag; PUT, DELETE and the workflow actions honour If-Match ("*" or a list of ETags) and answer 412 with the current ETag when it is stale. Responses to writes carry the new ETag.`

// openAPI renders the OpenAPI 3.0 document of the route table.
// workflowDescription says which workflow table the actions follow.
func workflowDescription(w *parts.Workflow) string {
	switch w {
	case parts.StrictWorkflow():
		return "\n\nWorkflow: strict. Approve only in review; claim, unclaim, start and complete only in cnc or hand; " +
			"revert only from completed; PUT .../status follows the same rules. Anything else is 409."
	case parts.OriginalWorkflow():
		return "\n\nWorkflow: " + w.Name() + ". As the original API: approve, claim, unclaim, complete and PUT .../status " +
			"work from any category; only revert needs a completed part (else 400)."
	}
	spec := w.Spec()
	var b strings.Builder
	fmt.Fprintf(&b, "\n\nWorkflow: %s (custom). Categories: %s; new parts start in %s; the leaderboard scores %s. Actions:",
		spec.Name, stageList(stageNames(w)), spec.Initial, spec.Done)
	for _, r := range spec.Rules {
		b.WriteString("\n- " + describeRule(r))
	}
	b.WriteString("\nAnything else is 409.")
	return b.String()
}

// describeRule writes a rule as a sentence, e.g. "complete from cnc, hand:
// category inspection, status Pending".
func describeRule(r parts.Rule) string {
	name := string(r.Action)
	if r.Action == parts.ActionSetStatus {
		name = "set status " + string(r.Target)
	}
	from := make([]string, len(r.From))
	for i, c := range r.From {
		from[i] = string(c)
	}
	to := "category unchanged"
	switch r.To {
	case "":
	case parts.StageByType:
		to = "category cnc for cnc parts, else hand"
	default:
		to = "category " + string(r.To)
	}
	status := "the action's usual status"
	if r.Status != "" {
		status = "status " + string(r.Status)
	}
	return fmt.Sprintf("%s from %s: %s, %s", name, strings.Join(from, ", "), to, status)
}

// stageNames lists a workflow's stages as strings.
func stageNames(w *parts.Workflow) []string {
	var out []string
	for _, c := range w.Stages() {
		out = append(out, string(c))
	}
	return out
}

// stageList writes "review, cnc, hand or completed".
func stageList(stages []string) string {
	if len(stages) < 2 {
		return strings.Join(stages, "")
	}
	return strings.Join(stages[:len(stages)-1], ", ") + " or " + stages[len(stages)-1]
}

// listWords joins words as "a, b and c".
func listWords(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// searchedNames are the JSON names of the fields a search matches.
func searchedNames() []string {
	var out []string
	for _, f := range parts.Fields() {
		if f.Search {
			out = append(out, f.Name)
		}
	}
	return out
}

// sortNames are the sort fields as the list query accepts them: each in
// snake_case, then each in camelCase where that differs.
func sortNames() []string {
	out := names(parts.SortFields)
	for _, f := range parts.SortFields {
		if c := camelCase(string(f)); c != string(f) {
			out = append(out, c)
		}
	}
	return out
}

// camelCase turns snake_case into camelCase ("part_id" -> "partId"), the
// inverse of what parts.ParseSortField accepts.
func camelCase(s string) string {
	var b strings.Builder
	up := false
	for _, r := range s {
		switch {
		case r == '_':
			up = true
		case up:
			b.WriteRune(unicode.ToUpper(r))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (rt *routeTable) openAPI() ([]byte, error) {
	paths := map[string]map[string]any{}
	for _, r := range rt.routes {
		p, params := openAPIPath(r.Path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(r.Method)] = operation(r, params)
	}
	server := rt.h.opts.BasePath
	if server == "" {
		server = "/"
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "Partflow API",
			"version":     "1.0.0",
			"description": apiDescription + workflowDescription(rt.h.svc.Workflow()),
		},
		"servers": []any{map[string]any{"url": server}},
		"paths":   paths,
		"components": map[string]any{
			"schemas": components(stageNames(rt.h.svc.Workflow())),
			"securitySchemes": map[string]any{
				"ApiKeyHeader": map[string]any{"type": "apiKey", "in": "header", "name": "X-API-Key"},
				"ApiKeyQuery": map[string]any{"type": "apiKey", "in": "query", "name": "api_key",
					"description": "Only when the server allows keys in URLs"},
			},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("httpapi: encode OpenAPI document: %w", err)
	}
	return b, nil
}

// openAPIPath turns "/api/parts/:id/views/:i" into "/api/parts/{id}/views/{i}"
// and returns the parameter names.
func openAPIPath(p string) (string, []string) {
	segs := strings.Split(p, "/")
	var names []string
	for i, s := range segs {
		if len(s) > 1 && (s[0] == ':' || s[0] == '*') {
			names = append(names, s[1:])
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/"), names
}

func operationID(r route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(r.Method))
	for _, s := range strings.Split(r.Path, "/") {
		s = strings.TrimLeft(s, ":*")
		if s == "" {
			continue
		}
		b.WriteByte('_')
		b.WriteString(strings.ReplaceAll(s, ".", "_"))
	}
	return b.String()
}

func jsonContent(s schema) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": s}}
}

func operation(r route, pathParams []string) map[string]any {
	o := map[string]any{
		"operationId": operationID(r),
		"summary":     r.Doc.Summary,
	}
	if r.Doc.Description != "" {
		o["description"] = r.Doc.Description
	}
	if params := parameters(r, pathParams); len(params) > 0 {
		o["parameters"] = params
	}
	if b := r.Doc.Body; b != nil {
		o["requestBody"] = map[string]any{"required": b.Required,
			"content": map[string]any{b.ContentType: map[string]any{"schema": b.Schema}}}
	}
	if r.Access != accessPublic {
		o["security"] = []any{map[string]any{"ApiKeyHeader": []any{}}, map[string]any{"ApiKeyQuery": []any{}}}
	}
	o["responses"] = responses(r, pathParams)
	tag := "parts"
	if !strings.HasPrefix(r.Path, "/api/parts") {
		tag = "service"
	}
	o["tags"] = []string{tag}
	return o
}

// parameters documents a route's path and query parameters.
func parameters(r route, pathParams []string) []any {
	var params []any
	for _, n := range pathParams {
		s := str()
		desc := n
		if n == "id" {
			s, desc = schema{"type": "integer", "format": "int64", "minimum": 1}, "The part's numeric id (anything else is 404)"
		}
		for _, p := range r.Doc.Params {
			if p.Name == n {
				s, desc = p.Schema, p.Description
			}
		}
		params = append(params, map[string]any{"name": n, "in": "path", "required": true, "schema": s, "description": desc})
	}
	for _, q := range r.Doc.Query {
		params = append(params, map[string]any{"name": q.Name, "in": "query", "required": q.Required,
			"schema": q.Schema, "description": q.Description})
	}
	return params
}

// responses documents a route's own answers and the errors its access,
// body, parameters and If-Match can give.
func responses(r route, pathParams []string) map[string]any {
	resps := map[string]any{}
	for code, rs := range r.Doc.Responses {
		m := map[string]any{"description": rs.Description}
		if rs.Schema != nil {
			ct := cmp.Or(rs.ContentType, "application/json")
			m["content"] = map[string]any{ct: map[string]any{"schema": rs.Schema}}
		}
		if len(rs.Headers) > 0 {
			hs := map[string]any{}
			for name, desc := range rs.Headers {
				hs[name] = map[string]any{"description": desc, "schema": str()}
			}
			m["headers"] = hs
		}
		resps[strconv.Itoa(code)] = m
	}
	errResp := func(when bool, code int, desc string) {
		if _, ok := resps[strconv.Itoa(code)]; when && !ok {
			resps[strconv.Itoa(code)] = map[string]any{"description": desc, "content": jsonContent(ref("Error"))}
		}
	}
	jsonBody := r.Doc.Body != nil && r.Doc.Body.ContentType == "application/json"
	errResp(r.Doc.Body != nil || len(r.Doc.Query) > 0, http.StatusBadRequest, "Invalid input (field names it)")
	errResp(jsonBody, http.StatusRequestEntityTooLarge, "Body larger than the limit")
	errResp(jsonBody, http.StatusUnsupportedMediaType, "Body is not JSON")
	errResp(r.Access != accessPublic, http.StatusUnauthorized, "API key required, or invalid")
	errResp(r.Access != accessPublic, http.StatusTooManyRequests, "Too many failed keys from this address (Retry-After)")
	errResp(r.Access == accessWrite, http.StatusForbidden, "The key is read-only, or the policy refuses (the rule is named)")
	errResp(r.Access == accessAdmin, http.StatusForbidden, "The key is not an admin key")
	errResp(slices.Contains(pathParams, "id"), http.StatusNotFound, "No such part")
	errResp(r.Doc.IfMatch, http.StatusPreconditionFailed, "If-Match did not match the current ETag (sent back in ETag)")
	resps["default"] = map[string]any{"description": "Unexpected error (500 carries request_id only)", "content": jsonContent(ref("Error"))}
	return resps
}

// sortedRoutes returns "METHOD path" for every route, sorted (for tests and logs).
func (rt *routeTable) sortedRoutes() []string {
	out := make([]string, 0, len(rt.routes))
	for _, r := range rt.routes {
		out = append(out, r.Method+" "+r.Path)
	}
	sort.Strings(out)
	return out
}

// partSchema is the schema of a part as the server writes it, its plain
// fields derived from parts.Fields. Every member is always present.
func partSchema(stages []string, misc schema) schema {
	p := props{"id": integer()}
	required := []string{"id"}
	for _, f := range parts.Fields() {
		var s schema
		switch {
		case f.Kind == parts.FieldInt:
			s = schema{"type": "integer", "minimum": f.Min, "maximum": f.Max}
		case f.Enum != nil:
			s = enum(f.Enum...)
		default:
			s = str()
		}
		if f.Kind == parts.FieldNullText {
			s = orNull(s)
		}
		p[f.Name] = s
		required = append(required, f.Name)
	}
	p["category"] = enum(stages...)
	p["miscInfo"] = misc
	p["claimedDate"] = schema{"type": "string", "format": "date-time", "nullable": true}
	p["createdAt"] = schema{"type": "string", "format": "date-time", "description": "RFC 3339, UTC, microseconds"}
	p["updatedAt"] = schema{"type": "string", "format": "date-time"}
	p["version"] = schema{"type": "integer", "description": "Bumped by every change; the ETag is \"v<version>\""}
	p["files"] = arr(ref("File"))
	p["model"] = ref("Model")
	return obj(p, append(required, "miscInfo", "claimedDate", "createdAt", "updatedAt", "version", "files", "model")...)
}

// partInputSchema is the schema of a create or edit body: the plain fields
// of parts.Fields under their camelCase and snake_case names.
func partInputSchema(stages []string, misc schema) schema {
	p := props{}
	for _, f := range parts.Fields() {
		s := str()
		if f.Kind == parts.FieldNullText {
			s = orNull(s)
			if f.Enum != nil {
				s = orNull(enum(append(slices.Clone(f.Enum), "")...))
			}
		}
		p[f.Name], p[f.Column] = s, s
	}
	p["category"] = enum(stages...)
	p["amount"] = schema{"description": fmt.Sprintf("A whole number 1..%d, as a JSON integer or a string such as \"3\"", parts.MaxAmount),
		"oneOf": []schema{{"type": "integer", "minimum": 1, "maximum": parts.MaxAmount}, {"type": "string", "pattern": "^[0-9]+$"}}}
	p["file"] = schema{"type": "string", "nullable": true, "description": "A file name only, never a path"}
	p["miscInfo"], p["misc_info"] = misc, misc
	p["claimedDate"] = schema{"type": "string", "nullable": true, "description": "RFC 3339 date-time, with or without a zone (UTC without); null clears it. Set by the server on assignment"}
	p["claimed_date"] = p["claimedDate"]
	p["api_key"] = str()
	return schema{
		"type":        "object",
		"description": "camelCase or snake_case (part_id, onshape_url, misc_info, claimed_date); unknown fields are ignored; api_key may be sent here too.",
		"properties":  p,
	}
}
