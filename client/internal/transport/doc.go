// Package transport is how the device library talks to a repository:
// resumable, verified target downloads (Downloader: bounded by the signed
// length, hashed while written with every supported algorithm the target
// lists, resumed with HTTP Range), the metadata fetchers go-tuf uses
// (HTTPFetcher: bounded, retried, stall-watched; MetaFetcher: the size
// limits and the run's context), the network policy (redirects, HTTPS
// only, the CA bundle, no idle connections), Retry-After, and the timers
// every limit starts (AfterFunc, so that tests fire them).
//
// Package client and its TUF session use it; it returns the typed errors
// of client/internal/codes. It never imports package client, nor anything
// repository-side (repo, keys, audit, server, ...): a device links it.
package transport
