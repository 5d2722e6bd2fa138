package telemetrycmd

import (
	"context"
	"io"

	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
)

// OpenDB opens the fleet report source of --db URL (mrepo rollout report,
// mrepo rollout watch): a telemetry store read in process
// (telemetrydb.Open, then fleetreport.FromStore), and what closes it. It
// is set where the database drivers are linked; nil, --db is refused and
// --collector must be used.
var OpenDB func(ctx context.Context, dbURL string) (fleetreport.Source, io.Closer, error)
