package loadtest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// The scenarios of the web client's real load: whole categories (with and
// without writes going on), their revalidation, searches for the parts' own
// words, 1 MiB uploads; and the bytes the client's four tab loads cost.

// categories are the client's four tabs.
var categories = []string{"review", "cnc", "hand", "completed"}

// backgroundWrites is the write rate of the category-writes scenario.
const backgroundWrites = 50

// vocab is what the search scenarios draw from: the distinct words of the
// seeded parts' prose (names, notes, materials, subsystems; not part
// numbers) and the word matching the share of parts nearest to 20%.
type vocab struct {
	words      []string // words of the prose fields, four letters or more
	common     string
	commonPart float64 // share of parts the common word matches
}

// minWords is the fewest distinct words search-words must draw from, so
// that an answer cache cannot stand in for search.
const minWords = 1000

// getJSON GETs path and decodes the JSON answer into v.
func (b *loadRun) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", b.key)
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// learnWords reads every part once, a page at a time, and collects the
// vocabulary.
func (b *loadRun) learnWords(ctx context.Context) (*vocab, error) {
	type textParts []struct {
		PartID, Name, Notes, Material, Subsystem string
	}
	var list struct {
		Parts textParts `json:"parts"`
	}
	for offset := 0; ; offset += 5000 {
		var page struct {
			Parts textParts `json:"parts"`
		}
		if err := b.getJSON(ctx, fmt.Sprintf("/api/parts/?sort_by=id&sort_order=asc&limit=5000&offset=%d", offset), &page); err != nil {
			return nil, err
		}
		list.Parts = append(list.Parts, page.Parts...)
		if len(page.Parts) < 5000 {
			break
		}
	}
	df := map[string]int{}
	v := &vocab{}
	for _, p := range list.Parts {
		seen := map[string]bool{}
		text := strings.Join([]string{p.Name, p.Notes, p.Material, p.Subsystem}, " ")
		for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) }) {
			if len(w) >= 4 && !seen[w] {
				seen[w] = true
				df[w]++
			}
		}
	}
	best := math.Inf(1)
	for w, n := range df {
		v.words = append(v.words, w)
		share := float64(n) / float64(max(1, len(list.Parts)))
		if d := math.Abs(share - 0.2); d < best {
			best, v.common, v.commonPart = d, w, share
		}
	}
	slices.Sort(v.words)
	if len(v.words) == 0 {
		return nil, fmt.Errorf("the parts' text holds no words")
	}
	if len(v.words) < minWords {
		fmt.Fprintf(b.out, "warning: only %d distinct words in the parts' text, fewer than %d: an answer cache may stand in for search-words\n",
			len(v.words), minWords)
	}
	fmt.Fprintf(b.out, "search-words draws uniformly from %d distinct words of the parts' prose (not part numbers); common word %q matches %.1f%% of parts\n",
		len(v.words), v.common, 100*v.commonPart)
	return v, nil
}

// term draws a search term: any of the prose's words, with equal chances.
func (v *vocab) term(r *rand.Rand) string {
	return v.words[r.IntN(len(v.words))]
}

// get sends a GET with extra headers and returns the status, the headers and
// the number of body bytes received (as sent: the client does not decode
// compressed answers).
func (b *loadRun) get(ctx context.Context, path string, hdr map[string]string) (int, http.Header, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+path, nil)
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("X-API-Key", b.key)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header, n, err
}

// selected returns the scenarios named in only (comma-separated; all when
// empty), after learning the search vocabulary if a search scenario needs
// it and reporting the tab-load bytes if asked.
func (b *loadRun) selected(ctx context.Context, only string) ([]scenario, error) {
	keep := strings.Split(only, ",")
	wanted := func(name string) bool { return only == "" || slices.Contains(keep, name) }
	var words *vocab
	if wanted("search-words") || wanted("search-common-word") {
		var err error
		if words, err = b.learnWords(ctx); err != nil {
			return nil, err
		}
	}
	scen := append(b.scenarios(), b.clientScenarios(words)...)
	scen = slices.DeleteFunc(scen, func(s scenario) bool { return !wanted(s.name) })
	if wanted("tab-bytes") {
		if err := b.tabBytes(ctx); err != nil {
			return nil, fmt.Errorf("tab bytes: %w", err)
		}
	}
	return scen, nil
}

