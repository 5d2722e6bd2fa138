package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// blobBackend is a Backend on a gocloud.dev bucket: one code path for S3,
// GCS, Azure and local directories; what gocloud does not abstract (the
// compare-and-swap precondition, the ETag a read saw) is the flavor's.
type blobBackend struct {
	bucket *blob.Bucket
	desc   string
	fl     flavor
}

// flavor is what differs between providers.
type flavor interface {
	// etag is the ETag of attributes a Stat returned.
	etag(a *blob.Attributes) string
	// readerAttrs are the attributes of the object r reads (the version
	// it reads, not a later one).
	readerAttrs(r *blob.Reader) Attrs
	// listETag is the ETag of a listed object.
	listETag(o *blob.ListObject) string
	// beforeWrite is the provider's part of a Put's options: the
	// compare-and-swap precondition (IfMatch) and the size hint. nil when
	// there is nothing to add.
	beforeWrite(o PutOptions) (func(as func(any) bool) error, error)
}

// Upload tuning for object stores: parts of 5 MiB (S3's minimum), two in
// flight, and (S3) a single request below one part. An upload of any size
// then holds about four parts, ~20 MiB (measured: BenchmarkS3/Put), where
// the S3 transfer manager's defaults (16 MiB read before deciding, five 8
// MiB parts in flight) hold over 40 MiB: most of a publisher's 64 MiB
// budget. With PutOptions.SizeKnown the part size grows past 10,000 x 5 MiB
// (~48 GiB) as S3's part limit requires.
const (
	uploadPartSize    = 5 << 20
	uploadConcurrency = 2
)

// Open implements Backend.
func (b *blobBackend) Open(ctx context.Context, name string) (io.ReadCloser, Attrs, error) {
	if err := checkName(name); err != nil {
		return nil, Attrs{}, err
	}
	r, err := b.bucket.NewReader(ctx, name, nil)
	if err != nil {
		return nil, Attrs{}, b.mapErr("open", name, err)
	}
	a := b.fl.readerAttrs(r)
	if a.ETag == "" {
		r.Close()
		return nil, Attrs{}, b.noETag(name)
	}
	return r, a, nil
}

// OpenRange implements Backend.
func (b *blobBackend) OpenRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("storage: %s: negative offset %d", name, offset)
	}
	r, err := b.bucket.NewRangeReader(ctx, name, offset, length, nil)
	if err != nil {
		return nil, b.mapErr("open", name, err)
	}
	return r, nil
}

// Stat implements Backend.
func (b *blobBackend) Stat(ctx context.Context, name string) (Attrs, error) {
	if err := checkName(name); err != nil {
		return Attrs{}, err
	}
	a, err := b.bucket.Attributes(ctx, name)
	if err != nil {
		return Attrs{}, b.mapErr("stat", name, err)
	}
	out := Attrs{Size: a.Size, ETag: b.fl.etag(a), CacheControl: a.CacheControl}
	if out.ETag == "" {
		return Attrs{}, b.noETag(name)
	}
	return out, nil
}

// noETag fails a read whose ETag the provider did not give: an empty ETag
// passed on as PutOptions.IfMatch would make a compare-and-swap an
// unconditional write.
func (b *blobBackend) noETag(name string) error {
	return fmt.Errorf("storage: %s in %s: the provider returned no ETag", name, b.desc)
}

// Put implements Backend.
func (b *blobBackend) Put(ctx context.Context, name string, r io.Reader, o PutOptions) error {
	wopts, err := b.writerOptions(name, o)
	if err != nil {
		return err
	}
	if err := upload(ctx, b.bucket, name, r, wopts); err != nil {
		if o.IfMatch != "" && gcerrors.Code(err) == gcerrors.NotFound {
			// S3 answers If-Match on a missing name with 404.
			return fmt.Errorf("storage: put %s in %s: does not exist: %w", name, b.desc, ErrPrecondition)
		}
		return b.mapErr("put", name, err)
	}
	return nil
}

// writerOptions are the gocloud options of a Put.
func (b *blobBackend) writerOptions(name string, o PutOptions) (*blob.WriterOptions, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if o.IfAbsent && o.IfMatch != "" {
		return nil, fmt.Errorf("storage: put %s: IfAbsent and IfMatch together can never hold", name)
	}
	wopts := &blob.WriterOptions{
		CacheControl:   o.CacheControl,
		ContentType:    o.ContentType,
		IfNotExist:     o.IfAbsent,
		BufferSize:     uploadPartSize,
		MaxConcurrency: uploadConcurrency,
	}
	if wopts.ContentType == "" {
		// Not sniffed: sniffing buffers the head of every upload and
		// guesses differently per provider.
		wopts.ContentType = "application/octet-stream"
	}
	bw, err := b.fl.beforeWrite(o)
	if err != nil {
		return nil, fmt.Errorf("storage: put %s: %w", name, err)
	}
	wopts.BeforeWrite = bw
	return wopts, nil
}

// upload streams r into name; a read error or cancellation aborts the
// write, so nothing is left under name.
func upload(ctx context.Context, bucket *blob.Bucket, name string, r io.Reader, wopts *blob.WriterOptions) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := bucket.NewWriter(wctx, name, wopts)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		cancel()
		_ = w.Close()
		return err
	}
	return w.Close()
}

// List implements Backend.
func (b *blobBackend) List(ctx context.Context, prefix string, fn func(string, Attrs) error) error {
	it := b.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return b.mapErr("list", prefix, err)
		}
		if o.IsDir {
			continue
		}
		if err := fn(o.Key, Attrs{Size: o.Size, ETag: b.fl.listETag(o)}); err != nil {
			return err
		}
	}
}

// Delete implements Backend.
func (b *blobBackend) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := b.bucket.Delete(ctx, name); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return b.mapErr("delete", name, err)
	}
	return nil
}

// String implements Backend.
func (b *blobBackend) String() string { return b.desc }

// Close implements Backend.
func (b *blobBackend) Close() error { return b.bucket.Close() }

// mapErr turns gocloud's codes into the package's sentinels.
func (b *blobBackend) mapErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	code := gcerrors.Code(err)
	if op != "put" && errors.Is(err, syscall.ENOTDIR) {
		code = gcerrors.NotFound // file:// "a/b" where a is an object
	}
	switch code {
	case gcerrors.NotFound:
		return fmt.Errorf("storage: %s %s in %s: %w", op, name, b.desc, ErrNotExist)
	case gcerrors.FailedPrecondition:
		return fmt.Errorf("storage: %s %s in %s: %w", op, name, b.desc, ErrPrecondition)
	}
	if errors.Is(err, ErrPrecondition) || errors.Is(err, ErrNotExist) {
		return err
	}
	return fmt.Errorf("storage: %s %s in %s: %w", op, name, b.desc, err)
}

// checkName refuses names that are not plain slash-separated relative
// paths: a name is untrusted input (a listing, a metadata file) and must
// never address something outside the repository.
func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
		return fmt.Errorf("storage: bad object name %q", name)
	}
	for _, c := range strings.Split(name, "/") {
		if c == "" || c == "." || c == ".." || strings.ContainsAny(c, "\\\x00") {
			return fmt.Errorf("storage: bad object name %q", name)
		}
	}
	return nil
}
