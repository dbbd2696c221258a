package sample

import (
	_ "embed"
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"
)

// words.txt holds the shop's words by group ("noun: bracket gusset ..."),
// in falling order of how often they are used.
//
//go:embed words.txt
var wordsFile string

// vocabulary is the words of words.txt by group, and the suppliers' names
// made from syllables: more than 1,500 distinct words, so that searches for
// the parts' own words are not a handful of hot queries.
type vocabulary struct {
	groups map[byte][]string // 'n' noun, 'v' verb, 'a' adjective, 'm' material, 'x' name, 's' supplier
}

var vocab = loadVocabulary()

// supplier syllables: every pair names a supplier ("Kelvotek", "Marrocast").
var (
	supplierHeads = []string{"Kel", "Mar", "Dur", "Ast", "Bel", "Cor", "Dex", "Fer", "Gal", "Hal", "Ilm", "Jor", "Kav",
		"Lor", "Mel", "Nor", "Orv", "Pel", "Quor", "Ros", "Sal", "Tor", "Ulm", "Ven", "Wex", "Yar", "Zel", "Bram",
		"Crest", "Dorn"}
	supplierTails = []string{"votek", "rocast", "amill", "ifab", "onix", "aform", "etool", "iweld", "aplast", "ocorp",
		"ametal", "itron", "aworks", "oline"}
)

func loadVocabulary() *vocabulary {
	v := &vocabulary{groups: map[byte][]string{}}
	seen := map[string]bool{}
	for line := range strings.SplitSeq(wordsFile, "\n") {
		group, list, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		g := group[0]
		if group == "material" {
			g = 'm'
		} else if group == "name" {
			g = 'x'
		}
		for _, w := range strings.Fields(list) {
			if !seen[w] {
				seen[w] = true
				v.groups[g] = append(v.groups[g], w)
			}
		}
	}
	for _, h := range supplierHeads {
		for _, t := range supplierTails {
			v.groups['s'] = append(v.groups['s'], h+t)
		}
	}
	return v
}

// templates of the generated sentences of a part's notes: {n} a noun, {v}
// a verb, {a} an adjective, {m} a material, {x} a project name, {s} a
// supplier.
var templates = []string{
	"{v} the {a} {n} before the {n} goes on.",
	"{v} and {v} the {n}; the {n} is {a}.",
	"Order {m} {n} stock from {s}.",
	"The {x} {n} needs a {a} {n} by the {n}.",
	"Keep the {a} {n} near the {n} and {v} it after the {n}.",
	"Ask {s} about a {a} {n} for the {n}.",
	"{v} the {n} on the {x} {n} with {m}.",
	"Same {n} as the {x} {n}, but {a} and {a}.",
}

// zipf draws ranks of a group: a few words are common, most are rare.
type zipf struct {
	byGroup map[byte]*rand.Zipf
}

func newZipf(r *rand.Rand) *zipf {
	z := &zipf{byGroup: map[byte]*rand.Zipf{}}
	for g, ws := range vocab.groups {
		z.byGroup[g] = rand.NewZipf(r, 1.07, 2, uint64(len(ws)-1))
	}
	return z
}

// sentence returns a sentence from a random template.
func (g *Generator) sentence() string {
	t := templates[g.r.IntN(len(templates))]
	var b strings.Builder
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			b.WriteString(t)
			break
		}
		b.WriteString(t[:i])
		group := t[i+1]
		ws := vocab.groups[group]
		b.WriteString(ws[g.z.byGroup[group].Uint64()])
		t = t[i+3:]
	}
	return capitalize(b.String())
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
