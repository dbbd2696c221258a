package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/partflow/partflow/internal/pgtest"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/storage"
	"github.com/partflow/partflow/storage/bunstore"
)

// seedDeployment writes n parts, each with a drawing, into a SQLite
// database and a file folder under dir.
func seedDeployment(t *testing.T, dir string, n int) (dbURL, filesURL string) {
	t.Helper()
	dbURL, filesURL = "sqlite://"+filepath.Join(dir, "parts.db"), "file://"+filepath.Join(dir, "files")
	s, err := bunstore.Open(t.Context(), dbURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fs, err := storage.OpenFiles(t.Context(), filesURL)
	if err != nil {
		t.Fatal(err)
	}
	svc := parts.NewService(s, &parts.Options{Files: fs})
	for i := range n {
		p, err := svc.CreatePart(t.Context(), &parts.Part{PartID: fmt.Sprintf("CP-%d", i), Name: "Plate", Type: parts.TypeCNC,
			Material: "6061", Subsystem: "Drive", Amount: 1}, "t")
		if err != nil {
			t.Fatal(err)
		}
		pdf := "%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n% " + p.PartID + "\n"
		if _, err := svc.UploadFile(t.Context(), p.ID, parts.Upload{Name: "d.pdf", Body: strings.NewReader(pdf), Actor: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	return dbURL, filesURL
}

func runCLI(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, env, strings.NewReader(""), &out, &errb)
	return out.String() + errb.String(), code
}

// TestCopyBackupRestoreCommands runs partflow copy from SQLite to
// PostgreSQL (a postgresql+psycopg2:// URL), twice, then backup and restore
// on the configured deployment, and checks what they report.
func TestCopyBackupRestoreCommands(t *testing.T) {
	dir := t.TempDir()
	db, files := seedDeployment(t, dir, 12)
	pg := "postgresql+psycopg2://" + strings.TrimPrefix(pgtest.NewDatabase(t), "postgres://")
	pgFiles := "file://" + filepath.Join(dir, "pgfiles")
	// The command line takes the configured forms: a bare path is a SQLite file.
	args := []string{"copy", "--from", strings.TrimPrefix(db, "sqlite://"), "--to", pg, "--files-from", files, "--files-to", pgFiles, "--batch", "5"}
	out, code := runCLI(t, nil, args...)
	if code != 0 || !strings.Contains(out, "copied 12 rows of parts; verified 12 rows") || !strings.Contains(out, "copied 12 files; verified the sha256 of 12 files") {
		t.Fatalf("copy: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, nil, args...); code != 0 || !strings.Contains(out, "copied 0 rows of parts; verified 12 rows") {
		t.Fatalf("second copy: exit %d\n%s", code, out)
	}

	archive := filepath.Join(dir, "backup.tar.gz")
	env := []string{"PARTFLOW_ENV=development", "DATABASE_URL=" + pg, "UPLOAD_FOLDER=" + pgFiles}
	if out, code := runCLI(t, env, "backup", "--env", "development", archive); code != 0 || !strings.Contains(out, "backed up 12 files") {
		t.Fatalf("backup: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(archive); err != nil {
		t.Fatal(err)
	}
	if out, code := runCLI(t, env, "restore", archive); code == 0 || !strings.Contains(out, "not empty") {
		t.Fatalf("restore into the source deployment: exit %d, want a refusal\n%s", code, out)
	}
	fresh := []string{"PARTFLOW_ENV=development", "DATABASE_URL=sqlite:///" + filepath.Join(dir, "restored", "parts.db"),
		"UPLOAD_FOLDER=" + filepath.Join(dir, "restored", "files")}
	if out, code := runCLI(t, fresh, "restore", archive); code != 0 || !strings.Contains(out, "restored 12 rows of parts; verified 12 rows") {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
}
