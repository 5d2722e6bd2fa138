package delta

import "github.com/edgetuf/edgetuf/delta/internal/head"

// marshal is h's header in the full form, for tests that build patches.
func (h *Header) marshal() []byte {
	return (&head.Header{BaseLength: h.BaseLength, BaseSHA256: h.BaseSHA256, TargetLength: h.TargetLength, TargetSHA256: h.TargetSHA256}).Append(nil)
}
