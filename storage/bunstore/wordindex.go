package bunstore

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/RoaringBitmap/roaring/v2"
)

// wordIndex is the word level of the search index: every word (a maximal
// run of letters and digits) of the folded texts, the slots of the parts
// holding it, and for every trigram of the words the words holding it. Any
// occurrence of a query made only of letters and digits lies inside one
// word, so the parts matching it are exactly the union of the parts of the
// words containing it: a search checks distinct words (a few hundred, or
// one per part number) instead of every candidate part's text. A word whose
// parts are all gone keeps its (empty) entry until the index reloads.
type wordIndex struct {
	ids   map[string]uint32          // word -> number
	list  []wordEntry                // by number
	grams map[uint32]*roaring.Bitmap // trigram -> word numbers
	buf   []uint32                   // scratch for trigrams
}

type wordEntry struct {
	word  string
	slots *roaring.Bitmap
}

func newWordIndex() *wordIndex {
	return &wordIndex{ids: map[string]uint32{}, grams: map[uint32]*roaring.Bitmap{}}
}

// post adds slot to (or removes it from) the words of text.
func (w *wordIndex) post(slot uint32, text string, add bool) {
	eachWord(text, func(word string) {
		n, ok := w.ids[word]
		switch {
		case !ok && !add:
			return
		case !ok:
			word = strings.Clone(word)
			n = uint32(len(w.list))
			w.ids[word] = n
			w.list = append(w.list, wordEntry{word: word, slots: roaring.New()})
			w.buf = trigrams(w.buf[:0], word)
			for _, g := range w.buf {
				bm := w.grams[g]
				if bm == nil {
					bm = roaring.New()
					w.grams[g] = bm
				}
				bm.Add(n)
			}
		}
		if add {
			w.list[n].slots.Add(slot)
		} else {
			w.list[n].slots.Remove(slot)
		}
	})
}

// eachWord calls fn with each maximal run of letters and digits of s (a
// word may come more than once).
func eachWord(s string, fn func(string)) {
	start := -1
	for i, r := range s {
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			fn(s[start:i])
			start = -1
		}
	}
	if start >= 0 {
		fn(s[start:])
	}
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// isWordQuery reports whether q (folded, valid UTF-8) is made only of
// letters and digits, so that the word index answers it.
func isWordQuery(q string) bool {
	if q == "" || !utf8.ValidString(q) {
		return false
	}
	for _, r := range q {
		if !isWordRune(r) {
			return false
		}
	}
	return true
}

// match returns the slots of the parts whose text contains q, a word query.
func (w *wordIndex) match(q string) *roaring.Bitmap {
	var cand *roaring.Bitmap
	if grams := trigrams(nil, q); len(grams) > 0 {
		bms := make([]*roaring.Bitmap, 0, len(grams))
		for _, g := range grams {
			bm := w.grams[g]
			if bm == nil {
				return roaring.New()
			}
			bms = append(bms, bm)
		}
		cand = roaring.FastAnd(bms...)
	}
	var hits []*roaring.Bitmap
	check := func(n uint32) {
		if e := &w.list[n]; strings.Contains(e.word, q) && !e.slots.IsEmpty() {
			hits = append(hits, e.slots)
		}
	}
	if cand == nil {
		for n := range w.list {
			check(uint32(n))
		}
	} else {
		it := cand.Iterator()
		for it.HasNext() {
			check(it.Next())
		}
	}
	switch len(hits) {
	case 0:
		return roaring.New()
	case 1:
		return hits[0]
	}
	return roaring.FastOr(hits...)
}
