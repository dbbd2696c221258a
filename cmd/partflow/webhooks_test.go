package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partflow/partflow/webhooks"
)

func TestWebhooksCommand_listsEndpointsAndAttempts(t *testing.T) {
	dir := t.TempDir()
	env := []string{"PARTFLOW_DATABASE_URL=sqlite:///" + filepath.Join(dir, "pf.db"), "PARTFLOW_FILES_URL=mem://"}
	if code, out, _ := runCmd(t, []string{"webhooks"}, env, ""); code != 0 || !strings.Contains(out, "no webhook endpoints") {
		t.Fatalf("empty: code %d, %q", code, out)
	}
	st := &webhooks.FileState{Path: filepath.Join(dir, "webhooks.json")}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	err := st.Save([]webhooks.Status{{
		Endpoint: webhooks.Endpoint{ID: "team", URL: "https://hooks.slack.com/services/T0/B0/token", Secret: "0123456789abcdef",
			Format: webhooks.FormatSlack},
		Cursor: 7, DisabledReason: "delivery team-7 failed 8 times (last: status 503)",
		Deliveries: []webhooks.Attempt{{At: at, Seq: 7, Attempt: 8, StatusCode: 503, Latency: 12 * time.Millisecond,
			Error: "status 503", Outcome: "gave-up"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, []string{"webhooks"}, env, "")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	for _, want := range []string{"team  https://hooks.slack.com/…  disabled (delivery team-7 failed 8 times", "format=slack cursor=7",
		"2026-01-02T03:04:05Z  seq 7  attempt 8  gave-up  503  12ms  status 503"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "token") || strings.Contains(out, "0123456789abcdef") {
		t.Errorf("output shows a secret:\n%s", out)
	}
}
