package bunstore

// SetSortedScanThreshold sets the number of matches above which a search
// walks the sort index, and returns a function that restores it. Tests use
// it to run both search plans on small databases.
func SetSortedScanThreshold(n int) (restore func()) {
	old := sortedScanThreshold
	sortedScanThreshold = n
	return func() { sortedScanThreshold = old }
}
