package container

import (
	"os"
	"path/filepath"
	"testing"
)

// realCorpus is where bench/delta-real.sh puts the real model pairs; the
// corpus is downloaded, never committed, so the test is skipped without it.
const realCorpus = "/work/corpus"

// TestRealTFLiteAndONNX parses every .tflite and .onnx file of the real
// corpus: each must parse, its table keep Table's promises and cover
// most of the file (every real model of the corpus keeps over 90% of its
// bytes in tensors; Silero VAD's are all in nested graphs).
func TestRealTFLiteAndONNX(t *testing.T) {
	var files []string
	for _, pattern := range []string{"*/*.tflite", "*/*.onnx"} {
		found, _ := filepath.Glob(filepath.Join(realCorpus, pattern))
		files = append(files, found...)
	}
	if len(files) == 0 {
		t.Skip("no real corpus in " + realCorpus)
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		parse := parseONNX
		if filepath.Ext(name) == ".tflite" {
			parse = parseTFLite
		}
		r := &countingReaderAt{r: f}
		table, err := parse(r, info.Size(), Limits{})
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		checkTable(t, table, info.Size())
		var covered int64
		for _, x := range table.Tensors {
			covered += x.Length
		}
		if covered < info.Size()*9/10 {
			t.Errorf("%s: tensors cover %d of %d bytes", name, covered, info.Size())
		}
		t.Logf("%s: %d tensors, %.1f%% of %d bytes, %d bytes read", name, len(table.Tensors), 100*float64(covered)/float64(info.Size()), info.Size(), r.read)
	}
}

// BenchmarkParseReal parses the largest TFLite and ONNX files of the real
// corpus (the 27 MB BlazePose heavy landmark model, the 88 MB fp16 ISNet
// model): the cost Diff pays per file.
func BenchmarkParseReal(b *testing.B) {
	for _, c := range []struct {
		name  string
		parse parser
	}{
		{"pose-heavy-tflite/new.tflite", parseTFLite},
		{"isnet-quint8-fp16/new.onnx", parseONNX},
	} {
		b.Run(filepath.Ext(c.name)[1:], func(b *testing.B) {
			f, err := os.Open(filepath.Join(realCorpus, c.name))
			if err != nil {
				b.Skip("no real corpus in " + realCorpus)
			}
			defer f.Close()
			info, err := f.Stat()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.parse(f, info.Size(), Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
