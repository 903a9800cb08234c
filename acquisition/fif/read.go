package fif

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/internal/filebytes"
	"github.com/neurostream/neurostream/streams"
)

// Channel kinds and units of the FIFF specification that decide a channel's type and unit.
const (
	chKindMEG     = 1
	chKindEEG     = 2
	chKindStim    = 3
	chKindEOG     = 202
	chKindEMG     = 302
	chKindECG     = 402
	unitVolt      = 107
	unitTesla     = 112
	unitTeslaPM   = 201
	maxChannels   = 1 << 16
	maxSampleRate = 1e7
	maxSkipFactor = 16
	maxValues     = 1 << 31
	decodeBlock   = 16
)

// ChannelInfo is the FIF description of one channel (fiffChInfoRec), kept beside the Recording
// because MNE users need the coil type and calibration that streams.Channel does not carry.
type ChannelInfo struct {
	ScanNo, LogNo int32
	Kind          int32 // FIFFV_*_CH
	Range, Cal    float32
	CoilType      int32
	Loc           [12]float32 // r0, ex, ey, ez in metres (device frame)
	Unit, UnitMul int32
	Name          string
}

// File is a FIF raw file read whole: the Recording plus FIF-specific metadata.
type File struct {
	Recording *acquisition.Recording
	Channels  []ChannelInfo
	// FirstSample is the index of the first sample on the acquisition clock (MNE's raw.first_samp);
	// annotation onsets in Recording are relative to it.
	FirstSample int64
	// Events are the stim channel events like mne.find_events: [sample incl. FirstSample, previous value, value].
	Events [][3]int64
}

// Read reads a FIF raw file into a Recording (see ReadFile for the FIF metadata).
func Read(path string) (*acquisition.Recording, error) {
	f, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return f.Recording, nil
}

// ReadFile reads a FIF raw file and keeps the FIF channel records and events beside the Recording.
func ReadFile(path string) (*File, error) {
	b, release, err := filebytes.Load(path)
	if err != nil {
		return nil, fmt.Errorf("fif: %w", err)
	}
	// Decode copies out everything it returns, so the bytes can be released as soon as it returns.
	defer func() { _ = release() }()
	f, err := Decode(b, filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("fif %s: %w", path, err)
	}
	return f, nil
}

