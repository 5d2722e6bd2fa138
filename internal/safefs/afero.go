//go:build unix

// FS as an afero.Fs (for package atomicfs and the like).

package safefs

import (
	"os"

	"github.com/spf13/afero"
)

// Name is the name of this afero.Fs.
func (f *FS) Name() string { return "safefs" }

// Afero returns f as an afero.Fs (for package atomicfs and the like).
func (f *FS) Afero() afero.Fs { return aferoFS{f} }

// aferoFS adapts FS to afero.Fs, whose OpenFile, Open and Create return
// afero.File.
type aferoFS struct{ *FS }

func (a aferoFS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	return asAfero(a.FS.OpenFile(name, flag, perm))
}
func (a aferoFS) Open(name string) (afero.File, error)   { return asAfero(a.FS.Open(name)) }
func (a aferoFS) Create(name string) (afero.File, error) { return asAfero(a.FS.Create(name)) }

// asAfero keeps a failed open's file a nil interface, not a nil *os.File.
func asAfero(f *os.File, err error) (afero.File, error) {
	if err != nil {
		return nil, err
	}
	return f, nil
}

var _ afero.Fs = aferoFS{}
var _ afero.Lstater = aferoFS{}
