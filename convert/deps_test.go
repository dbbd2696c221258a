package convert_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsOnlyStandardLibrary enforces the layout rule that convert (and
// its glb and converttest helpers) depend on nothing outside the standard
// library, so every package can import them freely.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}",
		".", "./glb", "./converttest").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"github.com/partflow/partflow/convert":             true,
		"github.com/partflow/partflow/convert/glb":         true,
		"github.com/partflow/partflow/convert/converttest": true,
	}
	for _, pkg := range strings.Fields(string(out)) {
		if !allowed[pkg] {
			t.Errorf("convert depends on non-standard package %s", pkg)
		}
	}
}
