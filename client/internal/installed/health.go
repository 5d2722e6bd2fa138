package installed

import (
	"context"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// RunHealthCommand runs `/bin/sh -c 'CMD "$@"' health-check DIR`: the
// command line CMD with dir appended as its last argument (quoted, so any
// path works), and env added to the environment. It runs in its own
// process group so that a timeout kills everything it started.
//
// Only the check's own time limit is the version's fault: when ctx ends
// first (a signal, or the library caller's cancellation or deadline) the
// check is killed and the error is CANCELLED, so that the version stays on
// trial and is checked again by the next run.
func RunHealthCommand(parent context.Context, command, dir string, timeout time.Duration, env ...string) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command+` "$@"`, "health-check", dir)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil && parent.Err() != nil {
		return codes.Errorf(codes.StopCode(parent), context.Cause(parent), "health check of %s interrupted", dir)
	}
	if ctx.Err() == context.DeadlineExceeded {
		return codes.Errorf(codes.HealthcheckFailed, nil, "health check timed out after %s", timeout)
	}
	if err != nil {
		// The command's last words are the useful part: after the status.
		msg := fmt.Sprintf("health check %q: %v", command, err)
		if tail := strings.TrimSpace(out.String()); tail != "" {
			msg += ": " + strings.Join(strings.Fields(tail), " ")
		}
		return codes.Errorf(codes.HealthcheckFailed, nil, "%s", msg)
	}
	return nil
}

// tailBuffer keeps the last 2 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 2048 {
		t.b = t.b[len(t.b)-2048:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
