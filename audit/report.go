package audit

import (
	"fmt"
	"time"

	"github.com/edgetuf/edgetuf/targets"
)

// Problem is one thing wrong with a repository.
type Problem struct {
	Code    Code   `json:"code"`
	Role    string `json:"role,omitempty"`
	Target  string `json:"target,omitempty"`
	Message string `json:"message"`
}

// String is the problem's one-line form, "CODE: where: message", that
// mrepo verify prints; where is the target, else the role.
func (p Problem) String() string {
	where := p.Role
	if p.Target != "" {
		where = p.Target
	}
	if where != "" {
		return fmt.Sprintf("%s: %s: %s", p.Code, where, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.Code, p.Message)
}

// RoleReport is what Verify found for one role.
type RoleReport struct {
	Role    string    `json:"role"`
	Version int64     `json:"version"`
	Expires time.Time `json:"expires"`
}

// Report is the outcome of Verify. The repository passes when
// Problems is empty.
type Report struct {
	Roles       []RoleReport `json:"roles"`
	Targets     int          `json:"targets"`
	TargetBytes int64        `json:"target_bytes"`
	Problems    []Problem    `json:"problems"`
	// Controls lists, per model, the versions whose manifest target
	// carries a signed rollout control (docs/rollout.md): a staged
	// rollout, a halt, a revocation or a download policy. Malformed
	// controls are problems (CONTROL_INVALID) instead.
	Controls []ModelControls `json:"controls,omitempty"`
	// Since is Options.Since: the report covers only what changed after
	// that snapshot version; RolesSkipped counts the targets roles not
	// read because their version had not changed.
	Since        int64 `json:"since,omitempty"`
	RolesSkipped int   `json:"roles_skipped,omitempty"`
}

// ModelControls are the rollout controls of one model's versions, oldest
// version first.
type ModelControls struct {
	ModelID  string                    `json:"model_id"`
	Versions []targets.VersionControls `json:"versions"`
}

// OK reports whether no problem was found.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Options tune Verify.
type Options struct {
	// ValidFor fails roles that expire within this window from Now.
	ValidFor time.Duration
	// Now is the reference time (default: the current time).
	Now time.Time
	// Since, if set, is a snapshot version an earlier verify found good:
	// only what was published after it is checked (since.go).
	Since int64
}

func mkProblem(code Code, role, target, format string, args ...any) Problem {
	return Problem{Code: code, Role: role, Target: target, Message: fmt.Sprintf(format, args...)}
}
