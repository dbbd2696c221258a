package parts_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportsOnlyStdlibAndConvert keeps the library's layout rule: parts
// imports the standard library and convert, nothing else (drivers depend on
// parts, never the other way round).
func TestImportsOnlyStdlibAndConvert(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := []string{"github.com/partflow/partflow/parts", "github.com/partflow/partflow/convert"}
	for _, dep := range strings.Fields(string(out)) {
		if !slices.Contains(allowed, dep) {
			t.Errorf("parts depends on %s; it may import only the standard library and convert", dep)
		}
	}
}
