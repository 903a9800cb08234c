package xdf

import (
	"encoding/binary"
	"encoding/xml"
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

type xmlChannel struct {
	Label string `xml:"label"`
	Unit  string `xml:"unit"`
	Type  string `xml:"type"`
}

type xmlHeader struct {
	Name         string       `xml:"name"`
	Type         string       `xml:"type"`
	ChannelCount int          `xml:"channel_count"`
	NominalSrate float64      `xml:"nominal_srate"`
	Format       string       `xml:"channel_format"`
	Channels     []xmlChannel `xml:"desc>channels>channel"`
}

type stream struct {
	hdr     xmlHeader
	width   int
	times   []float64
	values  []float64 // sample-major, numeric streams
	strs    []string  // first channel of string streams
	offsets [][2]float64
}

const maxChannels = 1 << 16

// Read reads every stream of an XDF file: one Recording per numeric stream, with the marker streams'
// events as annotations.
func Read(path string) ([]*acquisition.Recording, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("xdf: %w", err)
	}
	recs, err := Decode(b, filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("xdf %s: %w", path, err)
	}
	return recs, nil
}

func varLen(b []byte) (uint64, []byte, error) {
	if len(b) < 1 {
		return 0, nil, fmt.Errorf("truncated length field")
	}
	n := int(b[0])
	if n != 1 && n != 4 && n != 8 {
		return 0, nil, fmt.Errorf("length field of %d bytes; XDF allows 1, 4 or 8", n)
	}
	if len(b) < 1+n {
		return 0, nil, fmt.Errorf("truncated length field")
	}
	var v uint64
	switch n {
	case 1:
		v = uint64(b[1])
	case 4:
		v = uint64(binary.LittleEndian.Uint32(b[1:]))
	case 8:
		v = binary.LittleEndian.Uint64(b[1:])
	}
	return v, b[1+n:], nil
}

var formatWidth = map[string]int{"float32": 4, "double64": 8, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "string": 0}

// Decode parses a whole XDF file held in memory.
func Decode(b []byte, name string) ([]*acquisition.Recording, error) {
	if len(b) < 4 || string(b[:4]) != magic {
		return nil, fmt.Errorf("not an XDF file: does not start with %q", magic)
	}
	st := map[uint32]*stream{}
	var order []uint32
	rest := b[4:]
	for len(rest) > 0 {
		pos := len(b) - len(rest)
		n, r, err := varLen(rest)
		if err != nil {
			return nil, fmt.Errorf("chunk at byte %d: %w", pos, err)
		}
		if n < 2 || n > uint64(len(r)) {
			return nil, fmt.Errorf("chunk at byte %d: length %d, %d bytes left: truncated or corrupt", pos, n, len(r))
		}
		tag := binary.LittleEndian.Uint16(r)
		content := r[2:n]
		rest = r[n:]
		if tag < tagStreamHeader || tag > tagStreamFooter {
			continue // file header, boundaries and unknown chunks carry nothing needed here
		}
		if len(content) < 4 {
			return nil, fmt.Errorf("chunk at byte %d (tag %d): no stream id", pos, tag)
		}
		id := binary.LittleEndian.Uint32(content)
		content = content[4:]
		s := st[id]
		if tag == tagStreamHeader {
			if s != nil {
				return nil, fmt.Errorf("stream %d: second header at byte %d", id, pos)
			}
			s = &stream{}
			if err := xml.Unmarshal(content, &s.hdr); err != nil {
				return nil, fmt.Errorf("stream %d header at byte %d: %w", id, pos, err)
			}
			w, ok := formatWidth[s.hdr.Format]
			if !ok {
				return nil, fmt.Errorf("stream %d: channel_format %q is not an XDF format", id, s.hdr.Format)
			}
			if s.hdr.ChannelCount < 1 || s.hdr.ChannelCount > maxChannels {
				return nil, fmt.Errorf("stream %d: channel_count %d, want 1..%d", id, s.hdr.ChannelCount, maxChannels)
			}
			if s.hdr.NominalSrate < 0 || math.IsNaN(s.hdr.NominalSrate) || math.IsInf(s.hdr.NominalSrate, 0) {
				return nil, fmt.Errorf("stream %d: nominal_srate %v is impossible", id, s.hdr.NominalSrate)
			}
			s.width = w
			st[id] = s
			order = append(order, id)
			continue
		}
		if s == nil {
			return nil, fmt.Errorf("chunk at byte %d (tag %d) for stream %d before its header", pos, tag, id)
		}
		switch tag {
		case tagSamples:
			if err := s.samples(content); err != nil {
				return nil, fmt.Errorf("stream %d samples at byte %d: %w", id, pos, err)
			}
		case tagClockOffset:
			if len(content) < 16 {
				return nil, fmt.Errorf("stream %d clock offset at byte %d: %d bytes, want 16", id, pos, len(content))
			}
			s.offsets = append(s.offsets, [2]float64{
				math.Float64frombits(binary.LittleEndian.Uint64(content)),
				math.Float64frombits(binary.LittleEndian.Uint64(content[8:]))})
		}
	}
	for _, s := range st {
		s.correctClock()
	}
	var recs []*acquisition.Recording
	var markers []*stream
	for _, id := range order {
		if s := st[id]; s.width == 0 {
			markers = append(markers, s)
		}
	}
	for _, id := range order {
		s := st[id]
		if s.width == 0 || len(s.times) == 0 {
			continue
		}
		recs = append(recs, s.recording(name, markers))
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("no numeric stream with samples in the file")
	}
	return recs, nil
}

