// Package codes is the device library's error vocabulary: the stable
// error codes (Code and its constants), the *Error every device-side
// failure is, and the mapping of go-tuf's, the network's and the
// filesystem's errors to codes by their types (TUFCode, Classify,
// ClassifyFS), never by their text.
//
// Package client re-exports every name here (client.Code, client.Error,
// client.CodeOf, the constants) as its public API; docs/error-codes.md
// explains each code under those names. The other packages below
// client/internal return these errors, so that a code set deep in a
// download or a state file survives unchanged to the caller.
//
// It imports only the standard library and go-tuf's metadata package (for
// its error types): never package client, nor anything repository-side.
package codes
