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

// partFields returns the recorded fields of p in a fixed order; a nil part
// gives nil values (so a create lists every set field).
func partFields(p *Part) []namedValue {
	names := []string{"partId", "name", "type", "material", "subsystem", "assigned", "status",
		"category", "amount", "notes", "file", "onshapeUrl", "miscInfo", "claimedDate", "files", "model"}
	out := make([]namedValue, len(names))
	for i, n := range names {
		out[i].name = n
	}
	if p == nil {
		return out
	}
	str := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	var claimed any
	if p.ClaimedDate != nil {
		claimed = p.ClaimedDate.UTC().Format(time.RFC3339Nano)
	}
	var misc any
	if len(p.MiscInfo) > 0 {
		misc = cloneMisc(p.MiscInfo)
	}
	var files any
	if len(p.Files) > 0 {
		names := make([]any, len(p.Files))
		for i, f := range p.Files {
			sum := f.SHA256
			if len(sum) > 12 {
				sum = sum[:12]
			}
			names[i] = f.Name + "@" + sum
		}
		files = names
	}
	var model any
	if (p.Model.State != "" && p.Model.State != ModelNone) || p.Model.Error != "" {
		m := map[string]any{"state": string(p.Model.State)}
		if p.Model.Error != "" {
			m["error"] = p.Model.Error
		}
		model = m
	}
	values := []any{str(p.PartID), str(p.Name), str(string(p.Type)), str(p.Material), str(p.Subsystem),
		str(p.Assigned), str(string(p.Status)), str(string(p.Category)), float64(p.Amount), str(p.Notes),
		str(p.File), str(p.OnshapeURL), misc, claimed, files, model}
	for i := range out {
		out[i].value = values[i]
	}
	return out
}
