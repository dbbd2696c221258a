package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// answerCounts reads the first server's partflow_answer_cache_requests_total
// by outcome from /metrics; nil when the server does not serve them.
func (b *loadRun) answerCounts(ctx context.Context) map[string]float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/metrics", nil)
	if err != nil {
		return nil
	}
	req.Header.Set("X-API-Key", b.key)
	resp, err := b.client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	const prefix = `partflow_answer_cache_requests_total{outcome="`
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		outcome, value, ok := strings.Cut(rest, `"} `)
		if n, err := strconv.ParseFloat(value, 64); ok && err == nil {
			out[outcome] = n
		}
	}
	if len(out) == 0 || sc.Err() != nil {
		return nil
	}
	return out
}

// answerNote describes how the answers a scenario asked for were met,
// from the counts before and after it ("" when nothing was counted).
func answerNote(before, after map[string]float64) string {
	if before == nil || after == nil {
		return ""
	}
	d := map[string]float64{}
	total := 0.0
	for k, v := range after {
		d[k] = v - before[k]
		total += d[k]
	}
	if total <= 0 {
		return ""
	}
	return fmt.Sprintf("answer cache met %.1f%% of %.0f answers from a kept answer (hit %.0f, kept %.0f, patched %.0f; built %.0f, rebuilt %.0f)",
		100*(d["hit"]+d["kept"]+d["patched"])/total, total, d["hit"], d["kept"], d["patched"], d["built"], d["rebuilt"])
}
