package partstest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/partflow/partflow/parts"
)

// Store conformance: filters, search, sorting, paging, totals and stats.

func testCategoryFilter(t *testing.T, e *env) {
	want := map[parts.Category][]string{}
	for i := range 12 {
		p := sample(i)
		p.Category = parts.Categories[i%len(parts.Categories)]
		if p.Category == parts.CategoryCompleted {
			p.Status = parts.StatusCompleted
		}
		e.create(t, p)
		want[p.Category] = append(want[p.Category], p.PartID)
	}
	for _, c := range parts.Categories {
		ps, n := e.find(t, parts.Filter{Category: c})
		if got := partIDs(ps); !slices.Equal(got, want[c]) || n != len(want[c]) {
			t.Errorf("category %s: %v (total %d), want %v", c, got, n, want[c])
		}
		for _, p := range ps {
			if p.Category != c {
				t.Errorf("category %s filter returned part in %s", c, p.Category)
			}
		}
	}
	if _, n := e.find(t, parts.Filter{}); n != 12 {
		t.Errorf("no filter: total %d, want 12", n)
	}
}

func searchFixture(t *testing.T, e *env) {
	t.Helper()
	fixture := []*parts.Part{
		{PartID: "AB_12", Name: "Motor mount", Material: "Steel", Subsystem: "Drive"},
		{PartID: "AB-12", Name: "Motor plate", Material: "steel", Subsystem: "drive"},
		{PartID: "C-3", Name: "Bracket", Material: "Aluminum 6061", Subsystem: "Arm", Notes: "100% infill, print twice"},
		{PartID: "C-4", Name: "Spacer", Material: "Delrin", Subsystem: "Intake", Notes: "Tolerance is 5\" over"},
		{PartID: "D-5", Name: "ÄRGER-Welle", Material: "Messing", Subsystem: "Getriebe", Notes: "Σίσυφος shaft"},
		{PartID: "E-6", Name: "Hook", Material: "Titanium", Subsystem: "Climber", Assigned: "Grace Hopper"},
		{PartID: "F-7", Name: "Alpha", Material: "Beta", Subsystem: "Gamma", OnshapeURL: "https://example.com/zebra", File: "zebra.step"},
	}
	for _, p := range fixture {
		e.create(t, p)
	}
}

func testSearch(t *testing.T, e *env) {
	searchFixture(t, e)
	cases := []struct {
		name, q string
		want    []string
	}{
		{"name matches ignoring case", "MOTOR", []string{"AB-12", "AB_12"}},
		{"partId matches", "c-3", []string{"C-3"}},
		{"notes match", "INFILL", []string{"C-3"}},
		{"subsystem matches", "intak", []string{"C-4"}},
		{"assigned matches", "hopper", []string{"E-6"}},
		{"material matches", "6061", []string{"C-3"}},
		{"substring inside a word matches", "racke", []string{"C-3"}},
		{"percent is literal", "0%", []string{"C-3"}},
		{"lone percent is literal", "%", []string{"C-3"}},
		{"underscore is literal", "b_1", []string{"AB_12"}},
		{"lone underscore is literal", "_", []string{"AB_12"}},
		{"double quote is literal", `5"`, []string{"C-4"}},
		{"one character matches", "k", []string{"C-3", "C-4", "E-6"}},
		{"two characters match", "ST", []string{"AB-12", "AB_12"}},
		{"non-ASCII matches ignoring case", "ärger", []string{"D-5"}},
		{"short non-ASCII matches ignoring case", "Ä", []string{"D-5"}},
		{"Greek matches ignoring case and final sigma", "ΣΊΣΥΦΟΣ", []string{"D-5"}},
		{"query spanning two fields matches nothing", "alphabeta", nil},
		{"fields outside the list are not searched", "zebra", nil},
		{"no match gives nothing", "unobtainium", nil},
		{"surrounding spaces are trimmed by the service", "  hook ", []string{"E-6"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps, n := e.find(t, parts.Filter{Search: tc.q})
			got := partIDs(ps)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if len(got) == 0 && len(want) == 0 {
				got, want = nil, nil
			}
			if !slices.Equal(got, want) || n != len(tc.want) {
				t.Errorf("search %q = %v (total %d), want %v", tc.q, got, n, tc.want)
			}
		})
	}
	t.Run("search combines with a category", func(t *testing.T) {
		ps, _ := e.find(t, parts.Filter{Search: "motor"})
		if _, err := e.svc.Approve(e.ctx, ps[0].ID, parts.ActionInput{}); err != nil {
			t.Fatal(err)
		}
		got, n := e.find(t, parts.Filter{Search: "motor", Category: parts.CategoryHand})
		if n != 1 || len(got) != 1 || got[0].ID != ps[0].ID {
			t.Errorf("motor in hand = %v (total %d), want only %s", partIDs(got), n, ps[0].PartID)
		}
		got, n = e.find(t, parts.Filter{Search: "mo", Category: parts.CategoryReview})
		if n != 1 || len(got) != 1 || got[0].ID == ps[0].ID {
			t.Errorf("short search in review = %v (total %d), want the other motor part", partIDs(got), n)
		}
	})
	t.Run("search pages with the full total", func(t *testing.T) {
		ps, n := e.find(t, parts.Filter{Search: "t", SortBy: parts.SortPartID, Asc: true, Limit: 2, Offset: 1})
		all, total := e.find(t, parts.Filter{Search: "t", SortBy: parts.SortPartID, Asc: true})
		if n != total || total != len(all) || len(ps) != 2 || !slices.Equal(ids(ps), ids(all[1:3])) {
			t.Errorf("page %v (total %d) of %v (total %d)", ids(ps), n, ids(all), total)
		}
	})
}

