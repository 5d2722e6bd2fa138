package release

import (
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/targets"
)

func TestEncryptCheck(t *testing.T) {
	var none *Encrypt
	if err := none.Check(); err != nil {
		t.Errorf("no request: %v", err)
	}
	for _, d := range []string{targets.DeliveryDevice, targets.DeliveryKeyServer} {
		if err := (&Encrypt{Delivery: d}).Check(); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
	for _, c := range []struct {
		e    Encrypt
		want string
	}{
		{Encrypt{}, "encryption needs a delivery: fleet, device or keyserver"},
		{Encrypt{Delivery: "cdn"}, `unknown delivery "cdn"`},
		{Encrypt{Delivery: targets.DeliveryFleet}, "needs the fleet key's recipient"},
	} {
		if err := c.e.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.e, err, c.want)
		}
	}
}
