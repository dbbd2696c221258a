package bunstore

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// fold maps s to a canonical case-folded form: every rune becomes the smallest
// rune of its Unicode simple case-folding orbit (so 'k', 'K' and the Kelvin
// sign fold alike, as do 'σ', 'ς' and 'Σ'). Two strings are equal ignoring case
// exactly when their folds are equal, and folding keeps one rune per rune, so
// a substring of fold(s) is the fold of a substring of s. Full case foldings
// that change length ('ß' vs "SS") are not applied.
func fold(s string) string {
	if isFoldedASCII(s) {
		return s
	}
	if isASCII(s) {
		b := []byte(s)
		for i, c := range b {
			if c >= 'a' && c <= 'z' {
				b[i] = c - ('a' - 'A')
			}
		}
		return string(b)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// isFoldedASCII reports whether s is ASCII with no lower-case letters (the
// canonical form of an ASCII letter is its upper case, the smaller rune).
func isFoldedASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || (c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// isASCII reports whether s holds only ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		// 'K' and 'S' have non-ASCII orbit members (Kelvin sign, long s),
		// but they are larger than the ASCII letters, so the ASCII letter
		// is the canonical form.
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < m {
			m = f
		}
	}
	return m
}
