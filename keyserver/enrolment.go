package keyserver

import "github.com/edgetuf/edgetuf/modelcrypt"

// maxDevicesFile bounds a devices or revoked file (a million devices of
// about 90 bytes a line).
const maxDevicesFile = 128 << 20

// enrolment is the devices a key may be released to: enrolled (by
// recipient string, with their labels) and not revoked.
type enrolment struct {
	enrolled map[string]modelcrypt.Device
	revoked  map[string]bool
}

// loadEnrolment reads the devices file and the revoked file ("": none).
func loadEnrolment(devicesFile, revokedFile string) (*enrolment, error) {
	ds, err := modelcrypt.ReadDevicesFile(devicesFile, maxDevicesFile)
	if err != nil {
		return nil, err
	}
	e := &enrolment{enrolled: make(map[string]modelcrypt.Device, len(ds)), revoked: map[string]bool{}}
	for _, d := range ds {
		e.enrolled[d.Recipient.String()] = d
	}
	if revokedFile != "" {
		rs, err := modelcrypt.ReadDevicesFile(revokedFile, maxDevicesFile)
		if err != nil {
			return nil, err
		}
		for _, d := range rs {
			e.revoked[d.Recipient.String()] = true
		}
	}
	return e, nil
}

// check returns the enrolled device named by recipient, or the refusal.
func (e *enrolment) check(recipient string) (modelcrypt.Device, string) {
	d, ok := e.enrolled[recipient]
	switch {
	case e.revoked[recipient]:
		return d, modelcrypt.RefusalRevoked
	case !ok:
		return d, modelcrypt.RefusalNotEnrolled
	}
	return d, ""
}
