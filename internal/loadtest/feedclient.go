package loadtest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// feedClient is one event stream client recording receipt latencies.
type feedClient struct {
	resp   *http.Response
	cancel context.CancelFunc
	in     *heldReader
	last   atomic.Int64
	wire   atomic.Int64 // bytes received (compressed, for a gzip stream)
	mu     sync.Mutex
	seen   []feedSample
}

type feedSample struct {
	seq      int64
	at, recv time.Time
}

// openFeed opens a stream client following from after. A held client
// takes the bytes off the connection as they arrive but decodes them only
// once released.
func (b *loadRun) openFeed(ctx context.Context, after int64, held bool) (*feedClient, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/events/stream?after=%d", b.base, after), nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("X-API-Key", b.key)
	// The client decodes the stream itself, to count the bytes on the wire.
	if b.streamGzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open stream: %w", err)
	}
	s := &feedClient{resp: resp, cancel: cancel, in: &heldReader{held: held}}
	if ce := resp.Header.Get("Content-Encoding"); resp.StatusCode != 200 || (ce == "gzip") != b.streamGzip {
		s.close()
		return nil, fmt.Errorf("open stream: status %d, Content-Encoding %q (gzip asked for: %v)", resp.StatusCode, ce, b.streamGzip)
	}
	s.last.Store(after)
	s.in.cond = sync.NewCond(&s.in.mu)
	go s.in.pump(s.resp.Body, &s.wire)
	go s.read(b.streamGzip)
	return s, nil
}

// heldReader takes a stream's bytes off the connection as they arrive, so
// that the server's writes and the connection's flow are those of any
// client, and hands them to the client's decoder, only while not held: a
// held client decodes what it received once released. The alternating
// rounds hold their clients during the load, so that decoding 100
// streams does not take the CPU the writers share with them (on a
// two-core machine, the tool's one core): what the server does for the
// clients is the same.
//
// A held client keeps what it receives until released: at full load about
// 26 bytes per event in gzip (555 in identity), so 100 clients held for a
// 10-second phase of 1,500 creates/s hold about 40 MB (800 MB in identity).
type heldReader struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	off    int
	err    error // the connection's error, once it ends
	held   bool
	closed bool // the client closed: hand on nothing more
}

// pump reads r until it fails, counting the bytes in wire.
func (h *heldReader) pump(r io.Reader, wire *atomic.Int64) {
	b := make([]byte, 32<<10)
	for {
		n, err := r.Read(b)
		wire.Add(int64(n))
		h.mu.Lock()
		h.buf = append(h.buf, b[:n]...)
		if err != nil {
			h.err = err
		}
		h.cond.Broadcast()
		h.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// Read hands on received bytes, waiting while held or while there are
// none; once the connection ends it hands on the rest, then its error.
func (h *heldReader) Read(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for !h.closed && h.err == nil && (h.held || h.off == len(h.buf)) {
		h.cond.Wait()
	}
	if h.closed {
		return 0, net.ErrClosed
	}
	if h.off == len(h.buf) {
		return 0, h.err
	}
	n := copy(p, h.buf[h.off:])
	if h.off += n; h.off == len(h.buf) {
		h.buf, h.off = h.buf[:0], 0
		if cap(h.buf) > 1<<20 {
			h.buf = nil // do not keep a held phase's buffer for the stream's life
		}
	}
	return n, nil
}

// close makes Read fail at once: a closed client's decoder stops, even
// with received bytes left to decode.
func (h *heldReader) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	h.cond.Broadcast()
}

// release lets a held client decode.
func (h *heldReader) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = false
	h.cond.Broadcast()
}

func (s *feedClient) read(gz bool) {
	var body io.Reader = s.in
	if gz {
		zr, err := gzip.NewReader(body)
		if err != nil {
			return
		}
		body = zr
	}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var seq int64
	for sc.Scan() {
		line := sc.Bytes() // no string per line: the 100 clients share the writers' core
		if id, ok := bytes.CutPrefix(line, []byte("id: ")); ok {
			seq, _ = strconv.ParseInt(string(id), 10, 64) // does not allocate
			continue
		}
		if !bytes.HasPrefix(line, []byte("data: ")) || seq == 0 {
			continue
		}
		recv := time.Now()
		// Only the time is needed: cut it out rather than decode the JSON.
		_, rest, _ := bytes.Cut(line, []byte(`"at":"`))
		at, ok := parseEventTime(rest[:max(0, bytes.IndexByte(rest, '"'))])
		if !ok {
			continue
		}
		s.mu.Lock()
		s.seen = append(s.seen, feedSample{seq: seq, at: at, recv: recv})
		s.mu.Unlock()
		s.last.Store(seq)
		seq = 0
	}
}

// parseEventTime parses an event's time as the server writes it (RFC 3339
// in UTC, "2006-01-02T15:04:05.999999Z") without allocating; other forms
// go through time.Parse.
func parseEventTime(b []byte) (time.Time, bool) {
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	if len(b) >= 20 && len(b) <= 30 && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' && b[16] == ':' && b[len(b)-1] == 'Z' {
		frac, ns := b[19:len(b)-1], 0
		if len(frac) > 0 && (frac[0] != '.' || len(frac) == 1 || len(frac) > 10) {
			ns = -1
		} else if len(frac) > 1 {
			ns = num(frac[1:])
			for range 10 - len(frac) {
				ns *= 10
			}
		}
		y, mo, d, h, mi, sec := num(b[0:4]), num(b[5:7]), num(b[8:10]), num(b[11:13]), num(b[14:16]), num(b[17:19])
		if min(y, mo, d, h, mi, sec, ns) >= 0 {
			return time.Date(y, time.Month(mo), d, h, mi, sec, ns, time.UTC), true
		}
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	return t, err == nil
}

// wireBytes is the stream body bytes the clients have received so far.
func wireBytes(streams []*feedClient) int64 {
	var n int64
	for _, s := range streams {
		n += s.wire.Load()
	}
	return n
}

func (s *feedClient) close() { s.in.close(); s.cancel(); s.resp.Body.Close() }

// gaps describes repeated or out-of-order events ("" when there are none).
// Bench parts are the only writes, so a skipped seq is a dropped event.
func (s *feedClient) gaps() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 1; i < len(s.seen); i++ {
		if s.seen[i].seq != s.seen[i-1].seq+1 {
			return fmt.Sprintf(" (seq %d after %d: a gap or repeat)", s.seen[i].seq, s.seen[i-1].seq)
		}
	}
	return ""
}

func collectLatencies(streams []*feedClient, from, to time.Time) []time.Duration {
	var out []time.Duration
	for _, s := range streams {
		s.mu.Lock()
		for _, x := range s.seen {
			if !x.at.Before(from) && x.at.Before(to) {
				out = append(out, x.recv.Sub(x.at))
			}
		}
		s.mu.Unlock()
	}
	return out
}
