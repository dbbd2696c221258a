package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bunrouter"

	"github.com/partflow/partflow/parts"
)

// partID parses the ":id" path parameter: a positive decimal integer that
// fits in int64. Anything else is not a part: ErrNotFound (404).
func (h *handler) partID(req bunrouter.Request) (int64, error) {
	s := req.Param("id")
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, parts.ErrNotFound
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, parts.ErrNotFound
	}
	return id, nil
}

// actor names the caller for the history: the API key's name.
func (h *handler) actor(req bunrouter.Request) string { return stateFrom(req.Context()).keyName }

// ifMatch turns the If-Match header into the version a write must find: 0
// without the header or for "*"; the current version when one of the listed
// ETags is current; otherwise a *parts.StaleError (412 with the current ETag).
func (h *handler) ifMatch(ctx context.Context, req bunrouter.Request, id int64) (int64, error) {
	header := strings.TrimSpace(strings.Join(req.Header.Values("If-Match"), ","))
	if header == "" {
		return 0, nil
	}
	var tags []string
	for t := range strings.SplitSeq(header, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	for _, t := range tags {
		if t == "*" {
			return 0, nil
		}
	}
	cur, err := h.svc.FindPartByID(ctx, id)
	if err != nil {
		return 0, err
	}
	for _, t := range tags {
		if t == cur.ETag() { // strong comparison: W/ tags never match
			return cur.Version, nil
		}
	}
	return 0, &parts.StaleError{Actual: cur.Version}
}

// writePart writes p with its ETag.
func (h *handler) writePart(w http.ResponseWriter, status int, p *parts.Part) {
	w.Header().Set("ETag", p.ETag())
	b, err := appendPart(make([]byte, 0, 1024), p)
	if err != nil {
		writeJSON(w, status, toPartJSON(p)) // answers the encoding error
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func (h *handler) listParts(w http.ResponseWriter, req bunrouter.Request) error {
	return h.list(w, req, "")
}

func (h *handler) listCategory(w http.ResponseWriter, req bunrouter.Request) error {
	c := req.Param("category")
	if c == "" || !h.svc.Workflow().HasStage(parts.Category(strings.ToLower(c))) {
		return &parts.ValidationError{Field: "category",
			Reason: "Unknown category (want " + stageList(stageNames(h.svc.Workflow())) + ")"}
	}
	return h.list(w, req, c)
}

// bigList is the page size from which a list request counts as big: big
// lists (the client loads whole categories) take a slot of handler.bigLists,
// so that many at once queue instead of holding every result in memory.
const bigList = 500

func (h *handler) list(w http.ResponseWriter, req bunrouter.Request, category string) error {
	q, err := parseListQuery(h.svc.Workflow(), req.URL.RawQuery, category)
	if err != nil {
		return err
	}
	return h.serveCached(w, req.Request, q.key(), func(ctx context.Context) (built, error) {
		return h.buildList(ctx, q)
	})
}

// buildList encodes the list answer {"parts":[...],"total":N,"limit":L,
// "offset":O}, assembled from the kept encodings of the parts. Big lists
// (the client loads whole categories) take a slot of handler.bigLists, so
// that many at once queue instead of holding every result in memory.
func (h *handler) buildList(ctx context.Context, q listQuery) (built, error) {
	if q.Filter.Limit == 0 || q.Filter.Limit >= bigList {
		select {
		case h.bigLists <- struct{}{}:
			defer func() { <-h.bigLists }()
		case <-ctx.Done():
			return built{}, ctx.Err()
		}
	}
	if b, ok, err := h.assembleList(ctx, q); ok || err != nil {
		return b, err
	}
	ps, total, err := h.svc.FindParts(ctx, q.Filter)
	if err != nil {
		return built{}, err
	}
	l := newListing(q.Filter, len(ps))
	body := make([]byte, 0, 64+len(ps)*h.parts.sizeHint())
	body = append(body, `{"parts":[`...)
	for i, p := range ps {
		if i > 0 {
			body = append(body, ',')
		}
		start := len(body)
		if body, err = h.parts.appendPart(body, p); err != nil {
			return built{}, fmt.Errorf("encode part %d: %w", p.ID, err)
		}
		l.add(p.ID, start, len(body))
		ps[i] = nil // let the part go once it is encoded
	}
	var limit *int
	if q.LimitSet {
		limit = &q.Filter.Limit
	}
	return built{body: fit(appendListEnd(body, total, limit, q.Filter.Offset)), list: l}, nil
}

// assembleChunk is how many parts assembleList reads at once where many
// in a row are not kept; reading them one by one pays a query each, reading
// the whole list holds every part in memory at once.
const assembleChunk = 512

// assembleList builds a list answer from the kept encodings of the parts'
// versions the store lists, reading only the parts not kept (one by one
// where few are missing, a page at a time where many are). It reports false
// (and the list is then read whole) when the store cannot list versions,
// the filter has a search, or a part changed while the list was assembled.
func (h *handler) assembleList(ctx context.Context, q listQuery) (built, bool, error) {
	vs, total, ok, err := h.svc.FindVersions(ctx, q.Filter)
	if err != nil || !ok {
		return built{}, false, err
	}
	l := newListing(q.Filter, len(vs))
	body := make([]byte, 0, 64+len(vs)*h.parts.sizeHint())
	body = append(body, `{"parts":[`...)
	for i := 0; i < len(vs); {
		if b := h.parts.lookup(vs[i].ID, vs[i].Version); b != nil {
			if i > 0 {
				body = append(body, ',')
			}
			l.add(vs[i].ID, len(body), len(body)+len(b))
			body = append(body, b...)
			i++
			continue
		}
		ps, err := h.readMissing(ctx, q.Filter, vs, i)
		if len(ps) == 0 || err != nil {
			return built{}, false, err
		}
		for _, p := range ps {
			if i >= len(vs) || p.ID != vs[i].ID || p.Version != vs[i].Version {
				return built{}, false, nil // changed meanwhile
			}
			if i > 0 {
				body = append(body, ',')
			}
			start := len(body)
			if body, err = h.parts.appendPart(body, p); err != nil {
				return built{}, false, fmt.Errorf("encode part %d: %w", p.ID, err)
			}
			l.add(p.ID, start, len(body))
			i++
		}
	}
	var limit *int
	if q.LimitSet {
		limit = &q.Filter.Limit
	}
	return built{body: fit(appendListEnd(body, total, limit, q.Filter.Offset)), list: l}, true, nil
}

// readMissing reads the parts from vs[i] on that the part cache lacks: the
// one part when few in the next chunk are missing, else the chunk. No parts
// mean the list changed meanwhile.
func (h *handler) readMissing(ctx context.Context, f parts.Filter, vs []parts.PartVersion, i int) ([]*parts.Part, error) {
	if h.missing(vs[i:min(i+assembleChunk, len(vs))]) <= 8 {
		p, err := h.svc.FindPartByID(ctx, vs[i].ID)
		if errors.Is(err, parts.ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		return []*parts.Part{p}, nil
	}
	page := f
	page.Offset, page.Limit = f.Offset+i, min(assembleChunk, len(vs)-i)
	ps, _, err := h.svc.FindParts(ctx, page)
	return ps, err
}

// missing counts the versions in vs the part cache does not hold.
func (h *handler) missing(vs []parts.PartVersion) int {
	n := 0
	for _, v := range vs {
		if h.parts.lookup(v.ID, v.Version) == nil {
			n++
		}
	}
	return n
}

// appendListEnd appends the end of a list answer, after the parts.
func appendListEnd(dst []byte, total int, limit *int, offset int) []byte {
	dst = append(dst, `],"total":`...)
	dst = strconv.AppendInt(dst, int64(total), 10)
	dst = append(dst, `,"limit":`...)
	if limit != nil {
		dst = strconv.AppendInt(dst, int64(*limit), 10)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, int64(offset), 10)
	return append(dst, "}\n"...)
}

func (h *handler) getPart(w http.ResponseWriter, req bunrouter.Request) error {
	id, err := h.partID(req)
	if err != nil {
		return err
	}
	p, err := h.svc.FindPartByID(req.Context(), id)
	if err != nil {
		return err
	}
	h.writePart(w, http.StatusOK, p)
	return nil
}

func (h *handler) createPart(w http.ResponseWriter, req bunrouter.Request) error {
	b, err := h.readJSON(req.Request)
	if err != nil {
		return err
	}
	in, err := decodePart(b)
	if err != nil {
		return err
	}
	p, err := h.svc.CreatePart(req.Context(), in.part(), h.actor(req))
	if err != nil {
		return err
	}
	h.writePart(w, http.StatusCreated, p)
	return nil
}

func (h *handler) updatePart(w http.ResponseWriter, req bunrouter.Request) error {
	id, err := h.partID(req)
	if err != nil {
		return err
	}
	b, err := h.readJSON(req.Request)
	if err != nil {
		return err
	}
	if o, err := decodeObject(b); err == nil && len(o) == 0 {
		// As the original: an edit must carry something.
		return &parts.ValidationError{Field: "body", Reason: "No data provided"}
	}
	in, err := decodePart(b)
	if err != nil {
		return err
	}
	u := in.update()
	if u.IfVersion, err = h.ifMatch(req.Context(), req, id); err != nil {
		return err
	}
	u.Actor = h.actor(req)
	p, err := h.svc.UpdatePart(req.Context(), id, u)
	if err != nil {
		return err
	}
	h.writePart(w, http.StatusOK, p)
	return nil
}

func (h *handler) deletePart(w http.ResponseWriter, req bunrouter.Request) error {
	id, err := h.partID(req)
	if err != nil {
		return err
	}
	ver, err := h.ifMatch(req.Context(), req, id)
	if err != nil {
		return err
	}
	if err := h.svc.DeletePart(req.Context(), id, ver, h.actor(req)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "Part deleted successfully"})
	return nil
}

// act runs a workflow action: it parses the id and the body (a JSON object,
// possibly empty), lets fill read the action's fields, applies If-Match and
// writes the resulting part.
func (h *handler) act(w http.ResponseWriter, req bunrouter.Request, a parts.Action, fill func(o object, in *parts.ActionInput) error) error {
	id, err := h.partID(req)
	if err != nil {
		return err
	}
	b, err := h.readJSON(req.Request)
	if err != nil {
		return err
	}
	o, err := decodeObject(b)
	if err != nil {
		return err
	}
	principal, ctx := stateFrom(req.Context()).principal, req.Context()
	in := parts.ActionInput{Actor: h.actor(req), Authorize: func(cur *parts.Part) error {
		return h.opts.Policy.Authorize(ctx, principal, Operation(a), cur)
	}}
	if fill != nil {
		if err := fill(o, &in); err != nil {
			return err
		}
	}
	if in.IfVersion, err = h.ifMatch(req.Context(), req, id); err != nil {
		return err
	}
	p, err := h.svc.Act(req.Context(), id, a, in)
	if err != nil {
		return err
	}
	h.writePart(w, http.StatusOK, p)
	return nil
}

func (h *handler) approve(w http.ResponseWriter, req bunrouter.Request) error {
	return h.act(w, req, parts.ActionApprove, func(o object, in *parts.ActionInput) error {
		r, _, err := o.str("reviewer")
		if err != nil {
			return err
		}
		in.Reviewer = r
		in.MiscInfo, _, err = o.miscInfo("miscInfo", "misc_info")
		return err
	})
}

func (h *handler) assign(w http.ResponseWriter, req bunrouter.Request) error {
	return h.act(w, req, parts.ActionAssign, func(o object, in *parts.ActionInput) error {
		var err error
		if in.Assignee, _, err = o.str("assigned"); err != nil { // required: the Service checks it
			return err
		}
		in.Notes, err = optionalNotes(o)
		return err
	})
}

func (h *handler) unclaim(w http.ResponseWriter, req bunrouter.Request) error {
	return h.act(w, req, parts.ActionUnclaim, nil)
}

func (h *handler) complete(w http.ResponseWriter, req bunrouter.Request) error {
	return h.act(w, req, parts.ActionComplete, func(o object, in *parts.ActionInput) error {
		var err error
		in.MiscInfo, _, err = o.miscInfo("miscInfo", "misc_info")
		return err
	})
}

// revert's refusal of a part that is not completed is a 400 (the error
// table).
func (h *handler) revert(w http.ResponseWriter, req bunrouter.Request) error {
	return h.act(w, req, parts.ActionRevert, nil)
}

func (h *handler) setStatus(w http.ResponseWriter, req bunrouter.Request) error {
	return h.act(w, req, parts.ActionSetStatus, func(o object, in *parts.ActionInput) error {
		s, ok, err := o.str("status")
		if err != nil {
			return err
		}
		if !ok || strings.TrimSpace(s) == "" {
			return &parts.ValidationError{Field: "status", Reason: "status is required"}
		}
		in.Status = parts.Status(strings.TrimSpace(s))
		in.Notes, err = optionalNotes(o)
		return err
	})
}

// optionalNotes reads the optional notes of an action body: nil when absent
// (the notes stay as they are).
func optionalNotes(o object) (*string, error) {
	notes, ok, err := o.str("notes")
	if !ok || err != nil {
		return nil, err
	}
	return &notes, nil
}

type statsJSON struct {
	ByCategory map[string]int `json:"by_category"`
	ByStatus   map[string]int `json:"by_status"`
	Assignment map[string]int `json:"assignment"`
	Total      int            `json:"total"`
}

// statusKeys are the by_status names of the statuses.
var statusKeys = map[parts.Status]string{
	parts.StatusPending:        "pending",
	parts.StatusReviewed:       "reviewed",
	parts.StatusInProgress:     "in_progress",
	parts.StatusAlreadyStarted: "already_started",
	parts.StatusCompleted:      "completed",
}

func (h *handler) stats(w http.ResponseWriter, req bunrouter.Request) error {
	return h.serveCached(w, req.Request, "stats", func(ctx context.Context) (built, error) {
		b, err := encodeJSON(h.statsAnswer(ctx))
		return built{body: b}, err
	})
}

func (h *handler) statsAnswer(ctx context.Context) (any, error) {
	st, err := h.svc.Stats(ctx)
	if err != nil {
		return nil, err
	}
	out := statsJSON{ByCategory: map[string]int{}, ByStatus: map[string]int{}, Total: st.Total,
		Assignment: map[string]int{"assigned": st.Assigned, "unassigned": st.Unassigned}}
	for c, n := range st.ByCategory {
		out.ByCategory[string(c)] = n
	}
	for s, key := range statusKeys {
		out.ByStatus[key] = st.ByStatus[s]
	}
	return out, nil
}

type scoreJSON struct {
	Name  string  `json:"name"`
	Score float64 `json:"score"`
}

func (h *handler) leaderboard(w http.ResponseWriter, req bunrouter.Request) error {
	return h.serveCached(w, req.Request, "leaderboard", func(ctx context.Context) (built, error) {
		b, err := encodeJSON(h.leaderboardAnswer(ctx))
		return built{body: b}, err
	})
}

func (h *handler) leaderboardAnswer(ctx context.Context) (any, error) {
	scores, err := h.svc.Leaderboard(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]scoreJSON, 0, len(scores))
	for _, s := range scores {
		out = append(out, scoreJSON{Name: s.Name, Score: s.Score})
	}
	return map[string]any{"leaderboard": out}, nil
}

type eventJSON struct {
	ID      int64        `json:"id"`
	Action  string       `json:"action"`
	Actor   string       `json:"actor"`
	At      string       `json:"at"`
	Changes []changeJSON `json:"changes"`
}

type changeJSON struct {
	Field  string `json:"field"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

func (h *handler) history(w http.ResponseWriter, req bunrouter.Request) error {
	id, err := h.partID(req)
	if err != nil {
		return err
	}
	evs, err := h.svc.History(req.Context(), id)
	if err != nil {
		return err
	}
	out := make([]eventJSON, 0, len(evs))
	for _, e := range evs {
		ej := eventJSON{ID: e.ID, Action: e.Action, Actor: e.Actor, At: formatTime(e.At), Changes: make([]changeJSON, 0, len(e.Changes))}
		for _, c := range e.Changes {
			ej.Changes = append(ej.Changes, changeJSON{Field: c.Field, Before: c.Before, After: c.After})
		}
		out = append(out, ej)
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "events": out})
	return nil
}

func (h *handler) health(w http.ResponseWriter, req bunrouter.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
	return nil
}

// pinger is the optional capability of a store that can check its
// connection cheaply.
type pinger interface {
	Ping(ctx context.Context) error
}

// readyTimeout bounds the readiness check.
const readyTimeout = 3 * time.Second

func (h *handler) ready(w http.ResponseWriter, req bunrouter.Request) error {
	ctx, cancel := context.WithTimeout(req.Context(), readyTimeout)
	defer cancel()
	var err error
	if p, ok := h.svc.Store().(pinger); ok {
		err = p.Ping(ctx)
	} else {
		_, err = h.svc.Stats(ctx)
	}
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			h.log.WarnContext(req.Context(), "not ready", "request_id", requestIDFrom(req.Context()), "error", err.Error())
		}
		return httpError(http.StatusServiceUnavailable, "database unreachable")
	}
	if p, ok := h.svc.Files().(pinger); ok {
		if err := p.Ping(ctx); err != nil {
			if !errors.Is(err, context.Canceled) {
				h.log.WarnContext(req.Context(), "not ready", "request_id", requestIDFrom(req.Context()), "error", err.Error())
			}
			return httpError(http.StatusServiceUnavailable, "file store unreachable")
		}
	}
	if faults := h.faults.current(h.opts.Now()); len(faults) > 0 {
		return &statusError{status: http.StatusServiceUnavailable, message: "Storage fault: " + strings.Join(faults, "; "),
			details: map[string]any{"status": "degraded", "faults": faults, "reads": "served"}}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

func (h *handler) openAPIDoc(w http.ResponseWriter, req bunrouter.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(h.openAPIFor(req.Request))
	return nil
}
