//go:build !edgetuf_crashpoints

// Package crashpoint marks the points of mrepo's and mclient's work where
// a crash (power loss, SIGKILL, OOM kill) must leave a usable state:
// around every write, fsync and rename of the repository and of the
// device's state directory, and along every long transfer. The kill tests
// (internal/killtest) kill the tools at each point in turn, which covers
// every step deterministically, whatever the load of the machine.
//
// In a normal build Hit does nothing and compiles to nothing: the shipped
// binaries honour no crash request of any kind. Only binaries built with
// the build tag edgetuf_crashpoints (the kill tests build theirs so) read
// the EDGETUF_CRASH_* environment variables; see crashpoint_on.go.
//
// It must never import anything of this module: every layer may call it.
package crashpoint

// Enabled reports whether this binary was built with crash points.
const Enabled = false

// Hit marks a crash point named name ("package.step", fixed strings).
func Hit(name string) {}
