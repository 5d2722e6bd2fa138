//go:build !edgetuf_no_s3

package storage

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // s3://
)

// S3 (and servers of its API): built in unless edgetuf_no_s3.
func init() {
	cloudFlavors["s3"] = func(bucket *blob.Bucket) flavor {
		var client *s3.Client
		if bucket != nil {
			bucket.As(&client)
		}
		return s3Flavor{client: client}
	}
}

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
