package repo

import "log/slog"

// logger is l, or a logger that discards every record when l is nil (the
// zero value of an Options struct logs nothing).
func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
