package bunstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partflow/partflow/internal/pgtest"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage/bunstore"
)

// The benchmarks run on each engine against databases of 10,000 and 100,000
// realistic parts. Each database is seeded once per `go test -bench` run
// (only when a benchmark asks for it, never in a plain `go test`): SQLite
// into a directory under os.TempDir(), PostgreSQL on a private server
// (pgtest, durable settings: fsync and synchronous commits on) over a unix
// socket; TestMain removes both afterwards. Read benchmarks open the seeded
// database; write benchmarks work on a copy.

var (
	benchSizes   = []int{10_000, 100_000}
	benchEngines = []string{"sqlite", "postgres"}
)

// Terms the search benchmarks look for: rareTerm occurs in well under 1% of
// parts, commonTerm in about 20%.
const (
	rareTerm   = "galling"
	commonTerm = "aluminum"
)

var bench struct {
	mu   sync.Mutex
	dir  string
	keep bool // a developer's scratch setup may keep the seeded files
	urls map[string]string
	pg   *pgtest.Server
	dbs  map[string]*pgtest.Database
}

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if bench.pg != nil {
		bench.pg.Stop()
	}
	if bench.dir != "" && !bench.keep {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

// seeded returns the URL of a database of engine holding n generated
// parts, building it on first use.
func seeded(b *testing.B, engine string, n int) string {
	b.Helper()
	bench.mu.Lock()
	defer bench.mu.Unlock()
	key := fmt.Sprintf("%s-%d", engine, n)
	if url, ok := bench.urls[key]; ok {
		return url
	}
	if bench.urls == nil {
		bench.urls, bench.dbs = map[string]string{}, map[string]*pgtest.Database{}
	}
	var url string
	switch engine {
	case "sqlite":
		if bench.dir == "" {
			dir, err := os.MkdirTemp("", "partflow-bench-")
			if err != nil {
				b.Fatal(err)
			}
			bench.dir = dir
		}
		path := filepath.Join(bench.dir, fmt.Sprintf("parts-%d.db", n))
		url = "sqlite://" + path
		if _, err := os.Stat(path); err == nil && bench.keep {
			bench.urls[key] = url
			return url
		}
	case "postgres":
		db := newBenchDatabase(b, "")
		bench.dbs[key] = db
		url = db.URL
	}
	start := time.Now()
	seed(b, url, n)
	b.Logf("seeded %d parts on %s in %v", n, engine, time.Since(start).Round(time.Millisecond))
	bench.urls[key] = url
	return url
}

// newBenchDatabase creates a database (a copy of template, if not "") on
// the benchmarks' PostgreSQL server, starting it on first use.
func newBenchDatabase(b *testing.B, template string) *pgtest.Database {
	b.Helper()
	if bench.pg == nil {
		srv, err := pgtest.Start(context.Background(), &pgtest.Options{Durable: true})
		if errors.Is(err, pgtest.ErrNoBinaries) && !pgtest.Required() {
			b.Skip(err)
		}
		if err != nil {
			b.Fatal(err)
		}
		bench.pg = srv
	}
	db, err := bench.pg.CreateDatabase(context.Background(), template)
	if err != nil {
		b.Fatal(err)
	}
	return db
}

// seed writes n generated parts into the new database at url.
func seed(b *testing.B, url string, n int) {
	ctx := context.Background()
	s, err := bunstore.Open(ctx, url, &bunstore.Options{Synchronous: bunstore.SyncOff})
	if err != nil {
		b.Fatal(err)
	}
	gen := newGenerator(n)
	const batch = 5000
	for done := 0; done < n; done += batch {
		err := s.Update(ctx, func(ctx context.Context, tx parts.Tx) error {
			for i := done; i < min(n, done+batch); i++ {
				if err := tx.CreatePart(ctx, gen.part(i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Optimize(ctx); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// openSeeded opens the seeded database of n parts; writable gives a private
// copy that the benchmark may change.
func openSeeded(b *testing.B, engine string, n int, writable bool) (*bunstore.Store, *parts.Service) {
	b.Helper()
	url := seeded(b, engine, n)
	if writable {
		switch engine {
		case "sqlite":
			cp := filepath.Join(b.TempDir(), "parts.db")
			copyFile(b, strings.TrimPrefix(url, "sqlite://"), cp)
			url = "sqlite://" + cp
		case "postgres":
			bench.mu.Lock()
			db := newBenchDatabase(b, bench.dbs[fmt.Sprintf("%s-%d", engine, n)].Name)
			bench.mu.Unlock()
			b.Cleanup(func() { db.Drop() })
			url = db.URL
		}
	}
	s, err := bunstore.Open(context.Background(), url, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	start := time.Now()
	if err := s.Warm(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Logf("search index of %d parts built in %v", n, time.Since(start).Round(time.Millisecond))
	return s, parts.NewService(s, nil)
}

func copyFile(b *testing.B, from, to string) {
	b.Helper()
	in, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}

// forSizes runs fn as one sub-benchmark per engine and database size.
func forSizes(b *testing.B, fn func(b *testing.B, engine string, n int)) {
	for _, engine := range benchEngines {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/parts=%d", engine, n), func(b *testing.B) { fn(b, engine, n) })
		}
	}
}

func BenchmarkGetByID(b *testing.B) {
	forSizes(b, func(b *testing.B, engine string, n int) {
		s, _ := openSeeded(b, engine, n, false)
		ctx := context.Background()
		r := rand.New(rand.NewPCG(1, 1))
		for b.Loop() {
			if _, err := s.FindPartByID(ctx, 1+r.Int64N(int64(n))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchFind measures one FindParts through the Service and reports the total.
func benchFind(b *testing.B, f parts.Filter) {
	forSizes(b, func(b *testing.B, engine string, n int) {
		_, svc := openSeeded(b, engine, n, false)
		ctx := context.Background()
		var total int
		for b.Loop() {
			ps, t, err := svc.FindParts(ctx, f)
			if err != nil {
				b.Fatal(err)
			}
			if len(ps) == 0 {
				b.Fatal("empty page")
			}
			total = t
		}
		b.ReportMetric(float64(total)*100/float64(n), "%matched")
	})
}

func BenchmarkFirstPage(b *testing.B) {
	benchFind(b, parts.Filter{SortBy: parts.SortCreatedAt, Limit: 50})
}

func BenchmarkCategoryByName(b *testing.B) {
	benchFind(b, parts.Filter{Category: parts.CategoryCNC, SortBy: parts.SortName, Asc: true, Limit: 50})
}

// BenchmarkRecentlyUpdated pages a category by updated_at, which has only
// the global index (it changes on every write).
func BenchmarkRecentlyUpdated(b *testing.B) {
	benchFind(b, parts.Filter{Category: parts.CategoryHand, SortBy: parts.SortUpdatedAt, Limit: 50})
}

func BenchmarkSearchRare(b *testing.B) {
	benchFind(b, parts.Filter{Search: rareTerm, Limit: 50})
}

func BenchmarkSearchCommon(b *testing.B) {
	benchFind(b, parts.Filter{Search: commonTerm, Limit: 50})
}

func BenchmarkStats(b *testing.B) {
	forSizes(b, func(b *testing.B, engine string, n int) {
		_, svc := openSeeded(b, engine, n, false)
		ctx := context.Background()
		for b.Loop() {
			st, err := svc.Stats(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if st.Total != n {
				b.Fatalf("total %d, want %d", st.Total, n)
			}
		}
	})
}

func BenchmarkCreate(b *testing.B) {
	forSizes(b, func(b *testing.B, engine string, n int) {
		_, svc := openSeeded(b, engine, n, true)
		ctx := context.Background()
		gen := newGenerator(n)
		i := n
		for b.Loop() {
			p := gen.part(i)
			p.ID, p.Category, p.Status, p.Assigned = 0, "", "", ""
			if _, err := svc.CreatePart(ctx, p, "bench"); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkClaim(b *testing.B) {
	forSizes(b, func(b *testing.B, engine string, n int) {
		s, svc := openSeeded(b, engine, n, true)
		ctx := context.Background()
		var open []int64
		for _, c := range []parts.Category{parts.CategoryCNC, parts.CategoryHand} {
			ps, _, err := s.FindParts(ctx, parts.Filter{Category: c, SortBy: parts.SortID, Asc: true})
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range ps {
				if p.Assigned == "" {
					open = append(open, p.ID)
				}
			}
		}
		next := 0
		for b.Loop() {
			if next == len(open) { // every open part is claimed: release them, untimed
				b.StopTimer()
				for _, id := range open {
					if _, err := svc.Unclaim(ctx, id, parts.ActionInput{}); err != nil {
						b.Fatal(err)
					}
				}
				next = 0
				b.StartTimer()
			}
			if _, err := svc.Assign(ctx, open[next], parts.ActionInput{Assignee: "Bench Worker", Actor: "bench"}); err != nil {
				b.Fatal(err)
			}
			next++
		}
	})
}

// generator makes deterministic, realistic parts.
type generator struct {
	n     int
	start time.Time
}

func newGenerator(n int) *generator {
	return &generator{n: n, start: time.Date(2023, 1, 9, 8, 0, 0, 0, time.UTC)}
}

var (
	adjectives = []string{"Left", "Right", "Upper", "Lower", "Front", "Rear", "Inner", "Outer", "Main", "Spare",
		"Long", "Short", "Wide", "Narrow", "Slotted", "Tapped", "Counterbored", "Reinforced", "Lightweight", "Modified"}
	nouns = []string{"bracket", "gusset", "spacer", "shaft", "hub", "plate", "mount", "bearing block", "pulley",
		"sprocket", "gear", "standoff", "axle", "clamp", "rail", "tube", "cover", "panel", "hook", "bumper",
		"latch", "hinge", "collar", "bushing", "flange", "rib", "crossmember", "arm", "wrist", "roller"}
	// materials: "Aluminum" parts are about 18% (plus a few notes), the
	// rare-term material is absent, galling appears only in rare notes.
	materials = []struct {
		name   string
		weight int
	}{
		{"Aluminum 6061-T6", 12}, {"Aluminum 7075", 6}, {"Steel 4140", 10}, {"Mild steel", 8},
		{"Stainless 304", 6}, {"Polycarbonate", 10}, {"Delrin", 10}, {"Nylon PA12", 8},
		{"PLA", 8}, {"PETG", 8}, {"Carbon fiber tube", 6}, {"Brass", 4}, {"Titanium Grade 5", 1}, {"HDPE", 3},
	}
	subsystems = []string{"Drivetrain", "Intake", "Shooter", "Climber", "Elevator", "Arm", "Wrist", "Chassis",
		"Electrical", "Bumpers", "Indexer", "Turret"}
	people = []string{"Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Linus Torvalds",
		"Margaret Hamilton", "Dennis Ritchie", "Barbara Liskov", "Ken Thompson", "Frances Allen",
		"Edsger Dijkstra", "Radia Perlman", "John Carmack", "Hedy Lamarr", "Claude Shannon", "Mary Jackson",
		"Niklaus Wirth", "Adele Goldberg", "Tim Berners-Lee", "Anita Borg"}
	sentences = []string{
		"Deburr all edges before assembly.",
		"Check the bore diameter with a pin gauge.",
		"Use the %d mm end mill for the pocket.",
		"Tap the holes M%d after drilling.",
		"Print with %d%% infill and four walls.",
		"Break sharp corners with a small chamfer.",
		"Match drill with the mating part on the robot.",
		"Anodize black if time allows.",
		"Tolerance on the bearing seat is tight, measure twice.",
		"Stock is in the blue bin under the bench.",
		"Cut oversize by %d mm and face to length.",
		"Countersink the mounting holes for flat head screws.",
		"Needs a test fit before the next competition.",
		"Replace the worn one from the practice robot.",
		"Clamp carefully, the wall is only %d mm thick.",
		"Drawing revision %d supersedes earlier prints.",
		"Keep the grain direction along the long edge.",
		"Powder coat together with the other chassis parts.",
		"Sand the layer lines on the visible face.",
		"Ask a mentor to check the setup on the lathe.",
	}
	// rareSentence appears in about 0.4% of parts.
	rareSentence = "Watch for galling on the threads; use anti-seize."
	// commonSentence mentions aluminum in about 2% of parts.
	commonSentence = "Could be made from aluminum scrap if stock runs out."
)

func pickMaterial(r *rand.Rand) string {
	total := 0
	for _, m := range materials {
		total += m.weight
	}
	x := r.IntN(total)
	for _, m := range materials {
		if x < m.weight {
			return m.name
		}
		x -= m.weight
	}
	return materials[0].name
}

// part returns part i, the same for every call with the same i.
func (g *generator) part(i int) *parts.Part {
	r := rand.New(rand.NewPCG(uint64(i), 0x9e3779b97f4a7c15))
	sub := subsystems[r.IntN(len(subsystems))]
	p := &parts.Part{
		PartID:    fmt.Sprintf("%s-%05d", strings.ToUpper(sub[:3]), i),
		Name:      adjectives[r.IntN(len(adjectives))] + " " + nouns[r.IntN(len(nouns))],
		Material:  pickMaterial(r),
		Subsystem: sub,
		Amount:    1 + r.IntN(6),
		Version:   1,
		Model:     parts.Model{State: parts.ModelNone},
	}
	if r.IntN(2) == 0 {
		p.Type = parts.TypeCNC
	} else {
		p.Type = parts.TypeHand
	}
	var notes []string
	for range 2 + r.IntN(3) {
		s := sentences[r.IntN(len(sentences))]
		if strings.Contains(s, "%") {
			s = fmt.Sprintf(s, 2+r.IntN(20))
		}
		notes = append(notes, s)
	}
	if r.IntN(250) == 0 {
		notes = append(notes, rareSentence)
	}
	if r.IntN(50) == 0 {
		notes = append(notes, commonSentence)
	}
	p.Notes = strings.Join(notes, " ")
	// Creation times spread over two years, in id order with jitter.
	p.CreatedAt = g.start.Add(time.Duration(i)*(2*365*24*time.Hour/time.Duration(max(g.n, 1))) +
		time.Duration(r.IntN(600_000_000))*time.Microsecond).Truncate(time.Microsecond)
	p.UpdatedAt = p.CreatedAt.Add(time.Duration(r.IntN(86400)) * time.Second)
	switch x := r.IntN(100); {
	case x < 25:
		p.Category, p.Status = parts.CategoryCompleted, parts.StatusCompleted
		p.Assigned = people[r.IntN(len(people))]
	case x < 45:
		p.Category, p.Status = parts.CategoryReview, parts.StatusPending
	default:
		p.Category = parts.CategoryHand
		if p.Type == parts.TypeCNC {
			p.Category = parts.CategoryCNC
		}
		p.Status = parts.StatusReviewed
		if r.IntN(3) == 0 {
			p.Assigned, p.Status = people[r.IntN(len(people))], parts.StatusInProgress
		}
	}
	if p.Assigned != "" {
		t := p.UpdatedAt
		p.ClaimedDate = &t
	}
	if p.Category != parts.CategoryReview {
		p.MiscInfo = map[string]any{"reviewer": people[r.IntN(len(people))]}
	}
	return p
}

// BenchmarkSearchIndexBuild measures building the in-memory search index
// (Warm) and reports the heap it holds per part.
func BenchmarkSearchIndexBuild(b *testing.B) {
	forSizes(b, func(b *testing.B, engine string, n int) {
		url := seeded(b, engine, n)
		ctx := context.Background()
		var held uint64
		for b.Loop() {
			b.StopTimer()
			s, err := bunstore.Open(ctx, url, nil)
			if err != nil {
				b.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.StartTimer()
			if err := s.Warm(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&after)
			held = after.HeapAlloc - before.HeapAlloc
			s.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(held)/float64(n), "heapB/part")
	})
}
