package httpapi

import (
	"net/http"
	"time"

	"github.com/uptrace/bunrouter"

	"github.com/partflow/partflow/parts"
)

// DecodePartFields decodes a create/edit body and returns the fields it set
// by camelCase name (strings, "amount" as int, "miscInfo" as a map or nil).
func DecodePartFields(b []byte) (map[string]any, error) {
	in, err := decodePart(b)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	u := in.update()
	for _, f := range parts.Fields() {
		if f.Edit != nil && *f.Edit(&u) != nil {
			out[f.Name] = **f.Edit(&u)
		}
	}
	if u.Assigned != nil {
		out["assigned"] = *u.Assigned
	}
	if u.Type != nil {
		out["type"] = string(*u.Type)
	}
	if u.Status != nil {
		out["status"] = string(*u.Status)
	}
	if u.Category != nil {
		out["category"] = string(*u.Category)
	}
	if u.Amount != nil {
		out["amount"] = *u.Amount
	}
	if u.MiscInfo != nil || u.ClearMiscInfo {
		out["miscInfo"] = u.MiscInfo
	}
	return out, nil
}

// ParseListQuery exposes the list query parser (original workflow).
func ParseListQuery(raw, category string) (parts.Filter, bool, error) {
	q, err := parseListQuery(parts.OriginalWorkflow(), raw, category)
	return q.Filter, q.LimitSet, err
}

// AddTestRoute makes NewHandler also register a public route (tests only:
// e.g. one that panics).
func AddTestRoute(o *Options, method, path string, fn func(w http.ResponseWriter, r *http.Request) error) {
	o.extraRoutes = append(o.extraRoutes, route{Method: method, Path: path, Access: accessPublic,
		Handler: func(w http.ResponseWriter, req bunrouter.Request) error { return fn(w, req.Request) },
		Doc:     op{Summary: "test route"}})
}

// Routes returns "METHOD path" of every route the handler registered.
func Routes(h http.Handler) []string { return h.(*handler).routes.sortedRoutes() }

// LimiterSizes returns the number of entries in the auth-check and
// failed-key limiters.
func LimiterSizes(h http.Handler) (authChecks, failures int) {
	hh := h.(*handler)
	return hh.authChecks.len(), hh.failures.len()
}

// MaxLimiterEntries is the bound on each limiter.
const MaxLimiterEntries = maxLimiterEntries

// StreamSegment compresses srcs, one after the other, as one independent
// segment of a compressed event stream.
func StreamSegment(srcs ...[]byte) []byte { return appendSegment(nil, srcs...) }

// GzipStream assembles a compressed event stream as the server does: the
// gzip header, segments, and the trailer.
type GzipStream struct {
	g gzipStream
	b []byte
}

// Add appends a segment whose uncompressed bytes are plain.
func (z *GzipStream) Add(segment, plain []byte) {
	if !z.g.started {
		z.b, z.g.started = append(z.b, gzipHeader...), true
	}
	z.b = append(z.b, segment...)
	z.g.sent(plain)
}

// End returns the whole stream, ended by its trailer.
func (z *GzipStream) End() []byte { return z.g.appendTrailer(z.b) }

// HubRate feeds the hub's rate meter batches of events, one every
// interval, and returns its rate after the last (events per second).
func HubRate(batches []int, every time.Duration) float64 {
	var m rateMeter
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rate := 0.0
	for _, n := range batches {
		rate = m.add(n, at)
		at = at.Add(every)
	}
	return rate
}

// HubBurstGap is the hub's shortest time between publishes with clients
// connected and a burst of rate events per second.
func HubBurstGap(clients int64, rate float64) time.Duration { return burstGap(clients, rate) }

// HubBurstRate is the rate above which the hub spaces its publishes.
const HubBurstRate = hubBurstRate

// MaxAdvance is the most events a kept answer is brought forward across.
const MaxAdvance = maxAdvance

// AnswerStats count how the answer cache met requests after writes.
type AnswerStats struct{ Kept, Patched, Rebuilt int64 }

// AnswerCacheStats returns h's answer-cache counts.
func AnswerCacheStats(h http.Handler) AnswerStats {
	st := &h.(*handler).answers.stats
	return AnswerStats{Kept: st.kept.Load(), Patched: st.patched.Load(), Rebuilt: st.rebuilt.Load()}
}

// SetSegmentBytes sets the size answers are cut into segments at and
// returns a function restoring it.
func SetSegmentBytes(n int) func() {
	old := segBytes
	segBytes = n
	return func() { segBytes = old }
}
