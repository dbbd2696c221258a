package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// Defaults of the upload limits in FileOptions. A link of 2 kbit/s, slower
// than any dial-up modem, still passes the rate; a client that sends
// nothing for a whole window does not.
const (
	DefaultMinUploadRate       = 256 // bytes per second, averaged over a window
	DefaultUploadRateWindow    = time.Minute
	DefaultMaxUploadsPerClient = 8
)

// errUploadTooSlow is the body error of an upload below the minimum rate.
var errUploadTooSlow = errors.New("upload too slow")

// slowUploadError answers an upload cut off for its rate.
func (h *handler) slowUploadError() error {
	return &statusError{status: http.StatusRequestTimeout,
		message: fmt.Sprintf("The upload was too slow (under %d bytes/s over %s) and was cut off; nothing was stored",
			h.opts.Files.MinUploadRate, h.opts.Files.UploadRateWindow)}
}

// rateReader enforces a minimum transfer rate on a request body: each
// rate*window bytes must arrive within a window of the previous ones. A
// read deadline on the connection ends a read that waits past the current
// window, so a client that stops sending is cut off within one window
// rather than at the server's ReadTimeout.
type rateReader struct {
	r        io.Reader
	rc       *http.ResponseController
	need     int64 // bytes per window
	window   time.Duration
	start    time.Time // of the current window
	got      int64     // bytes in the current window
	deadline bool      // the connection takes read deadlines
	slow     bool      // the rate was missed
}

func newRateReader(w http.ResponseWriter, r io.Reader, rate int64, window time.Duration) *rateReader {
	rr := &rateReader{r: r, rc: http.NewResponseController(w), need: int64(float64(rate) * window.Seconds()), window: window, start: time.Now()}
	rr.deadline = rr.rc.SetReadDeadline(rr.start.Add(window)) == nil
	return rr
}

func (rr *rateReader) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	rr.got += int64(n)
	now := time.Now()
	switch {
	case rr.got >= rr.need:
		// This window's bytes are in: the next window starts now.
		rr.start, rr.got = now, 0
		if rr.deadline {
			_ = rr.rc.SetReadDeadline(now.Add(rr.window))
		}
	case now.Sub(rr.start) >= rr.window || errors.Is(err, os.ErrDeadlineExceeded):
		rr.slow = true
		return n, errUploadTooSlow
	}
	return n, err
}

// done lifts the body's read deadline, unless the upload was cut off:
// then the connection is closed after the answer, so the server does not
// wait for the rest of the body.
func (rr *rateReader) done(w http.ResponseWriter) {
	if rr.slow {
		w.Header().Set("Connection", "close")
		return
	}
	if rr.deadline {
		_ = rr.rc.SetReadDeadline(time.Time{})
	}
}

// uploadSlots counts the uploads in progress per client address. Entries
// exist only while a client has an upload running, so memory is bounded
// by the number of open connections.
type uploadSlots struct {
	mu sync.Mutex
	n  map[string]int
}

// acquire takes a slot for client, or reports false when it already holds
// max (max <= 0: no cap).
func (s *uploadSlots) acquire(client string, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	if max > 0 && s.n[client] >= max {
		return false
	}
	s.n[client]++
	return true
}

func (s *uploadSlots) release(client string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[client]--; s.n[client] <= 0 {
		delete(s.n, client)
	}
}
