// Package keyring holds the device's keys for encrypted versions: its
// own device key (deliveries "device" and "keyserver") and the fleet's
// shared key (delivery "fleet"), each opened on first use from the
// reference client.json stores, or given by the application; and it
// opens a version's key envelope with the key its signed delivery names.
//
// Keys are opened lazily: a device with no fleet key, or whose fleet key
// is out of reach, runs every version that does not need it; only a
// version that does fails, KEY_UNAVAILABLE (no key configured) or
// DEVICE_KEY_UNAVAILABLE (configured but it cannot be opened or used:
// fail closed, nothing is tried with another key).
package keyring

import (
	"errors"
	"sync"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/devicekey"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
)

// Keys are a device's keys. The zero value has none.
type Keys struct {
	// Dir is the key directory of devicekey references (the state
	// directory).
	Dir string
	// DeviceRef and FleetRef are client.json's device_key and fleet_key
	// ("": none), opened when first needed unless Device or Fleet is set.
	DeviceRef, FleetRef string
	Device, Fleet       devicekey.Key

	mu sync.Mutex
}

// For returns the key that opens the envelopes of delivery: the fleet
// key for targets.DeliveryFleet, the device key otherwise.
func (k *Keys) For(delivery string) (devicekey.Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ref, what, hint := &k.Device, k.DeviceRef, "device key", "mclient device-key create"
	if delivery == targets.DeliveryFleet {
		key, ref, what, hint = &k.Fleet, k.FleetRef, "fleet key", "mclient config set fleet-key REF"
	}
	if *key != nil {
		return *key, nil
	}
	if ref == "" {
		return nil, codes.Errorf(codes.KeyUnavailable, nil, "delivery %q needs the %s and this device has none (%s)", delivery, what, hint)
	}
	opened, err := devicekey.Open(ref, k.Dir)
	if err != nil {
		return nil, deviceKeyError(err)
	}
	*key = opened
	return opened, nil
}

// Open opens env, the key envelope of modelID at version whose signed
// encryption is enc, with the key enc's delivery names, checking that it
// holds the signed recipient's key for exactly that version and has not
// expired at now. A refusal is DECRYPT_FAILED; a device or fleet key that
// cannot be used is DEVICE_KEY_UNAVAILABLE (its own error inside).
func (k *Keys) Open(env []byte, enc *targets.Encryption, modelID, version string, now time.Time) (*modelcrypt.ContentKey, error) {
	key, err := k.For(enc.Delivery)
	if err != nil {
		return nil, err
	}
	ck, err := modelcrypt.OpenEnvelope(env, key, modelID, version, enc.Recipient, now)
	if err != nil {
		return nil, Code(err)
	}
	return ck, nil
}

// Code gives an error of package modelcrypt or devicekey the code of the
// same name (an *codes.Error with its cause); any other error is returned
// as it is.
func Code(err error) error {
	var me *modelcrypt.Error
	if errors.As(err, &me) {
		return codes.Errorf(codes.Code(me.Code), me.Err, "")
	}
	return deviceKeyError(err)
}

func deviceKeyError(err error) error {
	var de *devicekey.Error
	if !errors.As(err, &de) {
		return err
	}
	if de.Ref == "" {
		return codes.Errorf(codes.Code(de.Code), de.Err, "")
	}
	return codes.Errorf(codes.Code(de.Code), de.Err, "device key %s", de.Ref)
}
