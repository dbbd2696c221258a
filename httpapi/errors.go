package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/uptrace/bunrouter"

	"github.com/partflow/partflow/convert"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/webhooks"
)

// errorBody is the JSON of every error response.
type errorBody struct {
	Error      string `json:"error"`
	Details    any    `json:"details,omitempty"`
	Field      string `json:"field,omitempty"`
	RequestID  string `json:"request_id,omitempty"`
	RetryAfter int    `json:"retry_after,omitempty"`
	// conversionBody is set on every error of POST .../convert, whose
	// answers always carry success (the original specification's shape).
	*conversionBody
}

// conversionBody is the part of POST .../convert's answer its errors carry.
type conversionBody struct {
	Success bool `json:"success"`
	// Status is "failed" or "unavailable" for a conversion that failed.
	Status   string  `json:"status,omitempty"`
	GLTFPath *string `json:"gltf_path"`
}

// conversionAnswer marks an error of POST .../convert: its body carries
// "success": false like the route's other answers.
type conversionAnswer struct{ err error }

func (e *conversionAnswer) Error() string { return e.err.Error() }
func (e *conversionAnswer) Unwrap() error { return e.err }

// statusError is an error that carries its own status: the package's own
// conditions (auth, routing, rate limits) and httpError for route authors.
type statusError struct {
	status  int
	message string
	details any
	// retryAfter, in whole seconds, sets Retry-After and retry_after (429).
	retryAfter int
	// allow sets the Allow header (405).
	allow []string
}

func (e *statusError) Error() string { return e.message }

// httpError returns an error answered with status and message (for statuses
// the error table has no library error for, e.g. 503).
func httpError(status int, message string) error {
	return &statusError{status: status, message: message}
}

var (
	errRouteNotFound = &statusError{status: http.StatusNotFound, message: "Not found"}
	errKeyRequired   = &statusError{status: http.StatusUnauthorized, message: "API key required",
		details: "Send the key in the X-API-Key header."}
	errKeyInvalid = &statusError{status: http.StatusUnauthorized, message: "Invalid API key",
		details: "The key is not one of the configured keys."}
	errReadOnly      = &statusError{status: http.StatusForbidden, message: "This API key is read-only"}
	errControlInPath = &statusError{status: http.StatusBadRequest, message: "The path holds a control character (such as %00)"}
	errAdminOnly     = &statusError{status: http.StatusForbidden, message: "This needs an admin API key"}
)

// errorRule is one row of the error table.
type errorRule struct {
	match func(error) bool
	// answer fills the response for a matching error.
	answer func(err error, w http.ResponseWriter) (int, errorBody)
}

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

func as[T error](err error) (T, bool) {
	var t T
	ok := errors.As(err, &t)
	return t, ok
}

func asType[T error]() func(error) bool {
	return func(err error) bool { _, ok := as[T](err); return ok }
}

func fixedAnswer(status int, message string) func(error, http.ResponseWriter) (int, errorBody) {
	return func(error, http.ResponseWriter) (int, errorBody) { return status, errorBody{Error: message} }
}

