package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage"
)

// flaskSchema is the original backend's parts table (SQLAlchemy model).
const flaskSchema = `CREATE TABLE parts (
	id INTEGER NOT NULL PRIMARY KEY,
	type VARCHAR(50),
	material VARCHAR(100),
	part_id VARCHAR(50) NOT NULL,
	name VARCHAR(200),
	subsystem VARCHAR(100),
	assigned VARCHAR(100),
	status VARCHAR(50),
	misc_info JSON,
	notes TEXT,
	file VARCHAR(200),
	onshape_url VARCHAR(500),
	claimed_date DATETIME,
	created_at DATETIME,
	amount INTEGER,
	updated_at DATETIME,
	category VARCHAR(20)
)`

const stepBody = "ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n"

// makeFlaskDeployment builds a Flask database and upload folder with the odd
// rows real deployments have.
func makeFlaskDeployment(t *testing.T) (dbPath, uploads string) {
	t.Helper()
	dir := t.TempDir()
	dbPath = filepath.Join(dir, "parts.db")
	db, err := sql.Open("sqlite", "file:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(flaskSchema); err != nil {
		t.Fatal(err)
	}
	rows := []string{
		// a completed hand part with hand workers and views, naive timestamps
		`(3, 'hand', 'Delrin', 'INT-003', 'Roller', 'Intake', 'Grace', 'Completed',
		  '{"reviewer":"Rita","handWorkers":[{"name":"Ada","timestamp":"2024-01-02T10:00:00"},{"name":"Grace","timestamp":"2024-01-03T10:00:00"}],"views":{"files":{"0":{"filename":"view_0.png","timestamp":"2024-01-03T11:00:00"}},"updated_at":"2024-01-03T11:00:00"}}',
		  'Keep the offcuts.', 'roller.step', 'https://cad.onshape.com/documents/abc', '2024-01-03 10:00:00.000000',
		  '2024-01-01 09:30:00.123456', 2, '2024-01-04 08:00:00', 'completed')`,
		// NULL material, NULL amount, NULL status and category
		`(7, 'cnc', NULL, 'DRV-007', 'Plate', 'Drive', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		  '2024-02-01 12:00:00', NULL, '2024-02-01 12:00:00', NULL)`,
		// a file that is missing from the upload folder
		`(12, 'cnc', '6061', 'DRV-012', 'Hub', 'Drive', 'Alan', 'In Progress', '{}', 'Tight bore.', 'hub.step',
		  NULL, '2024-03-05 07:00:00', '2024-03-01 07:00:00', 4, '2024-03-05 07:00:00', 'cnc')`,
		// a hostile file name in the database
		`(15, NULL, 'PLA', 'ELV-015', NULL, 'Elevator', NULL, 'Pending', NULL, NULL, '../../etc/passwd', NULL, NULL,
		  '2024-04-01T00:00:00', 1, '2024-04-01T00:00:00', 'review')`,
	}
	for _, r := range rows {
		if _, err := db.Exec(`INSERT INTO parts (id, type, material, part_id, name, subsystem, assigned, status,
			misc_info, notes, file, onshape_url, claimed_date, created_at, amount, updated_at, category) VALUES ` + r); err != nil {
			t.Fatal(err)
		}
	}
	uploads = filepath.Join(dir, "uploads")
	if err := os.MkdirAll(filepath.Join(uploads, "3"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(uploads, "3", "roller.step"), []byte(stepBody), 0o644); err != nil {
		t.Fatal(err)
	}
	return dbPath, uploads
}

func TestImportFlaskCopiesPartsAndFilesOnce(t *testing.T) {
	dbPath, uploads := makeFlaskDeployment(t)
	dir := inTempDir(t)
	env := []string{"PARTFLOW_DATABASE_URL=sqlite:///" + filepath.Join(dir, "pf.db"), "PARTFLOW_FILES_URL=file://" + filepath.Join(dir, "files")}
	args := []string{"import-flask", "--db", "sqlite:///" + dbPath, "--uploads", uploads}

	code, out, errOut := runCmd(t, args, env, "")
	if code != exitOK {
		t.Fatalf("import-flask exit %d\nstdout:%s\nstderr:%s", code, out, errOut)
	}
	for _, want := range []string{
		"imported 4 parts (0 already present, skipped), 1 files",
		`part 7: material is empty; imported as "(unknown)"`,
		`part 12: file "hub.step" is missing from the upload folder`,
		`part 15: file "../../etc/passwd" is missing`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCmd(t, args, env, "")
	if code != exitOK || !strings.Contains(out, "imported 0 parts (4 already present, skipped), 0 files") {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}

	ctx := context.Background()
	store, err := storage.Open(ctx, "sqlite:///"+filepath.Join(dir, "pf.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	files, err := storage.OpenFiles(ctx, "file://"+filepath.Join(dir, "files"))
	if err != nil {
		t.Fatal(err)
	}
	svc := parts.NewService(store, &parts.Options{Files: files})
	all, total, err := svc.FindParts(ctx, parts.Filter{SortBy: parts.SortID, Asc: true})
	if err != nil || total != 4 {
		t.Fatalf("FindParts: total %d, err %v", total, err)
	}
	byID := map[int64]*parts.Part{}
	for _, p := range all {
		byID[p.ID] = p
	}
	p3 := byID[3]
	if p3 == nil || p3.Status != parts.StatusCompleted || p3.Category != parts.CategoryCompleted ||
		p3.Assigned != "Grace" || p3.Amount != 2 || p3.Type != parts.TypeHand {
		t.Fatalf("part 3 = %+v", p3)
	}
	if want := time.Date(2024, 1, 1, 9, 30, 0, 123456000, time.UTC); !p3.CreatedAt.Equal(want) {
		t.Errorf("part 3 createdAt = %v, want %v (naive times are UTC)", p3.CreatedAt, want)
	}
	if p3.ClaimedDate == nil || !p3.ClaimedDate.Equal(time.Date(2024, 1, 3, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("part 3 claimedDate = %v", p3.ClaimedDate)
	}
	workers, _ := p3.MiscInfo["handWorkers"].([]any)
	views, _ := p3.MiscInfo["views"].(map[string]any)
	if len(workers) != 2 || views == nil || p3.MiscInfo["reviewer"] != "Rita" {
		t.Errorf("part 3 miscInfo = %v", p3.MiscInfo)
	}
	if p3.File != "roller.step" {
		t.Errorf("part 3 file = %q, want roller.step", p3.File)
	}
	rc, _, err := svc.OpenFile(ctx, 3, "roller.step")
	if err != nil {
		t.Fatalf("open imported file: %v", err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if string(body) != stepBody {
		t.Errorf("imported file = %q", body)
	}
	p7 := byID[7]
	if p7 == nil || p7.Material != "(unknown)" || p7.Amount != 1 || p7.Status != parts.StatusPending ||
		p7.Category != parts.CategoryReview {
		t.Errorf("part 7 = %+v", p7)
	}
	if p12 := byID[12]; p12 == nil || p12.File != "" || p12.Assigned != "Alan" {
		t.Errorf("part 12 (missing file) = %+v", p12)
	}
	if p15 := byID[15]; p15 == nil || p15.File != "" {
		t.Errorf("part 15 (hostile file name) = %+v", p15)
	}
	// New parts never reuse imported ids.
	np, err := svc.CreatePart(ctx, &parts.Part{PartID: "N-1", Material: "m", Subsystem: "s"}, "test")
	if err != nil || np.ID <= 15 {
		t.Fatalf("new part id %v, err %v; want > 15", np, err)
	}
	evs, err := svc.History(ctx, 3)
	if err != nil || len(evs) < 2 || evs[0].Action != "import" {
		t.Fatalf("history of part 3 = %v, %v", evs, err)
	}
}

func TestSeedCreatesPartsInEveryCategory(t *testing.T) {
	dir := inTempDir(t)
	env := []string{"PARTFLOW_DATABASE_URL=sqlite:///" + filepath.Join(dir, "seed.db"), "PARTFLOW_FILES_URL=mem://"}
	code, out, errOut := runCmd(t, []string{"seed", "--count", "120"}, env, "")
	if code != exitOK {
		t.Fatalf("seed exit %d: %s %s", code, out, errOut)
	}
	ctx := context.Background()
	store, err := storage.Open(ctx, "sqlite:///"+filepath.Join(dir, "seed.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := parts.NewService(store, nil)
	st, err := svc.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 120 {
		t.Fatalf("total = %d, want 120", st.Total)
	}
	for _, c := range parts.Categories {
		if st.ByCategory[c] == 0 {
			t.Errorf("no seeded part in %s: %v", c, st.ByCategory)
		}
	}
	for _, s := range []parts.Status{parts.StatusPending, parts.StatusReviewed, parts.StatusInProgress,
		parts.StatusAlreadyStarted, parts.StatusCompleted} {
		if st.ByStatus[s] == 0 {
			t.Errorf("no seeded part is %s: %v", s, st.ByStatus)
		}
	}
	if st.Assigned == 0 || st.Unassigned == 0 {
		t.Errorf("assignment = %d/%d", st.Assigned, st.Unassigned)
	}
	board, err := svc.Leaderboard(ctx)
	if err != nil || len(board) == 0 {
		t.Fatalf("leaderboard %v, %v", board, err)
	}
	evs, err := svc.History(ctx, 1)
	if err != nil || len(evs) == 0 {
		t.Fatalf("seeded part has no history: %v", err)
	}
	if want := fmt.Sprintf("seeded 120 parts; now %d in total", 120); !strings.Contains(out, want) {
		t.Errorf("output %q lacks %q", out, want)
	}
}

func TestSeedRefusesProduction(t *testing.T) {
	inTempDir(t)
	env := []string{"PARTFLOW_ENV=production", "PARTFLOW_DATABASE_URL=sqlite:///x.db", "PARTFLOW_API_KEY=" + strings.Repeat("k", 40)}
	code, _, errOut := runCmd(t, []string{"seed"}, env, "")
	if code != exitUsage || !strings.Contains(errOut, "refuses to run in production") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