// Decode parses a whole FIF file held in memory; name becomes the stream id.
func Decode(b []byte, name string) (*File, error) {
	if len(b) < tagHeaderBytes {
		return nil, fmt.Errorf("not a FIF file: %d bytes, shorter than one tag header (%d)", len(b), tagHeaderBytes)
	}
	root, err := parseTree(b)
	if err != nil {
		return nil, err
	}
	meas := root.find(blockMeas)
	if meas == nil {
		return nil, fmt.Errorf("no measurement block (FIFFB_MEAS) in the file")
	}
	info := meas.find(blockMeasInfo)
	if info == nil {
		return nil, fmt.Errorf("no measurement info block (FIFFB_MEAS_INFO) in the file")
	}
	mi, err := parseMeasInfo(info)
	if err != nil {
		return nil, fmt.Errorf("measurement info: %w", err)
	}
	raw := meas.find(blockRawData)
	if raw == nil {
		raw = meas.find(blockContinuousData)
	}
	if raw == nil {
		raw = meas.find(blockIASRawData)
	}
	if raw == nil {
		if meas.find(blockEvoked) != nil || meas.find(blockProcessedData) != nil {
			return nil, fmt.Errorf("file holds evoked (averaged) data, not continuous raw data: read it with mne.read_evokeds, not as a recording")
		}
		return nil, fmt.Errorf("no raw data block (FIFFB_RAW_DATA, FIFFB_CONTINUOUS_DATA or FIFFB_IAS_RAW_DATA) in the file")
	}
	data, firstSamp, skips, err := readBuffers(raw, mi)
	if err != nil {
		return nil, fmt.Errorf("raw data: %w", err)
	}
	rec := &acquisition.Recording{
		Info: streams.StreamInfo{
			SchemaVersion: streams.SchemaVersion,
			StreamID:      name,
			Device:        "Neuromag/Elekta FIF",
			SampleRateHz:  mi.sfreqHz,
			Channels:      make([]streams.Channel, len(mi.chs)),
		},
		StartTime: mi.measDate,
		Data:      data,
	}
	for i, ch := range mi.chs {
		rec.Info.Channels[i] = toChannel(ch)
	}
	if w := checkDirPointer(b, root.dirPos); w != "" {
		rec.Warnings = append(rec.Warnings, w)
	}
	f := &File{Recording: rec, Channels: mi.chs, FirstSample: firstSamp}
	for _, s := range skips {
		rec.Annotations = append(rec.Annotations, acquisition.Annotation{
			OnsetSec:    float64(s[0]) / mi.sfreqHz,
			DurationSec: float64(s[1]) / mi.sfreqHz,
			OnsetSample: s[0],
			Description: "BAD_ACQ_SKIP",
		})
	}
	if ann := meas.find(blockMNEAnnotations); ann != nil {
		a, err := parseAnnotations(ann, firstSamp, mi.sfreqHz)
		if err != nil {
			return nil, fmt.Errorf("annotations: %w", err)
		}
		rec.Annotations = append(rec.Annotations, a...)
	}
	for _, c := range StimChannels(rec.Info) {
		f.Events = append(f.Events, FindEvents(data[c], firstSamp)...)
	}
	f.Events = sortUniqueEvents(f.Events)
	for _, e := range f.Events {
		onset := e[0] - firstSamp
		rec.Annotations = append(rec.Annotations, acquisition.Annotation{
			OnsetSec:    float64(onset) / mi.sfreqHz,
			OnsetSample: onset,
			Code:        int32(e[2]),
			Description: strconv.FormatInt(e[2], 10),
		})
	}
	return f, nil
}

type measInfo struct {
	sfreqHz  float64
	measDate time.Time
	chs      []ChannelInfo
}

// checkDirPointer says what is wrong with a directory pointer that points nowhere useful. This reader
// walks the tags in sequence, as MNE does without a directory, so the data are read all the same; but
// a garbage pointer means the file was damaged or written by a broken tool, which the user should know.
func checkDirPointer(b []byte, pos int32) string {
	switch {
	case pos <= 0:
		return ""
	case int64(pos) > int64(len(b)-tagHeaderBytes):
		return fmt.Sprintf("directory pointer %d lies beyond the file's %d bytes: ignored, the tags were read in sequence", pos, len(b))
	}
	if kind := int32(binary.BigEndian.Uint32(b[pos:])); kind != kindDir {
		return fmt.Sprintf("directory pointer %d points to a tag of kind %d, not a directory (kind %d): ignored, the tags were read in sequence", pos, kind, kindDir)
	}
	return ""
}

