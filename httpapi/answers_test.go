package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/internal/fixtures"
)

// answerPaths are the cached answers the property test compares.
var answerPaths = []string{
	"/api/parts/",
	"/api/parts/categories/review",
	"/api/parts/categories/cnc",
	"/api/parts/categories/hand",
	"/api/parts/categories/completed",
	"/api/parts/?search=bracket&limit=3&offset=1&sort_by=name&sort_order=asc",
	"/api/parts/?search=bracket&limit=2",
	"/api/parts/?search=note&category=cnc&sort_by=id&sort_order=asc",
	"/api/parts/?category=cnc&sort_by=updated_at",
	"/api/parts/?sort_by=amount&sort_order=asc",
	"/api/parts/?category=review&sort_by=name",
	"/api/parts/?category=cnc&sort_by=status&limit=2&offset=1",
	"/api/parts/?sort_by=assigned&limit=3",
	"/api/parts/categories/review?limit=2&offset=1",
	"/api/parts/stats",
	"/api/parts/leaderboard",
}

// fresh is a handler over the same service without caches: its answers are
// encoded for each request.
func (e *filesEnv) fresh() http.Handler {
	e.t.Helper()
	h, err := httpapi.NewHandler(e.svc, &httpapi.Options{
		Keys:   []httpapi.Key{{Name: "admin", Key: adminKey, Role: httpapi.RoleAdmin}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Cache:  httpapi.CacheOptions{PartBytes: -1, AnswerBytes: -1},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func serve(h http.Handler, path string, header map[string]string) resp {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("X-API-Key", adminKey)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// decoded returns the body without its content coding.
func decoded(t *testing.T, r resp) []byte {
	t.Helper()
	var rd io.Reader
	switch enc := r.header.Get("Content-Encoding"); enc {
	case "":
		return r.body
	case "br":
		rd = brotli.NewReader(bytes.NewReader(r.body))
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		rd = zr
	default:
		t.Fatalf("unexpected Content-Encoding %q", enc)
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatalf("decode %s: %v", r.header.Get("Content-Encoding"), err)
	}
	return b
}

// TestCachedAnswersEqualFreshOnesAfterEveryWrite runs random sequences of
// every kind of write (create, edits of sorted and unsorted fields, each
// workflow action moving parts between categories, delete, file upload),
// one to three between checks and once more than an answer is brought
// forward across, and checks after each batch that every cached answer, in
// each content coding, is byte-equal to a freshly encoded one, and that an
// ETag taken before never earns a 304 for an answer that changed. Every
// way of meeting a request after writes (kept, patched, rebuilt) must have
// been taken; two of the three runs cut answers into segments of a part or
// two.
func TestCachedAnswersEqualFreshOnesAfterEveryWrite(t *testing.T) {
	var total httpapi.AnswerStats
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			if seed > 0 {
				// Answers in segments of a part or two: patches then
				// replace parts in some segments and keep others.
				defer httpapi.SetSegmentBytes(300)()
			}
			e := newFilesEnv(t, nil)
			fresh := e.fresh()
			r := rand.New(rand.NewPCG(seed, 17))
			var ids []string
			for i := range 6 {
				ids = append(ids, e.part(map[string]any{"partId": fmt.Sprintf("B-%d", i), "name": "Bracket " + fmt.Sprint(i),
					"type": []string{"cnc", "hand"}[i%2]}))
			}
			tags := map[string]resp{}
			for step := range 40 {
				for _, p := range answerPaths {
					checkAnswer(t, e.h, fresh, p, tags, step)
				}
				writes := 1 + r.IntN(3)
				if step == 20 {
					writes = httpapi.MaxAdvance + 1
				}
				for range writes {
					op, path := writeOp(t, e, r, &ids)
					t.Logf("step %d: %s %s", step, op, path)
				}
			}
			st := httpapi.AnswerCacheStats(e.h)
			t.Logf("answers: %+v", st)
			total.Kept += st.Kept
			total.Patched += st.Patched
			total.Rebuilt += st.Rebuilt
		})
	}
	if total.Kept == 0 || total.Patched == 0 || total.Rebuilt == 0 {
		t.Errorf("answers kept %d, patched %d, rebuilt %d times: each way must be tested", total.Kept, total.Patched, total.Rebuilt)
	}
}

// checkAnswer compares the cached handler's answer at path with the fresh
// one, in every coding, and checks the previous step's ETag.
func checkAnswer(t *testing.T, cached, fresh http.Handler, path string, prev map[string]resp, step int) {
	t.Helper()
	want := serve(fresh, path, nil)
	if want.status != http.StatusOK {
		t.Fatalf("fresh %s: %d %s", path, want.status, want.body)
	}
	if old, ok := prev[path]; ok {
		got := serve(cached, path, map[string]string{"If-None-Match": old.header.Get("ETag")})
		switch {
		case got.status == http.StatusNotModified && !bytes.Equal(old.body, want.body):
			t.Fatalf("step %d %s: 304 for a changed answer", step, path)
		case got.status == http.StatusOK && got.header.Get("ETag") == old.header.Get("ETag"):
			t.Fatalf("step %d %s: a new body under the old ETag %s", step, path, old.header.Get("ETag"))
		}
	}
	for _, ae := range []string{"", "gzip", "br", "gzip, br"} {
		for range 2 { // the second comes from the cache
			got := serve(cached, path, map[string]string{"Accept-Encoding": ae})
			if body := decoded(t, got); got.status != http.StatusOK || !bytes.Equal(body, want.body) {
				t.Fatalf("step %d %s (Accept-Encoding %q): status %d, cached answer differs from a fresh one:\n%s\nwant\n%s",
					step, path, ae, got.status, body, want.body)
			}
			if got.header.Get("Cache-Control") != "no-cache" || !strings.Contains(got.header.Get("Vary"), "Accept-Encoding") {
				t.Fatalf("%s: Cache-Control %q, Vary %q", path, got.header.Get("Cache-Control"), got.header.Get("Vary"))
			}
			if ae == "" {
				prev[path] = resp{header: got.header, body: want.body}
			}
		}
	}
	again := serve(cached, path, map[string]string{"If-None-Match": prev[path].header.Get("ETag")})
	if again.status != http.StatusNotModified || len(again.body) != 0 {
		t.Fatalf("step %d %s: unchanged answer revalidated with %d, %d bytes", step, path, again.status, len(again.body))
	}
}

// writeOp applies one random write and returns what it did.
func writeOp(t *testing.T, e *filesEnv, r *rand.Rand, ids *[]string) (string, string) {
	t.Helper()
	p := (*ids)[r.IntN(len(*ids))]
	jsonPost := func(method, path string, body string) resp {
		return e.do(method, path, strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
	}
	who := []string{"Ada", "Grace", "Alan"}[r.IntN(3)]
	var op string
	var res resp
	switch x := r.IntN(13); x {
	case 0:
		op = "create"
		p = e.part(map[string]any{"partId": fmt.Sprintf("N-%d", r.IntN(1000)), "name": "bracket new", "type": "hand"})
		*ids = append(*ids, p)
		return op, p
	case 1:
		op, res = "edit", jsonPost("PUT", p, fmt.Sprintf(`{"notes":"bracket note %d","amount":%d,"miscInfo":{"k":[1,"x"]}}`, r.IntN(9), 1+r.IntN(5)))
	case 2:
		op, res = "approve", jsonPost("POST", p+"/approve", `{"reviewer":"Rita"}`)
	case 3:
		op, res = "assign", jsonPost("POST", p+"/assign", `{"assigned":"`+who+`"}`)
	case 4:
		op, res = "unclaim", jsonPost("POST", p+"/unclaim", `{}`)
	case 5:
		op, res = "complete", jsonPost("POST", p+"/complete", `{}`)
	case 6:
		op, res = "revert", jsonPost("POST", p+"/revert", `{}`)
	case 7:
		op, res = "set-status", jsonPost("POST", p+"/status", `{"status":"In Progress"}`)
	case 8:
		op, res = "upload", e.upload(p, fmt.Sprintf("m%d.step", r.IntN(3)), fixtures.Bytes(fixtures.BoxSTEPFile))
	case 9:
		op, res = "upload drawing", e.upload(p, "d.pdf", []byte("%PDF-1.4 drawing "+who))
	case 10:
		op, res = "edit notes", jsonPost("PUT", p, fmt.Sprintf(`{"notes":"note %d"}`, r.IntN(99)))
	case 11:
		op, res = "rename", jsonPost("PUT", p, fmt.Sprintf(`{"name":"%s part %d"}`, who, r.IntN(9)))
	default:
		if len(*ids) < 3 {
			return "none", p
		}
		op, res = "delete", e.do("DELETE", p, nil, nil)
		if res.status < 300 {
			*ids = removeID(*ids, p)
		}
	}
	if res.status >= 500 {
		t.Fatalf("%s %s: %d %s", op, p, res.status, res.body)
	}
	return fmt.Sprintf("%s (%d)", op, res.status), p
}

func removeID(ids []string, p string) []string {
	out := ids[:0]
	for _, id := range ids {
		if id != p {
			out = append(out, id)
		}
	}
	return out
}

// TestRangeDownloadIsIdentityAndExact asks for byte ranges of a STEP file
// while accepting compression: the answer is the identity coding and exactly
// the bytes asked for, with a Content-Length that matches.
func TestRangeDownloadIsIdentityAndExact(t *testing.T) {
	e := newFilesEnv(t, nil)
	p := e.part(nil)
	data := fixtures.Bytes(fixtures.BoxSTEPFile)
	e.upload(p, "box.step", data)
	for _, rg := range []struct {
		header   string
		from, to int
	}{{"bytes=0-99", 0, 100}, {"bytes=1000-2047", 1000, 2048}, {"bytes=-64", len(data) - 64, len(data)}} {
		for _, path := range []string{p + "/download", p + "/file"} {
			r := e.do("GET", path, nil, map[string]string{"Range": rg.header, "Accept-Encoding": "gzip, br"})
			if r.status != http.StatusPartialContent {
				t.Fatalf("%s %s: status %d", path, rg.header, r.status)
			}
			if enc := r.header.Get("Content-Encoding"); enc != "" {
				t.Errorf("%s %s: Content-Encoding %q, want identity", path, rg.header, enc)
			}
			if !bytes.Equal(r.body, data[rg.from:rg.to]) || r.header.Get("Content-Length") != fmt.Sprint(rg.to-rg.from) {
				t.Errorf("%s %s: %d bytes, Content-Length %q; want bytes %d-%d", path, rg.header, len(r.body),
					r.header.Get("Content-Length"), rg.from, rg.to-1)
			}
		}
	}
}

// TestDownloadsCompressedOnlyWhole checks that a whole STEP download is sent
// in the coding the client accepts, with its own ETag that revalidates to
// 304, and decodes to the exact file; without Accept-Encoding it is the
// file as stored, with a Content-Length that matches.
func TestDownloadsCompressedOnlyWhole(t *testing.T) {
	e := newFilesEnv(t, nil)
	p := e.part(nil)
	data := fixtures.Bytes(fixtures.BoxSTEPFile)
	e.upload(p, "box.step", data)
	plain := e.do("GET", p+"/download", nil, nil)
	if plain.status != http.StatusOK || !bytes.Equal(plain.body, data) || plain.header.Get("Content-Length") != fmt.Sprint(len(data)) ||
		plain.header.Get("Content-Encoding") != "" {
		t.Fatalf("identity download: %d, %d bytes, Content-Length %q, Content-Encoding %q", plain.status, len(plain.body),
			plain.header.Get("Content-Length"), plain.header.Get("Content-Encoding"))
	}
	for _, enc := range []string{"gzip", "br"} {
		got := e.do("GET", p+"/download", nil, map[string]string{"Accept-Encoding": enc})
		if got.status != http.StatusOK || got.header.Get("Content-Encoding") != enc || !bytes.Equal(decoded(t, got), data) {
			t.Fatalf("%s download: %d, Content-Encoding %q", enc, got.status, got.header.Get("Content-Encoding"))
		}
		if len(got.body) >= len(data) || got.header.Get("ETag") == plain.header.Get("ETag") ||
			!strings.Contains(got.header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s download: %d bytes of %d, ETag %s (identity %s), Vary %q", enc, len(got.body), len(data),
				got.header.Get("ETag"), plain.header.Get("ETag"), got.header.Get("Vary"))
		}
		again := e.do("GET", p+"/download", nil, map[string]string{"Accept-Encoding": enc, "If-None-Match": got.header.Get("ETag")})
		if again.status != http.StatusNotModified || len(again.body) != 0 {
			t.Errorf("%s revalidation: %d, %d bytes", enc, again.status, len(again.body))
		}
	}
}

// TestPatchedBigAnswersGoOutAsGzip: when a client accepts both, a big
// answer built whole goes out as brotli (smaller), and once writes have
// patched it, as gzip, whose form is kept per segment so that each write
// recompresses only the segments it changed; both decode to the answer.
func TestPatchedBigAnswersGoOutAsGzip(t *testing.T) {
	defer httpapi.SetSegmentBytes(300)()
	e := newFilesEnv(t, nil)
	var ids []string
	for i := range 12 {
		ids = append(ids, e.part(map[string]any{"partId": fmt.Sprintf("G-%d", i), "name": "Gear plate " + fmt.Sprint(i), "type": "cnc"}))
	}
	check := func(want string) {
		t.Helper()
		fresh := serve(e.fresh(), "/api/parts/", nil)
		if len(fresh.body) < 2048 {
			t.Fatalf("the list is %d bytes: too small to compress", len(fresh.body))
		}
		got := serve(e.h, "/api/parts/", map[string]string{"Accept-Encoding": "gzip, br"})
		if enc := got.header.Get("Content-Encoding"); enc != want || !bytes.Equal(decoded(t, got), fresh.body) {
			t.Fatalf("Content-Encoding %q (want %q), or the body differs from a fresh answer", enc, want)
		}
	}
	check("br")
	for i, id := range ids[:3] {
		if r := e.do("PUT", id, strings.NewReader(fmt.Sprintf(`{"amount":%d}`, 2+i)),
			map[string]string{"Content-Type": "application/json"}); r.status != http.StatusOK {
			t.Fatalf("edit: %d %s", r.status, r.body)
		}
		check("gzip")
	}
}