// clientScenarios are the scenarios of the web client's load.
func (b *loadRun) clientScenarios(v *vocab) []scenario {
	category := func(ctx context.Context, r *rand.Rand, w int) error {
		return b.request(ctx, http.MethodGet, "/api/parts/categories/"+categories[r.IntN(4)], nil)
	}
	var tagMu sync.Mutex
	tags := map[string]string{}
	revalidate := func(ctx context.Context, r *rand.Rand, w int) error {
		path := "/api/parts/categories/" + categories[r.IntN(4)]
		tagMu.Lock()
		tag := tags[path]
		tagMu.Unlock()
		st, hd, _, err := b.get(ctx, path, map[string]string{"If-None-Match": tag})
		switch {
		case err != nil:
			return err
		case st == http.StatusOK:
			// The first request, or the category changed since (an
			// earlier scenario's clean-up): remember the new tag.
			tagMu.Lock()
			tags[path] = hd.Get("ETag")
			tagMu.Unlock()
			return nil
		case st != http.StatusNotModified:
			return fmt.Errorf("revalidate %s: status %d", path, st)
		}
		return nil
	}
	out := []scenario{
		{name: "category-writes", do: category, background: b.writeLoad},
		{name: "category-304", do: revalidate},
		{name: "upload-1mib", do: b.upload},
	}
	if v != nil {
		out = append(out,
			scenario{name: "search-words", do: func(ctx context.Context, r *rand.Rand, w int) error {
				return b.request(ctx, http.MethodGet, "/api/parts/?limit=50&search="+url.QueryEscape(v.term(r)), nil)
			}},
			scenario{name: "search-common-word", do: func(ctx context.Context, r *rand.Rand, w int) error {
				return b.request(ctx, http.MethodGet, "/api/parts/?limit=50&search="+url.QueryEscape(v.common), nil)
			}})
	}
	return out
}

// writeLoad changes a random part's amount backgroundWrites times a second
// until ctx ends, and reports the rate it achieved.
func (b *loadRun) writeLoad(ctx context.Context) string {
	// Seeded from the clock: a fixed seed would write the same amounts to
	// the same parts in every run, and from the second run on on the same
	// database the writes would change nothing.
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	tick := time.NewTicker(time.Second / backgroundWrites)
	defer tick.Stop()
	start := time.Now()
	var done, failed atomic.Int64
	var wg sync.WaitGroup
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return fmt.Sprintf("background writes: %.1f/s (%d failed)",
				float64(done.Load())/time.Since(start).Seconds(), failed.Load())
		case <-tick.C:
		}
		id := b.ids[r.IntN(len(b.ids))]
		amount := 1 + r.IntN(9)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := b.request(context.WithoutCancel(ctx), http.MethodPut, fmt.Sprintf("/api/parts/%d", id),
				map[string]any{"amount": amount})
			if err != nil {
				failed.Add(1)
				return
			}
			done.Add(1)
		}()
	}
}

// uploadBody is a 1 MiB PDF drawing (a PDF header, then filler).
var uploadBody = func() []byte {
	b := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	copy(b, "%PDF-1.4\n")
	return b
}()

// upload sends a 1 MiB drawing to a random part, as a multipart form
// streamed through a pipe like a browser's.
func (b *loadRun) upload(ctx context.Context, r *rand.Rand, w int) error {
	id := b.ids[r.IntN(len(b.ids))]
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, err := mw.CreateFormFile("file", "drawing.pdf")
		if err == nil {
			_, err = fw.Write(uploadBody)
		}
		pw.CloseWithError(cmp.Or(err, mw.Close()))
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/api/parts/%d/upload", b.base, id), pr)
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", b.key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("upload: status %d", resp.StatusCode)
	}
	return nil
}

// tabBytes reports the bytes the web client's four tab loads cost, sent as
// is and with Accept-Encoding: gzip, br.
func (b *loadRun) tabBytes(ctx context.Context) error {
	var plain, packed int64
	for _, c := range categories {
		path := "/api/parts/categories/" + c
		_, _, n, err := b.get(ctx, path, nil)
		if err != nil {
			return err
		}
		_, hd, z, err := b.get(ctx, path, map[string]string{"Accept-Encoding": "gzip, br"})
		if err != nil {
			return err
		}
		fmt.Fprintf(b.out, "tab %s: %d bytes, %d with %s\n", c, n, z, cmp.Or(hd.Get("Content-Encoding"), "identity"))
		plain, packed = plain+n, packed+z
	}
	fmt.Fprintf(b.out, "four tab loads: %d bytes as is, %d with gzip, br (%.1f%%)\n", plain, packed, 100*float64(packed)/float64(plain))
	return nil
}
