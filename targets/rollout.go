package targets

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rollout controls are signed custom metadata of a version's manifest
// target (Custom.Rollout, Custom.Revoked, Custom.Policy). They are data
// like any other signed field: a mirror or CDN can neither widen a
// rollout nor lift a revocation, because changing them needs the key of
// the role that signs the manifest target. Each control present is listed
// in Custom.Critical, so a client too old to understand it treats the
// version as one it cannot read and never installs it (ignoring a halt or
// a revocation would be unsafe).

// Buckets is the number of cohort buckets: a rollout admits devices in
// steps of 1/Buckets (0.01%).
const Buckets = 10000

// Bucket assigns a device to a cohort bucket for one version's rollout:
// the first 4 bytes of SHA-256(salt || deviceID), big-endian, mod Buckets.
// The salt is chosen per version, so the same devices are not always the
// canaries; the device ID never leaves the device.
func Bucket(salt, deviceID string) int {
	h := sha256.New()
	h.Write([]byte(salt))
	h.Write([]byte(deviceID))
	sum := h.Sum(nil)
	return int(binary.BigEndian.Uint32(sum[:4]) % Buckets)
}

// Rollout is a staged release of one version: only devices whose bucket
// is below BasisPoints (out of Buckets), whose device class is listed (if
// any is) and that run after Start (if set) see the version.
type Rollout struct {
	// BasisPoints admitted out of Buckets: 100 is 1%, Buckets is a full
	// release, 0 admits no device (a halt).
	BasisPoints int `json:"basis_points"`
	// Salt makes this version's cohorts independent of other versions'.
	Salt string `json:"salt"`
	// DeviceClasses, when not empty, limits the rollout to devices that
	// declare one of these classes at init.
	DeviceClasses []string `json:"device_classes,omitempty"`
	// Start (RFC 3339, UTC) is the earliest time a device takes the
	// version; before it the version is invisible.
	Start string `json:"start,omitempty"`
	// HaltReason records why the rollout was halted (BasisPoints is 0).
	HaltReason string `json:"halt_reason,omitempty"`
}

// Revocation is the kill switch: a revoked version is never selected, a
// device that has it staged discards it, and a device running it steps
// back below its anti-rollback floor to the newest non-revoked version.
type Revocation struct {
	Reason string `json:"reason"`
	// Time (RFC 3339, UTC) the version was revoked.
	Time string `json:"time"`
}

// Policy is per-version signed eligibility: conditions the device's
// state must meet before it downloads anything. The device's own user
// settings can only be stricter.
type Policy struct {
	// UnmeteredAboveBytes: a download larger than this many bytes needs
	// an unmetered network (0: no such rule).
	UnmeteredAboveBytes int64 `json:"unmetered_above_bytes,omitempty"`
	// MinBatteryPercent: the battery must be at least this full unless
	// the device is charging (0: no such rule).
	MinBatteryPercent int `json:"min_battery_percent,omitempty"`
	// Networks, when not empty, lists the network types a download may
	// use (NetworkWiFi, NetworkEthernet, NetworkCellular).
	Networks []string `json:"networks,omitempty"`
}

// Network types a device reports and a Policy may name.
const (
	NetworkWiFi     = "wifi"
	NetworkEthernet = "ethernet"
	NetworkCellular = "cellular"
	NetworkNone     = "none"
)

// Names of the control fields in Custom, as listed in Custom.Critical.
const (
	FieldRollout = "rollout"
	FieldRevoked = "revoked"
	FieldPolicy  = "policy"
)

// Limits on control fields (they are small; the bounds keep hostile
// metadata cheap to check).
const (
	MaxSaltLength        = 64
	MaxDeviceClasses     = 32
	MaxDeviceClassLength = 64
	MaxReasonLength      = 1024
)

