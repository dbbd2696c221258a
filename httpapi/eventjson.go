package httpapi

import (
	"strconv"
	"time"

	"github.com/partflow/partflow/parts"
)

// appendFrame appends e's event stream frame: its id line and its data
// line, the event's wire form, then the blank line that ends the frame.
func appendFrame(dst []byte, e *parts.Event) ([]byte, error) {
	dst = append(dst, "id: "...)
	dst = strconv.AppendInt(dst, e.ID, 10)
	dst = append(dst, "\ndata: "...)
	dst, err := appendEvent(dst, e)
	return append(dst, "\n\n"...), err
}

// appendEvent appends e's wire form: the same bytes as e.MarshalJSON (a
// test holds them equal), written without reflection or intermediate
// values; the hub encodes every event a stream sends this way.
func appendEvent(dst []byte, e *parts.Event) ([]byte, error) {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendInt(dst, e.ID, 10)
	dst = append(dst, `,"at":"`...)
	dst = e.At.UTC().AppendFormat(dst, time.RFC3339Nano) // digits, '-', ':', '.', 'T', 'Z': nothing to escape
	dst = append(dst, '"')
	dst = appendField(dst, "action", e.Action)
	dst = appendField(dst, "actor", e.Actor)
	dst = append(dst, `,"part":{"id":`...)
	dst = strconv.AppendInt(dst, e.PartID, 10)
	dst = appendField(dst, "partId", e.PartNumber)
	dst = appendField(dst, "name", e.Name)
	dst = appendField(dst, "category", string(e.Category))
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, e.Version, 10)
	dst = append(dst, `},"changes":[`...)
	for i, c := range e.Changes {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"field":`...)
		dst = appendString(dst, c.Field)
		dst = append(dst, `,"before":`...)
		var err error
		if dst, err = appendValue(dst, c.Before); err != nil {
			return dst, err
		}
		dst = append(dst, `,"after":`...)
		if dst, err = appendValue(dst, c.After); err != nil {
			return dst, err
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...), nil
}
