//go:build (!amd64 && !arm64) || purego

package planes

// Without assembly the generic code does every word.

func bytesBulk(out, src []byte, op Op) int { return 0 }

func words2Bulk(out, s0, s1 []byte, op Op) int { return 0 }

func words4Bulk(out, s0, s1, s2, s3 []byte, op Op) int { return 0 }
