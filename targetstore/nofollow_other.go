//go:build !unix

package targetstore

const noFollow = 0
