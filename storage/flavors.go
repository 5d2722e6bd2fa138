package storage

import (
	"errors"

	"gocloud.dev/blob"
)

// cloudFlavors holds, by URL scheme, the flavor of each object store the
// binary is built with (flavor_*.go, each with its gocloud driver and its
// provider's SDK). The build tags edgetuf_no_s3, edgetuf_no_gs and
// edgetuf_no_azblob leave one out, for a smaller binary
// (docs/deployment.md, section 3); the default build has all three.
var cloudFlavors = map[string]func(*blob.Bucket) flavor{}

// cloudFlavor is the flavor of a bucket of a scheme built in.
func cloudFlavor(scheme string, bucket *blob.Bucket) flavor { return cloudFlavors[scheme](bucket) }

// errHookUnavailable is a driver that no longer offers the hook a
// precondition needs: refuse the write rather than write unconditionally.
var errHookUnavailable = errors.New("storage: the provider's write hook is unavailable; refusing an unconditional write")
