package learnt

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/acquisition/fif"
	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/tokenizer"
)

// The side-information ranges tools/models/train_tokenizer_vq.py writes into the learnt codebooks
// (scipy's filter, numpy's statistics) are the ones tokenizer.FitSide learns in Go from the same
// training data (within 1e-9: the two filters round differently, by ~1e-12), so side_bits means
// the same on both sides and a codebook's ranges can be reproduced without Python.
func TestLearntSideRangesMatchGo(t *testing.T) {
	eegRuns := func() ([]*acquisition.Recording, []string) {
		var recs []*acquisition.Recording
		var names []string
		for r := 1; r <= 6; r++ {
			name := fmt.Sprintf("S001R%02d.edf", r)
			rec, err := edf.Read(shareddata.Path(t, filepath.Join("physionet_eegmmidb_S001", name)))
			if err != nil {
				t.Fatal(err)
			}
			recs, names = append(recs, rec), append(names, name)
		}
		return recs, names
	}
	megTraining := func() ([]*acquisition.Recording, []string) {
		rec, err := fif.Read(shareddata.Path(t, filepath.Join("mne_testing_formats", "FIF", "test_elekta_3ch_raw.fif")))
		if err != nil {
			t.Fatal(err)
		}
		cut := int(56 * rec.Info.SampleRateHz) // the script's training part
		head := &acquisition.Recording{Info: rec.Info}
		for _, ch := range rec.Data {
			head.Data = append(head.Data, ch[:cut])
		}
		return []*acquisition.Recording{head}, []string{"test_elekta_3ch_raw.fif[0:56s]"}
	}
	for name, training := range map[string]func() ([]*acquisition.Recording, []string){
		"tokenizer-vq-eeg": eegRuns, "tokenizer-vq-meg": megTraining} {
		t.Run(name, func(t *testing.T) {
			committed, err := tokenizer.Load(modelsDir + name + ".json")
			if err != nil {
				t.Fatal(err)
			}
			if len(committed.SideRanges) != len(committed.ChannelTypes) {
				t.Fatalf("side ranges %+v: want one per channel type %v", committed.SideRanges, committed.ChannelTypes)
			}
			fitted, _ := tokenizer.Load(modelsDir + name + ".json")
			recs, names := training()
			if err := tokenizer.FitSide(fitted, recs, names); err != nil {
				t.Fatal(err)
			}
			for _, want := range committed.SideRanges {
				got := fitted.SideRangeOf(want.ChannelType)
				if got == nil || got.Patches != want.Patches ||
					math.Abs(got.LogScaleLo-want.LogScaleLo) > 1e-9 || math.Abs(got.LogScaleHi-want.LogScaleHi) > 1e-9 ||
					math.Abs(got.OffsetMaxZ-want.OffsetMaxZ) > 1e-9*want.OffsetMaxZ {
					t.Errorf("%s: Go learns %+v, the script wrote %+v", want.ChannelType, got, want)
				}
			}
		})
	}
}
