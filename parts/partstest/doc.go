// Package partstest holds the conformance suites every Partflow storage
// driver must pass, in the style of go-cloud's drivertest and
// testing/fstest.TestFS.
//
// A driver's test calls the suite with a constructor for fresh, empty stores:
//
//	func TestConformance(t *testing.T) {
//		partstest.RunStore(t, func(t *testing.T) parts.Store {
//			s, err := mydriver.Open(context.Background(), "...", nil)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// RunStore exercises a parts.Store directly and through a parts.Service on top
// of it: CRUD, not-found and stale-version errors, id reuse, racing claims and
// concurrent updates, filters, search, sorting and stable paging, totals,
// stats, history, jobs, UTC times, cancelled contexts and aliasing of returned
// data. Subtests are named for the behaviour they expect, so a failure reads
// as the broken rule.
//
// RunLog exercises the change log (Store.ReadLog, Store.PruneLog and the
// Service's subscribers) on a database opened by more than one Store, as
// several processes sharing one database file would.
//
// RunWorkflow runs the workflow suite for one parts.Workflow on a store:
// every rule of the workflow, from every stage it names, for both part types,
// every status and with and without an assignee, must leave the part where
// the rule says; every other action is refused without a write; new parts
// start in the initial stage; other categories are invalid; every stage is
// listed and counted; the leaderboard scores the done stage; and parts in a
// removed stage are reported as stranded. InspectionWorkflow is a custom
// workflow (an inspection stage between fabrication and completed) for
// running it beside the built-in ones.
package partstest
