package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/partflow/partflow/parts"
)

// The headers of a delivery.
const (
	HeaderDelivery  = "Partflow-Delivery"
	HeaderTimestamp = "Partflow-Timestamp"
	HeaderSignature = "Partflow-Signature"
)

// Sign returns the signature header value of body sent at ts:
// "v1=" + hex(HMAC-SHA256(secret, "<unix seconds>." + body)).
func Sign(secret string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a received delivery: the signature over the timestamp and
// body, and a timestamp within window of now (replay protection; receivers
// should also remember delivery ids they handled).
func Verify(secret string, h http.Header, body []byte, now time.Time, window time.Duration) error {
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return errors.New("webhook: missing or bad timestamp")
	}
	at := time.Unix(ts, 0)
	if d := now.Sub(at); d > window || d < -window {
		return errors.New("webhook: timestamp outside the replay window")
	}
	want := Sign(secret, at, body)
	if !hmac.Equal([]byte(want), []byte(h.Get(HeaderSignature))) {
		return errors.New("webhook: bad signature")
	}
	return nil
}

// Body returns what an endpoint of format f receives for e.
func Body(f Format, e *parts.Event) ([]byte, error) {
	switch f {
	case FormatSlack:
		return json.Marshal(map[string]string{"text": Message(e)})
	case FormatDiscord:
		return json.Marshal(map[string]string{"content": Message(e)})
	default:
		return json.Marshal(e)
	}
}

// verbs are the message phrases of the actions.
var verbs = map[string]string{
	"create": "created", "import": "imported", "update": "edited", "delete": "deleted",
	"approve": "approved", "unclaim": "unclaimed", "start": "started", "complete": "completed",
	"revert": "reverted", "status": "status changed", "file.uploaded": "file uploaded",
	"file.replaced": "file replaced", "file.deleted": "file deleted", "model.requested": "model requested",
	"model.failed": "model failed",
}

// Message is the one-line notice of e: "Gearbox plate (DRV-001) completed by Ada".
func Message(e *parts.Event) string {
	name := e.PartNumber
	if e.Name != "" && e.PartNumber != "" {
		name = e.Name + " (" + e.PartNumber + ")"
	} else if e.Name != "" {
		name = e.Name
	}
	if name == "" {
		name = fmt.Sprintf("Part %d", e.PartID)
	}
	if e.Action == "assign" {
		if who := changedTo(e, "assigned"); who != "" {
			return name + " claimed by " + who
		}
	}
	if st, _ := changedValue(e, "model").(map[string]any); st != nil && st["state"] == "ready" {
		return name + ": model ready"
	}
	verb, ok := verbs[e.Action]
	if !ok {
		verb = strings.ReplaceAll(e.Action, ".", " ")
	}
	if e.Actor != "" {
		return name + " " + verb + " by " + e.Actor
	}
	return name + " " + verb
}

func changedValue(e *parts.Event, field string) any {
	for _, c := range e.Changes {
		if c.Field == field {
			return c.After
		}
	}
	return nil
}

func changedTo(e *parts.Event, field string) string {
	s, _ := changedValue(e, field).(string)
	return s
}

// blockedPrefixes are refused besides loopback, private, link-local,
// multicast and unspecified addresses.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach IPv4 private space
}

// addrAllowed reports whether a resolved address may be dialled.
func addrAllowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// newClient returns the HTTP client of an endpoint: no proxy, no
// redirects, and (unless allowPrivate) a dialler that refuses disallowed
// addresses after DNS resolution, at connect time, so a name that
// re-resolves cannot slip through.
func newClient(allowPrivate bool, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !addrAllowed(ap.Addr()) {
				return fmt.Errorf("%w: %s", errBlocked, address)
			}
			return nil
		}
	}
	tr := &http.Transport{Proxy: nil, DialContext: d.DialContext, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout, MaxIdleConnsPerHost: 2,
		IdleConnTimeout: 90 * time.Second}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// result is the outcome of one attempt.
type result struct {
	status  int
	err     error
	retry   bool
	latency time.Duration
}

// post sends one attempt of a delivery.
func post(ctx context.Context, c *http.Client, ep *Endpoint, id string, body []byte, now time.Time) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Partflow-Webhooks/1")
	req.Header.Set(HeaderDelivery, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(ep.Secret, now, body))
	start := time.Now()
	resp, err := c.Do(req)
	r := result{latency: time.Since(start)}
	if err != nil {
		r.err, r.retry = err, !errors.Is(err, errBlocked)
		return r
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	r.status = resp.StatusCode
	switch {
	case r.status >= 200 && r.status < 300:
	case r.status >= 300 && r.status < 400:
		r.err = fmt.Errorf("redirect (%d) not followed", r.status)
	case r.status == 408 || r.status == 429 || r.status >= 500:
		r.err, r.retry = fmt.Errorf("status %d", r.status), true
	default:
		r.err = fmt.Errorf("status %d", r.status)
	}
	return r
}
