package bunstore_test

import (
	"path/filepath"
	"testing"

	"github.com/partflow/partflow/internal/pgtest"
	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/parts/partstest"
	"github.com/partflow/partflow/storage/bunstore"
)

func TestConformance(t *testing.T) {
	urls := map[string]func(t *testing.T) string{
		"file":     func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "parts.db") },
		"memory":   func(*testing.T) string { return "sqlite://:memory:" },
		"postgres": func(t *testing.T) string { return pgtest.NewDatabase(t) },
	}
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			partstest.RunStore(t, func(t *testing.T) parts.Store {
				s, err := bunstore.Open(t.Context(), url(t), nil)
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

func TestLogConformance(t *testing.T) {
	urls := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "parts.db") },
		"postgres": func(t *testing.T) string { return pgtest.NewDatabase(t) },
	}
	for name, newURL := range urls {
		t.Run(name, func(t *testing.T) {
			partstest.RunLog(t, func(t *testing.T) partstest.Opener {
				url := newURL(t)
				return func(t *testing.T) parts.Store {
					s, err := bunstore.Open(t.Context(), url, nil)
					if err != nil {
						t.Fatal(err)
					}
					return s
				}
			})
		})
	}
}

// TestWorkflows runs the workflow suite on both engines under both built-in
// workflows and a custom one with an inspection stage.
func TestWorkflows(t *testing.T) {
	urls := map[string]func(t *testing.T) string{
		"sqlite":   func(*testing.T) string { return "sqlite://:memory:" },
		"postgres": func(t *testing.T) string { return pgtest.NewDatabase(t) },
	}
	for engine, url := range urls {
		for _, flow := range []*parts.Workflow{parts.OriginalWorkflow(), parts.StrictWorkflow(), partstest.InspectionWorkflow()} {
			t.Run(engine+"/"+flow.Name(), func(t *testing.T) {
				partstest.RunWorkflow(t, func(t *testing.T) parts.Store {
					s, err := bunstore.Open(t.Context(), url(t), nil)
					if err != nil {
						t.Fatal(err)
					}
					return s
				}, flow)
			})
		}
	}
}
