package storage

import (
	"errors"
	"strconv"
	"strings"

	gcs "cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"gocloud.dev/blob"
)

// cloudFlavors by URL scheme.
func cloudFlavor(scheme string, bucket *blob.Bucket) flavor {
	switch scheme {
	case "s3":
		var client *s3.Client
		if bucket != nil {
			bucket.As(&client)
		}
		return s3Flavor{client: client}
	case "gs":
		return gcsFlavor{}
	}
	return azureFlavor{}
}

// errHookUnavailable is a driver that no longer offers the hook a
// precondition needs: refuse the write rather than write unconditionally.
var errHookUnavailable = errors.New("storage: the provider's write hook is unavailable; refusing an unconditional write")

// s3Flavor: ETags are S3's; IfMatch is the If-Match header on PutObject
// (and on CompleteMultipartUpload), which S3 and versitygw enforce.
type s3Flavor struct {
	client *s3.Client // to bound the transfer manager's buffers; nil in unit tests
}

func (s3Flavor) etag(a *blob.Attributes) string { return a.ETag }

func (s3Flavor) readerAttrs(r *blob.Reader) Attrs {
	var out s3.GetObjectOutput
	a := Attrs{Size: r.Size()}
	if r.As(&out) {
		a.ETag, a.CacheControl = aws.ToString(out.ETag), aws.ToString(out.CacheControl)
	}
	return a
}

func (s3Flavor) listETag(o *blob.ListObject) string {
	var obj s3types.Object
	if o.As(&obj) {
		return aws.ToString(obj.ETag)
	}
	return ""
}

func (f s3Flavor) beforeWrite(o PutOptions) (func(func(any) bool) error, error) {
	return func(as func(any) bool) error {
		var in *transfermanager.UploadObjectInput
		var tm *transfermanager.Client
		if !as(&in) || !as(&tm) {
			return errHookUnavailable
		}
		if f.client != nil {
			// gocloud sets part size and concurrency but not the
			// single-request threshold (16 MiB by default), which the
			// transfer manager reads into one buffer before the parts:
			// with it at one part an upload holds at most
			// (uploadConcurrency+2) parts.
			*tm = *transfermanager.New(f.client, func(to *transfermanager.Options) {
				to.PartSizeBytes, to.Concurrency = uploadPartSize, uploadConcurrency
				to.MultipartUploadThreshold = uploadPartSize
				to.RequestChecksumCalculation = f.client.Options().RequestChecksumCalculation
			})
		}
		if o.IfMatch != "" {
			in.IfMatch = aws.String(o.IfMatch)
		}
		if o.SizeKnown {
			// Lets the transfer manager size parts so that objects past
			// 10,000 x 8 MiB still fit S3's part limit.
			in.ContentLength = aws.Int64(o.Size)
		}
		return nil
	}, nil
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

// azureFlavor: ETags are Azure's; IfMatch is an If-Match access condition.
type azureFlavor struct{}

func (azureFlavor) etag(a *blob.Attributes) string { return a.ETag }

func (azureFlavor) readerAttrs(r *blob.Reader) Attrs {
	var resp azblobblob.DownloadStreamResponse
	a := Attrs{Size: r.Size()}
	if r.As(&resp) {
		if resp.ETag != nil {
			a.ETag = string(*resp.ETag)
		}
		if resp.CacheControl != nil {
			a.CacheControl = *resp.CacheControl
		}
	}
	return a
}

func (azureFlavor) listETag(o *blob.ListObject) string {
	var item container.BlobItem
	if o.As(&item) && item.Properties != nil && item.Properties.ETag != nil {
		return string(*item.Properties.ETag)
	}
	return ""
}

func (azureFlavor) beforeWrite(o PutOptions) (func(func(any) bool) error, error) {
	if o.IfMatch == "" {
		return nil, nil
	}
	return func(as func(any) bool) error {
		var opts *azblob.UploadStreamOptions
		if !as(&opts) || opts == nil {
			return errHookUnavailable
		}
		etag := azcore.ETag(o.IfMatch)
		if opts.AccessConditions == nil {
			opts.AccessConditions = &azblob.AccessConditions{}
		}
		if opts.AccessConditions.ModifiedAccessConditions == nil {
			opts.AccessConditions.ModifiedAccessConditions = &azblobblob.ModifiedAccessConditions{}
		}
		opts.AccessConditions.ModifiedAccessConditions.IfMatch = &etag
		return nil
	}, nil
}
