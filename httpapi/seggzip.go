package httpapi

import (
	"bytes"
	"compress/flate"
	"sync"
)

// A big answer changes in pieces: a write patches the segments holding the
// changed parts (advance.go) and the others are shared with the previous
// version. Its gzip form is kept the same way: each segment is compressed
// once, on first use, as an independent run of deflate blocks (a fresh
// compressor, ended with a sync flush: no reference into another segment,
// ending on a byte boundary), and a gzip body is the gzip header, the
// segments' runs, an empty final block and the trailer. A patched answer
// then compresses only its new segments. Deflate looks back 32 KiB at most,
// so cutting every 64 KiB costs almost nothing in size. Brotli cannot be
// joined from pieces: a big answer that writes have patched goes out as
// gzip when the client accepts both (see serveCached); one built whole,
// which a quiet store then keeps, goes out as brotli, about half the bytes.

// segGzip is a segment's compressed run, made once and shared by every
// answer holding the segment.
type segGzip struct {
	once  sync.Once
	run   []byte
	piece crcPiece // the segment's CRC-32, for each answer's trailer
	err   error
}

// deflaters are the pooled compressors of segment runs.
var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, gzipLevel) // the level is valid
	return w
}}

// deflateRun returns b compressed as an independent, byte-aligned run of
// non-final deflate blocks (as an event stream's segments, eventgzip.go,
// but at the answers' level: an answer is compressed once and sent often).
func deflateRun(b []byte) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(b)/6 + 64)
	w := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(w)
	w.Reset(&out)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return fit(out.Bytes()), nil
}

// gzipSegments returns the gzip form of segs' concatenation as chunks: the
// header, each segment's run (made now if it is the first use), the final
// block and the trailer (CRC-32 and length of the whole body).
func gzipSegments(segs []segment) ([][]byte, error) {
	out := make([][]byte, 0, len(segs)+2)
	out = append(out, gzipHeader)
	var g gzipStream // the trailer's CRC-32 and length
	for _, sg := range segs {
		z := sg.z
		if z == nil { // a segment made without one: compress it for this answer only
			z = &segGzip{}
		}
		z.once.Do(func() { z.run, z.err = deflateRun(sg.b); z.piece = newCRCPiece(sg.b) })
		if z.err != nil {
			return nil, z.err
		}
		out = append(out, z.run)
		g.sentPiece(&z.piece)
	}
	return append(out, g.appendTrailer(nil)), nil
}
