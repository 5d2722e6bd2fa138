//go:build !unix

package fsfetch

const oNonblock = 0
