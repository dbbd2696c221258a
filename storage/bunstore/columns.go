package bunstore

import (
	"slices"
	"strings"

	"github.com/partflow/partflow/parts"
)

// partColumn is one column of the parts table and the partRow field it
// is scanned into.
type partColumn struct {
	name  string
	field func(r *partRow) any
}

// maxIntFields is how many plain int fields partRow holds.
const maxIntFields = 4

// textFields and intFields are the part's plain fields (parts.Fields) by
// kind; partRow.ints is indexed like intFields.
var textFields, intFields = splitFields()

func splitFields() (text, ints []parts.Field) {
	for _, f := range parts.Fields() {
		if f.Kind == parts.FieldInt {
			ints = append(ints, f)
		} else {
			text = append(text, f)
		}
	}
	if len(ints) > maxIntFields {
		panic("bunstore: more plain int fields than partRow.ints holds")
	}
	return text, ints
}

// lastSchemaField is the column of the last plain field the first
// migration created. The structured columns follow it; the plain fields
// added by later migrations come after them, at the end of the table.
const lastSchemaField = "onshape_url"

// partColumnTable is the one definition of the parts table's columns that
// every query and both engines use: the SELECT lists, the INSERT and UPDATE
// statements, Scan's destinations and the values written are all derived
// from it, and its plain columns from parts.Fields. (The migrations create
// the same columns; a test checks each engine's table against this list.)
var partColumnTable = buildPartColumns()

func buildPartColumns() []partColumn {
	plain := make([]partColumn, 0, len(textFields)+len(intFields))
	for _, f := range parts.Fields() {
		if f.Kind != parts.FieldInt {
			plain = append(plain, partColumn{f.Column, func(r *partRow) any { return f.Text(&r.plain) }})
			continue
		}
		i := slices.IndexFunc(intFields, func(g parts.Field) bool { return g.Name == f.Name })
		plain = append(plain, partColumn{f.Column, func(r *partRow) any { return &r.ints[i] }})
	}
	split := slices.IndexFunc(plain, func(c partColumn) bool { return c.name == lastSchemaField }) + 1
	out := []partColumn{{"id", func(r *partRow) any { return &r.ID }}}
	out = append(out, plain[:split]...)
	out = append(out,
		partColumn{"misc_info", func(r *partRow) any { return &r.MiscInfo }},
		partColumn{"claimed_date", func(r *partRow) any { return &r.ClaimedDate }},
		partColumn{"created_at", func(r *partRow) any { return &r.CreatedAt }},
		partColumn{"updated_at", func(r *partRow) any { return &r.UpdatedAt }},
		partColumn{"version", func(r *partRow) any { return &r.Version }},
		partColumn{"files", func(r *partRow) any { return &r.Files }},
		partColumn{"model", func(r *partRow) any { return &r.Model }},
	)
	return append(out, plain[split:]...)
}

// PartColumns returns the names of the parts table's columns in the order
// the store reads and writes them (for tools that copy the table).
func PartColumns() []string {
	out := make([]string, len(partColumnTable))
	for i, c := range partColumnTable {
		out[i] = c.name
	}
	return out
}

// partColumns lists the parts columns in the order of partRow.fields.
var partColumns = strings.Join(PartColumns(), ", ")

// prefixedColumns returns partColumns qualified with alias ("p.id, p.part_id, ...").
func prefixedColumns(alias string) string {
	cols := PartColumns()
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

// fields returns pointers to r's fields in partColumns order, for Scan.
func (r *partRow) fields() []any {
	out := make([]any, len(partColumnTable))
	for i, c := range partColumnTable {
		out[i] = c.field(r)
	}
	return out
}

// values returns r's values in partColumns order, without the id.
func (r *partRow) values() []any {
	out := make([]any, 0, len(partColumnTable)-1)
	for _, c := range partColumnTable[1:] {
		switch p := c.field(r).(type) {
		case *string:
			out = append(out, *p)
		case *int64:
			out = append(out, *p)
		case **string:
			out = append(out, *p)
		case **int64:
			out = append(out, *p)
		}
	}
	return out
}

// placeholders returns n comma-separated ? placeholders.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// setList returns "a = ?, b = ?, ..." for every column but the id.
func setList() string {
	cols := PartColumns()[1:]
	for i, c := range cols {
		cols[i] = c + " = ?"
	}
	return strings.Join(cols, ", ")
}

var (
	qSelectPart       = "SELECT " + partColumns + " FROM parts WHERE id = ?"
	qInsertPart       = "INSERT INTO parts (" + strings.Join(PartColumns()[1:], ", ") + ") VALUES (" + placeholders(len(partColumnTable)-1) + ") RETURNING id"
	qInsertPartWithID = "INSERT INTO parts (" + partColumns + ") VALUES (" + placeholders(len(partColumnTable)) + ") RETURNING id"
	qUpdatePart       = "UPDATE parts SET " + setList() + " WHERE id = ? AND version = ?"
)
