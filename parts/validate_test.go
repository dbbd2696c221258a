package parts_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/partflow/partflow/parts"
)

func validPart() *parts.Part {
	return &parts.Part{PartID: "FRC-0042", Name: "Bracket", Material: "6061 Aluminium", Subsystem: "Drive",
		Amount: 2, Category: parts.CategoryReview, Status: parts.StatusPending, Type: parts.TypeCNC,
		OnshapeURL: "https://cad.onshape.com/documents/abc"}
}

func nest(depth int) map[string]any {
	m := map[string]any{"leaf": "x"}
	for i := 1; i < depth; i++ {
		m = map[string]any{"k": m}
	}
	return m
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *parts.Part)
		field  string // "" means valid
	}{
		{"valid_part_passes", func(p *parts.Part) {}, ""},
		{"missing_part_id_is_invalid", func(p *parts.Part) { p.PartID = "" }, "partId"},
		{"blank_part_id_is_invalid", func(p *parts.Part) { p.PartID = "   " }, "partId"},
		{"missing_material_is_invalid", func(p *parts.Part) { p.Material = "" }, "material"},
		{"missing_subsystem_is_invalid", func(p *parts.Part) { p.Subsystem = "\t" }, "subsystem"},
		{"part_id_at_limit_passes", func(p *parts.Part) { p.PartID = strings.Repeat("é", 100) }, ""},
		{"part_id_over_limit_is_invalid", func(p *parts.Part) { p.PartID = strings.Repeat("x", 101) }, "partId"},
		{"name_over_limit_is_invalid", func(p *parts.Part) { p.Name = strings.Repeat("x", 201) }, "name"},
		{"material_over_limit_is_invalid", func(p *parts.Part) { p.Material = strings.Repeat("x", 201) }, "material"},
		{"subsystem_over_limit_is_invalid", func(p *parts.Part) { p.Subsystem = strings.Repeat("x", 101) }, "subsystem"},
		{"assigned_over_limit_is_invalid", func(p *parts.Part) { p.Assigned = strings.Repeat("x", 101) }, "assigned"},
		{"notes_at_limit_passes", func(p *parts.Part) { p.Notes = strings.Repeat("x", 10000) }, ""},
		{"notes_over_limit_is_invalid", func(p *parts.Part) { p.Notes = strings.Repeat("x", 10001) }, "notes"},
		{"url_over_limit_is_invalid", func(p *parts.Part) { p.OnshapeURL = "https://x.io/" + strings.Repeat("a", 500) }, "onshapeUrl"},
		{"ftp_url_is_invalid", func(p *parts.Part) { p.OnshapeURL = "ftp://cad.onshape.com/x" }, "onshapeUrl"},
		{"javascript_url_is_invalid", func(p *parts.Part) { p.OnshapeURL = "javascript:alert(1)" }, "onshapeUrl"},
		{"http_url_passes", func(p *parts.Part) { p.OnshapeURL = "http://cad.onshape.com/x" }, ""},
		{"zero_amount_is_invalid", func(p *parts.Part) { p.Amount = 0 }, "amount"},
		{"negative_amount_is_invalid", func(p *parts.Part) { p.Amount = -3 }, "amount"},
		{"max_amount_passes", func(p *parts.Part) { p.Amount = 1_000_000 }, ""},
		{"huge_amount_is_invalid", func(p *parts.Part) { p.Amount = 1_000_001 }, "amount"},
		{"unknown_category_is_invalid", func(p *parts.Part) { p.Category = "paint" }, "category"},
		{"unknown_type_is_invalid", func(p *parts.Part) { p.Type = "laser" }, "type"},
		{"no_type_passes", func(p *parts.Part) { p.Type = parts.TypeNone }, ""},
		{"unknown_status_is_invalid", func(p *parts.Part) { p.Status = "Done" }, "status"},
		{"invalid_utf8_is_invalid", func(p *parts.Part) { p.Name = "bad\xff" }, "name"},
		{"nul_in_notes_is_invalid", func(p *parts.Part) { p.Notes = "a\x00b" }, "notes"},
		{"file_path_is_invalid", func(p *parts.Part) { p.File = "../../etc/passwd" }, "file"},
		{"misc_info_nested_values_pass", func(p *parts.Part) {
			p.MiscInfo = map[string]any{"s": "x", "n": 1.5, "b": true, "l": []any{"a", 2.0}, "o": map[string]any{"k": "v"}}
		}, ""},
		{"misc_info_nan_is_invalid", func(p *parts.Part) { p.MiscInfo = map[string]any{"n": math.NaN()} }, "miscInfo"},
		{"misc_info_infinity_is_invalid", func(p *parts.Part) { p.MiscInfo = map[string]any{"n": []any{math.Inf(1)}} }, "miscInfo"},
		{"misc_info_8_deep_passes", func(p *parts.Part) { p.MiscInfo = nest(8) }, ""},
		{"misc_info_9_deep_is_invalid", func(p *parts.Part) { p.MiscInfo = nest(9) }, "miscInfo"},
		{"misc_info_over_64k_is_invalid", func(p *parts.Part) {
			p.MiscInfo = map[string]any{"big": strings.Repeat("x", 64<<10)}
		}, "miscInfo"},
		{"misc_info_unsupported_type_is_invalid", func(p *parts.Part) { p.MiscInfo = map[string]any{"c": make(chan int)} }, "miscInfo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPart()
			tt.mutate(p)
			err := p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ve *parts.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, parts.ErrInvalid) {
				t.Fatalf("Validate() = %v, want a *ValidationError matching ErrInvalid", err)
			}
			if ve.Field != tt.field {
				t.Fatalf("field = %q, want %q (%v)", ve.Field, tt.field, err)
			}
		})
	}
}

func TestRequiredFieldMessagesMatchTheOriginalAPI(t *testing.T) {
	for _, tt := range []struct {
		mutate func(p *parts.Part)
		want   string
	}{
		{func(p *parts.Part) { p.PartID = "" }, "Part ID is required"},
		{func(p *parts.Part) { p.Material = "" }, "Material is required"},
		{func(p *parts.Part) { p.Subsystem = "" }, "Subsystem is required"},
	} {
		p := validPart()
		tt.mutate(p)
		if err := p.Validate(); err == nil || err.Error() != tt.want {
			t.Errorf("Validate() = %v, want %q", err, tt.want)
		}
	}
}

func TestParseSortField(t *testing.T) {
	for in, want := range map[string]parts.SortField{
		"": parts.SortCreatedAt, "created_at": parts.SortCreatedAt, "createdAt": parts.SortCreatedAt,
		"partId": parts.SortPartID, "part_id": parts.SortPartID, "name": parts.SortName,
		"claimedDate": parts.SortClaimedDate, "assigned": parts.SortAssigned,
	} {
		got, err := parts.ParseSortField(in)
		if err != nil || got != want {
			t.Errorf("ParseSortField(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"password", "notes", "name; DROP TABLE parts", "NAME ", "onshapeUrl"} {
		if _, err := parts.ParseSortField(bad); !errors.Is(err, parts.ErrInvalid) {
			t.Errorf("ParseSortField(%q) error = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestBaseNameNeverKeepsAPath(t *testing.T) {
	for in, want := range map[string]string{
		"bracket.step": "bracket.step", "/etc/passwd": "passwd", `..\..\x.step`: "x.step",
		"../../": "", "..": "", "C:\\fakepath\\a.pdf": "a.pdf",
	} {
		if got := parts.BaseName(in); got != want {
			t.Errorf("BaseName(%q) = %q, want %q", in, got, want)
		}
	}
}
