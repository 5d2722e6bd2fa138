package delta

// marshal is h's header in the full form, for tests that build patches.
func (h *Header) marshal() []byte { return h.head().Append(nil) }