// testSearchedFields puts one part per plain text field, with a word of
// its own in that field, and searches for each word: the parts with a
// searched field (parts.Field.Search) are found, the others are not.
func testSearchedFields(t *testing.T, e *env) {
	words := map[string]string{}
	for i, f := range parts.Fields() {
		if f.Kind == parts.FieldInt {
			continue
		}
		p := full()
		p.ID = 0
		word := fmt.Sprintf("zqxw%cv", 'a'+i)
		*f.Text(p) = word
		e.put(t, p)
		words[f.Name] = word
	}
	for _, f := range parts.Fields() {
		word, ok := words[f.Name]
		if !ok {
			continue
		}
		ps, n := e.find(t, parts.Filter{Search: strings.ToUpper(word)})
		switch {
		case f.Search && (n != 1 || len(ps) != 1 || *f.Text(ps[0]) != word):
			t.Errorf("searched field %s: search for %q found %d part(s), want the one holding it", f.Name, word, n)
		case !f.Search && n != 0:
			t.Errorf("field %s is not searched, but a search for %q found %d part(s)", f.Name, word, n)
		}
	}
}

func testSearchFollowsWrites(t *testing.T, e *env) {
	p := e.create(t, &parts.Part{PartID: "S-1", Name: "Gusset", Material: "Steel", Subsystem: "Frame", Notes: "old words"})
	if _, n := e.find(t, parts.Filter{Search: "old words"}); n != 1 {
		t.Fatalf("new part not found by its notes")
	}
	if _, err := e.svc.UpdatePart(e.ctx, p.ID, parts.Update{Notes: ptr("fresh text"), Name: ptr("Rib")}); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{"old words": 0, "gusset": 0, "fresh": 1, "rib": 1, "ld": 0, "fr": 1} {
		if _, n := e.find(t, parts.Filter{Search: q}); n != want {
			t.Errorf("after update, search %q finds %d, want %d", q, n, want)
		}
	}
	// A refused action writes nothing (the strict workflow refuses a claim
	// on a part in review).
	strict := parts.NewService(e.store, &parts.Options{Now: e.clk.now, Workflow: parts.StrictWorkflow()})
	if _, err := strict.Assign(e.ctx, p.ID, parts.ActionInput{Assignee: "Linus"}); err == nil {
		t.Fatal("assign from review should fail under the strict workflow")
	}
	if _, n := e.find(t, parts.Filter{Search: "linus"}); n != 0 {
		t.Errorf("a refused claim made the part searchable by its assignee")
	}
	if _, err := e.svc.UpdatePart(e.ctx, p.ID, parts.Update{Assigned: ptr("Linus")}); err != nil {
		t.Fatal(err)
	}
	if _, n := e.find(t, parts.Filter{Search: "linus"}); n != 1 {
		t.Errorf("new assignee not searchable")
	}
	if err := e.svc.DeletePart(e.ctx, p.ID, 0, "x"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"fresh", "rib", "linus", "r"} {
		if ps, n := e.find(t, parts.Filter{Search: q}); n != 0 || len(ps) != 0 {
			t.Errorf("deleted part still found by %q", q)
		}
	}
}

// sortKey extracts the value a sort field orders by; nil sorts apart.
func sortKey(p *parts.Part, f parts.SortField) any {
	switch f {
	case parts.SortCreatedAt:
		return p.CreatedAt.UnixMicro()
	case parts.SortUpdatedAt:
		return p.UpdatedAt.UnixMicro()
	case parts.SortID:
		return p.ID
	case parts.SortClaimedDate:
		if p.ClaimedDate == nil {
			return nil
		}
		return p.ClaimedDate.UnixMicro()
	}
	for _, pf := range parts.Fields() {
		switch {
		case !pf.Sort || pf.Column != string(f):
		case pf.Kind == parts.FieldInt:
			return int64(*pf.Int(p))
		default:
			return *pf.Text(p)
		}
	}
	panic("unknown sort field " + string(f))
}

