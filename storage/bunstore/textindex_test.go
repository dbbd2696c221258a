package bunstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// searchIDs runs a search for q (in cat, if any) and returns all matching
// ids ascending and the total.
func searchIDs(t *testing.T, svc *parts.Service, q string, cat parts.Category) []int64 {
	t.Helper()
	ps, total, err := svc.FindParts(t.Context(), parts.Filter{Search: q, Category: cat, SortBy: parts.SortID, Asc: true})
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	ids := []int64{}
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	if total != len(ids) {
		t.Fatalf("search %q: total %d, but %d parts", q, total, len(ids))
	}
	return ids
}

func newPart(partID, name, notes string) *parts.Part {
	return &parts.Part{PartID: partID, Name: name, Notes: notes, Type: parts.TypeHand, Material: "Steel", Subsystem: "Arm", Amount: 1}
}

func ptr[T any](v T) *T { return &v }

// twoProcesses opens two stores on one database file, as two processes
// would, and returns a Service on each.
func twoProcesses(t *testing.T, url string) (a, b *parts.Service) {
	t.Helper()
	open := func() *parts.Service {
		s, err := bunstore.Open(t.Context(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return parts.NewService(s, nil)
	}
	return open(), open()
}

// TestSearchSeesOtherWriters opens two stores on one file, as two processes
// would, and checks that searches in one see every kind of write committed
// by the other: creates, edits of a searched field, category changes and
// deletes.
func TestSearchSeesOtherWriters(t *testing.T) { onEachEngine(t, searchSeesOtherWriters) }

func searchSeesOtherWriters(t *testing.T, url string) {
	ctx := t.Context()
	reader, writer := twoProcesses(t, url)
	if got := searchIDs(t, reader, "widget", ""); len(got) != 0 {
		t.Fatalf("empty database: got %v", got)
	}

	var ids []int64
	for i, name := range []string{"Widget arm", "Gear", "Small widget"} {
		p, err := writer.CreatePart(ctx, newPart(fmt.Sprintf("W-%d", i), name, ""), "other")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	if got, want := searchIDs(t, reader, "WIDGET", ""), []int64{ids[0], ids[2]}; !slices.Equal(got, want) {
		t.Fatalf("after creates: got %v, want %v", got, want)
	}

	if _, err := writer.UpdatePart(ctx, ids[1], parts.Update{Notes: ptr("now a widget too"), Actor: "other"}); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.UpdatePart(ctx, ids[0], parts.Update{Name: ptr("Arm"), Actor: "other"}); err != nil {
		t.Fatal(err)
	}
	if got, want := searchIDs(t, reader, "widget", ""), []int64{ids[1], ids[2]}; !slices.Equal(got, want) {
		t.Fatalf("after edits: got %v, want %v", got, want)
	}

	if _, err := writer.Approve(ctx, ids[2], parts.ActionInput{Reviewer: "Rita"}); err != nil {
		t.Fatal(err)
	}
	if got, want := searchIDs(t, reader, "widget", parts.CategoryHand), []int64{ids[2]}; !slices.Equal(got, want) {
		t.Fatalf("after approve, hand category: got %v, want %v", got, want)
	}
	if got, want := searchIDs(t, reader, "widget", parts.CategoryReview), []int64{ids[1]}; !slices.Equal(got, want) {
		t.Fatalf("after approve, review category: got %v, want %v", got, want)
	}
	if _, err := writer.Assign(ctx, ids[2], parts.ActionInput{Assignee: "Zoë"}); err != nil {
		t.Fatal(err)
	}
	if got, want := searchIDs(t, reader, "ZOË", ""), []int64{ids[2]}; !slices.Equal(got, want) {
		t.Fatalf("after assign: got %v, want %v", got, want)
	}

	if err := writer.DeletePart(ctx, ids[1], 0, "other"); err != nil {
		t.Fatal(err)
	}
	if got, want := searchIDs(t, reader, "widget", ""), []int64{ids[2]}; !slices.Equal(got, want) {
		t.Fatalf("after delete: got %v, want %v", got, want)
	}
}

// TestSearchIndexCatchesUpAfterGaps checks the two ways the index starts
// over: more changes than it applies one by one, and changes pruned before
// it read them.
func TestSearchIndexCatchesUpAfterGaps(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "parts.db")
	s, err := bunstore.Open(ctx, "sqlite://"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	svc := parts.NewService(s, nil)
	if got := searchIDs(t, svc, "sprocket", ""); len(got) != 0 {
		t.Fatalf("got %v", got)
	}

	defer bunstore.SetMaxChangeBatch(2)()
	var want []int64
	for i := range 5 {
		p, err := svc.CreatePart(ctx, newPart(fmt.Sprintf("S-%d", i), "Sprocket", ""), "t")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, p.ID)
	}
	if got := searchIDs(t, svc, "sprocket", ""); !slices.Equal(got, want) {
		t.Fatalf("after a bulk change: got %v, want %v", got, want)
	}

	// Three more changes, of which another process prunes the first two
	// before this store looks.
	for i := range 3 {
		if _, err := svc.UpdatePart(ctx, want[i], parts.Update{Name: ptr("Pulley"), Actor: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, "DELETE FROM part_changes WHERE seq < (SELECT max(seq) FROM part_changes)"); err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, svc, "sprocket", ""); !slices.Equal(got, want[3:]) {
		t.Fatalf("after pruned changes: got %v, want %v", got, want[3:])
	}
	if got := searchIDs(t, svc, "pulley", ""); !slices.Equal(got, want[:3]) {
		t.Fatalf("after pruned changes: got %v, want %v", got, want[:3])
	}
}

// TestSearchIndexMatchesBruteForce makes random creates, edits, category
// changes and deletes (slots of deleted parts are reused), and after each
// round compares searches for many queries, short and long, ASCII and not,
// with and without a category, against a scan of the parts in Go.
func TestSearchIndexMatchesBruteForce(t *testing.T) {
	ctx := t.Context()
	s, err := bunstore.Open(ctx, "sqlite://:memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	svc := parts.NewService(s, nil)
	r := rand.New(rand.NewPCG(3, 5))
	words := []string{"Gear", "gearbox", "SHAFT", "Größe", "straße", "ΣΊΓΜΑ", "σίγμα", "日本語", "a", "ab", "x-1", "50%", "Ω"}
	phrase := func() string {
		var b []string
		for range 1 + r.IntN(4) {
			b = append(b, words[r.IntN(len(words))])
		}
		return strings.Join(b, " ")
	}
	live := map[int64]bool{}
	queries := []string{"gear", "GEARBOX", "ear", "a", "ab", "b", "ß", "STRASSE", "größe", "σίγμα", "ΣΊΓ", "本", "日本語", "-1", "50%",
		"%", "r s", "gear shaft", "Ω", "ω", "zzz", "ARM", "steel"}
	categories := []parts.Category{"", parts.CategoryReview, parts.CategoryHand}
	for round := range 12 {
		for range 25 {
			ids := make([]int64, 0, len(live))
			for id := range live {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			switch x := r.IntN(10); {
			case x < 5 || len(ids) == 0:
				p, err := svc.CreatePart(ctx, newPart(phrase(), phrase(), phrase()), "t")
				if err != nil {
					t.Fatal(err)
				}
				live[p.ID] = true
			case x < 7:
				id := ids[r.IntN(len(ids))]
				if _, err := svc.UpdatePart(ctx, id, parts.Update{Name: ptr(phrase()), Notes: ptr(phrase()), Actor: "t"}); err != nil {
					t.Fatal(err)
				}
			case x < 8:
				id := ids[r.IntN(len(ids))]
				if _, err := svc.Approve(ctx, id, parts.ActionInput{}); err != nil && !isTransition(err) {
					t.Fatal(err)
				}
			default:
				id := ids[r.IntN(len(ids))]
				if err := svc.DeletePart(ctx, id, 0, "t"); err != nil {
					t.Fatal(err)
				}
				delete(live, id)
			}
		}
		all, _, err := svc.FindParts(ctx, parts.Filter{SortBy: parts.SortID, Asc: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queries {
			for _, cat := range categories {
				want := []int64{}
				for _, p := range all {
					if (cat == "" || p.Category == cat) && matches(p, q) {
						want = append(want, p.ID)
					}
				}
				if got := searchIDs(t, svc, q, cat); !slices.Equal(got, want) {
					t.Fatalf("round %d, search %q in %q: got %v, want %v", round, q, cat, got, want)
				}
			}
		}
	}
}

func isTransition(err error) bool { return errors.Is(err, parts.ErrInvalidTransition) }

// matches is the search's definition: a case-insensitive (simple case
// folding) substring of one of the fields.
func matches(p *parts.Part, q string) bool {
	for _, f := range []string{p.PartID, p.Name, p.Notes, p.Subsystem, p.Assigned, p.Material} {
		if containsFold(f, q) {
			return true
		}
	}
	return false
}

// containsFold reports whether some substring of s equals q under
// strings.EqualFold (which uses simple folding, rune by rune).
func containsFold(s, q string) bool {
	n := len([]rune(q))
	rs := []rune(s)
	for i := 0; i+n <= len(rs); i++ {
		if strings.EqualFold(string(rs[i:i+n]), q) {
			return true
		}
	}
	return false
}

// TestSearchWhileWriting runs searches from several goroutines while others
// write; every part returned must match, and the final answer be exact. Run it
// with -race.
func TestSearchWhileWriting(t *testing.T) { onEachEngine(t, searchWhileWriting) }

func searchWhileWriting(t *testing.T, url string) {
	ctx := t.Context()
	s, err := bunstore.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	svc := parts.NewService(s, nil)
	const writers, perWriter = 3, 40
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	done := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				p, err := svc.CreatePart(ctx, newPart(fmt.Sprintf("C-%d-%d", w, i), "Caster wheel", ""), "t")
				if err != nil {
					errs <- err
					return
				}
				if i%4 == 0 {
					if _, err := svc.UpdatePart(ctx, p.ID, parts.Update{Name: ptr("Roller"), Actor: "t"}); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				ps, total, err := svc.FindParts(ctx, parts.Filter{Search: "caster"})
				if err != nil {
					errs <- err
					return
				}
				for _, p := range ps {
					if !matches(p, "caster") {
						errs <- fmt.Errorf("search caster returned %q", p.Name)
						return
					}
				}
				if len(ps) > total {
					// The page is read after the matches are counted; a
					// part that stopped matching in between is left out.
					errs <- fmt.Errorf("total %d, but %d parts", total, len(ps))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := writers * (perWriter - perWriter/4)
	if got := searchIDs(t, svc, "caster", ""); len(got) != want {
		t.Fatalf("final search: %d matches, want %d", len(got), want)
	}
	if got := searchIDs(t, svc, "roller", ""); len(got) != writers*perWriter/4 {
		t.Fatalf("final search: %d rollers, want %d", len(got), writers*perWriter/4)
	}
}

// TestCachedRowsFollowWrites checks that pages served partly from the row
// cache show every write committed before the request, from this store
// and from another one on the same file, including writes that change no
// searched field (amount, status).
func TestCachedRowsFollowWrites(t *testing.T) { onEachEngine(t, cachedRowsFollowWrites) }

func cachedRowsFollowWrites(t *testing.T, url string) {
	ctx := t.Context()
	reader, writer := twoProcesses(t, url)
	var ids []int64
	for i := range 5 {
		p, err := writer.CreatePart(ctx, newPart(fmt.Sprintf("R-%d", i), "Roller", ""), "w")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	page := func(svc *parts.Service, search string) map[int64]*parts.Part {
		t.Helper()
		ps, _, err := svc.FindParts(ctx, parts.Filter{Search: search, SortBy: parts.SortCreatedAt, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64]*parts.Part{}
		for _, p := range ps {
			out[p.ID] = p
		}
		return out
	}
	for _, search := range []string{"", "roller"} {
		for round, svc := range []*parts.Service{writer, reader, reader} { // the last read is from the cache
			if got := page(svc, search)[ids[0]]; got == nil || got.Amount != 1 {
				t.Fatalf("search %q round %d: part %v", search, round, got)
			}
		}
	}
	steps := []struct {
		name  string
		write func() error
		check func(p *parts.Part) bool
	}{
		{"amount", func() error {
			_, err := writer.UpdatePart(ctx, ids[0], parts.Update{Amount: ptr(7), Actor: "w"})
			return err
		}, func(p *parts.Part) bool { return p.Amount == 7 }},
		{"approve", func() error {
			_, err := writer.Approve(ctx, ids[0], parts.ActionInput{Reviewer: "Rita"})
			return err
		}, func(p *parts.Part) bool { return p.Status == parts.StatusReviewed && p.MiscInfo["reviewer"] == "Rita" }},
		{"amount in this store", func() error {
			_, err := reader.UpdatePart(ctx, ids[0], parts.Update{Amount: ptr(9), Actor: "r"})
			return err
		}, func(p *parts.Part) bool { return p.Amount == 9 }},
	}
	for _, st := range steps {
		if err := st.write(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for _, search := range []string{"", "roller"} {
			if got := page(reader, search)[ids[0]]; got == nil || !st.check(got) {
				t.Fatalf("after %s, search %q: %+v", st.name, search, got)
			}
		}
	}
	if err := writer.DeletePart(ctx, ids[0], 0, "w"); err != nil {
		t.Fatal(err)
	}
	for _, search := range []string{"", "roller"} {
		if got := page(reader, search); got[ids[0]] != nil || len(got) != 4 {
			t.Fatalf("after delete, search %q: %d parts, deleted one present: %v", search, len(got), got[ids[0]] != nil)
		}
	}
}

// TestWarmBuildsTheIndex checks that Warm loads the index (a search after
// it needs no load: the part another store writes meanwhile is found through
// the change log) and that it honours its context.
func TestWarmBuildsTheIndex(t *testing.T) {
	ctx := t.Context()
	url := "sqlite://" + filepath.Join(t.TempDir(), "parts.db")
	s, err := bunstore.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Warm(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Warm on a cancelled context: %v", err)
	}
	if err := s.Warm(ctx); err != nil {
		t.Fatal(err)
	}
	other, err := bunstore.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	p, err := parts.NewService(other, nil).CreatePart(ctx, newPart("W-1", "Warm widget", ""), "o")
	if err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, parts.NewService(s, nil), "warm", ""); !slices.Equal(got, []int64{p.ID}) {
		t.Fatalf("got %v", got)
	}
}

// TestChangeLogStaysBounded checks that the change log prunes itself as
// writes go on: after 10,000 changes beyond 100,000 it holds no more than
// 100,000 rows, and the index still answers exactly.
func TestChangeLogStaysBounded(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "parts.db")
	s, err := bunstore.Open(ctx, "sqlite://"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	svc := parts.NewService(s, nil)
	p, err := svc.CreatePart(ctx, newPart("B-1", "Bounded", ""), "t")
	if err != nil {
		t.Fatal(err)
	}
	// The index learns of change 1 and then falls behind the pruning.
	if got := searchIDs(t, svc, "bounded", ""); !slices.Equal(got, []int64{p.ID}) {
		t.Fatalf("search: %v", got)
	}
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// Pretend 110,000 changes happened: the log's numbering continues.
	if _, err := raw.ExecContext(ctx, "UPDATE sqlite_sequence SET seq = 109998 WHERE name = 'part_changes'"); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, "INSERT INTO part_changes (seq, part_id) SELECT value, 0 FROM generate_series(10, 109998)"); err != nil {
		// generate_series is not always compiled in: insert with a
		// recursive query instead.
		if _, err := raw.ExecContext(ctx, "WITH RECURSIVE n(v) AS (SELECT 10 UNION ALL SELECT v + 1 FROM n WHERE v < 109998) "+
			"INSERT INTO part_changes (seq, part_id) SELECT v, 0 FROM n"); err != nil {
			t.Fatal(err)
		}
	}
	// The next change is number 109,999, then 110,000, which prunes.
	for _, name := range []string{"Bounded A", "Bounded B"} {
		if _, err := svc.UpdatePart(ctx, p.ID, parts.Update{Name: ptr(name), Actor: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	var n, low int64
	if err := raw.QueryRowContext(ctx, "SELECT count(*), min(seq) FROM part_changes").Scan(&n, &low); err != nil {
		t.Fatal(err)
	}
	if n > 100_000 || low <= 10_000 {
		t.Fatalf("log holds %d rows from %d; want at most 100000, from above 10000", n, low)
	}
	if got := searchIDs(t, svc, "bounded b", ""); !slices.Equal(got, []int64{p.ID}) {
		t.Fatalf("search after pruning: %v", got)
	}
}

// TestUpgradeFromFTSRelease opens a database left by the release that
// searched with FTS5 (migrations up to 0005) holding parts, and checks that
// the upgrade keeps them searchable and logs later writes.
func TestUpgradeFromFTSRelease(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "parts.db")
	if err := bunstore.MigrateTo(ctx, path, "20260601000005"); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for i, name := range []string{"Old gearbox", "Old bracket"} {
		if _, err := raw.ExecContext(ctx, `INSERT INTO parts (part_id, name, material, subsystem, status, category, amount,
			created_at, updated_at, version, model) VALUES (?, ?, 'Steel', 'Drive', 'Pending', 'review', 1, ?, ?, 1, '{"state":"none"}')`,
			fmt.Sprintf("OLD-%d", i), name, 1_700_000_000_000_000+i, 1_700_000_000_000_000+i); err != nil {
			t.Fatal(err)
		}
	}
	s, err := bunstore.Open(ctx, "sqlite://"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	svc := parts.NewService(s, nil)
	got := searchIDs(t, svc, "GEARBOX", "")
	if len(got) != 1 {
		t.Fatalf("search after upgrade: %v", got)
	}
	if _, err := svc.UpdatePart(ctx, got[0], parts.Update{Name: ptr("New shaft"), Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, svc, "gearbox", ""); len(got) != 0 {
		t.Fatalf("renamed part still found: %v", got)
	}
	if got := searchIDs(t, svc, "old", ""); len(got) != 2 { // part ids OLD-0 and OLD-1
		t.Fatalf("search old: %v", got)
	}
}
