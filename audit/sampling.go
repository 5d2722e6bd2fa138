package audit

import (
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// checkSampling checks the telemetry sampling configuration, a target
// that is not a model: only top-level targets may sign it (it applies to
// the whole fleet, not to a team's namespace), and its bytes, once they
// verify, must parse (telemetry.ParseSampling).
func (v *verifier) checkSampling(jobs []*targetJob) {
	for _, j := range jobs {
		switch {
		case j.path != telemetry.SamplingTarget:
		case j.role != metadata.TARGETS:
			v.problem(SamplingInvalid, j.role, j.path, "only top-level targets may sign the telemetry sampling config, not role %s", j.role)
		case j.tf.Length > telemetry.MaxSamplingBytes:
			v.problem(SamplingInvalid, j.role, j.path, "signed length %d is above the limit of %d bytes", j.tf.Length, telemetry.MaxSamplingBytes)
		case j.res.ok:
			if _, err := telemetry.ParseSampling(j.res.data); err != nil {
				v.problem(SamplingInvalid, j.role, j.path, "%v", err)
			}
		}
	}
}
