package gdf

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/streams"
)

// Channel is one channel's header entry as stored in the file.
type Channel struct {
	Label            string
	Transducer       string
	UnitCode         uint16 // ISO/IEEE 11073 code: 4256 V, 4274 mV, 4275 µV, 4276 nV, 512 dimensionless
	PhysicalMin      float64
	PhysicalMax      float64
	DigitalMin       float64
	DigitalMax       float64
	LowpassHz        float32
	HighpassHz       float32
	NotchHz          float32
	SamplesPerRecord int
	DataType         uint32 // GDF type code: 1 int8 ... 17 float64
}

// Event is one entry of the GDF event table.
type Event struct {
	Position    int64 // 0-based sample index (the file stores it 1-based)
	Type        uint16
	Channel     uint16 // 0 = all channels (event table mode 3 only)
	DurationSmp uint32 // in samples (event table mode 3 only)
}

// Header is the decoded GDF 2.x header and event table.
type Header struct {
	Version           string // e.g. "2.10"
	PatientID         string
	RecordingID       string
	StartTime         time.Time // zero if the file has none
	HeaderBytes       int
	NumRecords        int
	RecordDurationSec float64
	Channels          []Channel
	EventMode         byte // 0 when the file has no event table
	EventRateHz       float32
	Events            []Event
}

// File is what ReadFile returns: the header as stored and the recording.
type File struct {
	Header    *Header
	Recording *acquisition.Recording
}

// type code -> bytes per sample
var typeBytes = map[uint32]int{1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 8, 8: 8, 16: 4, 17: 8}

// Read reads a GDF 2.x file.
//
// Like MNE 1.3: samples are (digital*cal + offset)*unit with cal and offset from the physical and
// digital ranges; µV/mV/nV/V channels are returned in volts; channels named "status" or
// "trigger" are stim channels, whose upward steps also become annotations (edf.StimEvents);
// each event becomes an annotation at (position-1)/rate with duration max(duration, 1 sample),
// description the decimal type code and Code the type.
// Unlike MNE: channels may mix data types (MNE refuses), but all channels must share one
// sampling rate (MNE resamples; a file that mixes rates is refused with an error here).
func Read(path string) (*acquisition.Recording, error) {
	f, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return f.Recording, nil
}

// ReadFile reads a whole GDF file into memory and decodes it.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gdf: read %s: %w", path, err)
	}
	return Decode(path, b)
}

func fieldError(name, field, format string, args ...any) error {
	return fmt.Errorf("gdf: %s: header field %q: %s", name, field, fmt.Sprintf(format, args...))
}

