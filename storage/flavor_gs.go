//go:build !edgetuf_no_gs

package storage

import (
	"strconv"
	"strings"

	gcs "cloud.google.com/go/storage"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/gcsblob" // gs://
)

// Google Cloud Storage: built in unless edgetuf_no_gs.
func init() {
	cloudFlavors["gs"] = func(*blob.Bucket) flavor { return gcsFlavor{} }
}

// gcsFlavor: the ETag is the object's generation number, and IfMatch a
// generation-match precondition: GCS has no If-Match on uploads.
type gcsFlavor struct{}

const gcsGenerationPrefix = `"gen-`

func gcsETag(gen int64) string { return gcsGenerationPrefix + strconv.FormatInt(gen, 10) + `"` }

func (gcsFlavor) etag(a *blob.Attributes) string {
	var oa gcs.ObjectAttrs
	if a.As(&oa) {
		return gcsETag(oa.Generation)
	}
	return ""
}

func (gcsFlavor) readerAttrs(r *blob.Reader) Attrs {
	var gr *gcs.Reader
	a := Attrs{Size: r.Size()}
	if r.As(&gr) && gr != nil {
		a.ETag, a.CacheControl = gcsETag(gr.Attrs.Generation), gr.Attrs.CacheControl
	}
	return a
}

func (gcsFlavor) listETag(o *blob.ListObject) string {
	var oa gcs.ObjectAttrs
	if o.As(&oa) {
		return gcsETag(oa.Generation)
	}
	return ""
}

func (gcsFlavor) beforeWrite(o PutOptions) (func(func(any) bool) error, error) {
	if o.IfMatch == "" {
		return nil, nil
	}
	gen, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(o.IfMatch, gcsGenerationPrefix), `"`), 10, 64)
	if err != nil || !strings.HasPrefix(o.IfMatch, gcsGenerationPrefix) || gen <= 0 {
		// Not an ETag this backend returned: it cannot match.
		return nil, ErrPrecondition
	}
	return func(as func(any) bool) error {
		var oh **gcs.ObjectHandle
		if !as(&oh) || oh == nil {
			return errHookUnavailable
		}
		*oh = (*oh).If(gcs.Conditions{GenerationMatch: gen})
		return nil
	}, nil
}
