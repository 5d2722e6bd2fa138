package storage_test

import (
	"testing"

	"github.com/edgetuf/edgetuf/storage"
	"github.com/edgetuf/edgetuf/storage/storagetest"
)

func TestMemoryBackend(t *testing.T) {
	storagetest.Run(t, func(*testing.T) storage.Backend { return storage.NewMemory() }, storagetest.HoldsDataInMemory())
}
