package brainvision

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/acquisition/internal/mnesummary"
	"github.com/neurostream/neurostream/internal/shareddata"
)

func TestMatchesMNE(t *testing.T) {
	for _, name := range []string{"test_NO.vhdr", "Analyzer_nV_Export.vhdr", "test_VAmp.ahdr"} {
		t.Run(name, func(t *testing.T) {
			stem := strings.TrimSuffix(name, filepath.Ext(name))
			want := mnesummary.Load(t, filepath.Join("testdata", "mne_"+stem+".json"))
			p := filepath.Join(shareddata.Dir(), "mne_testing_formats", "Brainvision", name)
			if _, err := os.Stat(p); err != nil {
				t.Skipf("%s: not found; put the shared data set beside the repo", p)
			}
			rec, err := Read(p)
			if err != nil {
				t.Fatal(err)
			}
			mnesummary.CheckSignals(t, rec, &want, nil)
			mnesummary.CheckAnnotations(t, rec, &want, 1e-9)
		})
	}
}
