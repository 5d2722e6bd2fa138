package repo

import (
	"testing"

	"github.com/spf13/afero"
)

func TestZZProfApply(t *testing.T) {
	fs := afero.NewOsFs()
	res, err := DeltaApply(fs, "/var/tmp/ap/old", "/var/tmp/ap/patch", "/var/tmp/ap/out3", DeltaApplyOptions{})
	t.Log(res, err)
}
