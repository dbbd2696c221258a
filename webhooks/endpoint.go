package webhooks

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/partflow/partflow/parts"
)

// Format is the body an endpoint receives.
type Format string

// The formats.
const (
	// FormatJSON is the event's JSON (the same as GET /api/events).
	FormatJSON Format = "json"
	// FormatSlack is a Slack incoming-webhook message: {"text": "..."}.
	FormatSlack Format = "slack"
	// FormatDiscord is a Discord webhook message: {"content": "..."}.
	FormatDiscord Format = "discord"
)

// ErrNotFound is returned for an unknown endpoint id. It matches
// parts.ErrNotFound.
var ErrNotFound = fmt.Errorf("webhook endpoint %w", parts.ErrNotFound)

// Endpoint is one webhook receiver and what it wants.
type Endpoint struct {
	// ID names the endpoint: letters, digits, '-' and '_', at most 64.
	ID string `json:"id" koanf:"id"`
	// URL receives the POSTs: https unless AllowHTTP.
	URL string `json:"url" koanf:"url"`
	// Secret signs the deliveries; at least 16 bytes.
	Secret string `json:"secret,omitempty" koanf:"secret"`
	// Actions, when not empty, are the only actions delivered.
	Actions []string `json:"actions,omitempty" koanf:"actions"`
	// Category, when set, delivers only events of parts in it after the change.
	Category parts.Category `json:"category,omitempty" koanf:"category"`
	// Format is the body: json (default), slack or discord.
	Format Format `json:"format" koanf:"format"`
	// Enabled endpoints get deliveries.
	Enabled bool `json:"enabled" koanf:"enabled"`
	// AllowHTTP accepts an http:// URL (plain text on the wire).
	AllowHTTP bool `json:"allowHttp,omitempty" koanf:"allow_http"`
	// AllowPrivate lets the URL resolve to loopback, private or link-local
	// addresses (a receiver on the same host or network).
	AllowPrivate bool `json:"allowPrivate,omitempty" koanf:"allow_private"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// MinSecretLen is the shortest accepted secret.
const MinSecretLen = 16

// Validate checks e and fills in the default format. Errors are
// *parts.ValidationError.
func (e *Endpoint) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &parts.ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if !idPattern.MatchString(e.ID) {
		return bad("id", "id must be 1-64 letters, digits, '-' or '_'")
	}
	u, err := url.Parse(e.URL)
	if err != nil || u.Host == "" || u.User != nil || len(e.URL) > 2048 {
		return bad("url", "url must be an absolute http(s) URL without credentials")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && e.AllowHTTP:
	case u.Scheme == "http":
		return bad("url", "url must be https (set allowHttp to accept http)")
	default:
		return bad("url", "url must be https")
	}
	if len(e.Secret) < MinSecretLen {
		return bad("secret", "secret must be at least %d bytes", MinSecretLen)
	}
	if e.Category != "" && !e.Category.Valid() {
		return bad("category", "unknown category %q", e.Category)
	}
	for _, a := range e.Actions {
		if strings.TrimSpace(a) == "" || len(a) > 64 {
			return bad("actions", "actions must be names of at most 64 bytes")
		}
	}
	if e.Format == "" {
		e.Format = FormatJSON
	}
	if e.Format != FormatJSON && e.Format != FormatSlack && e.Format != FormatDiscord {
		return bad("format", "format must be json, slack or discord")
	}
	return nil
}

// Attempt is one delivery attempt in an endpoint's delivery log.
type Attempt struct {
	At         time.Time     `json:"at"`
	Seq        int64         `json:"seq"`
	DeliveryID string        `json:"deliveryId"`
	Attempt    int           `json:"attempt"`
	StatusCode int           `json:"statusCode,omitempty"`
	Latency    time.Duration `json:"latencyNs"`
	Error      string        `json:"error,omitempty"`
	// Outcome is delivered, retry (another attempt follows), failed (a
	// final answer) or gave-up (retries exhausted).
	Outcome string `json:"outcome"`
}

// Status is an endpoint with its delivery state.
type Status struct {
	Endpoint
	// Cursor is the sequence number of the last event handled.
	Cursor int64 `json:"cursor"`
	// Failures counts deliveries that failed in a row.
	Failures int `json:"failures"`
	// DisabledReason says why the endpoint was disabled, if it was.
	DisabledReason string `json:"disabledReason,omitempty"`
	// Deliveries are the most recent attempts, oldest first.
	Deliveries []Attempt `json:"deliveries"`
}

// Redacted returns s without its secret.
func (s Status) Redacted() Status {
	s.Secret = ""
	s.Deliveries = append([]Attempt(nil), s.Deliveries...)
	s.Actions = append([]string(nil), s.Actions...)
	return s
}

// errBlocked is the error of a connection refused by the address guard.
var errBlocked = errors.New("address not allowed")
