//go:build !edgetuf_no_azblob

package storage

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob://
)

// Azure Blob Storage: built in unless edgetuf_no_azblob.
func init() {
	cloudFlavors["azblob"] = func(*blob.Bucket) flavor { return azureFlavor{} }
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