func parseMeasInfo(b *block) (*measInfo, error) {
	mi := &measInfo{}
	nchan := int32(-1)
	for _, t := range b.tags {
		var err error
		switch t.kind {
		case kindNChan:
			nchan, err = t.int32()
		case kindSFreq:
			mi.sfreqHz, err = t.float()
		case kindMeasDate:
			// Seconds and microseconds since the Unix epoch.
			var v []int32
			if v, err = t.ints(); err == nil && len(v) >= 2 {
				mi.measDate = time.Unix(int64(v[0]), int64(v[1])*1000).UTC()
			}
		case kindChInfo:
			var ch ChannelInfo
			if ch, err = parseChInfo(t); err == nil {
				mi.chs = append(mi.chs, ch)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("tag kind %d at byte %d: %w", t.kind, t.pos, err)
		}
	}
	switch {
	case nchan < 0:
		return nil, fmt.Errorf("number of channels (FIFF_NCHAN) missing")
	case nchan == 0 || nchan > maxChannels:
		return nil, fmt.Errorf("number of channels (FIFF_NCHAN) is %d; want 1..%d", nchan, maxChannels)
	case int(nchan) != len(mi.chs):
		return nil, fmt.Errorf("FIFF_NCHAN says %d channels but %d channel records (FIFF_CH_INFO) follow", nchan, len(mi.chs))
	case !(mi.sfreqHz > 0) || mi.sfreqHz > maxSampleRate || math.IsInf(mi.sfreqHz, 0):
		return nil, fmt.Errorf("sampling rate (FIFF_SFREQ) %v Hz is not a positive rate up to %g Hz", mi.sfreqHz, maxSampleRate)
	}
	// Names longer than 15 characters live in one FIFFB_CH_INFO block per channel (MNE >= 0.24).
	var ext []*block
	for _, c := range b.children {
		if c.kind == blockChInfo {
			ext = append(ext, c)
		}
	}
	if len(ext) > 0 && len(ext) != len(mi.chs) {
		return nil, fmt.Errorf("%d extended channel blocks (FIFFB_CH_INFO) for %d channels", len(ext), len(mi.chs))
	}
	for i, e := range ext {
		for _, t := range e.tags {
			if t.kind == kindChDacqName {
				s, err := t.string()
				if err != nil {
					return nil, fmt.Errorf("extended channel block %d: %w", i, err)
				}
				mi.chs[i].Name = s
			}
		}
	}
	return mi, nil
}

func parseChInfo(t tag) (ChannelInfo, error) {
	if t.typ != typeChInfo || len(t.data) != chInfoBytes {
		return ChannelInfo{}, fmt.Errorf("channel record: want type %d with %d bytes, got type %d with %d", typeChInfo, chInfoBytes, t.typ, len(t.data))
	}
	d := t.data
	u32 := func(off int) uint32 { return binary.BigEndian.Uint32(d[off:]) }
	ch := ChannelInfo{
		ScanNo:   int32(u32(0)),
		LogNo:    int32(u32(4)),
		Kind:     int32(u32(8)),
		Range:    math.Float32frombits(u32(12)),
		Cal:      math.Float32frombits(u32(16)),
		CoilType: int32(u32(20)),
		Unit:     int32(u32(72)),
		UnitMul:  int32(u32(76)),
	}
	for i := range ch.Loc {
		ch.Loc[i] = math.Float32frombits(u32(24 + 4*i))
	}
	name := d[80 : 80+chNameBytes]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	ch.Name = strings.TrimSpace(string(name))
	return ch, nil
}

// toChannel maps a FIF channel record to the stream's channel type and SI unit. Kinds the stream
// types do not name (reference magnetometers, respiration, system, IAS, bio, ...) become misc.
func toChannel(ch ChannelInfo) streams.Channel {
	c := streams.Channel{Name: ch.Name, Type: streams.ChannelMisc, Unit: unitName(ch.Unit)}
	switch ch.Kind {
	case chKindMEG:
		c.Type = streams.ChannelMEGMag
		if ch.Unit == unitTeslaPM {
			c.Type = streams.ChannelMEGGrad
		}
	case chKindEEG:
		c.Type = streams.ChannelEEG
	case chKindStim:
		c.Type = streams.ChannelStim
	case chKindEOG:
		c.Type = streams.ChannelEOG
	case chKindEMG:
		c.Type = streams.ChannelEMG
	case chKindECG:
		c.Type = streams.ChannelECG
	}
	r0 := [3]float64{float64(ch.Loc[0]), float64(ch.Loc[1]), float64(ch.Loc[2])}
	if finiteNonZero(r0) {
		c.Position, c.HasPosition = r0, true
	}
	// For MEG coils loc[9:12] is the coil normal (ez); for EEG loc[3:6] is the reference electrode.
	if ch.Kind == chKindMEG {
		ez := [3]float64{float64(ch.Loc[9]), float64(ch.Loc[10]), float64(ch.Loc[11])}
		if finiteNonZero(ez) {
			c.Orientation, c.HasOrientation = ez, true
		}
	}
	return c
}

func finiteNonZero(v [3]float64) bool {
	nonZero := false
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
		nonZero = nonZero || x != 0
	}
	return nonZero
}