// Decode decodes a complete GDF file held in b; name is used in errors and as the stream id.
func Decode(name string, b []byte) (*File, error) {
	le := binary.LittleEndian
	if len(b) < 256 {
		return nil, fieldError(name, "fixed header", "file has %d bytes, a GDF header needs at least 256; the file is truncated", len(b))
	}
	if string(b[:4]) != "GDF " {
		return nil, fieldError(name, "version", "%q does not start with \"GDF \"; not a GDF file", strings.ToValidUTF8(string(b[:8]), "?"))
	}
	h := &Header{Version: strings.TrimRight(string(b[4:8]), "\x00 ")}
	ver, err := strconv.ParseFloat(h.Version, 64)
	if err != nil {
		return nil, fieldError(name, "version", "%q is not a version number", h.Version)
	}
	if ver < 1.9 || ver >= 3 {
		return nil, fieldError(name, "version", "GDF %s is not supported (only GDF 2.x)", h.Version)
	}
	h.PatientID = cString(b[8:74])
	h.RecordingID = cString(b[88:152])
	if t := le.Uint64(b[168:176]); t != 0 {
		// Days since 0000-01-00 as a 32.32 fixed-point number (MNE: datetime(1,1,1) + t/2^32 - 367 days).
		days := float64(t)/(1<<32) - 367
		if days > 0 && days < 1e6 {
			h.StartTime = addDays(days)
		}
	}
	h.HeaderBytes = int(le.Uint16(b[184:186])) * 256
	nRec := int64(le.Uint64(b[236:244]))
	num, den := le.Uint32(b[244:248]), le.Uint32(b[248:252])
	ns := int(le.Uint16(b[252:254]))
	if ns == 0 {
		return nil, fieldError(name, "number of channels", "0 channels")
	}
	if h.HeaderBytes < 256*(ns+1) {
		return nil, fieldError(name, "header length", "%d bytes, but %d channels need at least %d", h.HeaderBytes, ns, 256*(ns+1))
	}
	if len(b) < h.HeaderBytes {
		return nil, fieldError(name, "header length", "header declares %d bytes but the file has only %d; the file is truncated", h.HeaderBytes, len(b))
	}
	if den == 0 || num == 0 {
		return nil, fieldError(name, "duration of a data record", "%d/%d s is not a positive duration", num, den)
	}
	h.RecordDurationSec = float64(num) / float64(den)
	if nRec < 0 || nRec > int64(len(b)) {
		return nil, fieldError(name, "number of data records", "%d is impossible for a %d-byte file", nRec, len(b))
	}
	h.NumRecords = int(nRec)

	h.Channels = make([]Channel, ns)
	v := b[256:]
	off := 0
	arr := func(width int) []byte { s := v[off : off+width*ns]; off += width * ns; return s }
	labels, transducers := arr(16), arr(80)
	arr(6) // textual physical dimension, obsolete in GDF 2
	units, pmin, pmax, dmin, dmax := arr(2), arr(8), arr(8), arr(8), arr(8)
	arr(68) // textual prefiltering, obsolete
	lp, hp, notch, spr, typ := arr(4), arr(4), arr(4), arr(4), arr(4)
	bytesPerRecord := 0
	maxSpr := 0
	for i := range h.Channels {
		c := &h.Channels[i]
		c.Label = cString(labels[16*i : 16*i+16])
		c.Transducer = cString(transducers[80*i : 80*i+80])
		c.UnitCode = le.Uint16(units[2*i:])
		c.PhysicalMin = math.Float64frombits(le.Uint64(pmin[8*i:]))
		c.PhysicalMax = math.Float64frombits(le.Uint64(pmax[8*i:]))
		c.DigitalMin = math.Float64frombits(le.Uint64(dmin[8*i:]))
		c.DigitalMax = math.Float64frombits(le.Uint64(dmax[8*i:]))
		c.LowpassHz = math.Float32frombits(le.Uint32(lp[4*i:]))
		c.HighpassHz = math.Float32frombits(le.Uint32(hp[4*i:]))
		c.NotchHz = math.Float32frombits(le.Uint32(notch[4*i:]))
		n := le.Uint32(spr[4*i:])
		c.DataType = le.Uint32(typ[4*i:])
		what := fmt.Sprintf("channel %d (%s)", i+1, c.Label)
		for _, x := range []float64{c.PhysicalMin, c.PhysicalMax, c.DigitalMin, c.DigitalMax} {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fieldError(name, "physical/digital range of "+what, "non-finite value %v", x)
			}
		}
		if n == 0 || n > 1<<24 {
			return nil, fieldError(name, "samples per record of "+what, "%d is not a plausible count", n)
		}
		c.SamplesPerRecord = int(n)
		w, ok := typeBytes[c.DataType]
		if !ok {
			return nil, fieldError(name, "data type of "+what, "GDF type %d is not supported (want 1-8, 16 or 17)", c.DataType)
		}
		bytesPerRecord += w * c.SamplesPerRecord
		maxSpr = max(maxSpr, c.SamplesPerRecord)
	}
	for i := range h.Channels {
		if h.Channels[i].SamplesPerRecord != maxSpr {
			return nil, fieldError(name, "samples per record", "channel %q has %d and another %d: files mixing sampling rates are not supported (MNE resamples them)",
				h.Channels[i].Label, h.Channels[i].SamplesPerRecord, maxSpr)
		}
	}
	rate := float64(maxSpr) / h.RecordDurationSec
	if math.IsInf(rate, 0) || rate > 1e7 {
		return nil, fieldError(name, "duration of a data record", "%d samples per %v s is an impossible sampling rate (%v Hz)", maxSpr, h.RecordDurationSec, rate)
	}
	dataEnd := int64(h.HeaderBytes) + nRec*int64(bytesPerRecord)
	if nRec > int64(len(b)-h.HeaderBytes)/int64(bytesPerRecord) {
		return nil, fieldError(name, "number of data records", "%d records of %d bytes after a %d-byte header need %d bytes, but the file has %d; the file is truncated",
			nRec, bytesPerRecord, h.HeaderBytes, dataEnd, len(b))
	}
	if err := readEvents(name, h, b[dataEnd:]); err != nil {
		return nil, err
	}

	rec := &acquisition.Recording{
		Info: streams.StreamInfo{
			SchemaVersion: streams.SchemaVersion,
			StreamID:      strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)),
			Subject:       h.PatientID,
			Device:        h.RecordingID,
			SampleRateHz:  rate,
			Channels:      make([]streams.Channel, ns),
		},
		StartTime: h.StartTime,
		Data:      make([][]float64, ns),
	}
	total := h.NumRecords * maxSpr
	backing := make([]float64, total*ns)
	chOff := 0
	for i := range h.Channels {
		c := &h.Channels[i]
		stim := strings.EqualFold(c.Label, "status") || strings.EqualFold(c.Label, "trigger")
		ch := streams.Channel{Name: c.Label, Type: streams.ChannelEEG}
		unit, isVolt := unitScale(c.UnitCode)
		switch {
		case stim:
			ch.Type, unit = streams.ChannelStim, 1
		case isVolt:
			ch.Unit = "V"
		}
		rec.Info.Channels[i] = ch
		dRange, pRange := c.DigitalMax-c.DigitalMin, c.PhysicalMax-c.PhysicalMin
		if dRange == 0 {
			rec.Warnings = append(rec.Warnings, fmt.Sprintf("channel %s: digital minimum = maximum (%v): scaling undefined, taken as 1", c.Label, c.DigitalMin))
			dRange = 1
		}
		if pRange == 0 {
			rec.Warnings = append(rec.Warnings, fmt.Sprintf("channel %s: physical minimum = maximum (%v): range undefined, taken as 1", c.Label, c.PhysicalMin))
			pRange = 1
		}
		cal := pRange / dRange
		offset := c.PhysicalMin - c.DigitalMin*cal
		out := backing[i*total : (i+1)*total : (i+1)*total]
		rec.Data[i] = out
		w := typeBytes[c.DataType]
		for r := 0; r < h.NumRecords; r++ {
			src := b[h.HeaderBytes+r*bytesPerRecord+chOff:]
			dst := out[r*maxSpr : (r+1)*maxSpr]
			if c.DataType == 16 {
				// MNE scales a float32 array by float64 scalars, which numpy does in float32;
				// doing the same keeps the values bit-identical to MNE's.
				cal32, off32, unit32 := float32(cal), float32(offset), float32(unit)
				for j := range dst {
					v := math.Float32frombits(binary.LittleEndian.Uint32(src[j*4:]))
					// The explicit conversions stop the compiler fusing into an FMA (arm64 does),
					// which would round differently from numpy.
					v = float32(v * cal32)
					v = float32(v + off32)
					dst[j] = float64(v * unit32)
				}
				continue
			}
			for j := range dst {
				v := float64(decodeValue(src[j*w:], c.DataType) * cal) // no FMA: round like numpy
				v += offset
				dst[j] = v * unit
			}
		}
		chOff += w * c.SamplesPerRecord
		if stim {
			rec.Annotations = append(rec.Annotations, edf.StimEvents(out, rate)...)
		}
	}
	for _, e := range h.Events {
		dur := max(e.DurationSmp, 1)
		rec.Annotations = append(rec.Annotations, acquisition.Annotation{
			OnsetSec:    float64(e.Position) / rate,
			DurationSec: float64(dur) / rate,
			OnsetSample: e.Position,
			Code:        int32(e.Type),
			Description: strconv.Itoa(int(e.Type)),
		})
	}
	return &File{Header: h, Recording: rec}, nil
}

