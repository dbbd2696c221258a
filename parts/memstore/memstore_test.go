package memstore_test

import (
	"testing"

	"github.com/partflow/partflow/parts"
	"github.com/partflow/partflow/parts/memstore"
	"github.com/partflow/partflow/parts/partstest"
)

func newStore(*testing.T) parts.Store { return memstore.New(nil) }

func TestConformance(t *testing.T) { partstest.RunStore(t, newStore) }

func TestWorkflows(t *testing.T) {
	for _, flow := range []*parts.Workflow{parts.OriginalWorkflow(), parts.StrictWorkflow(), partstest.InspectionWorkflow()} {
		t.Run(flow.Name(), func(t *testing.T) { partstest.RunWorkflow(t, newStore, flow) })
	}
}
