package bunstore

import (
	"strings"
)

// partColumn is one column of the parts table and the partRow field it
// is scanned into.
type partColumn struct {
	name  string
	field func(r *partRow) any
}

// partColumnTable is the one definition of the parts table's columns that
// every query and both engines use: the SELECT lists, the INSERT and UPDATE
// statements, Scan's destinations and the values written are all derived
// from it. (The migrations create the same columns; a test checks each
// engine's table against this list.)
var partColumnTable = [...]partColumn{
	{"id", func(r *partRow) any { return &r.ID }},
	{"part_id", func(r *partRow) any { return &r.PartID }},
	{"name", func(r *partRow) any { return &r.Name }},
	{"type", func(r *partRow) any { return &r.Type }},
	{"material", func(r *partRow) any { return &r.Material }},
	{"subsystem", func(r *partRow) any { return &r.Subsystem }},
	{"assigned", func(r *partRow) any { return &r.Assigned }},
	{"status", func(r *partRow) any { return &r.Status }},
	{"category", func(r *partRow) any { return &r.Category }},
	{"amount", func(r *partRow) any { return &r.Amount }},
	{"notes", func(r *partRow) any { return &r.Notes }},
	{"file", func(r *partRow) any { return &r.File }},
	{"onshape_url", func(r *partRow) any { return &r.OnshapeURL }},
	{"misc_info", func(r *partRow) any { return &r.MiscInfo }},
	{"claimed_date", func(r *partRow) any { return &r.ClaimedDate }},
	{"created_at", func(r *partRow) any { return &r.CreatedAt }},
	{"updated_at", func(r *partRow) any { return &r.UpdatedAt }},
	{"version", func(r *partRow) any { return &r.Version }},
	{"files", func(r *partRow) any { return &r.Files }},
	{"model", func(r *partRow) any { return &r.Model }},
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