func unitName(u int32) string {
	switch u {
	case unitVolt:
		return "V"
	case unitTesla:
		return "T"
	case unitTeslaPM:
		return "T/m"
	case 202:
		return "Am"
	case 1:
		return "m"
	case 3:
		return "s"
	case 4:
		return "A"
	case 101:
		return "Hz"
	}
	return ""
}

// buffer is one data buffer (or a skip, when t is nil) in sample order.
type buffer struct {
	t        *tag
	nSamples int
}

// readBuffers walks the raw block like MNE's _read_raw_file: an optional first-sample tag, an optional
// initial skip (which only advances the first sample), then data buffers, with skips filled by zeros.
// It returns the channel-major calibrated data, the first sample and the skipped spans
// ([onset sample, length]) relative to the first sample.
func readBuffers(raw *block, mi *measInfo) ([][]float64, int64, [][2]int64, error) {
	nchan := len(mi.chs)
	tags := raw.tags
	var firstSamp, firstSkip, nskip int64
	k := 0
	if k < len(tags) && tags[k].kind == kindFirstSample {
		v, err := tags[k].int32()
		if err != nil {
			return nil, 0, nil, fmt.Errorf("first sample: %w", err)
		}
		firstSamp = int64(v)
		k++
	}
	if k < len(tags) && tags[k].kind == kindDataSkip {
		v, err := tags[k].int32()
		if err != nil {
			return nil, 0, nil, fmt.Errorf("initial data skip: %w", err)
		}
		firstSkip = int64(v)
		k++
	}
	var bufs []buffer
	var total int64
	var skips [][2]int64
	for ; k < len(tags); k++ {
		t := &tags[k]
		switch t.kind {
		case kindDataSkip:
			v, err := t.int32()
			if err != nil {
				return nil, 0, nil, fmt.Errorf("data skip at byte %d: %w", t.pos, err)
			}
			nskip = int64(v)
		case kindDataBuffer:
			width := sampleBytes(t.typ)
			if width == 0 {
				return nil, 0, nil, fmt.Errorf("data buffer at byte %d has type %d; supported: short, int, float, double, dau_pack16", t.pos, t.typ)
			}
			if len(t.data)%(width*nchan) != 0 {
				return nil, 0, nil, fmt.Errorf("data buffer at byte %d holds %d bytes, not a whole number of %d-channel samples of %d bytes",
					t.pos, len(t.data), nchan, width)
			}
			n := int64(len(t.data) / (width * nchan))
			if firstSkip > 0 {
				firstSamp += n * firstSkip
				firstSkip = 0
			}
			if nskip > 0 {
				if nskip > math.MaxInt32/max(n, 1) {
					return nil, 0, nil, fmt.Errorf("data skip of %d buffers before byte %d is impossible", nskip, t.pos)
				}
				skips = append(skips, [2]int64{total, nskip * n})
				bufs = append(bufs, buffer{nSamples: int(nskip * n)})
				total += nskip * n
				nskip = 0
			}
			bufs = append(bufs, buffer{t: t, nSamples: int(n)})
			total += n
		}
	}
	if total == 0 {
		return nil, 0, nil, fmt.Errorf("no data buffers (FIFF_DATA_BUFFER)")
	}
	var skipped int64
	for _, s := range skips {
		skipped += s[1]
	}
	// Skips are zero-filled; a skip count far beyond the data actually present is corruption, and
	// honouring it would allocate gigabytes of zeros.
	if present := total - skipped; skipped > maxSkipFactor*present {
		return nil, 0, nil, fmt.Errorf("data skips (FIFF_DATA_SKIP) add %d samples, more than %d times the %d samples present: corrupt skip count",
			skipped, maxSkipFactor, present)
	}
	if total*int64(nchan) > maxValues {
		return nil, 0, nil, fmt.Errorf("%d samples x %d channels is too large to hold in memory", total, nchan)
	}
	cals := make([]float64, nchan)
	for c, ch := range mi.chs {
		cals[c] = float64(ch.Range) * float64(ch.Cal)
	}
	backing := make([]float64, int(total)*nchan)
	data := make([][]float64, nchan)
	for c := range data {
		data[c] = backing[c*int(total) : (c+1)*int(total) : (c+1)*int(total)]
	}
	off := 0
	for _, bf := range bufs {
		if bf.t != nil {
			decodeBuffer(data, off, bf.nSamples, bf.t, cals)
		}
		off += bf.nSamples
	}
	return data, firstSamp, skips, nil
}

