package grant

// SetBatchSize sets how many envelopes are written together (tests: to
// have a kill land between batches).
func SetBatchSize(n int) { batchSize = n }
