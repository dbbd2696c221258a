package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/partflow/partflow/parts"
)

// OnshapeOptions configure fetching hand parts' drawings from Onshape.
//
// Production needs an Onshape API key pair (Onshape: My account > Developer
// > API keys, with read access to the documents): without AccessKey and
// SecretKey Onshape answers 401/403 and the drawing route answers 502.
// The part's onshapeUrl only supplies the document, workspace/version and
// element IDs; every request goes to BaseURL, so a crafted onshapeUrl can
// never make the server fetch another host.
type OnshapeOptions struct {
	// BaseURL is the Onshape API origin; default https://cad.onshape.com
	// (an Enterprise account uses https://<company>.onshape.com).
	BaseURL string
	// AccessKey and SecretKey are the API key pair, sent with HTTP Basic
	// authentication. They are never logged.
	AccessKey, SecretKey string
	// Client is the HTTP client; default one with a 60 s timeout per request.
	Client *http.Client
	// PollInterval is how often a running PDF export is polled; default 1 s.
	PollInterval time.Duration
	// Timeout bounds a whole fetch (export, polling, download); default 2 min.
	Timeout time.Duration
}

// Defaults of OnshapeOptions.
const (
	DefaultOnshapeBaseURL      = "https://cad.onshape.com"
	DefaultOnshapePollInterval = time.Second
	DefaultOnshapeTimeout      = 2 * time.Minute
)

var onshapeID = regexp.MustCompile(`^[0-9A-Za-z]{1,64}$`)

// onshapeElement is the part of an Onshape URL that names a drawing.
type onshapeElement struct {
	did, wv, wvid, eid string
}

// parseOnshapeURL extracts the IDs from
// https://<host>/documents/{did}/{w|v}/{wvid}/e/{eid}.
func parseOnshapeURL(raw string) (onshapeElement, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return onshapeElement{}, err
	}
	seg := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(seg) < 6 || seg[0] != "documents" || (seg[2] != "w" && seg[2] != "v") || seg[4] != "e" {
		return onshapeElement{}, fmt.Errorf("want .../documents/{did}/w|v/{id}/e/{eid}")
	}
	el := onshapeElement{did: seg[1], wv: seg[2], wvid: seg[3], eid: seg[5]}
	for _, id := range []string{el.did, el.wvid, el.eid} {
		if !onshapeID.MatchString(id) {
			return onshapeElement{}, fmt.Errorf("malformed Onshape ID %q", id)
		}
	}
	return el, nil
}

// onshapeTranslation is the part of Onshape's BTTranslationRequestInfo used here.
type onshapeTranslation struct {
	ID                    string   `json:"id"`
	RequestState          string   `json:"requestState"` // ACTIVE, DONE, FAILED
	FailureReason         string   `json:"failureReason"`
	ResultExternalDataIDs []string `json:"resultExternalDataIds"`
}

// upstreamError is a 502: Onshape refused or failed.
func upstreamError(format string, args ...any) error {
	return &statusError{status: http.StatusBadGateway, message: fmt.Sprintf(format, args...)}
}

// fetchDrawing is the parts.DrawingFetcher of the drawing route: it exports
// the drawing element of p.OnshapeURL as PDF (POST .../translations), polls
// the translation until it is done, and streams the resulting external data.
func (h *handler) fetchDrawing(ctx context.Context, p *parts.Part) (string, io.ReadCloser, error) {
	o := h.opts.Files.Onshape
	if o == nil {
		return "", nil, httpError(http.StatusServiceUnavailable, "Fetching drawings from Onshape is not configured on this server")
	}
	el, err := parseOnshapeURL(p.OnshapeURL)
	if err != nil {
		return "", nil, &parts.ValidationError{Field: "onshapeUrl", Reason: "onshapeUrl does not name an Onshape drawing: " + err.Error()}
	}
	base := strings.TrimRight(o.BaseURL, "/")
	if base == "" {
		base = DefaultOnshapeBaseURL
	}
	client := o.Client
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	poll := o.PollInterval
	if poll <= 0 {
		poll = DefaultOnshapePollInterval
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultOnshapeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	call := func(method, path string, body any) (*http.Response, error) {
		var rd io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				return nil, err
			}
			rd = bytes.NewReader(b)
		}
		r, err := http.NewRequestWithContext(ctx, method, base+path, rd)
		if err != nil {
			return nil, err
		}
		r.SetBasicAuth(o.AccessKey, o.SecretKey)
		r.Header.Set("Accept", "application/json;charset=UTF-8; qs=0.09")
		if body != nil {
			r.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(r)
		if err != nil {
			if ctx.Err() != nil {
				return nil, upstreamError("Onshape did not answer in time")
			}
			return nil, upstreamError("Onshape could not be reached")
		}
		if resp.StatusCode/100 != 2 {
			resp.Body.Close()
			return nil, upstreamError("Onshape answered %d for %s %s", resp.StatusCode, method, strings.SplitN(path, "/", 4)[2])
		}
		return resp, nil
	}
	decode := func(resp *http.Response) (onshapeTranslation, error) {
		defer resp.Body.Close()
		var t onshapeTranslation
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&t); err != nil {
			return t, upstreamError("Onshape sent an unreadable translation status")
		}
		return t, nil
	}
	fail := func(err error) (string, io.ReadCloser, error) {
		cancel()
		return "", nil, err
	}

	resp, err := call(http.MethodPost, fmt.Sprintf("/api/drawings/d/%s/%s/%s/e/%s/translations", el.did, el.wv, el.wvid, el.eid),
		map[string]any{"formatName": "PDF", "storeInDocument": false, "colorMethod": "color", "destinationName": p.PartID})
	if err != nil {
		return fail(err)
	}
	tr, err := decode(resp)
	if err != nil {
		return fail(err)
	}
	for tr.RequestState == "ACTIVE" {
		if tr.ID == "" || !onshapeID.MatchString(tr.ID) {
			return fail(upstreamError("Onshape sent a malformed translation id"))
		}
		timer := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fail(upstreamError("Onshape did not finish the PDF export in time"))
		case <-timer.C:
		}
		if resp, err = call(http.MethodGet, "/api/translations/"+tr.ID, nil); err != nil {
			return fail(err)
		}
		if tr, err = decode(resp); err != nil {
			return fail(err)
		}
	}
	if tr.RequestState != "DONE" {
		reason := tr.FailureReason
		if reason == "" {
			reason = "state " + tr.RequestState
		}
		return fail(upstreamError("Onshape could not export the drawing: %s", reason))
	}
	if len(tr.ResultExternalDataIDs) == 0 || !onshapeID.MatchString(tr.ResultExternalDataIDs[0]) {
		return fail(upstreamError("Onshape finished the export without a result"))
	}
	resp, err = call(http.MethodGet, fmt.Sprintf("/api/documents/d/%s/externaldata/%s", el.did, tr.ResultExternalDataIDs[0]), nil)
	if err != nil {
		return fail(err)
	}
	name := p.PartID + " drawing.pdf"
	return name, &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}, nil
}

// cancelOnClose releases the fetch's context once the body is consumed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
