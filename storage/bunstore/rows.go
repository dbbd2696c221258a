package bunstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/partflow/partflow/parts"
)

// The row structs below are the database shape of the domain types. They stay
// inside the driver; callers only see parts types. Times are microseconds since
// the Unix epoch (UTC); JSON columns are TEXT.

type partRow struct {
	ID int64
	// plain holds the part's plain text fields (parts.Fields), so the field
	// table's accessors point straight at the scanned strings; nothing else
	// of it is set.
	plain parts.Part
	// ints holds the plain int fields, by their index in intFields.
	ints        [maxIntFields]int64
	MiscInfo    *string
	ClaimedDate *int64
	CreatedAt   int64
	UpdatedAt   int64
	Version     int64
	Files       *string
	Model       string
}

// fileJSON is the stored form of a parts.File. Its keys are fixed here, so a
// renamed Go field in parts cannot silently change the stored format.
type fileJSON struct {
	Name         string `json:"name"`
	OriginalName string `json:"originalName,omitempty"`
	Kind         string `json:"kind"`
	View         int    `json:"view,omitempty"`
	Key          string `json:"key"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256,omitempty"`
	ContentType  string `json:"contentType,omitempty"`
	UploadedAt   int64  `json:"uploadedAt"`
}

type modelJSON struct {
	State  string `json:"state,omitempty"`
	Error  string `json:"error,omitempty"`
	Source string `json:"source,omitempty"`
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func toPartRow(p *parts.Part) (*partRow, error) {
	r := &partRow{ID: p.ID, CreatedAt: micros(p.CreatedAt), UpdatedAt: micros(p.UpdatedAt), Version: p.Version}
	for _, f := range textFields {
		*f.Text(&r.plain) = *f.Text(p)
	}
	for i, f := range intFields {
		r.ints[i] = int64(*f.Int(p))
	}
	if p.MiscInfo != nil {
		b, err := json.Marshal(p.MiscInfo)
		if err != nil {
			return nil, fmt.Errorf("encode miscInfo: %w", err)
		}
		s := string(b)
		r.MiscInfo = &s
	}
	if p.ClaimedDate != nil {
		us := micros(*p.ClaimedDate)
		r.ClaimedDate = &us
	}
	if p.Files != nil {
		fs := make([]fileJSON, len(p.Files))
		for i, f := range p.Files {
			fs[i] = fileJSON{
				Name: f.Name, OriginalName: f.OriginalName, Kind: string(f.Kind), View: f.View, Key: f.Key,
				Size: f.Size, SHA256: f.SHA256, ContentType: f.ContentType, UploadedAt: micros(f.UploadedAt),
			}
		}
		b, err := json.Marshal(fs)
		if err != nil {
			return nil, fmt.Errorf("encode files: %w", err)
		}
		s := string(b)
		r.Files = &s
	}
	b, err := json.Marshal(modelJSON{State: string(p.Model.State), Error: p.Model.Error, Source: p.Model.Source})
	if err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	r.Model = string(b)
	return r, nil
}

// modelNoneJSON is how the model of a part without one is stored.
const modelNoneJSON = `{"state":"none"}`

func (r *partRow) toPart() (*parts.Part, error) {
	p := new(parts.Part)
	*p = r.plain
	p.ID, p.Version = r.ID, r.Version
	p.CreatedAt, p.UpdatedAt = fromMicros(r.CreatedAt), fromMicros(r.UpdatedAt)
	for i, f := range intFields {
		*f.Int(p) = int(r.ints[i])
	}
	if r.MiscInfo != nil {
		m, err := decodeObject(*r.MiscInfo)
		if err != nil {
			return nil, fmt.Errorf("decode miscInfo of part %d: %w", r.ID, err)
		}
		p.MiscInfo = m
		if p.MiscInfo == nil { // stored "null"
			p.MiscInfo = map[string]any{}
		}
	}
	if r.ClaimedDate != nil {
		t := fromMicros(*r.ClaimedDate)
		p.ClaimedDate = &t
	}
	switch {
	case r.Files != nil && *r.Files == "[]": // most parts: skip the JSON decoder
		p.Files = []parts.File{}
	case r.Files != nil:
		var fs []fileJSON
		if err := json.Unmarshal([]byte(*r.Files), &fs); err != nil {
			return nil, fmt.Errorf("decode files of part %d: %w", r.ID, err)
		}
		p.Files = make([]parts.File, len(fs))
		for i, f := range fs {
			p.Files[i] = parts.File{
				Name: f.Name, OriginalName: f.OriginalName, Kind: parts.FileKind(f.Kind), View: f.View, Key: f.Key,
				Size: f.Size, SHA256: f.SHA256, ContentType: f.ContentType, UploadedAt: fromMicros(f.UploadedAt),
			}
		}
	}
	switch r.Model {
	case "":
	case modelNoneJSON:
		p.Model = parts.Model{State: parts.ModelNone}
	default:
		var m modelJSON
		if err := json.Unmarshal([]byte(r.Model), &m); err != nil {
			return nil, fmt.Errorf("decode model of part %d: %w", r.ID, err)
		}
		p.Model = parts.Model{State: parts.ModelState(m.State), Error: m.Error, Source: m.Source}
	}
	return p, nil
}

type eventRow struct {
	bun.BaseModel `bun:"table:part_events,alias:e"`

	ID       int64  `bun:"id,pk,autoincrement"`
	PartID   int64  `bun:"part_id,notnull"`
	Action   string `bun:"action,notnull"`
	Actor    string `bun:"actor,notnull"`
	At       int64  `bun:"at,notnull"`
	Changes  string `bun:"changes,notnull"`
	PartRef  string `bun:"part_ref,notnull"`
	Name     string `bun:"name,notnull"`
	Category string `bun:"category,notnull"`
	Version  int64  `bun:"version,notnull"`
}

// eventColumns lists the part_events columns in the order of eventRow.fields.
const eventColumns = "id, part_id, action, actor, at, changes, part_ref, name, category, version"

// fields returns pointers to r's fields in eventColumns order, for Scan.
func (r *eventRow) fields() []any {
	return []any{&r.ID, &r.PartID, &r.Action, &r.Actor, &r.At, &r.Changes, &r.PartRef, &r.Name, &r.Category, &r.Version}
}

type changeJSON struct {
	Field  string `json:"field"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

func toEventRow(e *parts.Event) (*eventRow, error) {
	cs := make([]changeJSON, len(e.Changes))
	for i, c := range e.Changes {
		cs[i] = changeJSON(c)
	}
	b, err := json.Marshal(cs)
	if err != nil {
		return nil, fmt.Errorf("encode changes: %w", err)
	}
	return &eventRow{PartID: e.PartID, Action: e.Action, Actor: e.Actor, At: micros(e.At), Changes: string(b),
		PartRef: e.PartNumber, Name: e.Name, Category: string(e.Category), Version: e.Version}, nil
}

func (r *eventRow) toEvent() (*parts.Event, error) {
	var cs []changeJSON
	if err := json.Unmarshal([]byte(r.Changes), &cs); err != nil {
		return nil, fmt.Errorf("decode changes of event %d: %w", r.ID, err)
	}
	e := &parts.Event{ID: r.ID, PartID: r.PartID, Action: r.Action, Actor: r.Actor, At: fromMicros(r.At),
		PartNumber: r.PartRef, Name: r.Name, Category: parts.Category(r.Category), Version: r.Version}
	if len(cs) > 0 {
		e.Changes = make([]parts.Change, len(cs))
		for i, c := range cs {
			e.Changes[i] = parts.Change(c)
		}
	}
	return e, nil
}

type jobRow struct {
	bun.BaseModel `bun:"table:jobs,alias:j"`

	ID        int64  `bun:"id,pk,autoincrement"`
	PartID    int64  `bun:"part_id,notnull"`
	Source    string `bun:"source,notnull"`
	State     string `bun:"state,notnull"`
	Attempts  int64  `bun:"attempts,notnull"`
	Error     string `bun:"error,notnull"`
	CreatedAt int64  `bun:"created_at,notnull"`
	UpdatedAt int64  `bun:"updated_at,notnull"`
	// LeaseOwner and LeaseUntil (microseconds) say who holds a running job.
	LeaseOwner string `bun:"lease_owner,notnull"`
	LeaseUntil int64  `bun:"lease_until,notnull"`
}

func (r *jobRow) toJob() *parts.Job {
	j := &parts.Job{
		ID: r.ID, PartID: r.PartID, Source: r.Source, State: parts.JobState(r.State), Attempts: int(r.Attempts),
		Error: r.Error, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt), LeaseOwner: r.LeaseOwner,
	}
	if r.LeaseUntil != 0 {
		j.LeaseUntil = fromMicros(r.LeaseUntil)
	}
	return j
}
