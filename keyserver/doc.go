// Package keyserver is the key release service (mrepo keyserver) of
// encrypted versions whose signed delivery is "keyserver"
// (docs/keyserver.md): it hands a version's content key, sealed in an
// envelope for one device's key and valid for a limited time, to a device
// that is enrolled, not revoked, and proves it holds its device key by
// answering a fresh, single-use challenge.
//
// It is publishing-side code (it reads the content key store); no device
// binary links it. The device's half of the protocol is
// client/internal/keyaccess; the proof both compute, and the messages,
// are in package modelcrypt.
//
// Everything a device sends is bounded and checked before it is used; a
// refusal is a JSON body with a stable code. Challenges are held in a
// table of bounded size; per-device and global token buckets limit the
// request rate; every request leaves one line in the audit log, which
// never holds key material.
package keyserver
