package flaskimport

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // reads the Flask database

	"github.com/partflow/partflow/parts"
)

// Report counts what an import did.
type Report struct {
	// Imported is the number of parts created.
	Imported int
	// Skipped is the number of parts whose id existed already.
	Skipped int
	// Files is the number of files uploaded.
	Files int
	// Warnings is the number of warnings printed.
	Warnings int
}

// flaskRow is one row of the original's parts table; every column may be NULL.
type flaskRow struct {
	id                                                       int64
	typ, material, partID, name, subsystem, assigned, status sql.NullString
	miscInfo, notes, file, onshapeURL, category              sql.NullString
	claimedDate, createdAt, updatedAt                        sql.NullString
	amount                                                   sql.NullInt64
}

// Import reads every part of the Flask database at path and imports
// it with its id, timestamps and files. Parts whose id exists already are
// skipped, so running it twice duplicates nothing. Problems that do not stop
// a part from being imported (a missing file, a NULL required field) are
// printed as warnings.
func Import(ctx context.Context, svc *parts.Service, path, uploads string, out io.Writer) (Report, error) {
	var rep Report
	if _, err := os.Stat(path); err != nil {
		return rep, fmt.Errorf("flask database: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return rep, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT id, type, material, part_id, name, subsystem, assigned, status,
		misc_info, notes, file, onshape_url, category, CAST(claimed_date AS TEXT), CAST(created_at AS TEXT),
		CAST(updated_at AS TEXT), amount FROM parts ORDER BY id`)
	if err != nil {
		return rep, fmt.Errorf("read flask parts: %w", err)
	}
	defer rows.Close()
	var all []flaskRow
	for rows.Next() {
		var r flaskRow
		if err := rows.Scan(&r.id, &r.typ, &r.material, &r.partID, &r.name, &r.subsystem, &r.assigned, &r.status,
			&r.miscInfo, &r.notes, &r.file, &r.onshapeURL, &r.category, &r.claimedDate, &r.createdAt,
			&r.updatedAt, &r.amount); err != nil {
			return rep, fmt.Errorf("read flask parts: %w", err)
		}
		all = append(all, r)
	}
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("read flask parts: %w", err)
	}
	warn := func(id int64, format string, args ...any) {
		rep.Warnings++
		fmt.Fprintf(out, "warning: part %d: %s\n", id, fmt.Sprintf(format, args...))
	}
	for _, r := range all {
		p, err := r.toPart(warn)
		if err != nil {
			return rep, fmt.Errorf("part %d: %w", r.id, err)
		}
		created, err := svc.ImportPart(ctx, p, "import-flask")
		if err != nil {
			return rep, err
		}
		if !created {
			rep.Skipped++
			continue
		}
		rep.Imported++
		if r.file.String == "" {
			continue
		}
		if uploads == "" {
			warn(r.id, "has file %q but no --uploads folder was given", r.file.String)
			continue
		}
		n, err := importFiles(ctx, svc, r.id, uploads, r.file.String)
		switch {
		case errors.Is(err, os.ErrNotExist):
			warn(r.id, "file %q is missing from the upload folder; part imported without it", r.file.String)
		case err != nil:
			warn(r.id, "file %q not imported: %v", r.file.String, err)
		}
		rep.Files += n
	}
	return rep, nil
}

// importFiles uploads the part's main file from <uploads>/<id>/<name>.
// The name comes from the Flask database, so it is reduced to a base name
// before it touches the file system.
func importFiles(ctx context.Context, svc *parts.Service, id int64, uploads, name string) (int, error) {
	base := parts.BaseName(name)
	if base == "" {
		return 0, fmt.Errorf("unusable file name %q", name)
	}
	f, err := os.Open(filepath.Join(uploads, fmt.Sprint(id), base))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := uploadImported(ctx, svc, id, base, f); err != nil {
		return 0, err
	}
	return 1, nil
}

// uploadImported stores an imported file through the Service, with every
// upload check (allowed extension, size, content) applied.
func uploadImported(ctx context.Context, svc *parts.Service, id int64, name string, body io.Reader) error {
	_, err := svc.UploadFile(ctx, id, parts.Upload{Name: name, Body: body, Actor: "import-flask"})
	return err
}

// toPart converts a Flask row, filling what the data model requires. The
// part's file name is set by the file upload that follows, so a part whose
// file is missing does not claim one.
func (r flaskRow) toPart(warn func(int64, string, ...any)) (*parts.Part, error) {
	p := &parts.Part{
		ID: r.id, PartID: r.partID.String, Name: r.name.String, Type: parts.Type(strings.ToLower(r.typ.String)),
		Material: r.material.String, Subsystem: r.subsystem.String, Assigned: r.assigned.String,
		Status: parts.Status(r.status.String), Category: parts.Category(strings.ToLower(r.category.String)),
		Amount: int(r.amount.Int64), Notes: r.notes.String,
		OnshapeURL: r.onshapeURL.String,
	}
	if s := strings.TrimSpace(r.miscInfo.String); s != "" && s != "null" {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			warn(r.id, "misc_info is not a JSON object; dropped (%v)", err)
		} else {
			p.MiscInfo = m
		}
	}
	var err error
	if p.CreatedAt, err = flaskTime(r.createdAt); err != nil {
		return nil, fmt.Errorf("created_at: %w", err)
	}
	if p.UpdatedAt, err = flaskTime(r.updatedAt); err != nil {
		return nil, fmt.Errorf("updated_at: %w", err)
	}
	if r.claimedDate.Valid && r.claimedDate.String != "" {
		t, err := flaskTime(r.claimedDate)
		if err != nil {
			return nil, fmt.Errorf("claimed_date: %w", err)
		}
		p.ClaimedDate = &t
	}
	if p.Assigned == "" {
		p.ClaimedDate = nil
	}
	if err := repairImported(p, func(format string, args ...any) { warn(r.id, format, args...) }); err != nil {
		return nil, err
	}
	return p, nil
}

// importRepairs are the importer's answers to the library's validation
// errors, by field: each makes the refused value acceptable and says how,
// or says nothing ("") for a quiet default. The rules themselves are the
// library's (parts.Part.Validate).
var importRepairs = map[string]func(p *parts.Part) string{
	"partId":    func(p *parts.Part) string { return unknownText(&p.PartID, "part_id") },
	"material":  func(p *parts.Part) string { return unknownText(&p.Material, "material") },
	"subsystem": func(p *parts.Part) string { return unknownText(&p.Subsystem, "subsystem") },
	"amount": func(p *parts.Part) string {
		was := p.Amount
		p.Amount = min(max(p.Amount, 1), parts.MaxAmount)
		if was < 1 {
			return ""
		}
		return fmt.Sprintf("amount %d is too large; imported as %d", was, p.Amount)
	},
	"status": func(p *parts.Part) string {
		was := p.Status
		p.Status = parts.StatusPending
		if was == "" {
			return ""
		}
		return fmt.Sprintf("unknown status %q; imported as Pending", was)
	},
	"type": func(p *parts.Part) string {
		was := p.Type
		p.Type = parts.TypeNone
		return fmt.Sprintf("unknown type %q; imported without a type", was)
	},
	"category": func(p *parts.Part) string { p.Category = parts.CategoryReview; return "" },
	"onshapeUrl": func(p *parts.Part) string {
		was := p.OnshapeURL
		p.OnshapeURL = ""
		return fmt.Sprintf("onshape_url %q is not an http(s) URL; dropped", was)
	},
	"miscInfo": func(p *parts.Part) string { p.MiscInfo = nil; return "misc_info is not acceptable; dropped" },
}

func unknownText(field *string, column string) string {
	*field = "(unknown)"
	return fmt.Sprintf("%s is empty; imported as %q", column, "(unknown)")
}

// repairImported validates p with the library's rules and repairs what
// importRepairs can, warning about each repair; any other problem is an
// error.
func repairImported(p *parts.Part, warn func(format string, args ...any)) error {
	repaired := map[string]bool{}
	for {
		err := p.Validate()
		var ve *parts.ValidationError
		if err == nil || !errors.As(err, &ve) {
			return err
		}
		fix, ok := importRepairs[ve.Field]
		if !ok || repaired[ve.Field] {
			return err
		}
		repaired[ve.Field] = true
		if msg := fix(p); msg != "" {
			warn("%s", msg)
		}
	}
}

// flaskTime parses SQLAlchemy's DateTime text. Naive times (the original
// stored datetime.utcnow()) are taken as UTC. NULL gives the zero time.
func flaskTime(s sql.NullString) (time.Time, error) {
	v := strings.TrimSpace(s.String)
	if !s.Valid || v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised time %q", v)
}