// ParsePercent turns a percentage with at most two decimals ("5",
// "0.25", "100") into basis points.
func ParsePercent(s string) (int, error) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || (hasFrac && (frac == "" || len(frac) > 2)) || strings.Trim(whole+frac, "0123456789") != "" {
		return 0, fmt.Errorf("percent %q: want a number from 0 to 100 with at most two decimals", s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	n, err := strconv.Atoi(whole + frac)
	if err != nil || n > Buckets {
		return 0, fmt.Errorf("percent %q: want a number from 0 to 100 with at most two decimals", s)
	}
	return n, nil
}

// FormatPercent is the inverse of ParsePercent ("5", "0.25", "100").
func FormatPercent(basisPoints int) string {
	switch {
	case basisPoints%100 == 0:
		return strconv.Itoa(basisPoints / 100)
	case basisPoints%10 == 0:
		return fmt.Sprintf("%d.%d", basisPoints/100, basisPoints%100/10)
	}
	return fmt.Sprintf("%d.%02d", basisPoints/100, basisPoints%100)
}

// Admits reports whether a device in bucket, of class deviceClass, may
// see the version at time now; when it may not, reason says why.
func (r *Rollout) Admits(bucket int, deviceClass string, now time.Time) (ok bool, reason string) {
	if r == nil {
		return true, ""
	}
	if r.Start != "" {
		start, err := time.Parse(time.RFC3339, r.Start)
		if err != nil || now.Before(start) {
			return false, fmt.Sprintf("the rollout starts at %s", r.Start)
		}
	}
	if len(r.DeviceClasses) > 0 && !slices.Contains(r.DeviceClasses, deviceClass) {
		if deviceClass == "" {
			return false, fmt.Sprintf("the rollout is limited to device classes %s and this device declares none", strings.Join(r.DeviceClasses, ", "))
		}
		return false, fmt.Sprintf("the rollout is limited to device classes %s, not %s", strings.Join(r.DeviceClasses, ", "), deviceClass)
	}
	if bucket >= r.BasisPoints {
		if r.HaltReason != "" {
			return false, fmt.Sprintf("the rollout is halted: %s", r.HaltReason)
		}
		return false, fmt.Sprintf("cohort bucket %d is outside the rollout's %s%%", bucket, FormatPercent(r.BasisPoints))
	}
	return true, ""
}

// Validate checks a rollout's fields.
func (r *Rollout) Validate() error {
	if r.BasisPoints < 0 || r.BasisPoints > Buckets {
		return fmt.Errorf("rollout: basis_points %d is not within 0-%d", r.BasisPoints, Buckets)
	}
	if r.Salt == "" || len(r.Salt) > MaxSaltLength || !printableASCII(r.Salt) {
		return fmt.Errorf("rollout: salt must be 1-%d printable ASCII characters", MaxSaltLength)
	}
	if len(r.DeviceClasses) > MaxDeviceClasses {
		return fmt.Errorf("rollout: at most %d device classes", MaxDeviceClasses)
	}
	seen := map[string]bool{}
	for _, c := range r.DeviceClasses {
		if err := CheckDeviceClass(c); err != nil {
			return fmt.Errorf("rollout: %v", err)
		}
		if seen[c] {
			return fmt.Errorf("rollout: device class %q listed twice", c)
		}
		seen[c] = true
	}
	if r.Start != "" {
		if err := checkTime(r.Start); err != nil {
			return fmt.Errorf("rollout: start: %v", err)
		}
	}
	if r.HaltReason != "" {
		if r.BasisPoints != 0 {
			return fmt.Errorf("rollout: a halted rollout admits no device (basis_points %d)", r.BasisPoints)
		}
		if err := checkReason(r.HaltReason); err != nil {
			return fmt.Errorf("rollout: halt_reason: %v", err)
		}
	}
	return nil
}

// Validate checks a revocation's fields.
func (v *Revocation) Validate() error {
	if v.Reason == "" {
		return fmt.Errorf("revoked: reason is missing")
	}
	if err := checkReason(v.Reason); err != nil {
		return fmt.Errorf("revoked: reason: %v", err)
	}
	if err := checkTime(v.Time); err != nil {
		return fmt.Errorf("revoked: time: %v", err)
	}
	return nil
}

// Validate checks a policy's fields.
func (p *Policy) Validate() error {
	if p.UnmeteredAboveBytes < 0 {
		return fmt.Errorf("policy: unmetered_above_bytes must not be negative")
	}
	if p.MinBatteryPercent < 0 || p.MinBatteryPercent > 100 {
		return fmt.Errorf("policy: min_battery_percent %d is not within 0-100", p.MinBatteryPercent)
	}
	seen := map[string]bool{}
	for _, n := range p.Networks {
		if err := CheckPolicyNetwork(n); err != nil {
			return fmt.Errorf("policy: %v", err)
		}
		if seen[n] {
			return fmt.Errorf("policy: network %q listed twice", n)
		}
		seen[n] = true
	}
	if p.UnmeteredAboveBytes == 0 && p.MinBatteryPercent == 0 && len(p.Networks) == 0 {
		return fmt.Errorf("policy: no condition is set")
	}
	return nil
}

// CheckDeviceClass validates a device class name: 1-64 characters of
// a-z, 0-9, '.', '_' and '-', starting with a letter or digit.
func CheckDeviceClass(c string) error {
	if c == "" || len(c) > MaxDeviceClassLength {
		return fmt.Errorf("device class %q must be 1-%d characters", c, MaxDeviceClassLength)
	}
	for i, ch := range c {
		ok := ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || i > 0 && (ch == '.' || ch == '_' || ch == '-')
		if !ok {
			return fmt.Errorf("device class %q: only a-z, 0-9, '.', '_' and '-' (not first) are allowed", c)
		}
	}
	return nil
}

// CheckPolicyNetwork validates a network type a policy may allow.
func CheckPolicyNetwork(n string) error {
	switch n {
	case NetworkWiFi, NetworkEthernet, NetworkCellular:
		return nil
	}
	return fmt.Errorf("network %q is not one of %s, %s, %s", n, NetworkWiFi, NetworkEthernet, NetworkCellular)
}

func checkTime(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.UTC().Format(time.RFC3339) != s {
		return fmt.Errorf("%q is not an RFC 3339 UTC time such as 2026-01-02T15:04:05Z", s)
	}
	return nil
}

func checkReason(s string) error {
	if len(s) > MaxReasonLength {
		return fmt.Errorf("longer than %d bytes", MaxReasonLength)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("control characters are not allowed")
		}
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// SetControls replaces c's rollout, revocation and policy (nil removes
// one) and keeps Critical listing exactly the controls present, beside
// whatever else it lists.
func (c *Custom) SetControls(r *Rollout, rev *Revocation, p *Policy) {
	c.Rollout, c.Revoked, c.Policy = r, rev, p
	var crit []string
	for _, f := range c.Critical {
		if f != FieldRollout && f != FieldRevoked && f != FieldPolicy {
			crit = append(crit, f)
		}
	}
	if r != nil {
		crit = append(crit, FieldRollout)
	}
	if rev != nil {
		crit = append(crit, FieldRevoked)
	}
	if p != nil {
		crit = append(crit, FieldPolicy)
	}
	c.Critical = crit
}

// controlErr marks an error of a rollout control (ErrControl) without
// changing its message.
type controlErr struct{ err error }

func (e controlErr) Error() string   { return e.err.Error() }
func (e controlErr) Unwrap() []error { return []error{e.err, ErrControl} }

// validateControls checks a manifest target's controls: each valid, and
// each present one listed in Critical (an older client must not act on a
// version while ignoring its halt or revocation).
func (c *Custom) validateControls() error {
	check := func(name string, present bool, validate func() error) error {
		if !present {
			return nil
		}
		if !slices.Contains(c.Critical, name) {
			return fmt.Errorf("%s is present but not listed in critical", name)
		}
		return validate()
	}
	if err := check(FieldRollout, c.Rollout != nil, func() error { return c.Rollout.Validate() }); err != nil {
		return err
	}
	if err := check(FieldRevoked, c.Revoked != nil, func() error { return c.Revoked.Validate() }); err != nil {
		return err
	}
	if err := check(FieldPolicy, c.Policy != nil, func() error { return c.Policy.Validate() }); err != nil {
		return err
	}
	for _, name := range []string{FieldRollout, FieldRevoked, FieldPolicy} {
		if slices.Contains(c.Critical, name) && !c.hasControl(name) {
			return fmt.Errorf("critical lists %s, which is not present", name)
		}
	}
	return nil
}

func (c *Custom) hasControl(name string) bool {
	switch name {
	case FieldRollout:
		return c.Rollout != nil
	case FieldRevoked:
		return c.Revoked != nil
	case FieldPolicy:
		return c.Policy != nil
	}
	return false
}

func (c *Custom) hasAnyControl() bool {
	return c.Rollout != nil || c.Revoked != nil || c.Policy != nil
}
