//go:build !linux

package fsverity

import (
	"fmt"
	"os"
)

// Enable reports ErrNotSupported: fs-verity is Linux's.
func Enable(f *os.File) error { return fmt.Errorf("%s: %w", f.Name(), ErrNotSupported) }

// Enabled reports false.
func Enabled(*os.File) (bool, error) { return false, nil }
