package fleetsim

import (
	"os"
	"syscall"
	"testing"
)

// tmpfsMagic is Linux's TMPFS_MAGIC (statfs(2)).
const tmpfsMagic = 0x01021994

// perDeviceBytes is a generous bound on the space of one device's state
// (about 70 KiB on tmpfs: a page per file).
const perDeviceBytes = 160 << 10

// stateRoot is where the fleet's state directories go: a directory on
// /dev/shm when it is a tmpfs with room for the fleet, because every
// device's update fsyncs its state several times and on a disk the fsyncs,
// not the update, would be what the simulation measures (docs/telemetry.md,
// "Fleet simulation"); otherwise a temporary directory of the test.
func stateRoot(t testing.TB, devices int) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err == nil && st.Type == tmpfsMagic &&
		st.Bavail*uint64(st.Bsize) >= uint64(devices+1)*perDeviceBytes {
		if dir, err := os.MkdirTemp("/dev/shm", "fleetsim-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}
