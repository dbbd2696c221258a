package sample_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/partflow/partflow/internal/sample"
)

// TestPartsUseAWideVocabulary checks what the search load relies on: 10,000
// parts' prose holds more than 1,500 distinct words of four letters or
// more, and some word is in about a fifth of the parts (a common search).
func TestPartsUseAWideVocabulary(t *testing.T) {
	g := sample.New(1)
	df := map[string]int{}
	const n = 10000
	for range n {
		p := g.Part()
		seen := map[string]bool{}
		text := strings.ToLower(strings.Join([]string{p.Name, p.Notes, p.Material, p.Subsystem}, " "))
		for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) }) {
			if len(w) >= 4 && !seen[w] {
				seen[w] = true
				df[w]++
			}
		}
	}
	if len(df) < 1500 {
		t.Errorf("%d distinct words, want at least 1,500", len(df))
	}
	common := ""
	for w, c := range df {
		if c >= n*15/100 && c <= n*25/100 {
			common = w
		}
	}
	if common == "" {
		t.Error("no word is in 15-25% of the parts")
	}
	t.Logf("%d distinct words; e.g. %q in %d of %d parts", len(df), common, df[common], n)
}

// TestSameSeedSameParts checks that a seed gives the same parts.
func TestSameSeedSameParts(t *testing.T) {
	a, b := sample.New(9), sample.New(9)
	for range 100 {
		if pa, pb := a.Part(), b.Part(); pa.Name != pb.Name || pa.Notes != pb.Notes || pa.PartID != pb.PartID {
			t.Fatalf("seed 9 gave %+v and %+v", pa, pb)
		}
	}
}
