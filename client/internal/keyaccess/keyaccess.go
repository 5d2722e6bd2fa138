// Package keyaccess obtains the key envelopes of encrypted versions.
//
// Stand-in (branch i14d1): the fleet and device deliveries only, with the
// API of the contract; branch i14c replaces this file with the full
// package (key service included).
package keyaccess

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
)

// Fetcher obtains key envelopes for encrypted versions.
type Fetcher struct {
	HTTP       *http.Client     // the client's, with its TLS and proxy settings
	TargetsURL string           // the repository's targets base URL (no trailing slash)
	KeyServer  string           // the key service base URL ("" if none)
	Now        func() time.Time // injected clock
}

// Envelope returns the envelope for key of modelID at version.
func (f *Fetcher) Envelope(ctx context.Context, delivery, modelID, version string, key modelcrypt.DeviceKey) ([]byte, error) {
	if delivery != targets.DeliveryFleet && delivery != targets.DeliveryDevice {
		return nil, codes.Errorf(codes.KeyUnavailable, nil, "%s %s: delivery %q is not supported by this build", modelID, version, delivery)
	}
	r, err := modelcrypt.Recipient(key.Public())
	if err != nil {
		return nil, codes.Errorf(codes.KeyUnavailable, err, "%s %s", modelID, version)
	}
	tr, err := modelcrypt.ParseRecipient(r)
	if err != nil {
		return nil, codes.Errorf(codes.KeyUnavailable, err, "%s %s", modelID, version)
	}
	url := f.TargetsURL + "/" + targets.EnvelopeDir(modelID, version) + "/" + modelcrypt.EnvelopeName(tr)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, codes.Errorf(codes.KeyUnavailable, err, "%s %s", modelID, version)
	}
	resp, err := f.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, codes.Errorf(codes.StopCode(ctx), err, "key envelope of %s %s", modelID, version)
		}
		return nil, codes.Errorf(codes.Network, err, "key envelope of %s %s", modelID, version)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden:
		return nil, codes.Errorf(codes.KeyUnavailable, nil, "no key envelope of %s %s for this device (HTTP %d)", modelID, version, resp.StatusCode)
	default:
		return nil, codes.Errorf(codes.Network, nil, "key envelope of %s %s: HTTP %d", modelID, version, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, modelcrypt.MaxEnvelopeSize+1))
	if err != nil {
		return nil, codes.Errorf(codes.Network, err, "key envelope of %s %s", modelID, version)
	}
	if len(data) > modelcrypt.MaxEnvelopeSize {
		return nil, codes.Errorf(codes.DecryptFailed, fmt.Errorf("over %d bytes", modelcrypt.MaxEnvelopeSize), "key envelope of %s %s", modelID, version)
	}
	return data, nil
}