// errorTable maps errors to responses: the first matching row wins. It is
// the only place statuses for errors are decided.
var errorTable = []errorRule{
	{asType[*statusError](), func(err error, w http.ResponseWriter) (int, errorBody) {
		e, _ := as[*statusError](err)
		if e.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
		}
		if len(e.allow) > 0 {
			w.Header().Set("Allow", strings.Join(e.allow, ", "))
		}
		return e.status, errorBody{Error: e.message, Details: e.details, RetryAfter: e.retryAfter}
	}},
	// Before the sentinels: a conversion error may wrap the converter's.
	{asType[*parts.ConversionError](), conversionFailed},
	{asType[*Refusal](), func(err error, _ http.ResponseWriter) (int, errorBody) {
		e, _ := as[*Refusal](err)
		return http.StatusForbidden, errorBody{Error: "Forbidden: " + e.Rule, Details: map[string]any{"rule": e.Rule}}
	}},
	{asType[*parts.ValidationError](), func(err error, _ http.ResponseWriter) (int, errorBody) {
		e, _ := as[*parts.ValidationError](err)
		return http.StatusBadRequest, errorBody{Error: e.Reason, Field: e.Field}
	}},
	{is(parts.ErrInvalid), func(err error, _ http.ResponseWriter) (int, errorBody) {
		return http.StatusBadRequest, errorBody{Error: err.Error()}
	}},
	{is(parts.ErrCursorExpired), func(error, http.ResponseWriter) (int, errorBody) {
		return http.StatusGone, errorBody{Error: "Event cursor expired",
			Details: "Events after this cursor were pruned. Resync: read the current parts, then follow from the head (the next cursor of GET /api/events?after=<head>)."}
	}},
	{is(parts.ErrNoKeyStore), fixedAnswer(http.StatusNotImplemented, "This server's store keeps no API keys")},
	{is(parts.ErrKeyNotFound), fixedAnswer(http.StatusNotFound, "Key not found")},
	{is(webhooks.ErrNotFound), fixedAnswer(http.StatusNotFound, "Webhook endpoint not found")},
	{func(err error) bool {
		_, ok := as[*conversionAnswer](err)
		return ok && errors.Is(err, parts.ErrFileNotFound)
	},
		fixedAnswer(http.StatusNotFound, "This part has no CAD file to convert")},
	{is(parts.ErrFileNotFound), fixedAnswer(http.StatusNotFound, "File not found")},
	{is(parts.ErrNotFound), fixedAnswer(http.StatusNotFound, "Part not found")},
	{asType[*parts.StaleError](), func(err error, w http.ResponseWriter) (int, errorBody) {
		e, _ := as[*parts.StaleError](err)
		w.Header().Set("ETag", (&parts.Part{Version: e.Actual}).ETag())
		return http.StatusPreconditionFailed, errorBody{Error: "Part has changed since it was read",
			Details: map[string]any{"version": e.Actual}}
	}},
	{asType[*parts.ClaimConflictError](), func(err error, _ http.ResponseWriter) (int, errorBody) {
		e, _ := as[*parts.ClaimConflictError](err)
		return http.StatusConflict, errorBody{Error: "Part is already claimed by " + e.HeldBy,
			Details: map[string]any{"assigned": e.HeldBy}}
	}},
	// The original API answered a revert of a part that is not completed
	// with 400, and the client expects it.
	{func(err error) bool {
		e, ok := as[*parts.TransitionError](err)
		return ok && e.Action == parts.ActionRevert
	},
		func(error, http.ResponseWriter) (int, errorBody) {
			return http.StatusBadRequest, errorBody{Error: "Only completed parts can be reverted", Field: "category"}
		}},
	{asType[*parts.TransitionError](), func(err error, _ http.ResponseWriter) (int, errorBody) {
		e, _ := as[*parts.TransitionError](err)
		return http.StatusConflict, errorBody{Error: fmt.Sprintf("Cannot %s a part in %s (%s)", e.Action, e.Category, e.Status),
			Details: map[string]any{"action": e.Action, "category": e.Category, "status": e.Status, "reason": e.Reason}}
	}},
	{is(parts.ErrInvalidTransition), fixedAnswer(http.StatusConflict, "The workflow does not allow this")},
	{is(parts.ErrConflict), fixedAnswer(http.StatusConflict, "Conflicting change, try again")},
	{asType[*http.MaxBytesError](), func(err error, _ http.ResponseWriter) (int, errorBody) {
		e, _ := as[*http.MaxBytesError](err)
		return http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("Request body too large (at most %d bytes)", e.Limit)}
	}},
	{asType[*parts.TooLargeError](), func(err error, _ http.ResponseWriter) (int, errorBody) {
		e, _ := as[*parts.TooLargeError](err)
		return http.StatusRequestEntityTooLarge, errorBody{Error: e.Reason}
	}},
	// A refused extension is 400 as in the original API ("wrong type"); a
	// file whose content does not match its extension is 415.
	{asType[*parts.FileTypeError](), func(err error, _ http.ResponseWriter) (int, errorBody) {
		e, _ := as[*parts.FileTypeError](err)
		if e.Extension {
			return http.StatusBadRequest, errorBody{Error: e.Reason, Field: "file"}
		}
		return http.StatusUnsupportedMediaType, errorBody{Error: e.Reason}
	}},
	{is(parts.ErrTooLarge), func(err error, _ http.ResponseWriter) (int, errorBody) {
		return http.StatusRequestEntityTooLarge, errorBody{Error: err.Error()}
	}},
	{is(parts.ErrUnsupportedType), func(err error, _ http.ResponseWriter) (int, errorBody) {
		return http.StatusUnsupportedMediaType, errorBody{Error: err.Error()}
	}},
	{is(parts.ErrUnauthorized), fixedAnswer(http.StatusUnauthorized, "Unauthorized")},
	{asType[*parts.UpstreamError](), func(err error, _ http.ResponseWriter) (int, errorBody) {
		e, _ := as[*parts.UpstreamError](err)
		return http.StatusBadGateway, errorBody{Error: e.Reason}
	}},
	{is(parts.ErrNoDrawingSource), fixedAnswer(http.StatusServiceUnavailable, "Fetching drawings from Onshape is not configured on this server")},
	{asType[*parts.StorageError](), storageFaultAnswer},
	{is(context.DeadlineExceeded), fixedAnswer(http.StatusServiceUnavailable, "The server took too long, try again")},
}

