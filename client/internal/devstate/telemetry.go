package devstate

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/edgetuf/edgetuf/telemetry"
)

// telemetryKeys are the settings of fleet telemetry (docs/telemetry.md):
// the collector's URL, and the OS version reports carry.
var telemetryKeys = []key{
	{"telemetry-url", func(c *Config) string { return c.Settings.TelemetryURL }, func(c *Config, v string) error {
		if err := CheckTelemetryURL(v); err != nil {
			return err
		}
		if c.RequireHTTPS && !strings.HasPrefix(v, "https://") {
			return fmt.Errorf("%q is not https:// and this device requires HTTPS", v)
		}
		c.Settings.TelemetryURL = v
		return nil
	}, func(c *Config) { c.Settings.TelemetryURL = "" }},
	str("os-version", func(c *Config) *string { return &c.Settings.OSVersion }, CheckReportField),
}

// CheckTelemetryURL accepts a collector base URL: http:// or https://, a
// host, no user info, query or fragment.
func CheckTelemetryURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("collector URL %q does not parse", u)
	}
	if (p.Scheme != "http" && p.Scheme != "https") || !strings.HasPrefix(u, p.Scheme+"://") || p.Hostname() == "" {
		return fmt.Errorf("collector URL %q: want http(s)://HOST[:PORT][/PATH]", u)
	}
	if p.User != nil || p.RawQuery != "" || p.Fragment != "" || strings.HasSuffix(p.Host, ":") {
		return fmt.Errorf("collector URL %q must not have user info, a query, a fragment or an empty port", u)
	}
	return nil
}

// CheckReportField accepts a value a report may carry as its OS version,
// app version or device class.
func CheckReportField(v string) error {
	if !telemetry.IsShortField(v) {
		return fmt.Errorf("%q: want 1-64 characters of A-Z a-z 0-9 . _ + / - (e.g. 12 or 22.04)", v)
	}
	return nil
}

// settingError is a stored setting that fails its check.
type settingError struct {
	key string
	err error
}

// checkTelemetrySettings checks the telemetry settings read from
// client.json as config set checks them.
func checkTelemetrySettings(s Settings) *settingError {
	if s.TelemetryURL != "" {
		if err := CheckTelemetryURL(s.TelemetryURL); err != nil {
			return &settingError{"telemetry_url", err}
		}
	}
	if s.OSVersion != "" {
		if err := CheckReportField(s.OSVersion); err != nil {
			return &settingError{"os_version", err}
		}
	}
	return nil
}
