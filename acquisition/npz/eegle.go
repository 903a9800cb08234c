package npz

import (
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/streams"
)

// eegleMeta is the part of an Eegle-style .yml sidecar this reader uses.
type eegleMeta struct {
	Acquisition struct {
		Sensors      []string `yaml:"sensors"`
		SamplingRate float64  `yaml:"samplingrate"`
	} `yaml:"acquisition"`
	Stim struct {
		Labels map[string]int `yaml:"labels"`
	} `yaml:"stim"`
}

// ReadEEGLE reads a recording stored as an Eegle-style pair (the bi2012 P300 set, for instance):
// FILE.npz with `data` (samples x channels, possibly with extra columns after the sensors) and
// `stim` (one code per sample, 0 = none), and FILE.yml naming the sensors, the sampling rate and
// the stimulus labels. Samples come back as stored, with an empty Channel.Unit: the sidecar does not
// state a unit (Eegle's convention is µV, unverified here). Every non-zero stim sample becomes an annotation
// whose Code is the stim value and whose Description is its label from the .yml.
func ReadEEGLE(npzPath string) (*acquisition.Recording, error) {
	ymlPath := strings.TrimSuffix(npzPath, ".npz") + ".yml"
	b, err := os.ReadFile(ymlPath)
	if err != nil {
		return nil, fmt.Errorf("eegle %s: the .yml sidecar: %w", npzPath, err)
	}
	var meta eegleMeta
	if err := yaml.Unmarshal(b, &meta); err != nil {
		return nil, fmt.Errorf("eegle %s: %w", ymlPath, err)
	}
	fs, sensors := meta.Acquisition.SamplingRate, meta.Acquisition.Sensors
	if !(fs > 0) || len(sensors) == 0 {
		return nil, fmt.Errorf("eegle %s: acquisition.samplingrate (%v) and acquisition.sensors (%d) are required", ymlPath, fs, len(sensors))
	}
	arrs, err := Read(npzPath)
	if err != nil {
		return nil, err
	}
	data, stim := arrs["data"], arrs["stim"]
	if data == nil || len(data.Shape) != 2 {
		return nil, fmt.Errorf("eegle %s: no 2-D `data` array", npzPath)
	}
	nS, nCol := data.Shape[0], data.Shape[1]
	if nCol < len(sensors) {
		return nil, fmt.Errorf("eegle %s: data has %d columns for %d sensors", npzPath, nCol, len(sensors))
	}
	if stim != nil && (len(stim.Shape) != 1 || stim.Shape[0] != nS) {
		return nil, fmt.Errorf("eegle %s: stim has shape %v, want (%d,)", npzPath, stim.Shape, nS)
	}
	labels := map[int]string{}
	for name, code := range meta.Stim.Labels {
		labels[code] = name
	}
	id := strings.TrimSuffix(ymlPath[strings.LastIndexByte(ymlPath, '/')+1:], ".yml")
	rec := &acquisition.Recording{Info: streams.StreamInfo{SchemaVersion: streams.SchemaVersion, StreamID: id, SampleRateHz: fs}}
	for c, name := range sensors {
		rec.Info.Channels = append(rec.Info.Channels, streams.Channel{Name: name, Type: streams.ChannelEEG})
		row := make([]float64, nS)
		for s := range row {
			row[s] = data.Data[s*nCol+c]
		}
		rec.Data = append(rec.Data, row)
	}
	if stim != nil {
		for s, v := range stim.Data {
			if v != 0 {
				rec.Annotations = append(rec.Annotations, acquisition.Annotation{
					OnsetSec: float64(s) / fs, OnsetSample: int64(s), Code: int32(v), Description: labels[int(v)]})
			}
		}
	}
	return rec, rec.Validate()
}
