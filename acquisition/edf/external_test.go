package edf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/streams"
)

// TestWriteForExternalCheck writes files for tools/edf_writer_check.py, which opens them with
// MNE-Python and biosig (save2gdf). It runs only when NEUROSTREAM_EDF_CHECK_DIR names a directory.
func TestWriteForExternalCheck(t *testing.T) {
	dir := os.Getenv("NEUROSTREAM_EDF_CHECK_DIR")
	if dir == "" {
		t.Skip("NEUROSTREAM_EDF_CHECK_DIR not set: no files written for the MNE/biosig check")
	}
	src, err := Read(shareddata.Path(t, "physionet_eegmmidb_S001/S001R04.edf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []Format{FormatEDF, FormatBDF} {
		path := filepath.Join(dir, "S001R04_written."+map[Format]string{FormatEDF: "edf", FormatBDF: "bdf"}[format])
		if err := Write(path, src, WriteOptions{Format: format}); err != nil {
			t.Fatal(err)
		}
	}
	// The streaming writer, fed 16-sample frames with the annotations as markers.
	for _, format := range []Format{FormatEDF, FormatBDF} {
		path := filepath.Join(dir, "S001R04_streamed."+map[Format]string{FormatEDF: "edf", FormatBDF: "bdf"}[format])
		w, err := Create(path, src.Info, WriteOptions{Format: format})
		if err != nil {
			t.Fatal(err)
		}
		const frameLen = 16
		nc := len(src.Data)
		fr := &streams.Frame{StreamID: src.Info.StreamID, NumChannels: nc, NumSamples: frameLen, Samples: make([]float32, nc*frameLen)}
		next := 0
		for s0 := 0; s0 < src.NumSamples(); s0 += frameLen {
			for s := 0; s < frameLen; s++ {
				for c := 0; c < nc; c++ {
					fr.Samples[s*nc+c] = float32(src.Data[c][s0+s])
				}
			}
			fr.Markers = fr.Markers[:0]
			for ; next < len(src.Annotations) && src.Annotations[next].OnsetSample < int64(s0+frameLen); next++ {
				a := src.Annotations[next]
				fr.Markers = append(fr.Markers, streams.Marker{SampleOffset: int32(a.OnsetSample - int64(s0)), Label: a.Description})
			}
			if err := w.WriteFrame(fr); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if w.ClippedSamples() != 0 || w.PaddedSamples() != 0 {
			t.Fatalf("clipped %d, padded %d samples", w.ClippedSamples(), w.PaddedSamples())
		}
	}
}