func sampleBytes(typ int32) int {
	switch typ {
	case typeShort, typeDauPack16:
		return 2
	case typeInt, typeFloat:
		return 4
	case typeDouble:
		return 8
	}
	return 0
}

// decodeBuffer converts one multiplexed big-endian buffer (sample-major, channels inner) into the
// channel-major output at sample offset off, multiplying by each channel's calibration. It transposes
// in blocks of decodeBlock samples: writing one sample to 306 rows touches 306 cache lines and pages,
// while a block writes whole cache lines per channel and re-reads input rows that stay in L1.
func decodeBuffer(data [][]float64, off, n int, t *tag, cals []float64) {
	nchan := len(cals)
	width := sampleBytes(t.typ)
	stride := width * nchan
	for s0 := 0; s0 < n; s0 += decodeBlock {
		ns := min(decodeBlock, n-s0)
		in := t.data[s0*stride : (s0+ns)*stride]
		for c, cal := range cals {
			out := data[c][off+s0 : off+s0+ns]
			p := in[width*c:]
			switch t.typ {
			case typeFloat:
				for s := range out {
					out[s] = float64(math.Float32frombits(binary.BigEndian.Uint32(p[s*stride:]))) * cal
				}
			case typeInt:
				for s := range out {
					out[s] = float64(int32(binary.BigEndian.Uint32(p[s*stride:]))) * cal
				}
			case typeShort, typeDauPack16:
				for s := range out {
					out[s] = float64(int16(binary.BigEndian.Uint16(p[s*stride:]))) * cal
				}
			case typeDouble:
				for s := range out {
					out[s] = math.Float64frombits(binary.BigEndian.Uint64(p[s*stride:])) * cal
				}
			}
		}
	}
}

// parseAnnotations reads MNE's annotation block: onsets (FIFF_MNE_BASELINE_MIN) and ends
// (FIFF_MNE_BASELINE_MAX) in seconds on the acquisition clock (so minus first_samp/sfreq, as MNE
// does), descriptions joined by ':' in FIFF_COMMENT with literal colons written as {COLON}.
func parseAnnotations(b *block, firstSamp int64, sfreqHz float64) ([]acquisition.Annotation, error) {
	var onsets, ends []float64
	var descs []string
	for _, t := range b.tags {
		var err error
		switch t.kind {
		case kindMNEBaselineMin:
			onsets, err = t.floats()
		case kindMNEBaselineMax:
			ends, err = t.floats()
		case kindComment:
			var s string
			if s, err = t.string(); err == nil && s != "" {
				descs = strings.Split(s, ":")
				for i := range descs {
					descs[i] = strings.ReplaceAll(descs[i], "{COLON}", ":")
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("tag kind %d at byte %d: %w", t.kind, t.pos, err)
		}
	}
	if len(onsets) != len(ends) || len(onsets) != len(descs) {
		return nil, fmt.Errorf("%d onsets, %d ends and %d descriptions disagree", len(onsets), len(ends), len(descs))
	}
	out := make([]acquisition.Annotation, len(onsets))
	t0 := float64(firstSamp) / sfreqHz
	for i := range onsets {
		onset := onsets[i] - t0
		out[i] = acquisition.Annotation{
			OnsetSec:    onset,
			DurationSec: ends[i] - onsets[i],
			OnsetSample: int64(math.Round(onset * sfreqHz)),
			Description: descs[i],
		}
	}
	return out, nil
}