func (s *stream) samples(b []byte) error {
	n, b, err := varLen(b)
	if err != nil {
		return fmt.Errorf("sample count: %w", err)
	}
	nch := s.hdr.ChannelCount
	// Each sample needs at least a timestamp flag byte plus its values: bound n before trusting it.
	if n > uint64(len(b)) {
		return fmt.Errorf("%d samples cannot fit in %d bytes", n, len(b))
	}
	dt := 0.0
	if s.hdr.NominalSrate > 0 {
		dt = 1 / s.hdr.NominalSrate
	}
	for range n {
		if len(b) < 1 {
			return fmt.Errorf("truncated sample")
		}
		var ts float64
		switch b[0] {
		case 8:
			if len(b) < 9 {
				return fmt.Errorf("truncated timestamp")
			}
			ts = math.Float64frombits(binary.LittleEndian.Uint64(b[1:]))
			b = b[9:]
		case 0:
			if len(s.times) > 0 {
				ts = s.times[len(s.times)-1] + dt
			}
			b = b[1:]
		default:
			return fmt.Errorf("timestamp flag %d, want 0 or 8", b[0])
		}
		s.times = append(s.times, ts)
		if s.width == 0 {
			for c := range nch {
				l, r, err := varLen(b)
				if err != nil || l > uint64(len(r)) {
					return fmt.Errorf("string value: bad length (%v)", err)
				}
				if c == 0 {
					s.strs = append(s.strs, string(r[:l]))
				}
				b = r[l:]
			}
			continue
		}
		need := s.width * nch
		if len(b) < need {
			return fmt.Errorf("sample needs %d bytes, %d left: truncated", need, len(b))
		}
		for c := range nch {
			p := b[c*s.width:]
			var v float64
			switch s.hdr.Format {
			case "float32":
				v = float64(math.Float32frombits(binary.LittleEndian.Uint32(p)))
			case "double64":
				v = math.Float64frombits(binary.LittleEndian.Uint64(p))
			case "int8":
				v = float64(int8(p[0]))
			case "int16":
				v = float64(int16(binary.LittleEndian.Uint16(p)))
			case "int32":
				v = float64(int32(binary.LittleEndian.Uint32(p)))
			case "int64":
				v = float64(int64(binary.LittleEndian.Uint64(p)))
			}
			s.values = append(s.values, v)
		}
		b = b[need:]
	}
	return nil
}

