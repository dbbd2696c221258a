package parts

import (
	"strings"
	"unicode/utf8"
)

// Served file names: safe ASCII names derived from clients' names.

// fileName is a client's file name reduced once, where it enters the
// library, to its last path element (BaseName), with its extension; the
// rest of the upload path trusts it and never reduces it again.
type fileName struct {
	// base is the last path element ("" when there is none).
	base string
	// ext is base's lower-case extension without the dot ("" when none).
	ext string
}

// newFileName checks a client's file name once.
func newFileName(raw string) fileName {
	base := BaseName(raw)
	n := fileName{base: base}
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		n.ext = normExt(base[i+1:])
	}
	return n
}

// SafeName derives the served file name from a client's file name: only
// the last path element (/ and \ both separate), letters with diacritics
// transliterated to ASCII (é -> e, ß -> ss) and every other character
// outside [A-Za-z0-9._-] replaced by "_", no leading dots or dashes, at most
// MaxSafeNameLen bytes, ending in "." + ext (ext lower case, without the
// dot). A name with nothing usable becomes "file." + ext.
func SafeName(name, ext string) string { return newFileName(name).safe(ext) }

// safe is SafeName of n.
func (n fileName) safe(ext string) string {
	base := n.base
	if i := strings.LastIndexByte(base, '.'); i >= 0 && normExt(base[i+1:]) == ext {
		base = base[:i]
	}
	var b strings.Builder
	for _, r := range base {
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'):
			b.WriteRune(r)
		default:
			if t, ok := translit[r]; ok {
				b.WriteString(t)
			} else {
				b.WriteByte('_')
			}
		}
	}
	stem := b.String()
	for strings.Contains(stem, "__") {
		stem = strings.ReplaceAll(stem, "__", "_")
	}
	for strings.Contains(stem, "..") {
		stem = strings.ReplaceAll(stem, "..", ".")
	}
	stem = strings.TrimLeft(stem, "._-")
	stem = strings.TrimRight(stem, "._")
	if max := MaxSafeNameLen - len(ext) - 1; len(stem) > max {
		stem = strings.TrimRight(stem[:max], "._")
	}
	if stem == "" {
		stem = "file"
	}
	return stem + "." + ext
}

// originalName is the client's name as kept for Content-Disposition: the
// last path element, valid UTF-8, no control characters, at most
// MaxFileNameLen characters; the safe name when nothing is left.
func originalName(name fileName, safe string) string {
	base := strings.ToValidUTF8(name.base, "\uFFFD")
	base = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, base)
	if utf8.RuneCountInString(base) > MaxFileNameLen {
		base = string([]rune(base)[:MaxFileNameLen])
	}
	if strings.TrimSpace(base) == "" {
		return safe
	}
	return base
}

// translit maps common Latin letters with diacritics, and a few others, to ASCII.
var translit = func() map[rune]string {
	m := map[rune]string{}
	add := func(to string, from string) {
		for _, r := range from {
			m[r] = to
		}
	}
	add("a", "àáâãäåāăą")
	add("A", "ÀÁÂÃÄÅĀĂĄ")
	add("c", "çćĉċč")
	add("C", "ÇĆĈĊČ")
	add("d", "ďđð")
	add("D", "ĎĐÐ")
	add("e", "èéêëēĕėęě")
	add("E", "ÈÉÊËĒĔĖĘĚ")
	add("g", "ĝğġģ")
	add("G", "ĜĞĠĢ")
	add("i", "ìíîïĩīĭįı")
	add("I", "ÌÍÎÏĨĪĬĮİ")
	add("l", "ĺļľŀł")
	add("L", "ĹĻĽĿŁ")
	add("n", "ñńņňŉ")
	add("N", "ÑŃŅŇ")
	add("o", "òóôõöøōŏő")
	add("O", "ÒÓÔÕÖØŌŎŐ")
	add("r", "ŕŗř")
	add("R", "ŔŖŘ")
	add("s", "śŝşš")
	add("S", "ŚŜŞŠ")
	add("t", "ţťŧ")
	add("T", "ŢŤŦ")
	add("u", "ùúûüũūŭůűų")
	add("U", "ÙÚÛÜŨŪŬŮŰŲ")
	add("y", "ýÿŷ")
	add("Y", "ÝŸŶ")
	add("z", "źżž")
	add("Z", "ŹŻŽ")
	add("ss", "ß")
	add("ae", "æ")
	add("AE", "Æ")
	add("oe", "œ")
	add("OE", "Œ")
	add("th", "þ")
	add("TH", "Þ")
	add("_", " \t")
	return m
}()
