package store

import (
	"context"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
)

// BatchInserter is a Store that can write several batches in one
// transaction (group commit): the collector queues concurrent uploads and
// makes one commit, one fsync, for all of them. It reports, per batch,
// how many reports were new; a report whose ID is stored already, or
// appears in an earlier batch of the same call, is a duplicate. Either
// every batch is durable when it returns or none is (error).
//
// A Store that does not implement it gets one Insert per batch.
type BatchInserter interface {
	InsertBatches(ctx context.Context, received time.Time, batches [][]telemetry.Report) (inserted []int, err error)
}
