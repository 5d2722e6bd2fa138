package store_test

import (
	"testing"

	"github.com/edgetuf/edgetuf/telemetry/store"
	"github.com/edgetuf/edgetuf/telemetry/store/storetest"
)

// BenchmarkMemoryQueries is the reference for the database stores'
// query benchmarks: Memory keeps no aggregates and scans every report.
func BenchmarkMemoryQueries(b *testing.B) {
	s := store.NewMemory()
	storetest.Load(b, s, storetest.BenchReports(b))
	storetest.BenchmarkQueries(b, s)
}
