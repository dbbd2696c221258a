package parts

import (
	"slices"
	"time"
)

// FieldKind says how a plain part field is held and written.
type FieldKind uint8

// The field kinds.
const (
	// FieldText is a string, written as a JSON string.
	FieldText FieldKind = iota + 1
	// FieldNullText is a string written as JSON null when empty.
	FieldNullText
	// FieldInt is an int, written as a JSON number.
	FieldInt
)

// Field describes one plain field of a Part: a string or an int that is
// edited, validated, recorded in the history, stored in a column of its
// own and written to clients as it is. It is the one place those facts are
// written down: Validate, the history diff, Service.CreatePart and
// UpdatePart, the storage drivers' columns and the HTTP API's JSON and
// OpenAPI schema all derive from the table Fields returns.
//
// Adding a plain field to Part is: the struct field, its entry in the
// table (with its validation rule, and whether it is searched and
// sortable), an Update field when an editor may set it, and one migration
// per storage engine adding the column (with an index when it is sortable
// and the parts are many).
//
// The structured fields (miscInfo, claimedDate, timestamps, version, files,
// model) are not plain fields and are handled by name.
type Field struct {
	// Name is the field's JSON name (camelCase), used on the wire, in the
	// history and in validation errors.
	Name string
	// Column is the storage column, also accepted as the snake_case
	// spelling of Name on input.
	Column string
	// Label names the field in messages ("Part ID is required").
	Label string
	Kind  FieldKind
	// Required fields must not be empty (after trimming).
	Required bool
	// Max is the longest text in characters (0: not checked here), or the
	// largest value of an int field.
	Max int
	// Min is the smallest value of an int field.
	Min int
	// Trim says surrounding white space is removed before validation.
	Trim bool
	// Enum lists the values the field may take, when it is a closed list;
	// the empty value is allowed where Kind is FieldNullText.
	Enum []string
	// Search says Filter.Search matches the field's text (a text kind
	// only). Stores search the fields SearchText returns.
	Search bool
	// Sort says parts may be sorted by the field, as SortField(Column);
	// SortFields lists it.
	Sort bool
	// Text points at the field of p, for FieldText and FieldNullText.
	Text func(p *Part) *string
	// Int points at the field of p, for FieldInt.
	Int func(p *Part) *int
	// Edit points at the Update field that sets this field as it is (nil
	// means Service.UpdatePart handles the field by its own rule).
	Edit func(u *Update) **string
}

// fieldTable is the table Fields returns, in wire order.
var fieldTable = []Field{
	{Name: "partId", Column: "part_id", Label: "Part ID", Kind: FieldText, Required: true, Max: MaxPartIDLen, Trim: true, Search: true, Sort: true,
		Text: func(p *Part) *string { return &p.PartID }, Edit: func(u *Update) **string { return &u.PartID }},
	{Name: "name", Column: "name", Label: "Name", Kind: FieldText, Max: MaxNameLen, Trim: true, Search: true, Sort: true,
		Text: func(p *Part) *string { return &p.Name }, Edit: func(u *Update) **string { return &u.Name }},
	{Name: "type", Column: "type", Label: "Type", Kind: FieldNullText, Enum: []string{string(TypeCNC), string(TypeHand)}, Sort: true,
		Text: func(p *Part) *string { return (*string)(&p.Type) }},
	{Name: "material", Column: "material", Label: "Material", Kind: FieldText, Required: true, Max: MaxMaterialLen, Trim: true, Search: true, Sort: true,
		Text: func(p *Part) *string { return &p.Material }, Edit: func(u *Update) **string { return &u.Material }},
	{Name: "subsystem", Column: "subsystem", Label: "Subsystem", Kind: FieldText, Required: true, Max: MaxSubsystemLen, Trim: true, Search: true, Sort: true,
		Text: func(p *Part) *string { return &p.Subsystem }, Edit: func(u *Update) **string { return &u.Subsystem }},
	{Name: "assigned", Column: "assigned", Label: "Assigned", Kind: FieldNullText, Max: MaxAssignedLen, Trim: true, Search: true, Sort: true,
		Text: func(p *Part) *string { return &p.Assigned }},
	{Name: "status", Column: "status", Label: "Status", Kind: FieldText, Max: MaxStatusLen, Enum: statusNames(), Sort: true,
		Text: func(p *Part) *string { return (*string)(&p.Status) }},
	{Name: "category", Column: "category", Label: "Category", Kind: FieldText, Sort: true,
		Text: func(p *Part) *string { return (*string)(&p.Category) }},
	{Name: "amount", Column: "amount", Label: "Amount", Kind: FieldInt, Min: 1, Max: MaxAmount, Sort: true,
		Int: func(p *Part) *int { return &p.Amount }},
	{Name: "notes", Column: "notes", Label: "Notes", Kind: FieldText, Max: MaxNotesLen, Search: true,
		Text: func(p *Part) *string { return &p.Notes }, Edit: func(u *Update) **string { return &u.Notes }},
	{Name: "file", Column: "file", Label: "File", Kind: FieldNullText, Max: MaxFileNameLen,
		Text: func(p *Part) *string { return &p.File }, Edit: func(u *Update) **string { return &u.File }},
	{Name: "onshapeUrl", Column: "onshape_url", Label: "Onshape URL", Kind: FieldText, Max: MaxOnshapeURLLen, Trim: true,
		Text: func(p *Part) *string { return &p.OnshapeURL }, Edit: func(u *Update) **string { return &u.OnshapeURL }},
}

