package httpapi

import (
	"testing"
	"time"

	"github.com/partflow/partflow/internal/sample"
	"github.com/partflow/partflow/parts"
)

// BenchmarkAppendPart measures the list encoder on a page of 50 sample
// parts, a third of them claimed and a quarter with miscInfo.
func BenchmarkAppendPart(b *testing.B) {
	g := sample.New(3)
	at := time.Date(2026, 3, 4, 5, 6, 7, 891234000, time.UTC)
	ps := make([]*parts.Part, 50)
	for i := range ps {
		p := g.Part()
		p.ID, p.Version, p.CreatedAt, p.UpdatedAt = int64(i+1), 3, at, at
		if i%3 == 0 {
			p.ClaimedDate, p.Assigned = &at, "Ada"
		}
		if i%4 == 0 {
			p.MiscInfo = map[string]any{"reviewer": "Rita", "handWorkers": []any{map[string]any{"name": "Bo", "timestamp": "t"}}}
		}
		ps[i] = p
	}
	buf := make([]byte, 0, 64<<10)
	for b.Loop() {
		buf = buf[:0]
		for _, p := range ps {
			var err error
			if buf, err = appendPart(buf, p); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.SetBytes(int64(len(buf)))
}