func compareKeys(a, b any) int {
	switch x := a.(type) {
	case int64:
		return cmp.Compare(x, b.(int64))
	case string:
		return strings.Compare(x, b.(string))
	}
	panic(fmt.Sprintf("unexpected key %T", a))
}

func testSortAndPaging(t *testing.T, e *env) {
	// Few distinct values, so every field has ties; lower-case ASCII text,
	// so any sane collation orders it the same way.
	words := []string{"delta", "alpha", "charlie", "bravo"}
	const n = 23
	for i := range n {
		p := &parts.Part{
			PartID:    fmt.Sprintf("p%02d", (i*7)%n),
			Name:      words[i%4],
			Type:      []parts.Type{parts.TypeCNC, parts.TypeHand, parts.TypeNone}[i%3],
			Material:  words[(i/2)%4],
			Subsystem: words[(i/3)%4],
			Amount:    1 + (i*5)%3,
			Category:  parts.Categories[i%3],
			Status:    []parts.Status{parts.StatusPending, parts.StatusReviewed, parts.StatusInProgress}[i%3],
		}
		if p.Category == parts.CategoryReview {
			p.Type = parts.TypeCNC
		}
		if i%4 != 0 {
			p.Assigned = words[(i/4)%4]
		}
		created := e.create(t, p)
		if i%5 == 0 {
			if _, err := e.svc.UpdatePart(e.ctx, created.ID, parts.Update{Notes: ptr("touched")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, field := range parts.SortFields {
		for _, asc := range []bool{true, false} {
			name := fmt.Sprintf("%s %s", field, map[bool]string{true: "asc", false: "desc"}[asc])
			t.Run(name, func(t *testing.T) {
				all, total := e.find(t, parts.Filter{SortBy: field, Asc: asc})
				if total != n || len(all) != n {
					t.Fatalf("unpaged: %d parts, total %d; want %d", len(all), total, n)
				}
				checkOrder(t, all, field, asc)
				var walked []int64
				for off := 0; off < n+5; off += 5 {
					page, pt := e.find(t, parts.Filter{SortBy: field, Asc: asc, Limit: 5, Offset: off})
					if pt != n {
						t.Errorf("page at offset %d: total %d, want %d", off, pt, n)
					}
					if want := min(5, max(0, n-off)); len(page) != want {
						t.Errorf("page at offset %d has %d parts, want %d", off, len(page), want)
					}
					walked = append(walked, ids(page)...)
				}
				if !slices.Equal(walked, ids(all)) {
					t.Errorf("pages %v differ from the unpaged order %v", walked, ids(all))
				}
				seen := map[int64]bool{}
				for _, id := range walked {
					if seen[id] {
						t.Errorf("part %d appears twice across pages", id)
					}
					seen[id] = true
				}
			})
		}
	}
	t.Run("default sort is created_at desc", func(t *testing.T) {
		def, _ := e.find(t, parts.Filter{})
		want, _ := e.find(t, parts.Filter{SortBy: parts.SortCreatedAt})
		if !slices.Equal(ids(def), ids(want)) {
			t.Errorf("default order %v, want created_at desc %v", ids(def), ids(want))
		}
	})
}

// checkOrder checks that ps is sorted by field in the direction asked, with
// ties broken by id in the same direction. Parts without a value (a nil
// claimed date) must be grouped together at one end.
func checkOrder(t *testing.T, ps []*parts.Part, field parts.SortField, asc bool) {
	t.Helper()
	sign := 1
	if !asc {
		sign = -1
	}
	var withValue []*parts.Part
	nilRun := 0
	for i, p := range ps {
		if sortKey(p, field) != nil {
			withValue = append(withValue, p)
			continue
		}
		if i > 0 && sortKey(ps[i-1], field) != nil && nilRun > 0 {
			t.Errorf("parts without a %s are not grouped at one end", field)
		}
		nilRun++
		if nilRun > 1 && sign*cmp.Compare(ps[i-1].ID, p.ID) > 0 {
			t.Errorf("parts without a %s: id %d before %d breaks the tie order", field, ps[i-1].ID, p.ID)
		}
	}
	for i := 1; i < len(withValue); i++ {
		a, b := withValue[i-1], withValue[i]
		c := sign * compareKeys(sortKey(a, field), sortKey(b, field))
		if c > 0 || (c == 0 && sign*cmp.Compare(a.ID, b.ID) > 0) {
			t.Errorf("%s order broken between part %d (%v) and part %d (%v)", field, a.ID, sortKey(a, field), b.ID, sortKey(b, field))
		}
	}
}

func testTotals(t *testing.T, e *env) {
	for i := range 7 {
		p := sample(i)
		if i < 3 {
			p.Category = parts.CategoryHand
			p.Type = parts.TypeHand
		}
		e.create(t, p)
	}
	cases := []struct {
		name          string
		f             parts.Filter
		page, total   int
		wantFirstSkip int
	}{
		{"first page", parts.Filter{Limit: 2}, 2, 7, 0},
		{"middle page", parts.Filter{Limit: 3, Offset: 3}, 3, 7, 3},
		{"last partial page", parts.Filter{Limit: 5, Offset: 5}, 2, 7, 5},
		{"offset past the end", parts.Filter{Limit: 5, Offset: 50}, 0, 7, 0},
		{"offset without limit", parts.Filter{Offset: 4}, 3, 7, 4},
		{"category page", parts.Filter{Category: parts.CategoryHand, Limit: 2}, 2, 3, 0},
		{"search page", parts.Filter{Search: "bracket", Limit: 4, Offset: 2}, 4, 7, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps, n := e.find(t, tc.f)
			if len(ps) != tc.page || n != tc.total {
				t.Errorf("got %d parts, total %d; want %d, total %d", len(ps), n, tc.page, tc.total)
			}
			if ps == nil {
				t.Errorf("an empty page must be an empty slice, not nil")
			}
		})
	}
}

// statsOf computes the stats a store should report, from a full listing.
func statsOf(ps []*parts.Part) *parts.Stats {
	st := &parts.Stats{Total: len(ps), ByCategory: map[parts.Category]int{}, ByStatus: map[parts.Status]int{}}
	for _, p := range ps {
		st.ByCategory[p.Category]++
		st.ByStatus[p.Status]++
		if p.Assigned != "" {
			st.Assigned++
		} else {
			st.Unassigned++
		}
	}
	return st
}

func withoutZeros(st *parts.Stats) *parts.Stats {
	c := *st
	c.ByCategory, c.ByStatus = map[parts.Category]int{}, map[parts.Status]int{}
	for k, v := range st.ByCategory {
		if v != 0 {
			c.ByCategory[k] = v
		}
	}
	for k, v := range st.ByStatus {
		if v != 0 {
			c.ByStatus[k] = v
		}
	}
	return &c
}

func testStats(t *testing.T, e *env) {
	check := func(step string) {
		t.Helper()
		all, _ := e.find(t, parts.Filter{})
		got, err := e.svc.Stats(e.ctx)
		if err != nil {
			t.Fatalf("%s: Stats: %v", step, err)
		}
		if d := gocmp.Diff(withoutZeros(statsOf(all)), withoutZeros(got)); d != "" {
			t.Errorf("%s: stats differ from the parts (-want +got):\n%s", step, d)
		}
	}
	check("empty store")
	var ps []*parts.Part
	for i := range 6 {
		p := sample(i)
		if i%2 == 1 {
			p.Type = parts.TypeHand
		}
		ps = append(ps, e.create(t, p))
	}
	check("after creates")
	for _, p := range ps[:4] {
		if _, err := e.svc.Approve(e.ctx, p.ID, parts.ActionInput{}); err != nil {
			t.Fatal(err)
		}
	}
	check("after approvals")
	for i, p := range ps[:3] {
		if _, err := e.svc.Assign(e.ctx, p.ID, parts.ActionInput{Assignee: fmt.Sprintf("w%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	check("after claims")
	if _, err := e.svc.Complete(e.ctx, ps[0].ID, parts.ActionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Unclaim(e.ctx, ps[1].ID, parts.ActionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdatePart(e.ctx, ps[4].ID, parts.Update{Notes: ptr("no count change")}); err != nil {
		t.Fatal(err)
	}
	check("after complete, unclaim and an edit")
	for _, p := range ps[2:5] {
		if err := e.svc.DeletePart(e.ctx, p.ID, 0, "x"); err != nil {
			t.Fatal(err)
		}
	}
	check("after deletes")
	got, _ := e.svc.Stats(e.ctx)
	want := &parts.Stats{Total: 3, Assigned: 1, Unassigned: 2,
		ByCategory: map[parts.Category]int{parts.CategoryCompleted: 1, parts.CategoryHand: 1, parts.CategoryReview: 1},
		ByStatus:   map[parts.Status]int{parts.StatusCompleted: 1, parts.StatusAlreadyStarted: 1, parts.StatusPending: 1}}
	if d := gocmp.Diff(want, withoutZeros(got)); d != "" {
		t.Errorf("final stats (-want +got):\n%s", d)
	}
}