// writeError answers err through the error table. Unknown errors are 500s:
// the detail goes to the log, the client gets "internal error" and the
// request ID.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := stateFrom(r.Context())
	status, b := http.StatusInternalServerError, errorBody{Error: "internal error", RequestID: st.id}
	h.faults.record(err, h.opts.Now())
	for _, rule := range errorTable {
		if rule.match(err) {
			status, b = rule.answer(err, w)
			break
		}
	}
	if _, ok := as[*conversionAnswer](err); ok && b.conversionBody == nil {
		b.conversionBody = &conversionBody{}
	}
	if status == http.StatusInternalServerError {
		b.RequestID = st.id
		if !errors.Is(err, context.Canceled) {
			h.log.ErrorContext(r.Context(), "internal error", "request_id", st.id, "error", err.Error())
		}
	}
	writeJSON(w, status, b)
}

// errorMiddleware is the one place handler errors become responses.
func (h *handler) errorMiddleware(next bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	return func(w http.ResponseWriter, req bunrouter.Request) error {
		err := next(w, req)
		if err == nil {
			return nil
		}
		if rw, ok := w.(*responseWriter); ok && rw.wroteHeader {
			// The response has started (a download failed midway): too late
			// for an error body; the client sees a short response.
			h.log.ErrorContext(req.Context(), "error after the response started",
				"request_id", requestIDFrom(req.Context()), "error", err.Error())
			return nil
		}
		h.writeError(w, req.Request, err)
		return nil
	}
}

func (h *handler) notFound(w http.ResponseWriter, req bunrouter.Request) error {
	if allow := h.routes.allowedForPath(req.URL.Path); len(allow) > 0 {
		return notAllowed(req.Method, allow)
	}
	return errRouteNotFound
}

func (h *handler) methodNotAllowed(w http.ResponseWriter, req bunrouter.Request) error {
	return notAllowed(req.Method, h.routes.allowed(req.Route()))
}

func notAllowed(method string, allow []string) error {
	return &statusError{status: http.StatusMethodNotAllowed, allow: allow,
		message: fmt.Sprintf("Method %s not allowed (allowed: %s)", method, strings.Join(allow, ", "))}
}

func stack() string { return string(debug.Stack()) }

// conversionFailed answers a failed conversion: 422, or 503 when no
// converter could take the file, with the user's message only.
func conversionFailed(err error, _ http.ResponseWriter) (int, errorBody) {
	e, _ := as[*parts.ConversionError](err)
	status, state := http.StatusUnprocessableEntity, "failed"
	if errors.Is(err, convert.ErrUnavailable) || errors.Is(err, convert.ErrUnsupportedFormat) {
		status, state = http.StatusServiceUnavailable, "unavailable"
	}
	return status, errorBody{Error: e.Message, conversionBody: &conversionBody{Status: state}}
}