// readEvents decodes the event table that follows the data (absent if nothing follows).
func readEvents(name string, h *Header, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	le := binary.LittleEndian
	if len(b) < 8 {
		return fieldError(name, "event table", "%d bytes after the data, the event table header needs 8; the file is truncated", len(b))
	}
	h.EventMode = b[0]
	if h.EventMode != 1 && h.EventMode != 3 {
		return fieldError(name, "event table mode", "%d (want 1 or 3)", h.EventMode)
	}
	n := int(b[1]) | int(b[2])<<8 | int(b[3])<<16
	h.EventRateHz = math.Float32frombits(le.Uint32(b[4:8]))
	per := 6
	if h.EventMode == 3 {
		per = 12
	}
	if need := 8 + per*n; len(b) < need {
		return fieldError(name, "event table", "%d events in mode %d need %d bytes, but %d follow the data; the file is truncated", n, h.EventMode, need, len(b))
	}
	pos, typ := b[8:8+4*n], b[8+4*n:8+6*n]
	h.Events = make([]Event, n)
	for i := range h.Events {
		p := int64(le.Uint32(pos[4*i:]))
		if p < 1 {
			return fieldError(name, "event table", "event %d at position %d (positions are 1-based)", i+1, p)
		}
		h.Events[i] = Event{Position: p - 1, Type: le.Uint16(typ[2*i:]), DurationSmp: 1}
	}
	if h.EventMode == 3 {
		chn, dur := b[8+6*n:8+8*n], b[8+8*n:8+12*n]
		for i := range h.Events {
			h.Events[i].Channel = le.Uint16(chn[2*i:])
			h.Events[i].DurationSmp = le.Uint32(dur[4*i:])
		}
	}
	return nil
}

