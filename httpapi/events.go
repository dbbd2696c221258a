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

// EventOptions configure the change-feed routes.
type EventOptions struct {
	// Heartbeat is how often an idle event stream gets a comment line, so
	// proxies do not close it; default 15s.
	Heartbeat time.Duration
	// Done, when closed, ends every open event stream cleanly (the server is
	// shutting down): http.Server.Shutdown does not end streaming responses
	// by itself. Pass a channel closed from http.Server.RegisterOnShutdown.
	Done <-chan struct{}
}

// DefaultHeartbeat is the default EventOptions.Heartbeat.
const DefaultHeartbeat = 15 * time.Second

// streamWriteTimeout bounds the writes to a stream client (each gets at
// least half of it); the server's WriteTimeout would otherwise end every
// stream after a few minutes.
const streamWriteTimeout = 30 * time.Second

func (o EventOptions) withDefaults() EventOptions {
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	return o
}

// eventQuery reads the filters and cursor of the event routes.
func eventQuery(req bunrouter.Request) (parts.EventQuery, error) {
	v := req.URL.Query()
	var q parts.EventQuery
	num := func(name string, dst *int64) error {
		s := v.Get(name)
		if s == "" {
			return nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return &parts.ValidationError{Field: name, Reason: name + " must be a non-negative integer"}
		}
		*dst = n
		return nil
	}
	var limit int64
	if err := errors.Join(num("after", &q.After), num("limit", &limit), num("part", &q.PartID)); err != nil {
		return q, err
	}
	if v.Has("limit") && limit == 0 {
		return q, &parts.ValidationError{Field: "limit", Reason: fmt.Sprintf("limit must be between 1 and %d", parts.MaxEventLimit)}
	}
	q.Limit = int(min(limit, parts.MaxEventLimit+1))
	q.Category = parts.Category(v.Get("category"))
	for _, a := range v["action"] {
		for _, s := range strings.Split(a, ",") {
			if s = strings.TrimSpace(s); s != "" {
				q.Actions = append(q.Actions, s)
			}
		}
	}
	return q, nil
}

// eventPage is the JSON of GET /api/events.
type eventPage struct {
	Events []*parts.Event `json:"events"`
	Next   int64          `json:"next"`
	Head   int64          `json:"head"`
}

func (h *handler) listEvents(w http.ResponseWriter, req bunrouter.Request) error {
	q, err := eventQuery(req)
	if err != nil {
		return err
	}
	page, err := h.svc.Events(req.Context(), q)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, eventPage{Events: page.Events, Next: page.Next, Head: page.Head})
	return nil
}

// streamEvents serves the change log as Server-Sent Events: each event's
// id is its sequence number, so a client's Last-Event-ID resumes exactly
// after the last event it received.
func (h *handler) streamEvents(w http.ResponseWriter, req bunrouter.Request) error {
	q, err := eventQuery(req)
	if err != nil {
		return err
	}
	if id := strings.TrimSpace(req.Header.Get("Last-Event-ID")); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n < 0 {
			return &parts.ValidationError{Field: "Last-Event-ID", Reason: "Last-Event-ID must be an event sequence number"}
		}
		q.After = n
	} else if !req.URL.Query().Has("after") {
		q.After = parts.FromHead // a new client wants what happens from now on
	}
	// Check the cursor and filters before the stream starts, so that errors
	// are ordinary JSON answers (400, 410).
	page, err := h.svc.Events(req.Context(), parts.EventQuery{After: q.After, Limit: 1, PartID: q.PartID,
		Category: q.Category, Actions: q.Actions})
	if err != nil {
		return err
	}
	if q.After < 0 {
		q.After = page.Next // the head: events committed from now on
	}
	q.Limit = parts.MaxEventLimit
	if req.Method == http.MethodHead {
		streamHeaders(w.Header(), acceptsGzip(req.Request))
		return nil
	}
	run, err := h.hub.join()
	if err != nil {
		return err
	}
	defer h.hub.leave(run)
	s := startStream(w, req.Request)
	s.write("retry: 2000\n: connected\n\n")
	h.pumpEvents(req.Context(), s, q, run)
	s.end()
	return nil
}

// pumpEvents writes events and heartbeats until the client goes, the
// server shuts down, or the hub's subscription ends (the client then
// reconnects with Last-Event-ID). Each wake writes every matching event
// the hub published since the last one, in one write.
func (h *handler) pumpEvents(ctx context.Context, s *sseWriter, q parts.EventQuery, run *hubRun) {
	beat := time.NewTicker(h.opts.Events.Heartbeat)
	defer beat.Stop()
	cursor := q.After
	var shared []streamChunk
	for s.err == nil {
		var wait <-chan struct{}
		var fromHub, done bool
		shared, cursor, wait, fromHub, done = run.since(&q, cursor, shared[:0])
		if !fromHub {
			if !h.catchUp(ctx, s, &q, &cursor) {
				return
			}
			continue
		}
		s.send(shared)
		clear(shared) // keep no published batch alive
		if done {
			return
		}
		select {
		case <-wait:
		case <-beat.C:
			s.write(": heartbeat\n\n")
		case <-h.opts.Events.Done:
			s.write("event: shutdown\ndata: {}\n\n")
			return
		case <-ctx.Done():
			return
		}
	}
}