// Fields returns the plain fields of a Part in wire order (see Field). The
// slice is a copy; the accessor functions are shared.
func Fields() []Field { return slices.Clone(fieldTable) }

// SearchText returns the text of p's searched fields (Field.Search), in
// table order: Filter.Search matches a part when one of them holds the
// query, folded for case.
func SearchText(p *Part) []string {
	out := make([]string, 0, len(searchFields))
	for _, f := range searchFields {
		out = append(out, *f.Text(p))
	}
	return out
}

// searchFields are the entries of fieldTable with Search set.
var searchFields = func() []*Field {
	var out []*Field
	for i := range fieldTable {
		if f := &fieldTable[i]; f.Search {
			if f.Text == nil {
				panic("parts: searched field " + f.Name + " is not text")
			}
			out = append(out, f)
		}
	}
	return out
}()

func statusNames() []string {
	out := make([]string, len(Statuses))
	for i, s := range Statuses {
		out[i] = string(s)
	}
	return out
}

// copyFields copies every plain field of src to dst.
func copyFields(dst, src *Part) {
	for i := range fieldTable {
		f := &fieldTable[i]
		if f.Kind == FieldInt {
			*f.Int(dst) = *f.Int(src)
		} else {
			*f.Text(dst) = *f.Text(src)
		}
	}
}

// Update is a partial edit of a part, as the web client's edit form sends it.
// Nil fields are left alone. It is an editor's edit, not a workflow action:
// it may set any known status and category.
type Update struct {
	PartID     *string
	Name       *string
	Type       *Type
	Material   *string
	Subsystem  *string
	Notes      *string
	OnshapeURL *string
	// File is a file name only; any directory part is dropped.
	File *string
	// Status, when non-nil and non-empty, sets the status; empty keeps it.
	Status   *Status
	Category *Category
	Amount   *int
	// Assigned changes the assignee ("" clears it). A new assignee of a hand
	// part is appended to miscInfo.handWorkers.
	Assigned *string
	// ClaimedDate, when non-nil, sets when the part was claimed (after
	// Assigned, which sets it to now for a new assignee). ClearClaimedDate
	// removes it.
	ClaimedDate      *time.Time
	ClearClaimedDate bool
	// MiscInfo, when non-nil, replaces miscInfo. ClearMiscInfo removes it.
	MiscInfo      map[string]any
	ClearMiscInfo bool

	// IfVersion, when non-zero, makes the update fail with *StaleError unless
	// the part is at this version.
	IfVersion int64
	// Actor is who edits, for the history.
	Actor string
}
