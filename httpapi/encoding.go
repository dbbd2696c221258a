package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/andybalholm/brotli"
)

// minCompress is the smallest body worth compressing: below about 1 KiB the
// headers cost more than compression saves.
const minCompress = 1024

// Compression levels: fast enough to compress a 1.5 MB answer in a few tens
// of milliseconds once per change of the store, and about as small as the
// slowest levels for JSON.
const (
	gzipLevel   = 6
	brotliLevel = 5
)

// acceptedEncoding returns the content coding to answer r with: "br" or
// "gzip" when the client accepts it (brotli preferred, it is smaller for
// the same cost), else "" (identity).
func acceptedEncoding(r *http.Request) string {
	switch {
	case accepts(r, "br"):
		return "br"
	case accepts(r, "gzip"):
		return "gzip"
	}
	return ""
}

// acceptsGzip reports whether r accepts the gzip coding.
func acceptsGzip(r *http.Request) bool { return accepts(r, "gzip") }

// accepts reports whether r's Accept-Encoding headers allow the coding
// token: named (x-gzip counts as gzip) or by "*", with a q above zero. The
// one parser of Accept-Encoding: answers, downloads, event streams and
// static files ask it.
func accepts(r *http.Request, token string) bool {
	star := false
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			switch name = strings.ToLower(strings.TrimSpace(name)); {
			case name == token || (token == "gzip" && name == "x-gzip"):
				return qPositive(params)
			case name == "*":
				star = qPositive(params)
			}
		}
	}
	return star
}

// qPositive reports whether the parameters of an Accept-Encoding item leave
// it acceptable: no q, or a q above zero.
func qPositive(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err == nil && q > 0
	}
	return true
}

// compress returns the concatenation of bs in the content coding enc ("br"
// or "gzip").
func compress(enc string, bs ...[]byte) ([]byte, error) {
	n := 0
	for _, b := range bs {
		n += len(b)
	}
	var out bytes.Buffer
	out.Grow(n/6 + 64)
	w, err := newEncoder(enc, &out)
	for _, b := range bs {
		if err == nil {
			_, err = w.Write(b)
		}
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("compress %s: %w", enc, err)
	}
	return fit(out.Bytes()), nil
}

// fit returns b, or a copy without its spare capacity when that is more
// than an eighth of it: kept answers are counted by length, and a list's
// body is allocated for 800 bytes a part where parts are often smaller.
func fit(b []byte) []byte {
	if cap(b)-len(b) > len(b)/8 {
		return append(make([]byte, 0, len(b)), b...)
	}
	return b
}

// newEncoder returns a writer compressing to w in the content coding enc
// ("br" or "gzip"); Close finishes the stream.
func newEncoder(enc string, w io.Writer) (io.WriteCloser, error) {
	switch enc {
	case "br":
		return brotli.NewWriterLevel(w, brotliLevel), nil
	case "gzip":
		return gzip.NewWriterLevel(w, gzipLevel)
	}
	return nil, fmt.Errorf("unknown content coding %q", enc)
}

// etag is the strong ETag of an answer with tag base in the content coding
// enc: each coding is its own representation, so each has its own tag.
func etag(base, enc string) string {
	if enc == "" {
		return `"` + base + `"`
	}
	return `"` + base + "-" + enc + `"`
}

// noneMatch returns the ETag in If-None-Match that names a representation
// of the answer with tag base (in any coding), and whether there is one
// ("*" matches any answer and returns "").
func noneMatch(r *http.Request, base string) (string, bool) {
	for _, v := range r.Header.Values("If-None-Match") {
		for t := range strings.SplitSeq(v, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == "*" {
				return "", true
			}
			s := strings.Trim(t, `"`)
			if s == base || s == base+"-br" || s == base+"-gzip" {
				return `"` + s + `"`, true
			}
		}
	}
	return "", false
}

// serveCached answers r with the answer to key as of now: 304 when the
// client holds it already (without building it), else the kept or a newly
// built answer, compressed when the client accepts it. Answers are revalidated
// on every use (Cache-Control: no-cache). A store that does not number its
// writes gets fn's body every time, without an ETag.
func (h *handler) serveCached(w http.ResponseWriter, r *http.Request, key string, fn func(context.Context) (built, error)) error {
	ctx := r.Context()
	seq, ok, err := h.seqs.get(ctx)
	if err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("Cache-Control", "no-cache")
	hd.Add("Vary", "Accept-Encoding")
	enc := acceptedEncoding(r)
	if !ok {
		b, err := fn(ctx)
		if err != nil {
			return err
		}
		return writeBody(w, r, "", enc, [][]byte{b.body}, func() ([][]byte, error) {
			z, err := compress(enc, b.body)
			return [][]byte{z}, err
		})
	}
	// The tag of the kept answer, else the one a new answer gets: 304
	// without building when the client holds it.
	base := h.answers.tag(key, seq)
	if a := h.answers.valid(key, seq); a != nil {
		base = a.tag
	}
	if answerNotModified(w, r, base, enc) {
		return nil
	}
	a, err := h.answers.get(ctx, key, seq, fn)
	if err != nil {
		return err
	}
	if a.tag != base && answerNotModified(w, r, a.tag, enc) { // brought forward unchanged
		return nil
	}
	if enc == "br" && a.patched && len(a.segs) > 1 && acceptsGzip(r) {
		enc = "gzip" // changing under writes: kept per segment, a write recompresses a segment (seggzip.go)
	}
	return writeBody(w, r, a.tag, enc, a.chunks(), func() ([][]byte, error) { return h.answers.encoded(a, enc) })
}

// answerNotModified answers 304 when r's If-None-Match names a representation of
// the answer with tag base.
func answerNotModified(w http.ResponseWriter, r *http.Request, base, enc string) bool {
	t, ok := noneMatch(r, base)
	if !ok {
		return false
	}
	if t == "" {
		t = etag(base, enc)
	}
	w.Header().Set("ETag", t)
	w.WriteHeader(http.StatusNotModified)
	return true
}

// encodingFor is the coding a body of size n is sent in when the client
// accepts enc.
func encodingFor(enc string, n int) string {
	if n < minCompress {
		return ""
	}
	return enc
}

// writeBody writes a JSON answer (the concatenation of body) with a
// Content-Length, in the coding enc when the body is big enough (compressed
// by z), with the ETag of tag base when base is not empty.
func writeBody(w http.ResponseWriter, r *http.Request, base, enc string, body [][]byte, z func() ([][]byte, error)) error {
	n := 0
	for _, b := range body {
		n += len(b)
	}
	enc = encodingFor(enc, n)
	if enc != "" {
		b, err := z()
		if err != nil {
			return err
		}
		body, n = b, int(chunksLen(b))
		w.Header().Set("Content-Encoding", enc)
	}
	hd := w.Header()
	if base != "" {
		hd.Set("ETag", etag(base, enc))
	}
	hd.Set("Content-Type", "application/json")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		for _, b := range body {
			if _, err := w.Write(b); err != nil {
				return nil // the client went away
			}
		}
	}
	return nil
}
