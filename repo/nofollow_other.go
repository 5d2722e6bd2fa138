//go:build !unix

package repo

const noFollow = 0
