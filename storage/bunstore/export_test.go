package bunstore

// SetSortedScanThreshold sets the number of matches above which a search
// walks the sort index, and returns a function that restores it. Tests use
// it to run both search plans on small databases.
func SetSortedScanThreshold(n int) (restore func()) {
	old := sortedScanThreshold
	sortedScanThreshold = n
	return func() { sortedScanThreshold = old }
}

// SetMinWalkRows sets the least number of index entries a walk of the sort
// index reads before it falls back to sorting the matches, and returns a
// function that restores it.
func SetMinWalkRows(n int) (restore func()) {
	old := minWalkRows
	minWalkRows = n
	return func() { minWalkRows = old }
}
