package xdf

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/streams"
)

// Chunk tags of the XDF 1.0 specification.
const (
	tagFileHeader   = 1
	tagStreamHeader = 2
	tagSamples      = 3
	tagClockOffset  = 4
	tagStreamFooter = 6
	magic           = "XDF:"
)

// Writer appends one numeric stream (and its markers, as a second string stream) to an XDF file.
type Writer struct {
	f        *os.File
	w        *bufio.Writer
	info     streams.StreamInfo
	dataID   uint32
	markerID uint32
	buf      []byte
	first    float64
	last     float64
	count    int64
	mFirst   float64
	mLast    float64
	mCount   int64
}

// Create starts an XDF file for one stream described by info.
func Create(path string, info streams.StreamInfo) (*Writer, error) {
	if err := info.Validate(); err != nil {
		return nil, fmt.Errorf("xdf create %s: %w", path, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("xdf create: %w", err)
	}
	x := &Writer{f: f, w: bufio.NewWriterSize(f, 1<<16), info: info, dataID: 1, markerID: 2, first: math.NaN(), mFirst: math.NaN()}
	x.w.WriteString(magic)
	x.chunk(tagFileHeader, []byte(`<?xml version="1.0"?><info><version>1.0</version></info>`))
	x.chunk(tagStreamHeader, x.withID(x.dataID, []byte(streamHeaderXML(info))))
	mh := fmt.Sprintf(`<?xml version="1.0"?><info><name>%s-markers</name><type>Markers</type><channel_count>1</channel_count>`+
		`<nominal_srate>0</nominal_srate><channel_format>string</channel_format><source_id>%s-markers</source_id></info>`,
		esc(info.StreamID), esc(info.StreamID))
	x.chunk(tagStreamHeader, x.withID(x.markerID, []byte(mh)))
	if err := x.w.Flush(); err != nil {
		f.Close()
		return nil, fmt.Errorf("xdf create %s: %w", path, err)
	}
	return x, nil
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func streamHeaderXML(info streams.StreamInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?><info><name>%s</name><type>%s</type><channel_count>%d</channel_count>`+
		`<nominal_srate>%s</nominal_srate><channel_format>float32</channel_format><source_id>%s</source_id><desc><channels>`,
		esc(info.StreamID), esc(info.Device), len(info.Channels), strconv.FormatFloat(info.SampleRateHz, 'g', -1, 64), esc(info.StreamID))
	for _, c := range info.Channels {
		fmt.Fprintf(&b, `<channel><label>%s</label><unit>%s</unit><type>%s</type></channel>`, esc(c.Name), esc(c.Unit), c.Type)
	}
	b.WriteString(`</channels></desc></info>`)
	return b.String()
}

func (x *Writer) withID(id uint32, body []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, id), body...)
}

// chunk writes [length bytes][length][tag][content] with an 8-byte length.
func (x *Writer) chunk(tag uint16, content []byte) {
	x.w.WriteByte(8)
	var h [10]byte
	binary.LittleEndian.PutUint64(h[:8], uint64(len(content)+2))
	binary.LittleEndian.PutUint16(h[8:], tag)
	x.w.Write(h[:])
	x.w.Write(content)
}

// WriteFrame appends the frame's samples (timestamps from SourceTimeNs and the nominal rate) and its
// markers. The frame must have the stream's channel count.
func (x *Writer) WriteFrame(fr *streams.Frame) error {
	if err := fr.Validate(); err != nil {
		return fmt.Errorf("xdf: %w", err)
	}
	if fr.NumChannels != len(x.info.Channels) {
		return fmt.Errorf("xdf: frame %s#%d has %d channels, the stream %d", fr.StreamID, fr.Seq, fr.NumChannels, len(x.info.Channels))
	}
	t0 := float64(fr.SourceTimeNs) / 1e9
	dt := 1 / x.info.SampleRateHz
	b := binary.LittleEndian.AppendUint32(x.buf[:0], x.dataID)
	b = append(b, 8)
	b = binary.LittleEndian.AppendUint64(b, uint64(fr.NumSamples))
	for s := 0; s < fr.NumSamples; s++ {
		b = append(b, 8)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(t0+float64(s)*dt))
		for _, v := range fr.Samples[s*fr.NumChannels : (s+1)*fr.NumChannels] {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	x.chunk(tagSamples, b)
	if math.IsNaN(x.first) {
		x.first = t0
	}
	x.last = t0 + float64(fr.NumSamples-1)*dt
	x.count += int64(fr.NumSamples)
	for _, m := range fr.Markers {
		ts := t0 + float64(m.SampleOffset)*dt
		label := m.Label
		if label == "" {
			label = strconv.Itoa(int(m.Code))
		}
		b = binary.LittleEndian.AppendUint32(b[:0], x.markerID)
		b = append(b, 1, 1, 8)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(ts))
		b = append(b, 8)
		b = binary.LittleEndian.AppendUint64(b, uint64(len(label)))
		b = append(b, label...)
		x.chunk(tagSamples, b)
		if math.IsNaN(x.mFirst) {
			x.mFirst = ts
		}
		x.mLast = ts
		x.mCount++
	}
	x.buf = b
	return nil
}

// Close writes the stream footers and closes the file; buffered samples are not lost.
func (x *Writer) Close() error {
	footer := func(first, last float64, n int64) []byte {
		if n == 0 {
			first, last = 0, 0
		}
		return []byte(fmt.Sprintf(`<?xml version="1.0"?><info><first_timestamp>%s</first_timestamp><last_timestamp>%s</last_timestamp><sample_count>%d</sample_count></info>`,
			strconv.FormatFloat(first, 'g', -1, 64), strconv.FormatFloat(last, 'g', -1, 64), n))
	}
	x.chunk(tagStreamFooter, x.withID(x.dataID, footer(x.first, x.last, x.count)))
	x.chunk(tagStreamFooter, x.withID(x.markerID, footer(x.mFirst, x.mLast, x.mCount)))
	err := x.w.Flush()
	if cerr := x.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("xdf close %s: %w", x.f.Name(), err)
	}
	return nil
}

// Write saves one recording (samples as float32, annotations as markers) to an XDF file, in frames of
// one second; the first sample is at time 0 on the file's clock.
func Write(path string, rec *acquisition.Recording) error {
	if err := rec.Validate(); err != nil {
		return fmt.Errorf("xdf write %s: %w", path, err)
	}
	w, err := Create(path, rec.Info)
	if err != nil {
		return err
	}
	nch, n := len(rec.Data), rec.NumSamples()
	step := max(1, int(rec.Info.SampleRateHz))
	fr := &streams.Frame{StreamID: rec.Info.StreamID, NumChannels: nch}
	ann := slices.Clone(rec.Annotations)
	slices.SortStableFunc(ann, func(a, b acquisition.Annotation) int { return cmp.Compare(a.OnsetSample, b.OnsetSample) })
	ai := 0
	for s0 := 0; s0 < n; s0 += step {
		ns := min(step, n-s0)
		fr.NumSamples, fr.SourceTimeNs, fr.Markers = ns, int64(math.Round(float64(s0)/rec.Info.SampleRateHz*1e9)), fr.Markers[:0]
		fr.Samples = fr.Samples[:0]
		for s := s0; s < s0+ns; s++ {
			for c := range nch {
				fr.Samples = append(fr.Samples, float32(rec.Data[c][s]))
			}
		}
		for ; ai < len(ann) && ann[ai].OnsetSample < int64(s0+ns); ai++ {
			a := ann[ai]
			off := max(a.OnsetSample-int64(s0), 0)
			fr.Markers = append(fr.Markers, streams.Marker{SampleOffset: int32(off), Code: a.Code, Label: a.Description, DurationSec: a.DurationSec})
		}
		if err := w.WriteFrame(fr); err != nil {
			w.Close()
			return fmt.Errorf("xdf write %s: %w", path, err)
		}
	}
	return w.Close()
}
