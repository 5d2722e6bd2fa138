package cliutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// JSON errors: a command run with --json that fails prints one JSON
// object on stdout, whatever the command and whatever the failure (usage
// errors included), besides its one line on stderr and its exit status:
//
//	{"error": {"code": "NETWORK", "message": "update: NETWORK: ...", "exit_status": 1}, ...}
//
// The members after "error" are the command's own result where it has one
// on failure (mclient update's result, mrepo verify's report). Run prints
// it; commands only attach their result to the error (WithResult).

// The codes of failures that carry none of their own (Coded errors carry
// theirs: mclient's, docs/error-codes.md, and lock contention's BUSY,
// writerlock.BusyError).
const (
	CodeUsage       = "USAGE"       // exit 64
	CodeInterrupted = "INTERRUPTED" // exit 130 or 143
	CodeFailed      = "FAILED"      // any other failure (exit 1)
)

// ErrorObject is the "error" member of a JSON failure.
type ErrorObject struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	ExitStatus int    `json:"exit_status"`
}

// Coded is an error that has a stable code (client errors, repository
// lock contention).
type Coded interface{ ErrorCode() string }

// WithResult attaches a command's result to its error: with --json, Run
// prints the result's members after the "error" member.
func WithResult(err error, result any) error {
	if err == nil {
		return nil
	}
	return &resultError{err: err, result: result}
}

type resultError struct {
	err    error
	result any
}

func (e *resultError) Error() string { return e.err.Error() }
func (e *resultError) Unwrap() error { return e.err }

// errorCode is the code of a failure that exited with status.
func errorCode(err error, status int) string {
	var c Coded
	if errors.As(err, &c) && c.ErrorCode() != "" {
		return c.ErrorCode()
	}
	switch status {
	case ExitUsage:
		return CodeUsage
	case ExitSIGINT, ExitSIGTERM:
		return CodeInterrupted
	}
	return CodeFailed
}

// writeJSONError prints the JSON failure of err on w.
func writeJSONError(w io.Writer, err error, status int, msg string) error {
	obj, jerr := json.Marshal(ErrorObject{Code: errorCode(err, status), Message: msg, ExitStatus: status})
	if jerr != nil {
		return jerr
	}
	doc := append(append([]byte(`{"error":`), obj...), '}')
	var re *resultError
	if errors.As(err, &re) {
		res, jerr := json.Marshal(re.result)
		if jerr != nil {
			return jerr
		}
		switch {
		case bytes.Equal(res, []byte("{}")) || bytes.Equal(res, []byte("null")):
		case res[0] == '{':
			doc = append(append(doc[:len(doc)-1], ','), res[1:]...)
		default:
			doc = append(append(doc[:len(doc)-1], `,"result":`...), append(res, '}')...)
		}
	}
	var out bytes.Buffer
	if jerr := json.Indent(&out, doc, "", "  "); jerr != nil {
		return jerr
	}
	out.WriteByte('\n')
	_, werr := w.Write(out.Bytes())
	return werr
}