// catchUp writes a page of events after the cursor read from the store,
// for a client behind the hub's ring, and moves the cursor. It reports
// whether the stream goes on: an expired cursor ends it with an error
// event, a failed read ends it (the client resumes with Last-Event-ID).
func (h *handler) catchUp(ctx context.Context, s *sseWriter, q *parts.EventQuery, cursor *int64) bool {
	q.After = *cursor
	page, err := h.svc.Events(ctx, *q)
	if err != nil {
		if errors.Is(err, parts.ErrCursorExpired) {
			s.write("event: error\ndata: {\"error\":\"cursor expired: resync from the current state\"}\n\n")
		} else if ctx.Err() == nil {
			h.log.Warn("event stream: read failed; ending the stream", "after", *cursor, "err", err)
		}
		return false
	}
	for _, e := range page.Events {
		h.writeEvent(s, e)
	}
	s.flush()
	*cursor = max(*cursor, page.Next)
	return s.err == nil
}

// writeEvent adds e's frame to the stream (not flushed).
func (h *handler) writeEvent(s *sseWriter, e *parts.Event) {
	if s.err != nil {
		return
	}
	var err error
	if s.buf, err = appendFrame(s.buf, e); err != nil {
		h.log.Error("encode event", "seq", e.ID, "err", err)
		s.err = err
	}
}

// eventSchemas are the OpenAPI components of the change feed.
func eventSchemas() map[string]schema {
	dt := schema{"type": "string", "format": "date-time"}
	return map[string]schema{
		"Event": obj(props{
			"seq":    schema{"type": "integer", "description": "Store-wide sequence number, strictly increasing in commit order: the cursor"},
			"at":     dt,
			"action": schema{"type": "string", "description": "create, update, delete, import, a workflow action (approve, assign, unclaim, start, complete, revert, status), file.uploaded, file.replaced, file.deleted, model.requested, model.failed, ..."},
			"actor":  str(),
			"part": obj(props{"id": integer(), "partId": str(), "name": str(),
				"category": schema{"type": "string", "description": "After the change (for a delete, as the part was)"},
				"version":  integer()}),
			"changes": arr(obj(props{"field": str(), "before": schema{}, "after": schema{}})),
		}, "seq", "at", "action", "part", "changes"),
		"EventPage": obj(props{
			"events": arr(ref("Event")),
			"next":   schema{"type": "integer", "description": "Pass as after= to read on; moves past events that did not match the filters"},
			"head":   schema{"type": "integer", "description": "The newest event's seq when the page was read"},
		}, "events", "next", "head"),
	}
}

// registerEventRoutes adds the change-feed routes.
func (h *handler) registerEventRoutes(rt *routeTable) {
	query := []param{
		{Name: "after", Description: "Cursor: events with seq > after (default 0, the start of the retained log)", Schema: integer()},
		{Name: "part", Description: "Only this part's events (its numeric id)", Schema: integer()},
		{Name: "category", Description: "Only events whose part is in this category after the change", Schema: enum(names(parts.Categories)...)},
		{Name: "action", Description: "Only these actions; repeat the parameter or separate with commas", Schema: str()},
	}
	expired := response{Description: "Events after the cursor were pruned (retention): resync from the current state, then follow from the head", Schema: ref("Error")}
	rt.add(route{Method: http.MethodGet, Path: "/api/events", Access: accessRead, Handler: h.listEvents, Doc: op{
		Summary: "Read the change log after a cursor",
		Description: "One page of events, oldest first, and the cursor to read on from. Every committed change " +
			"(create, update, workflow actions, delete, files, models, imports) is an event; deleted parts' events stay.",
		Query: append(query, param{Name: "limit", Description: fmt.Sprintf("Page size 1..%d (default %d)",
			parts.MaxEventLimit, parts.DefaultEventLimit), Schema: integer()}),
		Responses: map[int]response{200: {Description: "A page of events", Schema: ref("EventPage")}, 410: expired},
	}})
	rt.add(route{Method: http.MethodGet, Path: "/api/events/stream", Access: accessRead, Handler: h.streamEvents, Doc: op{
		Summary: "Follow the change log as Server-Sent Events",
		Description: "text/event-stream. Each event is `id: <seq>` and `data: <Event JSON>`. Resume with the " +
			"Last-Event-ID header (browsers send it on reconnect) or ?after=; the stream then continues exactly after " +
			"that event (without either it starts with the events committed from now on), " +
			"in order, with nothing lost or repeated. Comment lines (`: heartbeat`) keep idle streams " +
			"open through proxies (every 15 s by default); X-Accel-Buffering: no and Cache-Control: no-transform stop " +
			"proxy buffering. When Accept-Encoding allows gzip the stream is gzip-compressed (Content-Encoding: gzip), " +
			"each batch of events flushed as it is published, the gzip trailer sent when the stream ends. " +
			"Over HTTP/1.1 the body is not chunked: it ends when the connection closes. " +
			"On server shutdown the stream sends `event: shutdown` and ends; when the cursor falls " +
			"behind retention while streaming it sends `event: error` and ends. A read-only key may stream.",
		Query: append([]param{{Name: "after", Description: "Cursor: events with seq > after; without it (and without Last-Event-ID) the stream starts at the head", Schema: integer()}}, query[1:]...),
		Responses: map[int]response{
			200: {Description: "The event stream", ContentType: "text/event-stream", Schema: str()},
			410: expired,
		},
	}})
}
