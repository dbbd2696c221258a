package storage_test

import (
	"os/exec"
	"strings"
	"testing"
)

// heavy are module path prefixes that the light packages must not compile:
// cloud SDKs, gRPC, OpenTelemetry and the PostgreSQL driver.
var heavy = []string{
	"github.com/jackc/",
	"github.com/uptrace/bun/dialect/pgdialect",
	"github.com/aws/",
	"gocloud.dev",
	"google.golang.org/grpc",
	"google.golang.org/api",
	"go.opentelemetry.io/",
	"cloud.google.com/",
	"github.com/Azure/",
}

// TestLightImports guards the import sets of the packages an embedder
// compiles for a service storing parts in SQLite and files on disk: none of
// them pulls a cloud SDK, gRPC, OpenTelemetry or pgx (storage/s3files,
// convert/grpcplugin and storage/bunstore/pgengine do, and are imported
// only when wanted).
func TestLightImports(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to list dependencies: %v", err)
	}
	for _, pkg := range []string{
		"github.com/partflow/partflow/parts",
		"github.com/partflow/partflow/storage",
		"github.com/partflow/partflow/storage/bunstore",
		"github.com/partflow/partflow/storage/blobfiles",
	} {
		t.Run(pkg, func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), goTool, "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", pkg, err)
			}
			for mod := range strings.FieldsSeq(string(out)) {
				for _, h := range heavy {
					if strings.HasPrefix(mod, h) {
						t.Errorf("%s compiles %s", pkg, mod)
					}
				}
			}
		})
	}
}

// TestHeavyImportsAreSeen checks the guard itself: storage/s3files does
// compile the AWS SDK and storage/bunstore/pgengine pgx, so the module
// listing above would catch them.
func TestHeavyImportsAreSeen(t *testing.T) {
	for pkg, want := range map[string]string{
		"github.com/partflow/partflow/storage/s3files":           "github.com/aws/aws-sdk-go-v2",
		"github.com/partflow/partflow/storage/bunstore/pgengine": "github.com/jackc/pgx/v5",
	} {
		out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", pkg).Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		if !strings.Contains(string(out), want) {
			t.Errorf("go list -deps %s shows no %s:\n%s", pkg, want, out)
		}
	}
}
