package release

import (
	"errors"
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
		{Encrypt{}, "a delivery (fleet, device or keyserver) is required"},
		{Encrypt{Delivery: "cdn"}, `unknown delivery "cdn"`},
		{Encrypt{Delivery: targets.DeliveryFleet}, "needs the fleet key's recipient"},
	} {
		if err := c.e.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.e, err, c.want)
		}
	}
}

func TestCheckEnvelopes(t *testing.T) {
	const r1, r2 = "age1gc6vpl4alag8d5e95m9quv2pxs8ctxcvcnd9rmtqp9tkg84skyvql3frmv", "age1x85qhq3g6peytx2hmas5q8ns6nnf9cmxdqljt6h0pj2789kzxujsevq8w2"
	custom := func(e *targets.Encryption) *targets.Custom {
		return &targets.Custom{Kind: targets.KindManifest, ModelID: "det", Version: "1.0.0", Encrypted: e}
	}
	if err := CheckEnvelopes(custom(&targets.Encryption{Recipient: r1, Delivery: targets.DeliveryDevice}), r1); err != nil {
		t.Error(err)
	}
	for _, c := range []struct {
		c    *targets.Custom
		want string
	}{
		{custom(nil), "published unencrypted"},
		{custom(&targets.Encryption{Recipient: r1, Delivery: targets.DeliveryKeyServer}), "key service"},
		{custom(&targets.Encryption{Recipient: r2, Delivery: targets.DeliveryFleet}), "not for this content key"},
	} {
		if err := CheckEnvelopes(c.c, r1); !errors.Is(err, ErrNotEncrypted) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want ErrNotEncrypted %q", err, c.want)
		}
	}
}
