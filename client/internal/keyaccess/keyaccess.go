// Package keyaccess obtains the key envelope of an encrypted version for
// the device (docs/encryption.md, docs/keyserver.md): for delivery
// "fleet" or "device", the envelope published beside the version's
// targets under the name of the key's recipient; for delivery
// "keyserver", the key service's challenge and proof exchange, the proof
// computed with the device key's ECDH (modelcrypt.Proof).
//
// It only fetches: the caller opens the envelope with
// modelcrypt.OpenEnvelope, which checks it against the signed metadata.
// Every answer is bounded (modelcrypt.MaxEnvelopeSize, the service's
// message limit) and parsed strictly. Errors are *codes.Error:
// KEY_UNAVAILABLE (no envelope for this key, the service refused, no key
// service configured), NETWORK (the server cannot be reached, answers
// 429 or 5xx: try later), CANCELLED or INTERRUPTED (the context ended).
// A device key that fails (*devicekey.Error) keeps its own code
// (DEVICE_KEY_UNAVAILABLE); any other fault of the key is KEY_UNAVAILABLE
// wrapping it. It never imports package client or anything repository-side.
package keyaccess

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/devicekey"
	"github.com/edgetuf/edgetuf/internal/fsfetch"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// Fetcher obtains key envelopes for encrypted versions.
type Fetcher struct {
	HTTP       *http.Client // the client's, with its TLS and proxy settings
	TargetsURL string       // the repository's targets base URL (no trailing slash)
	KeyServer  string       // the key service base URL ("" if none)
}

// Envelope returns the envelope for key of modelID at version:
// delivery "fleet" or "device": GET TargetsURL + "/" +
// targets.EnvelopeDir(m, v) + "/" + EnvelopeName(recipient of key) (read
// from the directory for a file:// repository); delivery "keyserver": the challenge/proof exchange with KeyServer.
func (f *Fetcher) Envelope(ctx context.Context, delivery, modelID, version string, key modelcrypt.DeviceKey) ([]byte, error) {
	if err := targets.CheckModelID(modelID); err != nil {
		return nil, codes.Errorf(codes.KeyUnavailable, err, "key of %s %s", modelID, version)
	}
	if _, err := targets.ParseVersion(version); err != nil {
		return nil, codes.Errorf(codes.KeyUnavailable, err, "key of %s %s", modelID, version)
	}
	if key == nil {
		return nil, codes.Errorf(codes.KeyUnavailable, nil, "key of %s %s: no key configured for delivery %q", modelID, version, delivery)
	}
	rs, err := modelcrypt.Recipient(key.Public())
	if err != nil {
		return nil, codes.Errorf(codes.KeyUnavailable, err, "key of %s %s", modelID, version)
	}
	switch delivery {
	case targets.DeliveryFleet, targets.DeliveryDevice:
		r, err := modelcrypt.ParseRecipient(rs)
		if err != nil {
			return nil, codes.Errorf(codes.KeyUnavailable, err, "key of %s %s", modelID, version)
		}
		u := strings.TrimSuffix(f.TargetsURL, "/") + "/" + targets.EnvelopeDir(modelID, version) + "/" + modelcrypt.EnvelopeName(r)
		what := "key envelope of " + modelID + " " + version
		if path, ok := strings.CutPrefix(u, "file://"); ok {
			return readFile(path, modelcrypt.MaxEnvelopeSize, what)
		}
		return f.fetch(ctx, http.MethodGet, u, nil, modelcrypt.MaxEnvelopeSize, what)
	case targets.DeliveryKeyServer:
		return f.fromKeyServer(ctx, modelID, version, rs, key)
	}
	return nil, codes.Errorf(codes.KeyUnavailable, nil, "key of %s %s: unknown delivery %q", modelID, version, delivery)
}

func (f *Fetcher) httpClient() *http.Client {
	if f.HTTP != nil {
		return f.HTTP
	}
	return http.DefaultClient
}

// fromKeyServer asks for a challenge, proves the device key and returns
// the envelope the service seals for it.
func (f *Fetcher) fromKeyServer(ctx context.Context, modelID, version, device string, key modelcrypt.DeviceKey) ([]byte, error) {
	what := "key of " + modelID + " " + version + " from the key service"
	if f.KeyServer == "" {
		return nil, codes.Errorf(codes.KeyUnavailable, nil, "%s: no key service configured (key_server)", what)
	}
	base := strings.TrimSuffix(f.KeyServer, "/")
	body, _ := json.Marshal(modelcrypt.ChallengeRequest{ModelID: modelID, Version: version, Device: device})
	data, err := f.fetch(ctx, http.MethodPost, base+"/v1/challenge", body, modelcrypt.MaxKeyServiceMessage, what)
	if err != nil {
		return nil, err
	}
	c, err := parseChallenge(data)
	if err != nil {
		return nil, codes.Errorf(codes.KeyUnavailable, err, "%s: the challenge", what)
	}
	shared, err := key.ECDH(c.serverKey)
	var de *devicekey.Error
	if errors.As(err, &de) {
		// A removed token, a cleared TPM: its own code, as when an
		// envelope is opened (client/internal/keyring), so the run stops
		// rather than skip the version as refused.
		return nil, codes.Errorf(codes.Code(de.Code), err, "%s: the device key", what)
	}
	if err != nil {
		return nil, codes.Errorf(codes.KeyUnavailable, err, "%s: the device key", what)
	}
	proof := modelcrypt.Proof(shared, c.nonce, c.id, modelID, version, device)
	body, _ = json.Marshal(modelcrypt.KeyRequest{ChallengeID: c.id, ModelID: modelID, Version: version, Device: device, Proof: base64.StdEncoding.EncodeToString(proof)})
	return f.fetch(ctx, http.MethodPost, base+"/v1/key", body, modelcrypt.MaxEnvelopeSize, what)
}

