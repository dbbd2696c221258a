package parts

import (
	"reflect"
	"strings"
	"time"
)

func trimmed(s string) string { return strings.TrimSpace(s) }

// diffParts lists the fields that differ between a and b (either may be nil),
// by their JSON names, with JSON-friendly before and after values.
func diffParts(a, b *Part) []Change {
	fa, fb := partFields(a), partFields(b)
	var out []Change
	for i := range fb {
		before, after := fa[i].value, fb[i].value
		if reflect.DeepEqual(before, after) {
			continue
		}
		out = append(out, Change{Field: fb[i].name, Before: before, After: after})
	}
	return out
}

func samePart(a, b *Part) bool { return len(diffParts(a, b)) == 0 }

type namedValue struct {
	name  string
	value any
}

// partFields returns the recorded fields of p in a fixed order: the plain
// fields in table order, then miscInfo, claimedDate, files and model. A nil
// part gives nil values (so a create lists every set field).
func partFields(p *Part) []namedValue {
	out := make([]namedValue, len(fieldTable), len(fieldTable)+4)
	for i, f := range fieldTable {
		out[i].name = f.Name
	}
	out = append(out, namedValue{name: "miscInfo"}, namedValue{name: "claimedDate"},
		namedValue{name: "files"}, namedValue{name: "model"})
	if p == nil {
		return out
	}
	for i, f := range fieldTable {
		switch {
		case f.Kind == FieldInt:
			out[i].value = float64(*f.Int(p))
		case *f.Text(p) != "":
			out[i].value = *f.Text(p)
		}
	}
	rest := out[len(fieldTable):]
	if len(p.MiscInfo) > 0 {
		rest[0].value = cloneMisc(p.MiscInfo)
	}
	if p.ClaimedDate != nil {
		rest[1].value = p.ClaimedDate.UTC().Format(time.RFC3339Nano)
	}
	rest[2].value = fileNames(p.Files)
	rest[3].value = modelValue(p.Model)
	return out
}

// fileNames is the history's value of a part's files: name@short-sum each.
func fileNames(files []File) any {
	if len(files) == 0 {
		return nil
	}
	names := make([]any, len(files))
	for i, f := range files {
		sum := f.SHA256
		if len(sum) > 12 {
			sum = sum[:12]
		}
		names[i] = f.Name + "@" + sum
	}
	return names
}

// modelValue is the history's value of a part's model state.
func modelValue(m Model) any {
	if (m.State == "" || m.State == ModelNone) && m.Error == "" {
		return nil
	}
	v := map[string]any{"state": string(m.State)}
	if m.Error != "" {
		v["error"] = m.Error
	}
	return v
}
