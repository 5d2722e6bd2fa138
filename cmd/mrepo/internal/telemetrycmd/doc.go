// Package telemetrycmd holds mrepo's fleet telemetry commands (mrepo
// telemetry serve, mrepo telemetry sampling, mrepo rollout report, mrepo
// rollout watch): flags, output and exit codes only; the behaviour lives
// in the telemetry packages (docs/telemetry.md). It is a package of its
// own so that package main stays within its size budget.
package telemetrycmd
