// Package recordings opens a recorded session in any format neurostream reads, chosen by the file's
// extension, so that commands (replay, train, decode) need not know the format packages. Every
// reader returns the same acquisition.Recording; a file holding several numeric streams (XDF)
// returns one Recording per stream, each with the file's marker streams as annotations.
package recordings

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/brainvision"
	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/acquisition/eeglab"
	"github.com/neurostream/neurostream/acquisition/fif"
	"github.com/neurostream/neurostream/acquisition/gdf"
	"github.com/neurostream/neurostream/acquisition/npz"
	"github.com/neurostream/neurostream/acquisition/xdf"
)

// format pairs the extensions of one format with its reader.
type format struct {
	exts []string
	name string
	read func(path string) ([]*acquisition.Recording, error)
}

func one(read func(string) (*acquisition.Recording, error)) func(string) ([]*acquisition.Recording, error) {
	return func(path string) ([]*acquisition.Recording, error) {
		rec, err := read(path)
		if err != nil {
			return nil, err
		}
		return []*acquisition.Recording{rec}, nil
	}
}

func formats() []format {
	return []format{
		{[]string{".edf", ".bdf", ".rec"}, "EDF/EDF+/BDF/BDF+", one(edf.Read)},
		{[]string{".gdf"}, "GDF", one(gdf.Read)},
		{[]string{".vhdr", ".ahdr"}, "BrainVision", one(brainvision.Read)},
		{[]string{".set"}, "EEGLAB (.set + .fdt)", one(eeglab.Read)},
		{[]string{".fif"}, "FIF raw", one(fif.Read)},
		{[]string{".xdf"}, "XDF (one recording per numeric stream)", xdf.Read},
		{[]string{".npz"}, "NumPy .npz with an Eegle .yml sidecar", one(npz.ReadEEGLE)},
	}
}

// Extensions lists every extension Open reads, lower case with the dot.
func Extensions() []string {
	var out []string
	for _, f := range formats() {
		out = append(out, f.exts...)
	}
	return out
}

// Open reads the recording(s) in path with the reader its extension names (case-insensitive).
func Open(path string) ([]*acquisition.Recording, error) {
	ext := strings.ToLower(filepath.Ext(path))
	for _, f := range formats() {
		for _, e := range f.exts {
			if e == ext {
				recs, err := f.read(path)
				if err != nil {
					return nil, err
				}
				if len(recs) == 0 {
					return nil, fmt.Errorf("%s: no recording in the file", path)
				}
				return recs, nil
			}
		}
	}
	return nil, fmt.Errorf("%s: unknown recording format %q (known extensions: %s)", path, ext, strings.Join(Extensions(), ", "))
}
