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

// sentPiece accounts for bytes whose CRC-32 was computed once for every
// stream that sends them (a hub batch, an answer segment): combining costs
// a few dozen shifts instead of a pass over the bytes.
func (g *gzipStream) sentPiece(p *crcPiece) {
	g.crc = gf2MulModP(p.shift, g.crc) ^ p.crc
	g.size += p.size
}

// crcPiece is the CRC-32 of a run of bytes that several streams send, with
// what appending it to another CRC needs: x^(8·len) mod P.
type crcPiece struct {
	crc, shift, size uint32
}

func newCRCPiece(b []byte) crcPiece {
	return crcPiece{crc: crc32.ChecksumIEEE(b), shift: xPow8n(uint64(len(b))), size: uint32(len(b))}
}

// CRC-32 (IEEE) arithmetic for combining checksums: CRC(A‖B) is
// CRC(A)·x^(8·len(B)) + CRC(B) in GF(2)[x] mod P. Polynomials are 32-bit
// words in the CRC's reflected order: the top bit is x^0.
const crcPolyReflected = 0xedb88320

// gf2MulModP returns a·b mod P.
func gf2MulModP(a, b uint32) uint32 {
	var p uint32
	for bit := uint32(1) << 31; a != 0; bit >>= 1 {
		if a&bit != 0 {
			p ^= b
			a ^= bit
		}
		if b&1 != 0 { // b·x, reduced
			b = b>>1 ^ crcPolyReflected
		} else {
			b >>= 1
		}
	}
	return p
}

// xPow2k holds x^(2^k) mod P for k < 64.
var xPow2k = func() (t [64]uint32) {
	t[0] = 1 << 30 // x^1
	for k := 1; k < len(t); k++ {
		t[k] = gf2MulModP(t[k-1], t[k-1])
	}
	return t
}()

// xPow8n returns x^(8·n) mod P: what a CRC is multiplied by when n bytes
// follow it.
func xPow8n(n uint64) uint32 {
	p := uint32(1) << 31 // x^0
	for k := 3; n != 0; k, n = k+1, n>>1 {
		if n&1 != 0 {
			p = gf2MulModP(xPow2k[k], p)
		}
	}
	return p
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