// fetch makes one request and returns the body of a 200 answer, at most
// limit bytes.
func (f *Fetcher) fetch(ctx context.Context, method, u string, body []byte, limit int64, what string) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, codes.Errorf(codes.KeyUnavailable, err, "%s", what)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.httpClient().Do(req)
	if err != nil {
		return nil, transferErr(ctx, err, what)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := jsonlimit.ReadAll(resp.Body, modelcrypt.MaxKeyServiceMessage)
		return nil, statusErr(resp.StatusCode, parseRefusal(msg), what)
	}
	data, err := jsonlimit.ReadAll(resp.Body, limit)
	if errors.Is(err, jsonlimit.ErrTooLarge) {
		return nil, codes.Errorf(codes.KeyUnavailable, err, "%s: the answer is over %d bytes", what, limit)
	}
	if err != nil {
		return nil, transferErr(ctx, err, what)
	}
	return data, nil
}

// readFile reads the envelope at path of a file:// repository (removable
// media), at most limit bytes, a regular file only (fsfetch.OpenRegular:
// never blocking on a FIFO): none there is KEY_UNAVAILABLE, as a 404 is;
// a medium that cannot be read is NETWORK (try again).
func readFile(path string, limit int64, what string) ([]byte, error) {
	f, err := fsfetch.OpenRegular(afero.NewOsFs(), path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fsfetch.ErrNotRegular) {
		return nil, codes.Errorf(codes.KeyUnavailable, err, "%s: none in the repository directory", what)
	}
	if err != nil {
		return nil, codes.Errorf(codes.Network, err, "%s", what)
	}
	defer f.Close()
	data, err := jsonlimit.ReadAll(f, limit)
	if errors.Is(err, jsonlimit.ErrTooLarge) {
		return nil, codes.Errorf(codes.KeyUnavailable, err, "%s: the file is over %d bytes", what, limit)
	}
	if err != nil {
		return nil, codes.Errorf(codes.Network, err, "%s", what)
	}
	return data, nil
}

// transferErr is a failed transfer: the caller's stop, or NETWORK.
func transferErr(ctx context.Context, err error, what string) error {
	if ctx.Err() != nil {
		return codes.Errorf(codes.StopCode(ctx), err, "%s", what)
	}
	return codes.Errorf(codes.Network, err, "%s", what)
}

// statusErr maps an answer that is not 200: a refusal (401, 403, 404,
// 410, other 4xx) is KEY_UNAVAILABLE, skipped until the metadata changes;
// a busy or failing server (408, 429, 5xx) is NETWORK, tried again later
// (its Retry-After is noted by the client's transport).
func statusErr(status int, refusal, what string) error {
	detail := fmt.Sprintf("HTTP %d", status)
	if refusal != "" {
		detail += " " + refusal
	}
	if status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500 {
		return codes.Errorf(codes.Network, nil, "%s: %s", what, detail)
	}
	return codes.Errorf(codes.KeyUnavailable, nil, "%s: refused (%s)", what, detail)
}

// challenge is a parsed, checked modelcrypt.Challenge.
type challenge struct {
	id        string
	serverKey *ecdh.PublicKey
	nonce     []byte
}

// parseChallenge checks every field of the service's challenge: the
// sizes, a server key on P-256, an RFC 3339 expiry, no other field.
func parseChallenge(data []byte) (*challenge, error) {
	var in modelcrypt.Challenge
	if err := jsonlimit.UnmarshalStrict(data, &in, modelcrypt.MaxKeyServiceMessage); err != nil {
		return nil, fmt.Errorf("malformed: %v", err)
	}
	if _, err := decodeField("challenge_id", in.ChallengeID, modelcrypt.ChallengeIDSize); err != nil {
		return nil, err
	}
	sk, err := decodeField("server_key", in.ServerKey, modelcrypt.ServerKeySize)
	if err != nil {
		return nil, err
	}
	pub, err := ecdh.P256().NewPublicKey(sk)
	if err != nil {
		return nil, fmt.Errorf("server_key is not a P-256 point")
	}
	nonce, err := decodeField("nonce", in.Nonce, modelcrypt.NonceSize)
	if err != nil {
		return nil, err
	}
	if _, err := time.Parse(time.RFC3339, in.Expires); err != nil {
		return nil, fmt.Errorf("expires is not an RFC 3339 time")
	}
	return &challenge{id: in.ChallengeID, serverKey: pub, nonce: nonce}, nil
}

func decodeField(name, s string, size int) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != size {
		return nil, fmt.Errorf("%s is not %d bytes of base64", name, size)
	}
	return b, nil
}

// parseRefusal returns "CODE: message" from a refusal body, cut to a
// printable line; "" if the body is not one.
func parseRefusal(data []byte) string {
	var r modelcrypt.Refusal
	if jsonlimit.Unmarshal(data, &r, modelcrypt.MaxKeyServiceMessage) != nil || r.Code == "" {
		return ""
	}
	s := r.Code
	if r.Message != "" {
		s += ": " + r.Message
	}
	s = strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return ' '
		}
		return c
	}, s)
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return s
}
