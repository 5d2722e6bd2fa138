package delta

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/edgetuf/edgetuf/delta/container"
	"github.com/edgetuf/edgetuf/delta/container/containertest"
)

// tfjsRegions are the regions of one-shard TF.js models, as
// cmd/mrepo/internal/deltafiles finds them from the manifests.
func tfjsRegions(t testing.TB, oldM []byte, oldShard string, oldLen int, newM []byte, newShard string, newLen int) []Region {
	ot, err := container.ParseTFJS(oldM, oldShard, int64(oldLen), container.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	nt, err := container.ParseTFJS(newM, newShard, int64(newLen), container.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return container.Moves(container.PairTensors(ot, nt))
}

// A retrain whose exporter reordered the tensors codes like one that kept
// their order, once the containers' tensors are paired; without pairing
// the coder tries the wrong bytes and the patch is much larger.
func TestReorderedTensors(t *testing.T) {
	t.Parallel()
	old := containertest.Model(1, 20)
	retrained := containertest.Retrain(old, 2)
	reordered := containertest.Shuffle(retrained, 3)
	oneShard := func(ts []containertest.Tensor) ([]byte, string, []byte) {
		m, names, shards := containertest.TFJS(ts, "group1", 64<<20)
		return m, names[0], shards[0]
	}
	for _, format := range []string{"safetensors", "gguf", "tfjs"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			var oldF, inPlace, moved []byte
			var regions []Region
			switch format {
			case "safetensors":
				oldF, inPlace, moved = containertest.SafeTensors(old), containertest.SafeTensors(retrained), containertest.SafeTensors(reordered)
			case "gguf":
				oldF, inPlace, moved = containertest.GGUF(old, 0), containertest.GGUF(retrained, 0), containertest.GGUF(reordered, 0)
			case "tfjs":
				om, on, os := oneShard(old)
				_, _, is := oneShard(retrained)
				mm, mn, ms := oneShard(reordered)
				oldF, inPlace, moved = os, is, ms
				regions = tfjsRegions(t, om, on, len(os), mm, mn, len(ms))
			}
			inPlaceSt, _ := roundTrip(t, oldF, inPlace, Options{})
			pairedSt, _ := roundTrip(t, oldF, moved, Options{Regions: regions})
			bytesSt, _ := roundTrip(t, oldF, moved, Options{NoContainers: true})
			t.Logf("%s: %d-byte files; patch in place %d, reordered %d with pairing, %d without", format, len(moved), inPlaceSt.PatchLength, pairedSt.PatchLength, bytesSt.PatchLength)
			if float64(pairedSt.PatchLength) > 1.05*float64(inPlaceSt.PatchLength) {
				t.Errorf("reordered with pairing: %d bytes, more than 1.05x the in-place retrain's %d", pairedSt.PatchLength, inPlaceSt.PatchLength)
			}
			if float64(pairedSt.PatchLength) > 0.8*float64(bytesSt.PatchLength) {
				t.Errorf("reordered with pairing: %d bytes, not below 0.8x the %d without", pairedSt.PatchLength, bytesSt.PatchLength)
			}
			if format != "tfjs" && (pairedSt.Container != format || pairedSt.PairedTensors != 20 || pairedSt.MovedTensors < 15) {
				t.Errorf("stats: container %q, %d paired, %d moved; want %s, 20, most", pairedSt.Container, pairedSt.PairedTensors, pairedSt.MovedTensors, format)
			}
			if bytesSt.Container != "" || bytesSt.PairedTensors != 0 {
				t.Errorf("NoContainers: stats %+v", bytesSt)
			}
		})
	}
}

// In the bounded-memory mode a region whose old bytes lie outside the
// chunk's old window is skipped, and the patch still rebuilds the file.
func TestRegionsChunked(t *testing.T) {
	t.Parallel()
	old := containertest.Model(4, 20)
	nw := containertest.Shuffle(containertest.Retrain(old, 5), 6)
	st, _ := roundTrip(t, containertest.SafeTensors(old), containertest.SafeTensors(nw), Options{ChunkSize: 128 << 10})
	if !st.Chunked || st.MovedTensors == 0 {
		t.Errorf("stats %+v: want chunked, with moved tensors", st)
	}
}

// Regions a caller passes are clipped and sorted: regions that overlap,
// run past either file or start at negative offsets do not break the
// patch.
func TestHostileRegions(t *testing.T) {
	t.Parallel()
	old := containertest.SafeTensors(containertest.Model(7, 4))
	nw := containertest.SafeTensors(containertest.Shuffle(containertest.Retrain(containertest.Model(7, 4), 8), 9))
	n := int64(len(nw))
	regions := []Region{
		{NewOffset: n - 10, OldOffset: 0, Length: 1 << 40},
		{NewOffset: 0, OldOffset: 5, Length: n},
		{NewOffset: 100, OldOffset: 3, Length: n},
		{NewOffset: -5, OldOffset: -5, Length: 50},
		{NewOffset: 1 << 40, OldOffset: 0, Length: 1},
		{NewOffset: 7, OldOffset: int64(len(old)) - 1, Length: 1 << 62},
	}
	roundTrip(t, old, nw, Options{Regions: regions})
}

// A malformed container is still diffed, as bytes.
func TestMalformedContainerDiffedAsBytes(t *testing.T) {
	t.Parallel()
	good := containertest.SafeTensors(containertest.Model(10, 3))
	bad := bytes.Clone(good)
	hdrLen := binary.LittleEndian.Uint64(bad)
	// Point the first tensor's data past the end of the file.
	hdr := bytes.Replace(bad[8:8+hdrLen], []byte(`"data_offsets":[0,`), []byte(`"data_offsets":[9,`), 1)
	copy(bad[8:], hdr)
	if _, err := container.Parse(bytes.NewReader(bad), int64(len(bad)), container.Limits{}); err == nil {
		t.Fatal("the hostile container parses")
	}
	st, _ := roundTrip(t, good, bad, Options{})
	if st.Container != "" || st.MovedTensors != 0 {
		t.Errorf("stats %+v for a malformed new container", st)
	}
	roundTrip(t, bad, good, Options{})
}
