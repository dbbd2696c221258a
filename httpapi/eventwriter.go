package httpapi

import (
	"net/http"
	"time"
)

// streamHeaders sets the headers of an event stream, compressed with
// gzip or not.
func streamHeaders(hd http.Header, gzip bool) {
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache, no-transform")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Add("Vary", "Accept-Encoding")
	if gzip {
		hd.Set("Content-Encoding", "gzip")
	}
}

// startStream answers r with an event stream, compressed with gzip when r
// accepts it, and returns its writer.
func startStream(w http.ResponseWriter, r *http.Request) *sseWriter {
	s := &sseWriter{w: w, rc: http.NewResponseController(w)}
	if acceptsGzip(r) {
		s.gz = &gzipStream{}
	}
	streamHeaders(w.Header(), s.gz != nil)
	if r.ProtoMajor == 1 {
		// The body ends when the connection closes, without chunked
		// encoding (net/http's setup for event streams): a batch then goes
		// out in one write, where a chunk costs three (its header and data
		// through 4 KiB buffers, then its CRLF at the flush). net/http
		// removes the header; a server that is not net/http's would have
		// to as well. A client reconnecting after the stream ends opens a
		// new connection.
		w.Header().Set("Transfer-Encoding", "identity")
	}
	w.WriteHeader(http.StatusOK)
	return s
}

// sseWriter writes stream frames, remembering the first error. Frames
// added between flushes go out in one write: a batch costs a few system
// calls, not one per frame. A compressed stream sends them as deflate
// segments (eventgzip.go), and end finishes it.
type sseWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf []byte
	err error

	deadline time.Time // the write deadline set last

	gz  *gzipStream // nil: the stream is not compressed
	out []byte      // a compressed stream's bytes of one send
	own [][]byte    // frames a send compresses for this client
}

// add queues a frame.
func (s *sseWriter) add(frame []byte) {
	if s.err == nil {
		s.buf = append(s.buf, frame...)
	}
}

// flush sends the queued frames.
func (s *sseWriter) flush() { s.send(nil) }

// send writes the queued frames, then shared (frames owned by the hub,
// written without a copy), and flushes once.
func (s *sseWriter) send(shared []streamChunk) {
	if s.err != nil || len(s.buf) == 0 && len(shared) == 0 {
		return
	}
	s.armDeadline()
	if s.gz != nil {
		s.err = s.writeCompressed(shared)
	} else {
		s.err = s.writePlain(shared)
	}
	if s.err == nil {
		s.err = s.rc.Flush()
	}
	if cap(s.buf) > 256<<10 || cap(s.out) > 256<<10 {
		s.buf, s.out = nil, nil // do not keep a burst's buffers for the stream's life
	}
	s.buf = s.buf[:0]
}

// armDeadline makes sure a write has at least half of streamWriteTimeout:
// moving the connection's deadline costs a timer update, so it moves only
// when less than that is left.
func (s *sseWriter) armDeadline() {
	if now := time.Now(); s.deadline.Sub(now) < streamWriteTimeout/2 {
		s.deadline = now.Add(streamWriteTimeout)
		_ = s.rc.SetWriteDeadline(s.deadline)
	}
}

func (s *sseWriter) writePlain(shared []streamChunk) error {
	if len(s.buf) > 0 {
		if _, err := s.w.Write(s.buf); err != nil {
			return err
		}
	}
	for _, c := range shared {
		if _, err := s.w.Write(c.data); err != nil {
			return err
		}
	}
	return nil
}

// writeCompressed writes the queued frames and shared as deflate segments
// in one write: a whole published batch as the hub's segment, shared by
// every client; the rest compressed for this client, runs of it together.
func (s *sseWriter) writeCompressed(shared []streamChunk) error {
	out := s.out[:0]
	if !s.gz.started {
		out, s.gz.started = append(out, gzipHeader...), true
	}
	own := s.own[:0]
	if len(s.buf) > 0 {
		own = append(own, s.buf)
		s.gz.sent(s.buf)
	}
	for _, c := range shared {
		if c.batch == nil {
			s.gz.sent(c.data)
			own = append(own, c.data)
			continue
		}
		if len(own) > 0 {
			out, own = appendSegment(out, own...), own[:0]
		}
		seg, piece := c.batch.segment()
		out = append(out, seg...)
		s.gz.sentPiece(piece)
	}
	if len(own) > 0 {
		out = appendSegment(out, own...)
	}
	clear(own[:cap(own)]) // keep no frames alive
	s.out, s.own = out, own[:0]
	_, err := s.w.Write(out)
	return err
}

// write adds a frame and flushes it.
func (s *sseWriter) write(frame string) {
	s.add([]byte(frame))
	s.flush()
}

// end finishes the stream: a compressed one gets the end of its deflate
// data and the gzip trailer, so that clients see a complete, checked
// stream (a plain one needs nothing).
func (s *sseWriter) end() {
	s.flush()
	if s.gz == nil || s.err != nil || !s.gz.started {
		return
	}
	s.armDeadline()
	if _, s.err = s.w.Write(s.gz.appendTrailer(s.out[:0])); s.err == nil {
		s.err = s.rc.Flush()
	}
}
