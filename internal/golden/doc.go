// Package golden compares test output with golden files and rewrites them
// when the test binary runs with -update:
//
//	go test ./httpapi -run TestListParts -update
//
// Check compares bytes, JSON indents JSON first so that the files diff
// well. Importing the package registers the -update flag, so only tests
// import it.
package golden
