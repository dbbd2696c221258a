package httpapi

import (
	"compress/flate"
	"hash/crc32"
	"sync"
)

// Compressed event streams. A client that accepts gzip gets its stream as
// one gzip member whose deflate data is a run of independent segments:
// each is a compressor's output from a fresh state (no back-references
// before it) ended by a sync flush (byte-aligned, not final), so segments
// can follow each other in any order and still form one valid deflate
// stream. A batch of events the hub publishes is compressed once, and every
// client that streams the whole batch writes the same segment; the rest of
// a stream (the greeting, heartbeats, catch-up pages, a filtered client's
// share of a batch, the last frame) is compressed per client. Each client
// keeps the CRC-32 and length of the bytes it sent, for the gzip trailer
// that ends the stream.

// streamLevel is the compression level of event stream segments. On real
// frames (BenchmarkStreamSegment) a batch of 100 events compresses from
// about 540 to 25 bytes per event in 0.7-1 µs per event at
// flate.BestSpeed, and to 23 bytes in 3.6-7 µs at the default level; a
// single event to about 250 bytes in 14-20 µs, against 20-30 µs. The few
// bytes saved are not worth four times the CPU.
const streamLevel = flate.BestSpeed

// gzipHeader starts every compressed stream: gzip magic, deflate, no
// flags, no modification time, no extra flags, unknown OS (RFC 1952).
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// finalBlock is an empty final deflate block with fixed codes (BFINAL=1,
// BTYPE=01, end of block, padded to a byte): it ends the deflate data of a
// stream that was a run of sync-flushed segments.
var finalBlock = []byte{0x03, 0x00}

// flateWriters are reused compressors: a new one allocates hundreds of
// kilobytes.
var flateWriters sync.Pool

// appendWriter is an io.Writer appending to a byte slice.
type appendWriter struct{ b []byte }

func (a *appendWriter) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// appendSegment appends to dst the independent deflate segment of the
// concatenation of srcs: compressed from a fresh state and sync-flushed.
func appendSegment(dst []byte, srcs ...[]byte) []byte {
	aw := &appendWriter{b: dst}
	zw, _ := flateWriters.Get().(*flate.Writer)
	if zw == nil {
		zw, _ = flate.NewWriter(aw, streamLevel) // the level is valid
	} else {
		zw.Reset(aw)
	}
	for _, b := range srcs {
		_, _ = zw.Write(b) // an appendWriter does not fail
	}
	_ = zw.Flush()
	zw.Reset(nil) // keep no reference to the output
	flateWriters.Put(zw)
	return aw.b
}

// gzipStream is a client's compressed stream state: the CRC-32 and length
// (mod 2^32) of the uncompressed bytes sent so far, for the trailer.
type gzipStream struct {
	started bool // the gzip header is sent
	crc     uint32
	size    uint32
}

// sent accounts for uncompressed bytes b that went out in a segment.
func (g *gzipStream) sent(b []byte) {
	g.crc = crc32.Update(g.crc, crc32.IEEETable, b)
	g.size += uint32(len(b)) // mod 2^32, as RFC 1952's ISIZE
}

// appendTrailer appends the end of the stream: a final empty block, then
// the CRC-32 and length of everything sent.
func (g *gzipStream) appendTrailer(dst []byte) []byte {
	dst = append(dst, finalBlock...)
	for _, v := range [2]uint32{g.crc, g.size} { // little-endian
		dst = append(dst, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	}
	return dst
}
