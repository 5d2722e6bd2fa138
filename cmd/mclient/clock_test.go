package main

import (
	"fmt"
	"os"
	"time"
)

// testClockVar moves the clock of the device commands (update, verify,
// status, ...) in this test binary only, in FAKETIME's syntax ("+3h",
// "-2d", "@2027-01-02 03:04:05"): the scripts use it to show what a device
// does days later. The shipped mclient has no such hook: it honours
// FAKETIME in `mclient tuf` only (TestFakeTimeOnlyForTUF).
const testClockVar = "MCLIENT_TEST_CLOCK"

func init() { testClock = scriptClock }

func scriptClock() (time.Time, bool, error) {
	spec := os.Getenv(testClockVar)
	if spec == "" {
		return time.Time{}, false, nil
	}
	t, ok := parseFakeTime(spec, time.Now())
	if !ok {
		return time.Time{}, false, fmt.Errorf("%s=%q: not a time", testClockVar, spec)
	}
	return t, true, nil
}
