package bunstore

// SortSearchesInSQL makes every search sort its matches in SQLite instead of
// in the search index (on) or lets the index sort what it can again (off),
// and returns a function that restores the previous choice. Tests use it to
// check that both ways agree.
func SortSearchesInSQL(on bool) (restore func()) {
	old := sqlSortOnly
	sqlSortOnly = on
	return func() { sqlSortOnly = old }
}

// SetMaxChangeBatch sets the most changes the search index applies one by
// one before it reloads everything, and returns a function that restores it.
func SetMaxChangeBatch(n int) (restore func()) {
	old := maxChangeBatch
	maxChangeBatch = n
	return func() { maxChangeBatch = old }
}
