package httpapi

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// TestCRCPieceCombines checks that a stream accounting for shared pieces
// by combining their CRCs ends with the CRC-32 and length of the whole,
// as crc32 computes it over the concatenation, for empty pieces, pieces
// of one byte, and pieces of many sizes mixed with bytes sent plainly.
func TestCRCPieceCombines(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		var g gzipStream
		var whole []byte
		for range rng.IntN(6) + 1 {
			n := []int{0, 1, 7, 64, 1000, 65536, 100_000}[rng.IntN(7)]
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			if rng.IntN(2) == 0 {
				g.sent(b)
			} else {
				p := newCRCPiece(b)
				g.sentPiece(&p)
			}
			whole = append(whole, b...)
		}
		if want := crc32.ChecksumIEEE(whole); g.crc != want || g.size != uint32(len(whole)) {
			t.Fatalf("trial %d: crc %08x size %d, want %08x %d", trial, g.crc, g.size, want, len(whole))
		}
	}
}

// TestXPow8n checks x^(8n) mod P against shifting a CRC through n zero
// bytes the slow way: appending n zero bytes to a message multiplies its
// (pre-inversion) register by x^(8n).
func TestXPow8n(t *testing.T) {
	for _, n := range []uint64{0, 1, 2, 3, 255, 4096, 1 << 20} {
		var reg uint32 = 0x12345678
		slow := reg
		for range n * 8 {
			if slow&1 != 0 {
				slow = slow>>1 ^ crcPolyReflected
			} else {
				slow >>= 1
			}
		}
		if got := gf2MulModP(xPow8n(n), reg); got != slow {
			t.Errorf("n=%d: %08x, want %08x", n, got, slow)
		}
	}
}

// BenchmarkCRCAccounting compares what a stream pays to account for a
// shared 400 KB batch: a pass over its bytes, or combining its CRC.
func BenchmarkCRCAccounting(b *testing.B) {
	blob := make([]byte, 400<<10)
	p := newCRCPiece(blob)
	b.Run("pass", func(b *testing.B) {
		var g gzipStream
		for b.Loop() {
			g.sent(blob)
		}
	})
	b.Run("combine", func(b *testing.B) {
		var g gzipStream
		for b.Loop() {
			g.sentPiece(&p)
		}
	})
}
