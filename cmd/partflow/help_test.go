package main

import (
	"strings"
	"testing"
)

// TestHelpCommand: `partflow help CMD` is CMD's own help: its description,
// its own flags before the configuration flags, and an example; an unknown
// command is a usage error.
func TestHelpCommand(t *testing.T) {
	code, out, errOut := runCmd(t, []string{"help", "import-flask"}, nil, "")
	if code != exitOK {
		t.Fatalf("help import-flask: exit %d\n%s", code, errOut)
	}
	own, shared := strings.Index(out, "--uploads"), strings.Index(out, "--database-url")
	if !strings.HasPrefix(out, "partflow import-flask: copy an existing Flask") || own < 0 || shared < 0 || own > shared ||
		!strings.Contains(out, "Example:\n  partflow import-flask --db") {
		t.Errorf("help import-flask:\n%s", out)
	}
	if _, same, _ := runCmd(t, []string{"import-flask", "-h"}, nil, ""); same != out {
		t.Errorf("import-flask -h differs from help import-flask:\n%s", same)
	}
	if code, _, errOut := runCmd(t, []string{"help", "nope"}, nil, ""); code != exitUsage || !strings.Contains(errOut, `unknown command "nope"`) {
		t.Errorf("help nope: exit %d, %q", code, errOut)
	}
}
