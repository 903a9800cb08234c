package eeglab

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/streams"
)

const (
	microvolt     = 1e-6 // EEGLAB stores µV; MNE's CAL
	maxChannels   = 1 << 16
	maxSampleRate = 1e7
	mmPerMetre    = 1000
)

var knownTypes = map[string]streams.ChannelType{"eeg": streams.ChannelEEG, "eog": streams.ChannelEOG,
	"ecg": streams.ChannelECG, "emg": streams.ChannelEMG, "stim": streams.ChannelStim, "misc": streams.ChannelMisc,
	"mag": streams.ChannelMEGMag, "grad": streams.ChannelMEGGrad}

// maxDataFileBytes bounds a .fdt file: its float32 samples are held as float64, twice its size.
const maxDataFileBytes = 8 << 30

// Read reads an EEGLAB .set file and, when the data are not inline, the .fdt file it names (looked
// up beside the .set).
func Read(setPath string) (*acquisition.Recording, error) {
	b, err := os.ReadFile(setPath)
	if err != nil {
		return nil, fmt.Errorf("eeglab: %w", err)
	}
	dir := filepath.Dir(setPath)
	open := func(name string) ([]byte, error) {
		// EEGLAB may store a path from another machine; only the base name is meaningful here, and
		// it must be a regular file (acquisition.ReadCompanion).
		base, _, err := acquisition.CompanionName(name)
		if err != nil {
			return nil, err
		}
		return acquisition.ReadCompanion(dir, base, maxDataFileBytes)
	}
	rec, err := Decode(b, filepath.Base(setPath), open)
	if err != nil {
		return nil, fmt.Errorf("eeglab %s: %w", setPath, err)
	}
	return rec, nil
}

// Decode parses a .set held in memory; open returns the data file it names.
func Decode(set []byte, name string, open func(name string) ([]byte, error)) (*acquisition.Recording, error) {
	vars, err := readMat(set)
	if err != nil {
		return nil, err
	}
	eeg := map[string]*matValue{}
	if v, ok := vars["EEG"]; ok {
		if v.class != mxSTRUCT || len(v.elems) != 1 {
			return nil, fmt.Errorf("variable EEG is not a 1x1 struct")
		}
		eeg = v.elems[0]
	} else {
		eeg = vars // newer EEGLAB saves the struct's fields as separate variables
	}
	scalar := func(field string) (float64, error) {
		v, ok := eeg[field]
		if !ok || len(v.nums) != 1 {
			return 0, fmt.Errorf("EEG.%s missing or not a number", field)
		}
		return v.nums[0], nil
	}
	nbchan, err := scalar("nbchan")
	if err != nil {
		return nil, err
	}
	pnts, err := scalar("pnts")
	if err != nil {
		return nil, err
	}
	srate, err := scalar("srate")
	if err != nil {
		return nil, err
	}
	if trials, err := scalar("trials"); err == nil && trials != 1 {
		return nil, fmt.Errorf("EEG.trials is %v: an epoched dataset, not continuous data (read it with mne.read_epochs_eeglab)", trials)
	}
	if nbchan < 1 || nbchan > maxChannels || nbchan != math.Trunc(nbchan) {
		return nil, fmt.Errorf("EEG.nbchan is %v: want an integer 1..%d", nbchan, maxChannels)
	}
	if pnts < 1 || pnts > math.MaxInt32 || pnts != math.Trunc(pnts) {
		return nil, fmt.Errorf("EEG.pnts is %v: want a positive integer", pnts)
	}
	if !(srate > 0) || srate > maxSampleRate || math.IsInf(srate, 0) {
		return nil, fmt.Errorf("EEG.srate is %v Hz: want a positive rate up to %g Hz", srate, maxSampleRate)
	}
	nch, n := int(nbchan), int(pnts)
	if nch*n > math.MaxInt32*2 {
		return nil, fmt.Errorf("EEG.nbchan x EEG.pnts = %d x %d is too large", nch, n)
	}
	data, err := readData(eeg["data"], nch, n, open)
	if err != nil {
		return nil, err
	}
	chans, err := channels(eeg["chanlocs"], nch)
	if err != nil {
		return nil, err
	}
	ann, err := events(eeg["event"], srate)
	if err != nil {
		return nil, err
	}
	return &acquisition.Recording{
		Info: streams.StreamInfo{
			SchemaVersion: streams.SchemaVersion,
			StreamID:      name,
			Device:        "EEGLAB",
			SampleRateHz:  srate,
			Channels:      chans,
		},
		Data:        data,
		Annotations: ann,
	}, nil
}

