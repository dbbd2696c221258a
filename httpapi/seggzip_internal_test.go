package httpapi

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// join returns the concatenation of chunks.
func join(chunks [][]byte) []byte { return bytes.Join(chunks, nil) }

// gunzip decodes b, checking its trailer.
func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if rest, _ := io.ReadAll(zr); len(rest) != 0 {
		t.Fatalf("bytes after the gzip member")
	}
	return out
}

// TestGzipSegmentsDecodeAndReuseRuns cuts random list bodies into segments
// of random sizes, patches random parts, and checks that every version's
// gzip form decodes (CRC and length checked) to its body, and that a patch
// compresses only the segments it replaced: the others' runs are the very
// same bytes as before.
func TestGzipSegmentsDecodeAndReuseRuns(t *testing.T) {
	defer func(old int) { segBytes = old }(segBytes)
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 40 {
		segBytes = 64 + r.IntN(4096)
		n := 1 + r.IntN(200)
		var body []byte
		l := &listing{}
		body = append(body, `{"parts":[`...)
		for i := range n {
			if i > 0 {
				body = append(body, ',')
			}
			l.ids = append(l.ids, int64(i+1))
			l.starts = append(l.starts, len(body))
			body = fmt.Appendf(body, `{"id":%d,"notes":%q}`, i+1, bytes.Repeat([]byte{byte('a' + r.IntN(26))}, r.IntN(300)))
			l.ends = append(l.ends, len(body))
		}
		body = append(body, "]}"...)
		segs := cut(body, l)
		z, err := gzipSegments(segs)
		if err != nil {
			t.Fatal(err)
		}
		if got := gunzip(t, join(z)); !bytes.Equal(got, body) {
			t.Fatalf("round %d: %d segments decode to %d bytes, want %d", round, len(segs), len(got), len(body))
		}
		// Patch one part of one segment.
		si := r.IntN(len(segs))
		if len(segs[si].ids) == 0 {
			continue
		}
		j := r.IntN(len(segs[si].ids))
		next := append([]segment(nil), segs...)
		next[si] = segs[si].replace([]int{j}, [][]byte{fmt.Appendf(nil, `{"id":%d,"notes":"patched %d"}`, segs[si].ids[j], round)})
		z2, err := gzipSegments(next)
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		for _, sg := range next {
			want = append(want, sg.b...)
		}
		if got := gunzip(t, join(z2)); !bytes.Equal(got, want) {
			t.Fatalf("round %d: the patched answer decodes to other bytes", round)
		}
		for k := range segs {
			same := &z[1+k][0] == &z2[1+k][0]
			if same != (k != si) {
				t.Fatalf("round %d: segment %d (patched: %v) run reused: %v", round, k, k == si, same)
			}
		}
	}
}