// correctClock adds the clock offset to every timestamp, using the least-squares line through the
// (collection time, offset) pairs as pyxdf does by default.
func (s *stream) correctClock() {
	if len(s.offsets) == 0 {
		return
	}
	var a, k float64
	if len(s.offsets) == 1 {
		a = s.offsets[0][1]
	} else {
		var mt, mo float64
		for _, o := range s.offsets {
			mt += o[0]
			mo += o[1]
		}
		n := float64(len(s.offsets))
		mt, mo = mt/n, mo/n
		var sxy, sxx float64
		for _, o := range s.offsets {
			sxy += (o[0] - mt) * (o[1] - mo)
			sxx += (o[0] - mt) * (o[0] - mt)
		}
		if sxx > 0 {
			k = sxy / sxx
		}
		a = mo - k*mt
	}
	for i, t := range s.times {
		s.times[i] = t + a + k*t
	}
}

var unitScale = map[string]float64{"microvolts": 1e-6, "uV": 1e-6, "µV": 1e-6, "millivolts": 1e-3, "mV": 1e-3, "volts": 1, "V": 1, "nV": 1e-9}

func (s *stream) recording(file string, markers []*stream) *acquisition.Recording {
	nch := s.hdr.ChannelCount
	n := len(s.times)
	fsHz := s.hdr.NominalSrate
	if fsHz <= 0 && n > 1 && s.times[n-1] > s.times[0] {
		fsHz = float64(n-1) / (s.times[n-1] - s.times[0]) // irregular stream: its effective rate
	}
	if !(fsHz > 0) {
		fsHz = 1
	}
	info := streams.StreamInfo{SchemaVersion: streams.SchemaVersion, StreamID: s.hdr.Name, Device: s.hdr.Type, SampleRateHz: fsHz}
	if info.StreamID == "" {
		info.StreamID = file
	}
	scales := make([]float64, nch)
	for c := range nch {
		ch := streams.Channel{Name: "ch" + strconv.Itoa(c+1), Type: streams.ChannelMisc}
		if strings.EqualFold(s.hdr.Type, "EEG") {
			ch.Type = streams.ChannelEEG
		}
		scales[c] = 1
		if c < len(s.hdr.Channels) {
			x := s.hdr.Channels[c]
			if x.Label != "" {
				ch.Name = x.Label
			}
			if t, err := streams.ParseChannelType(strings.ToLower(x.Type)); err == nil {
				ch.Type = t
			}
			ch.Unit = x.Unit
			if sc, ok := unitScale[x.Unit]; ok {
				scales[c], ch.Unit = sc, "V"
			}
		}
		info.Channels = append(info.Channels, ch)
	}
	backing := make([]float64, nch*n)
	data := make([][]float64, nch)
	for c := range data {
		data[c] = backing[c*n : (c+1)*n : (c+1)*n]
		for i := range n {
			data[c][i] = s.values[i*nch+c] * scales[c]
		}
	}
	rec := &acquisition.Recording{Info: info, Data: data, SampleTimes: s.times}
	t0, tEnd := s.times[0], s.times[n-1]
	for _, m := range markers {
		for i, ts := range m.times {
			if ts < t0-0.5/fsHz || ts > tEnd+0.5/fsHz {
				continue
			}
			onset := ts - t0
			label := m.strs[i]
			code, err := strconv.ParseInt(strings.TrimSpace(label), 10, 32)
			if err != nil {
				code = 0
			}
			rec.Annotations = append(rec.Annotations, acquisition.Annotation{
				OnsetSec: onset, OnsetSample: int64(math.Round(onset * fsHz)), Code: int32(code), Description: label})
		}
	}
	sort.SliceStable(rec.Annotations, func(i, j int) bool { return rec.Annotations[i].OnsetSec < rec.Annotations[j].OnsetSec })
	return rec
}