func readData(v *matValue, nch, n int, open func(string) ([]byte, error)) ([][]float64, error) {
	if v == nil {
		return nil, fmt.Errorf("EEG.data missing")
	}
	// Sizes are checked against what is actually there before allocating nbchan x pnts values.
	alloc := func() [][]float64 {
		backing := make([]float64, nch*n)
		data := make([][]float64, nch)
		for c := range data {
			data[c] = backing[c*n : (c+1)*n : (c+1)*n]
		}
		return data
	}
	if v.class == mxCHAR {
		raw, err := open(v.str)
		if err != nil {
			return nil, fmt.Errorf("data file named by EEG.data (%s): %w", v.str, err)
		}
		if len(raw) < 4*nch*n {
			return nil, fmt.Errorf("data file %s holds %d bytes, want %d (EEG.nbchan %d x EEG.pnts %d x 4-byte floats)", v.str, len(raw), 4*nch*n, nch, n)
		}
		data := alloc()
		// Samples are float32, little-endian, channels varying fastest (MATLAB's column-major nbchan x pnts).
		for s := range n {
			row := raw[4*s*nch:]
			for c := range nch {
				data[c][s] = float64(math.Float32frombits(binary.LittleEndian.Uint32(row[4*c:]))) * microvolt
			}
		}
		return data, nil
	}
	if len(v.nums) != nch*n {
		return nil, fmt.Errorf("EEG.data inline holds %d values, want EEG.nbchan %d x EEG.pnts %d", len(v.nums), nch, n)
	}
	data := alloc()
	for s := range n {
		for c := range nch {
			data[c][s] = v.nums[s*nch+c] * microvolt
		}
	}
	return data, nil
}

func str(el map[string]*matValue, field string) (string, bool) {
	v, ok := el[field]
	if !ok || v.class != mxCHAR {
		return "", false
	}
	return v.str, true
}

func num(el map[string]*matValue, field string) (float64, bool) {
	v, ok := el[field]
	if !ok || len(v.nums) != 1 {
		return math.NaN(), false
	}
	return v.nums[0], true
}

// channels reads EEG.chanlocs like MNE: labels, type (known MNE types, else EEG) and X/Y/Z in mm,
// turned into MNE's head frame in metres as (-Y, X, Z).
func channels(v *matValue, nch int) ([]streams.Channel, error) {
	chans := make([]streams.Channel, nch)
	if v == nil || len(v.elems) == 0 {
		for c := range chans {
			chans[c] = streams.Channel{Name: fmt.Sprintf("EEG %03d", c), Type: streams.ChannelEEG, Unit: "V"}
		}
		return chans, nil
	}
	if len(v.elems) != nch {
		return nil, fmt.Errorf("EEG.chanlocs has %d entries for EEG.nbchan %d channels", len(v.elems), nch)
	}
	for c, el := range v.elems {
		label, _ := str(el, "labels")
		ch := streams.Channel{Name: label, Type: streams.ChannelEEG, Unit: "V"}
		if t, ok := str(el, "type"); ok {
			if kt, ok := knownTypes[strings.ToLower(strings.TrimSpace(t))]; ok {
				ch.Type = kt
			}
		}
		x, okx := num(el, "X")
		y, oky := num(el, "Y")
		z, okz := num(el, "Z")
		if okx && oky && okz && !math.IsNaN(x+y+z) && !math.IsInf(x+y+z, 0) {
			ch.Position, ch.HasPosition = [3]float64{-y / mmPerMetre, x / mmPerMetre, z / mmPerMetre}, true
		}
		chans[c] = ch
	}
	return chans, nil
}

// events turns EEG.event into annotations: onsets latency-1 samples, type as the description,
// codes 1, 2, ... over the sorted distinct types (MNE's events_from_annotations).
func events(v *matValue, srate float64) ([]acquisition.Annotation, error) {
	if v == nil {
		return nil, nil
	}
	ann := make([]acquisition.Annotation, 0, len(v.elems))
	for i, el := range v.elems {
		lat, ok := num(el, "latency")
		if !ok || math.IsNaN(lat) || math.IsInf(lat, 0) {
			return nil, fmt.Errorf("EEG.event(%d).latency missing or not a number", i+1)
		}
		desc, ok := str(el, "type")
		if !ok {
			t, isNum := num(el, "type")
			if !isNum {
				return nil, fmt.Errorf("EEG.event(%d).type is neither text nor a number", i+1)
			}
			desc = pyFloat(t, el["type"].class == mxDOUBLE || el["type"].class == 7)
		}
		dur, _ := num(el, "duration")
		if math.IsNaN(dur) || math.IsInf(dur, 0) {
			dur = 0
		}
		onset := lat - 1 // EEGLAB latencies count from 1
		ann = append(ann, acquisition.Annotation{
			OnsetSec:    onset / srate,
			DurationSec: dur / srate,
			OnsetSample: int64(math.Round(onset)),
			Description: desc,
		})
	}
	descs := make([]string, 0, len(ann))
	for _, a := range ann {
		descs = append(descs, a.Description)
	}
	sort.Strings(descs)
	codes := map[string]int32{}
	for _, d := range descs {
		if _, ok := codes[d]; !ok {
			codes[d] = int32(len(codes) + 1)
		}
	}
	for i := range ann {
		ann[i].Code = codes[ann[i].Description]
	}
	return ann, nil
}

// pyFloat formats a numeric event type the way MNE's str() of it reads: floats as "1.0", integers as "1".
func pyFloat(v float64, isFloat bool) string {
	if !isFloat {
		return strconv.FormatInt(int64(v), 10)
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEnN") {
		s += ".0"
	}
	return s
}
