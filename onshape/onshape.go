package onshape

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

// Options configure fetching hand parts' drawings from Onshape.
//
// Production needs an Onshape API key pair (Onshape: My account > Developer
// > API keys, with read access to the documents): without AccessKey and
// SecretKey Onshape answers 401/403, a *parts.UpstreamError (the HTTP API's
// 502).
// The part's onshapeUrl only supplies the document, workspace/version and
// element IDs; every request goes to BaseURL, so a crafted onshapeUrl can
// never make the server fetch another host.
type Options struct {
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

// Defaults of Options.
const (
	DefaultBaseURL      = "https://cad.onshape.com"
	DefaultPollInterval = time.Second
	DefaultTimeout      = 2 * time.Minute
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

// upstreamError is Onshape refusing or failing.
func upstreamError(format string, args ...any) error {
	return &parts.UpstreamError{Reason: fmt.Sprintf(format, args...)}
}

// Client is the parts.DrawingSource that fetches drawings from Onshape.
type Client struct {
	o Options
}

var _ parts.DrawingSource = (*Client)(nil)

// New returns a Client; zero fields of o get the defaults.
func New(o Options) *Client {
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 60 * time.Second}
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return &Client{o: o}
}

// FetchDrawing exports the drawing element of p.OnshapeURL as PDF (POST
// .../translations), polls the translation until it is done, and streams
// the resulting external data. An onshapeUrl that names no drawing is a
// *parts.ValidationError; Onshape refusing or failing, a
// *parts.UpstreamError.
func (c *Client) FetchDrawing(ctx context.Context, p *parts.Part) (string, io.ReadCloser, error) {
	el, err := parseOnshapeURL(p.OnshapeURL)
	if err != nil {
		return "", nil, &parts.ValidationError{Field: "onshapeUrl", Reason: "onshapeUrl does not name an Onshape drawing: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	t := &translation{c: c, ctx: ctx, el: el}
	name, body, err := t.run(p.PartID)
	if err != nil {
		cancel()
		return "", nil, err
	}
	return name, &cancelOnClose{ReadCloser: body, cancel: cancel}, nil
}

// translation is one PDF export in progress.
type translation struct {
	c   *Client
	ctx context.Context
	el  onshapeElement
}

// call sends one request to the Onshape API; a non-2xx answer is an error.
func (t *translation) call(method, path string, body any) (*http.Response, error) {
	ctx, o := t.ctx, &t.c.o
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	r, err := http.NewRequestWithContext(ctx, method, o.BaseURL+path, rd)
	if err != nil {
		return nil, err
	}
	r.SetBasicAuth(o.AccessKey, o.SecretKey)
	r.Header.Set("Accept", "application/json;charset=UTF-8; qs=0.09")
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	resp, err := o.Client.Do(r)
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

// decode reads a translation status.
func decode(resp *http.Response) (onshapeTranslation, error) {
	defer resp.Body.Close()
	var t onshapeTranslation
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&t); err != nil {
		return t, upstreamError("Onshape sent an unreadable translation status")
	}
	return t, nil
}

// run starts the export, waits for it and opens the PDF.
func (t *translation) run(partID string) (string, io.ReadCloser, error) {
	el := t.el
	resp, err := t.call(http.MethodPost, fmt.Sprintf("/api/drawings/d/%s/%s/%s/e/%s/translations", el.did, el.wv, el.wvid, el.eid),
		map[string]any{"formatName": "PDF", "storeInDocument": false, "colorMethod": "color", "destinationName": partID})
	if err != nil {
		return "", nil, err
	}
	tr, err := decode(resp)
	if err != nil {
		return "", nil, err
	}
	for tr.RequestState == "ACTIVE" {
		if tr, err = t.poll(tr); err != nil {
			return "", nil, err
		}
	}
	if tr.RequestState != "DONE" {
		reason := tr.FailureReason
		if reason == "" {
			reason = "state " + tr.RequestState
		}
		return "", nil, upstreamError("Onshape could not export the drawing: %s", reason)
	}
	if len(tr.ResultExternalDataIDs) == 0 || !onshapeID.MatchString(tr.ResultExternalDataIDs[0]) {
		return "", nil, upstreamError("Onshape finished the export without a result")
	}
	resp, err = t.call(http.MethodGet, fmt.Sprintf("/api/documents/d/%s/externaldata/%s", el.did, tr.ResultExternalDataIDs[0]), nil)
	if err != nil {
		return "", nil, err
	}
	return partID + " drawing.pdf", resp.Body, nil
}

// poll waits one interval and reads the translation's state again.
func (t *translation) poll(tr onshapeTranslation) (onshapeTranslation, error) {
	if tr.ID == "" || !onshapeID.MatchString(tr.ID) {
		return tr, upstreamError("Onshape sent a malformed translation id")
	}
	timer := time.NewTimer(t.c.o.PollInterval)
	select {
	case <-t.ctx.Done():
		timer.Stop()
		return tr, upstreamError("Onshape did not finish the PDF export in time")
	case <-timer.C:
	}
	resp, err := t.call(http.MethodGet, "/api/translations/"+tr.ID, nil)
	if err != nil {
		return tr, err
	}
	return decode(resp)
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