func decodeValue(s []byte, typ uint32) float64 {
	le := binary.LittleEndian
	switch typ {
	case 1:
		return float64(int8(s[0]))
	case 2:
		return float64(s[0])
	case 3:
		return float64(int16(le.Uint16(s)))
	case 4:
		return float64(le.Uint16(s))
	case 5:
		return float64(int32(le.Uint32(s)))
	case 6:
		return float64(le.Uint32(s))
	case 7:
		return float64(int64(le.Uint64(s)))
	case 8:
		return float64(le.Uint64(s))
	case 16:
		return float64(math.Float32frombits(le.Uint32(s)))
	default: // 17
		return math.Float64frombits(le.Uint64(s))
	}
}

// unitScale maps a GDF unit code to a factor to SI volts. MNE 1.3 scales µV and mV and leaves
// everything else (V, nV, dimensionless) unscaled; nV here is scaled to volts.
func unitScale(code uint16) (float64, bool) {
	switch code {
	case 4256:
		return 1, true
	case 4274:
		return 1e-3, true
	case 4275:
		return 1e-6, true
	case 4276:
		return 1e-9, true
	}
	return 1, false
}

// cString returns the bytes up to the first NUL, trimmed, decoded as Latin-1 if not UTF-8.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	s := strings.TrimSpace(string(b))
	return strings.ToValidUTF8(s, "?")
}

// addDays returns 0001-01-01 UTC plus days, rounded to the microsecond as MNE's timedelta is.
func addDays(days float64) time.Time {
	whole := math.Floor(days)
	t := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(whole))
	us := math.Round((days - whole) * 86400e6)
	return t.Add(time.Duration(us) * time.Microsecond)
}
