package brainvision

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/streams"
)

const (
	maxChannels   = 1 << 16
	maxSampleRate = 1e7
	// MNE's event codes for BrainVision markers.
	codeNewSegment = 99999
	codeSyncOn     = 99998
	codeOtherFirst = 10001
)

var unitScale = map[string]float64{"V": 1, "µV": 1e-6, "uV": 1e-6, "mV": 1e-3, "nV": 1e-9,
	"C": 1, "°C": 1, "n/a": 1, "µS": 1e-6, "uS": 1e-6, "ARU": 1, "S": 1, "N": 1}

var eventOffsets = map[string]int32{"Event/": 0, "Stimulus/S": 0, "Response/R": 1000, "Optic/O": 2000}

// header is the parsed .vhdr: sections of lower-cased keys, in the order they appeared.
type header map[string]map[string]string

func parseINI(text string) header {
	h := header{}
	var cur map[string]string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == ';' {
			continue
		}
		if line[0] == '[' && strings.HasSuffix(line, "]") {
			name := strings.ToLower(strings.TrimSpace(line[1 : len(line)-1]))
			if name == "comment" {
				break // free text follows, as MNE stops there
			}
			cur = map[string]string{}
			h[name] = cur
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && cur != nil {
			cur[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return h
}

func (h header) get(section, key string) (string, bool) {
	v, ok := h[section][key]
	return v, ok
}

// decodeText honours the Codepage: UTF-8, falling back to Latin-1 as MNE does for older files.
func decodeText(b []byte) string {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	b = bytes.ReplaceAll(b, []byte("\r"), nil)
	if utf8.Valid(b) {
		return string(b)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// Read reads a BrainVision recording given its header (.vhdr or .ahdr); the data and marker files
// are found from the header's DataFile and MarkerFile entries, relative to the header's directory.
func Read(headerPath string) (*acquisition.Recording, error) {
	hb, err := os.ReadFile(headerPath)
	if err != nil {
		return nil, fmt.Errorf("brainvision: %w", err)
	}
	dir := filepath.Dir(headerPath)
	// Decode asks for base names only; the files must be regular and of a size a reader can hold.
	open := func(name string) ([]byte, error) { return acquisition.ReadCompanion(dir, name, maxCompanionBytes) }
	rec, err := Decode(hb, strings.EqualFold(filepath.Ext(headerPath), ".ahdr"), filepath.Base(headerPath), open)
	if err != nil {
		return nil, fmt.Errorf("brainvision %s: %w", headerPath, err)
	}
	return rec, nil
}

// maxCompanionBytes bounds a data or marker file: its samples are held as float64, 2-4 times its size.
const maxCompanionBytes = 8 << 30

// Decode parses a header held in memory; open returns the companion files it names, by base name
// (see acquisition.CompanionName: a DataFile of ../../etc/passwd is looked up as passwd beside the
// header, with a warning). ahdr marks the V-Amp variant, whose data file carries one extra channel
// that is dropped. A data file that is not a whole number of samples is refused as truncated; one
// shorter than DataPoints says (MULTIPLEXED) or than its markers reach is read with a warning.
func Decode(hdr []byte, ahdr bool, name string, open func(name string) ([]byte, error)) (*acquisition.Recording, error) {
	text := decodeText(hdr)
	first, _, _ := strings.Cut(text, "\n")
	if !strings.Contains(first, "Vision") || !strings.Contains(first, "Header File") {
		return nil, fmt.Errorf("not a BrainVision header: first line %q", truncate(first, 80))
	}
	h := parseINI(text)
	common := "common infos"
	get := func(key string) (string, error) {
		v, ok := h.get(common, key)
		if !ok || v == "" {
			return "", fmt.Errorf("[Common Infos] has no %s", key)
		}
		return v, nil
	}
	dataFile, err := get("datafile")
	if err != nil {
		return nil, err
	}
	markerFile, err := get("markerfile")
	if err != nil {
		return nil, err
	}
	var warnings []string
	companion := func(key, ref string) (string, error) {
		base, rewritten, err := acquisition.CompanionName(ref)
		if err != nil {
			return "", fmt.Errorf("%s=%s: %w", key, ref, err)
		}
		if rewritten {
			warnings = append(warnings, fmt.Sprintf("%s=%s names a path; companion files are read beside the header, as %s", key, ref, base))
		}
		return base, nil
	}
	if dataFile, err = companion("DataFile", dataFile); err != nil {
		return nil, err
	}
	if markerFile, err = companion("MarkerFile", markerFile); err != nil {
		return nil, err
	}
	if v, _ := h.get(common, "dataformat"); v != "" && !strings.EqualFold(v, "BINARY") {
		return nil, fmt.Errorf("DataFormat=%s: only BINARY data files are supported", v)
	}
	orientation := "MULTIPLEXED"
	if v, ok := h.get(common, "dataorientation"); ok {
		orientation = strings.ToUpper(v)
	}
	if orientation != "MULTIPLEXED" && orientation != "VECTORIZED" {
		return nil, fmt.Errorf("DataOrientation=%s: want MULTIPLEXED or VECTORIZED", orientation)
	}
	s, err := get("numberofchannels")
	if err != nil {
		return nil, err
	}
	nchan, err := strconv.Atoi(s)
	if err != nil || nchan <= 0 || nchan > maxChannels {
		return nil, fmt.Errorf("NumberOfChannels=%q: want an integer 1..%d", s, maxChannels)
	}
	s, err = get("samplinginterval")
	if err != nil {
		return nil, err
	}
	intervalUs, err := strconv.ParseFloat(s, 64)
	fsHz := 1e6 / intervalUs
	if err != nil || !(fsHz > 0) || fsHz > maxSampleRate || math.IsInf(fsHz, 0) {
		return nil, fmt.Errorf("SamplingInterval=%q µs: want a positive interval giving a rate up to %g Hz", s, maxSampleRate)
	}
	format, _ := h.get("binary infos", "binaryformat")
	var width int
	switch strings.ToUpper(format) {
	case "INT_16":
		width = 2
	case "INT_32", "IEEE_FLOAT_32":
		width = 4
	default:
		return nil, fmt.Errorf("BinaryFormat=%q: want INT_16, INT_32 or IEEE_FLOAT_32", format)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if v, _ := h.get("binary infos", "usebigendianorder"); strings.EqualFold(v, "YES") {
		order = binary.BigEndian
	}

	chans, scales, err := parseChannels(h, nchan)
	if err != nil {
		return nil, err
	}
	raw, err := open(dataFile)
	if err != nil {
		return nil, fmt.Errorf("data file named by DataFile=%s: %w", dataFile, err)
	}
	nFileChan := nchan
	if ahdr {
		nFileChan++ // V-Amp files store one more channel than the header lists
	}
	nSamples := len(raw) / (width * nFileChan)
	if rem := len(raw) % (width * nFileChan); rem != 0 {
		return nil, fmt.Errorf("data file %s holds %d bytes, %d more than %d whole samples of %d channels x %d bytes: the file is truncated or belongs to another header",
			dataFile, len(raw), rem, nSamples, nFileChan, width)
	}
	if v, ok := h.get(common, "datapoints"); ok && v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case orientation == "VECTORIZED" && (err != nil || n < 0 || n > nSamples):
			// The channels' offsets in the file depend on it: it cannot be wrong.
			return nil, fmt.Errorf("DataPoints=%q: want an integer up to the %d samples the data file %s holds (a larger count: the file is truncated)", v, nSamples, dataFile)
		case orientation == "VECTORIZED":
			nSamples = n
		case err == nil && n > nSamples:
			// MNE reads multiplexed files by their size and ignores DataPoints (its own test files
			// disagree with it), so this is a warning, not a refusal.
			warnings = append(warnings, fmt.Sprintf("DataPoints=%d but data file %s holds %d samples: the file may be truncated", n, dataFile, nSamples))
		}
	}
	if nSamples == 0 {
		return nil, fmt.Errorf("data file %s holds %d bytes, less than one sample of %d channels x %d bytes", dataFile, len(raw), nFileChan, width)
	}
	backing := make([]float64, nchan*nSamples)
	data := make([][]float64, nchan)
	for c := range data {
		data[c] = backing[c*nSamples : (c+1)*nSamples : (c+1)*nSamples]
	}
	decode(raw, data, strings.ToUpper(format), order, orientation == "VECTORIZED", nFileChan, nSamples, scales)

	mb, err := open(markerFile)
	if err != nil {
		return nil, fmt.Errorf("marker file named by MarkerFile=%s: %w", markerFile, err)
	}
	ann, start, err := parseMarkers(mb, fsHz)
	if err != nil {
		return nil, fmt.Errorf("marker file %s: %w", markerFile, err)
	}
	for _, a := range ann {
		if a.OnsetSample > int64(nSamples) {
			warnings = append(warnings, fmt.Sprintf("marker %q at sample %d lies beyond the %d samples of data file %s: the data file may be truncated",
				a.Description, a.OnsetSample, nSamples, dataFile))
			break
		}
	}
	return &acquisition.Recording{
		Info: streams.StreamInfo{
			SchemaVersion: streams.SchemaVersion,
			StreamID:      name,
			Device:        "BrainVision",
			SampleRateHz:  fsHz,
			Channels:      chans,
		},
		StartTime:   start,
		Data:        data,
		Annotations: ann,
		Warnings:    warnings,
	}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func parseChannels(h header, nchan int) ([]streams.Channel, []float64, error) {
	chans := make([]streams.Channel, nchan)
	scales := make([]float64, nchan)
	seen := make([]bool, nchan)
	for key, v := range h["channel infos"] {
		if !strings.HasPrefix(key, "ch") {
			continue
		}
		n, err := strconv.Atoi(key[2:])
		if err != nil || n < 1 || n > nchan {
			return nil, nil, fmt.Errorf("[Channel Infos] entry %q: channel number outside 1..%d", key, nchan)
		}
		props := strings.Split(v, ",")
		for len(props) < 4 {
			props = append(props, "")
		}
		name, resolution, unit := strings.ReplaceAll(props[0], `\1`, ","), props[2], props[3]
		if unit == "" {
			unit = "µV" // the BrainVision default
		}
		res := 1.0
		if resolution == "" && props[3] == "" {
			res = 1e-6 // MNE's rule for truncated headers (EEGLAB exports): no unit, no resolution
		} else if resolution != "" {
			r, err := strconv.ParseFloat(resolution, 64)
			if err != nil || math.IsNaN(r) || math.IsInf(r, 0) {
				return nil, nil, fmt.Errorf("[Channel Infos] Ch%d resolution %q is not a number", n, resolution)
			}
			res = r
		}
		unit = strings.ReplaceAll(unit, "\u00c2", "")
		scale, known := unitScale[unit]
		if !known {
			scale = 1
		}
		ch := streams.Channel{Name: name, Type: streams.ChannelEEG, Unit: "V"}
		switch {
		case unit != "V" && unit != "mV" && unit != "µV" && unit != "uV" && unit != "nV":
			ch.Type, ch.Unit = streams.ChannelMisc, siUnit(unit)
		case name == "HEOGL" || name == "HEOGR" || name == "VEOGb":
			ch.Type = streams.ChannelEOG
		}
		chans[n-1], scales[n-1], seen[n-1] = ch, res*scale, true
	}
	for c, ok := range seen {
		if !ok {
			return nil, nil, fmt.Errorf("[Channel Infos] has no entry Ch%d (NumberOfChannels=%d)", c+1, nchan)
		}
	}
	return chans, scales, nil
}

func siUnit(u string) string {
	switch u {
	case "µS", "uS":
		return "S"
	case "C":
		return "°C"
	}
	return u
}

func decode(raw []byte, data [][]float64, format string, order binary.ByteOrder, vectorized bool, nFileChan, n int, scales []float64) {
	width := 4
	if format == "INT_16" {
		width = 2
	}
	for c, scale := range scales {
		out := data[c]
		// Byte offset of (channel c, sample s) is base + s*step.
		base, step := width*c, width*nFileChan
		if vectorized {
			base, step = width*c*n, width
		}
		switch format {
		case "IEEE_FLOAT_32":
			for s := range out {
				out[s] = float64(math.Float32frombits(order.Uint32(raw[base+s*step:]))) * scale
			}
		case "INT_32":
			for s := range out {
				out[s] = float64(int32(order.Uint32(raw[base+s*step:]))) * scale
			}
		case "INT_16":
			for s := range out {
				out[s] = float64(int16(order.Uint16(raw[base+s*step:]))) * scale
			}
		}
	}
}

// parseMarkers reads the [Marker Infos] entries Mk<n>=<type>,<description>,<position>,<size>,<channel>[,<date>];
// positions are 1-based samples. The first New Segment's date is the recording start.
func parseMarkers(b []byte, fsHz float64) ([]acquisition.Annotation, time.Time, error) {
	text := decodeText(b)
	first, _, _ := strings.Cut(text, "\n")
	if !strings.Contains(first, "Marker File") {
		return nil, time.Time{}, fmt.Errorf("not a BrainVision marker file: first line %q", truncate(first, 80))
	}
	var ann []acquisition.Annotation
	var start time.Time
	in := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			in = strings.EqualFold(line, "[Marker Infos]")
			continue
		}
		if !in || !strings.HasPrefix(line, "Mk") {
			continue
		}
		_, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		f := strings.Split(v, ",")
		if len(f) < 4 {
			return nil, time.Time{}, fmt.Errorf("marker %q: want type, description, position and size", truncate(line, 80))
		}
		typ, desc := strings.ReplaceAll(f[0], `\1`, ","), strings.ReplaceAll(f[1], `\1`, ",")
		pos, err := strconv.ParseInt(strings.TrimSpace(f[2]), 10, 64)
		if err != nil || pos < 0 || pos > math.MaxInt32*int64(64) {
			return nil, time.Time{}, fmt.Errorf("marker %q: position %q is not a sample number", truncate(line, 80), f[2])
		}
		dur, err := strconv.ParseInt(strings.TrimSpace(f[3]), 10, 64)
		if err != nil || dur < 0 {
			dur = 0
		}
		if start.IsZero() && typ == "New Segment" && len(f) == 6 {
			start = parseDate(f[5])
		}
		onset := pos - 1 // 1-based in the file
		ann = append(ann, acquisition.Annotation{
			OnsetSec:    float64(onset) / fsHz,
			DurationSec: float64(dur) / fsHz,
			OnsetSample: onset,
			Description: typ + "/" + desc,
		})
	}
	assignCodes(ann)
	return ann, start, nil
}

// parseDate reads YYYYMMDDhhmmssuuuuuu (UTC, as MNE takes it); zeros or garbage mean no date.
func parseDate(s string) time.Time {
	s = strings.TrimSpace(s)
	if len(s) != 20 || strings.Trim(s, "0") == "" {
		return time.Time{}
	}
	t, err := time.Parse("20060102150405", s[:14])
	if err != nil {
		return time.Time{}
	}
	us, err := strconv.Atoi(s[14:])
	if err != nil {
		return time.Time{}
	}
	return t.Add(time.Duration(us) * time.Microsecond).UTC()
}

// assignCodes gives each annotation MNE's BrainVision event code.
func assignCodes(ann []acquisition.Annotation) {
	var other []string
	for _, a := range ann {
		if _, ok := knownCode(a.Description); !ok {
			other = append(other, a.Description)
		}
	}
	sort.Strings(other)
	otherCode := map[string]int32{}
	for _, d := range other {
		if _, ok := otherCode[d]; !ok {
			otherCode[d] = codeOtherFirst + int32(len(otherCode))
		}
	}
	for i := range ann {
		if c, ok := knownCode(ann[i].Description); ok {
			ann[i].Code = c
		} else {
			ann[i].Code = otherCode[ann[i].Description]
		}
	}
}

func knownCode(desc string) (int32, bool) {
	if len(desc) >= 3 {
		kind, digits := desc[:len(desc)-3], strings.TrimSpace(desc[len(desc)-3:])
		if off, ok := eventOffsets[kind]; ok && digits != "" && strings.Trim(digits, "0123456789") == "" {
			n, _ := strconv.Atoi(digits)
			return int32(n) + off, true
		}
	}
	switch desc {
	case "New Segment/":
		return codeNewSegment, true
	case "SyncStatus/Sync On":
		return codeSyncOn, true
	}
	return 0, false
}
