package projections

// HistoryBulkFrom is the history projection writing runs of at least n
// fresh pairs set-based (n negative: folding every event), for the tests
// that compare the two paths.
func HistoryBulkFrom(n int) History { return History{bulkFrom: n} }
