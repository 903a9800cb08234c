package edf

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/streams"
)

// WriteOptions tunes Write and Create. The zero value writes EDF+ with 1-second records.
//
// Quantisation: each non-stim channel maps its physical range [PhysicalMin, PhysicalMax] linearly
// onto the full digital range (EDF -32768..32767, BDF -8388608..8388607), so a value comes back
// with an error of at most half a step, (PhysicalMax-PhysicalMin)/(DigitalMax-DigitalMin)/2.
// Values outside the range make Write fail; the streaming Writer clips them and counts them
// (Writer.ClippedSamples), because it cannot take back records already written. Volt channels are
// stored in µV ("uV") because the 8-character header fields cannot hold small volt values
// precisely; the physical limits are rounded outwards to what 8 characters can hold.
// Stim channels are stored with physical = digital, so integer codes survive exactly (up to
// ±32767 in EDF, ±8388607 in BDF).
type WriteOptions struct {
	Format            Format  // FormatEDF writes EDF+C, FormatBDF writes BDF+C
	RecordDurationSec float64 // default 1; SampleRateHz*RecordDurationSec must be a whole number
	PatientID         string  // EDF+ "code sex birthdate name"; default "X X X X"
	// RecordingExtra is appended to "Startdate dd-MMM-yyyy" in the recording field (EDF+
	// "admincode technician equipment"); default "X X neurostream".
	RecordingExtra string
	// PhysicalMax sets a symmetric range [-PhysicalMax, +PhysicalMax] (in each channel's unit)
	// for every non-stim channel. Write derives ranges from the data when it is 0; Create, which
	// cannot see the data in advance, defaults to 3.2 mV for EDF (0.1 µV steps) and 262.144 mV for
	// BDF (31.25 nV steps, BioSemi's).
	PhysicalMax float64
	// AnnotationBytesPerRecord is the space for TALs in each record of a streaming Writer
	// (default 1024, about 30 short markers per record; markers that do not fit move to the next
	// record, keeping their onsets). Write sizes it from the annotations and ignores this.
	AnnotationBytesPerRecord int
	// StartTime is the streaming Writer's header start date and time (the first sample's); zero
	// means now. Write takes the recording's own StartTime.
	StartTime time.Time
}

func (o *WriteOptions) recordDuration() float64 {
	if o.RecordDurationSec > 0 {
		return o.RecordDurationSec
	}
	return 1
}

// Write writes a whole recording as EDF+ or BDF+, with its annotations as TALs.
//
// The last data record is padded with each channel's last value when the sample count is not a
// multiple of the record size (EDF records have a fixed length), so a reader sees up to one record
// minus one sample more; an annotation "neurostream padding" marks where the padding starts.
func Write(path string, rec *acquisition.Recording, opts WriteOptions) error {
	if err := rec.Validate(); err != nil {
		return fmt.Errorf("edf: write %s: %w", path, err)
	}
	ranges := make([][2]float64, len(rec.Data))
	for c, row := range rec.Data {
		if rec.Info.Channels[c].Type == streams.ChannelStim {
			continue
		}
		if opts.PhysicalMax > 0 {
			ranges[c] = [2]float64{-opts.PhysicalMax, opts.PhysicalMax}
			continue
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("edf: write %s: channel %q has a non-finite sample %v", path, rec.Info.Channels[c].Name, v)
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		ranges[c] = [2]float64{lo, hi}
	}
	lay, err := newLayout(rec.Info, opts, ranges)
	if err != nil {
		return fmt.Errorf("edf: write %s: %w", path, err)
	}
	// Refuse rather than silently clip: stim codes beyond the digital range, or samples beyond a
	// caller-given PhysicalMax.
	for c, row := range rec.Data {
		var clipped int64
		for _, v := range row {
			lay.quantise(c, v, &clipped)
		}
		if clipped > 0 {
			return fmt.Errorf("edf: write %s: %d samples of channel %q fall outside its range [%v, %v] %s; widen WriteOptions.PhysicalMax or use FormatBDF",
				path, clipped, rec.Info.Channels[c].Name, lay.signals[c].PhysicalMin, lay.signals[c].PhysicalMax, lay.signals[c].PhysicalDimension)
		}
	}
	n := rec.NumSamples()
	nRec := (n + lay.spr - 1) / lay.spr
	anns := append([]acquisition.Annotation(nil), rec.Annotations...)
	if pad := nRec*lay.spr - n; pad > 0 {
		anns = append(anns, acquisition.Annotation{OnsetSec: float64(n) / rec.Info.SampleRateHz,
			DurationSec: float64(pad) / rec.Info.SampleRateHz, Description: "neurostream padding"})
	}
	// Each annotation goes into the record its onset falls in; size the TAL space for the fullest.
	perRecord := make([][]acquisition.Annotation, max(nRec, 1))
	for _, a := range anns {
		r := int(math.Floor(a.OnsetSec / lay.recDur))
		r = min(max(r, 0), len(perRecord)-1)
		perRecord[r] = append(perRecord[r], a)
	}
	subsec := subsecond(rec.StartTime)
	need := 0
	var tals []byte
	for r, list := range perRecord {
		tals = appendRecordTALs(tals[:0], subsec+float64(r)*lay.recDur, subsec, list)
		need = max(need, len(tals))
	}
	lay.setAnnotationBytes(need)

	w, err := create(path, rec.Info, rec.StartTime, lay)
	if err != nil {
		return err
	}
	for r := 0; r < nRec; r++ {
		for c, row := range rec.Data {
			buf := w.digital[c]
			for i := range buf {
				s := r*lay.spr + i
				if s >= n {
					s = n - 1
				}
				buf[i] = lay.quantise(c, row[s], &w.clipped)
			}
		}
		w.pending = append(w.pending[:0], perRecord[r]...)
		if err := w.flushRecord(); err != nil {
			w.file.Close()
			return err
		}
	}
	return w.finish()
}

// layout is the fixed structure of the records being written.
type layout struct {
	format  Format
	rateHz  float64
	recDur  float64
	spr     int // samples per record per data signal
	signals []Signal
	annSpr  int // samples (2 or 3 bytes each) of the annotation signal per record
	// per data channel: physical = (digital - dmin) * gain + pmin, in the header's unit
	gain, pmin, dmin, unitToHeader []float64
	stim                           []bool
	extra                          string
	patient                        string
}

func newLayout(info streams.StreamInfo, opts WriteOptions, ranges [][2]float64) (*layout, error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	if opts.Format != FormatEDF && opts.Format != FormatBDF {
		return nil, fmt.Errorf("unknown format %d (want FormatEDF or FormatBDF)", opts.Format)
	}
	recDur := opts.recordDuration()
	sprF := info.SampleRateHz * recDur
	spr := int(math.Round(sprF))
	if spr < 1 || math.Abs(sprF-float64(spr)) > 1e-9*sprF {
		return nil, fmt.Errorf("sampling rate %v Hz times record duration %v s = %v samples per record, not a whole number; set WriteOptions.RecordDurationSec",
			info.SampleRateHz, recDur, sprF)
	}
	if len(fmtField(recDur, 8)) > 8 || mustParse(fmtField(recDur, 8)) != recDur {
		return nil, fmt.Errorf("record duration %v s does not fit the 8-character header field exactly", recDur)
	}

	lo, hi := int32(-32768), int32(32767)
	if opts.Format == FormatBDF {
		lo, hi = -1<<23, 1<<23-1
	}
	l := &layout{format: opts.Format, rateHz: info.SampleRateHz, recDur: recDur, spr: spr,
		extra: opts.RecordingExtra, patient: opts.PatientID}
	if l.extra == "" {
		l.extra = "X X neurostream"
	}
	if l.patient == "" {
		l.patient = "X X X X"
	}
	n := len(info.Channels)
	l.gain, l.pmin, l.dmin, l.unitToHeader = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	l.stim = make([]bool, n)
	for c, ch := range info.Channels {
		s := Signal{Label: asciiField(ch.Name, 16), SamplesPerRecord: spr, DigitalMin: lo, DigitalMax: hi}
		l.unitToHeader[c] = 1
		if ch.Type == streams.ChannelStim {
			l.stim[c] = true
			s.PhysicalMin, s.PhysicalMax = float64(lo), float64(hi)
			s.Transducer = "Trigger"
		} else {
			pmin, pmax := ranges[c][0], ranges[c][1]
			dim := asciiField(ch.Unit, 8)
			if ch.Unit == "V" {
				dim, l.unitToHeader[c] = "uV", 1e6
			}
			pmin, pmax = pmin*l.unitToHeader[c], pmax*l.unitToHeader[c]
			if !(pmax > pmin) {
				// A flat channel still needs a non-empty range; centre it on the value.
				pmin, pmax = pmin-1, pmax+1
			}
			var err error
			if s.PhysicalMin, err = outward(pmin, math.Floor); err != nil {
				return nil, fmt.Errorf("channel %q physical minimum: %w", ch.Name, err)
			}
			if s.PhysicalMax, err = outward(pmax, math.Ceil); err != nil {
				return nil, fmt.Errorf("channel %q physical maximum: %w", ch.Name, err)
			}
			s.PhysicalDimension = dim
		}
		l.pmin[c] = s.PhysicalMin
		l.dmin[c] = float64(lo)
		l.gain[c] = (s.PhysicalMax - s.PhysicalMin) / (float64(hi) - float64(lo))
		l.signals = append(l.signals, s)
	}
	label := "EDF Annotations"
	if opts.Format == FormatBDF {
		label = "BDF Annotations"
	}
	l.signals = append(l.signals, Signal{Label: label, DigitalMin: lo, DigitalMax: hi, PhysicalMin: -1, PhysicalMax: 1})
	annBytes := opts.AnnotationBytesPerRecord
	if annBytes <= 0 {
		annBytes = 1024
	}
	l.setAnnotationBytes(annBytes)
	return l, nil
}

func (l *layout) setAnnotationBytes(n int) {
	bps := l.format.bytesPerSample()
	n = max(n, 64)
	l.annSpr = (n + bps - 1) / bps
	l.signals[len(l.signals)-1].SamplesPerRecord = l.annSpr
}

func (l *layout) annotationBytes() int { return l.annSpr * l.format.bytesPerSample() }

// quantise converts a physical value (channel unit) to the digital value written.
func (l *layout) quantise(c int, v float64, clipped *int64) int32 {
	s := &l.signals[c]
	var d float64
	if l.stim[c] {
		d = math.Round(v)
	} else {
		d = math.Round((v*l.unitToHeader[c]-l.pmin[c])/l.gain[c] + l.dmin[c])
	}
	if d < float64(s.DigitalMin) || math.IsNaN(d) {
		*clipped++
		return s.DigitalMin
	}
	if d > float64(s.DigitalMax) {
		*clipped++
		return s.DigitalMax
	}
	return int32(d)
}

// outward rounds a physical limit outwards to the most precise value an 8-character field holds.
func outward(v float64, round func(float64) float64) (float64, error) {
	for prec := 7; prec >= 0; prec-- {
		p := math.Pow(10, float64(prec))
		r := round(v*p) / p
		s := strconv.FormatFloat(r, 'f', prec, 64)
		if len(s) <= 8 {
			return mustParse(s), nil
		}
	}
	return 0, fmt.Errorf("%v does not fit an 8-character EDF field", v)
}

func mustParse(s string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// fmtField formats a number in at most width characters (shortest exact form when possible).
func fmtField(v float64, width int) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if len(s) <= width {
		return s
	}
	for prec := width; prec >= 0; prec-- {
		if s = strconv.FormatFloat(v, 'f', prec, 64); len(s) <= width {
			return s
		}
	}
	return s
}

// asciiField makes s printable ASCII ('µ' becomes 'u', anything else non-ASCII '_') and cuts it to n bytes.
func asciiField(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == 'µ' || r == 'μ':
			b.WriteByte('u')
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func subsecond(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.Nanosecond()) / 1e9
}

// appendRecordTALs appends a record's time-keeping TAL (onset recOnsetSec from the header's
// whole-second start) and one TAL per annotation (onsets shifted by subsec, the start time's
// fraction of a second, because TAL onsets count from the header start time).
func appendRecordTALs(b []byte, recOnsetSec, subsec float64, anns []acquisition.Annotation) []byte {
	b = appendTALNumber(b, recOnsetSec)
	b = append(b, talText, talText, 0)
	for _, a := range anns {
		b = appendTAL(b, a, subsec)
	}
	return b
}

func appendTAL(b []byte, a acquisition.Annotation, subsec float64) []byte {
	b = appendTALNumber(b, a.OnsetSec+subsec)
	if a.DurationSec > 0 {
		b = append(b, talDuration)
		b = strconv.AppendFloat(b, a.DurationSec, 'f', -1, 64)
	}
	b = append(b, talText)
	text := a.Description
	if text == "" {
		text = strconv.Itoa(int(a.Code))
	}
	for i := 0; i < len(text); i++ {
		if c := text[i]; c != 0 && c != talText && c != talDuration {
			b = append(b, c)
		}
	}
	return append(b, talText, 0)
}

func appendTALNumber(b []byte, v float64) []byte {
	// Round to 100 ns so that float noise does not produce 17-digit onsets.
	v = math.Round(v*1e7) / 1e7
	if v >= 0 {
		b = append(b, '+')
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// Writer appends data records to an EDF+/BDF+ file as frames arrive (see Create).
type Writer struct {
	path    string
	file    *os.File
	buf     *bufio.Writer
	lay     *layout
	info    streams.StreamInfo
	subsec  float64
	digital [][]int32 // per channel, the record being filled
	filled  int       // samples of the current record filled
	records int       // records written
	pending []acquisition.Annotation
	rec     []byte // one encoded record
	tals    []byte
	clipped int64
	padded  int
	closed  bool
	err     error
}

// Create starts a streaming EDF+/BDF+ file for a stream. startTime is taken as now (UTC).
// Frames must carry len(info.Channels) channels; markers become annotations. Close writes the
// final record count into the header; until then the header says -1 ("unknown"), which Read
// accepts, so a file cut short by a crash is still readable up to its last whole record.
func Create(path string, info streams.StreamInfo, opts WriteOptions) (*Writer, error) {
	ranges := make([][2]float64, len(info.Channels))
	pmax := opts.PhysicalMax
	if pmax <= 0 {
		pmax = 3.2e-3
		if opts.Format == FormatBDF {
			pmax = 0.262144
		}
	}
	for c := range ranges {
		ranges[c] = [2]float64{-pmax, pmax}
	}
	lay, err := newLayout(info, opts, ranges)
	if err != nil {
		return nil, fmt.Errorf("edf: create %s: %w", path, err)
	}
	start := opts.StartTime
	if start.IsZero() {
		start = time.Now()
	}
	return create(path, info, start.UTC(), lay)
}

func create(path string, info streams.StreamInfo, start time.Time, lay *layout) (*Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("edf: create %s: %w", path, err)
	}
	w := &Writer{path: path, file: f, buf: bufio.NewWriterSize(f, 1<<16), lay: lay, info: info, subsec: subsecond(start)}
	w.digital = make([][]int32, len(info.Channels))
	for c := range w.digital {
		w.digital[c] = make([]int32, lay.spr)
	}
	recSamples := lay.spr*len(info.Channels) + lay.annSpr
	w.rec = make([]byte, recSamples*lay.format.bytesPerSample())
	if _, err := w.buf.Write(lay.header(start, -1)); err != nil {
		f.Close()
		return nil, fmt.Errorf("edf: write header of %s: %w", path, err)
	}
	return w, nil
}

// header encodes the file header.
func (l *layout) header(start time.Time, nRecords int) []byte {
	ns := len(l.signals)
	b := make([]byte, 0, fixedHeaderBytes+perSignalHeaderBytes*ns)
	field := func(s string, n int) {
		if len(s) > n {
			s = s[:n]
		}
		b = append(b, s...)
		for i := len(s); i < n; i++ {
			b = append(b, ' ')
		}
	}
	if l.format == FormatBDF {
		b = append(b, 0xff)
		field("BIOSEMI", 7)
	} else {
		field("0", 8)
	}
	if start.IsZero() {
		start = time.Date(1985, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	start = start.UTC()
	field(asciiField(l.patient, 80), 80)
	field(asciiField("Startdate "+strings.ToUpper(start.Format("02-Jan-2006"))+" "+l.extra, 80), 80)
	field(start.Format("02.01.06"), 8)
	field(start.Format("15.04.05"), 8)
	field(strconv.Itoa(fixedHeaderBytes+perSignalHeaderBytes*ns), 8)
	if l.format == FormatBDF {
		field("BDF+C", 44)
	} else {
		field("EDF+C", 44)
	}
	field(strconv.Itoa(nRecords), 8)
	field(fmtField(l.recDur, 8), 8)
	field(strconv.Itoa(ns), 4)
	for _, s := range l.signals {
		field(s.Label, 16)
	}
	for _, s := range l.signals {
		field(s.Transducer, 80)
	}
	for _, s := range l.signals {
		field(s.PhysicalDimension, 8)
	}
	for _, s := range l.signals {
		field(fmtField(s.PhysicalMin, 8), 8)
	}
	for _, s := range l.signals {
		field(fmtField(s.PhysicalMax, 8), 8)
	}
	for _, s := range l.signals {
		field(strconv.Itoa(int(s.DigitalMin)), 8)
	}
	for _, s := range l.signals {
		field(strconv.Itoa(int(s.DigitalMax)), 8)
	}
	for _, s := range l.signals {
		field(s.Prefiltering, 80)
	}
	for _, s := range l.signals {
		field(strconv.Itoa(s.SamplesPerRecord), 8)
	}
	for range l.signals {
		field("", 32)
	}
	return b
}

// WriteFrame appends a frame's samples (in the channels' units) and turns its markers into
// annotations. It allocates nothing once the writer is warm, apart from growing the marker queue.
func (w *Writer) WriteFrame(f *streams.Frame) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return fmt.Errorf("edf: write %s: writer is closed", w.path)
	}
	if f.NumChannels != len(w.info.Channels) {
		return fmt.Errorf("edf: write %s: frame %s#%d has %d channels, the file was created with %d",
			w.path, f.StreamID, f.Seq, f.NumChannels, len(w.info.Channels))
	}
	if len(f.Samples) != f.NumSamples*f.NumChannels {
		return fmt.Errorf("edf: write %s: frame %s#%d has %d values for %d samples x %d channels",
			w.path, f.StreamID, f.Seq, len(f.Samples), f.NumSamples, f.NumChannels)
	}
	base := int64(w.records)*int64(w.lay.spr) + int64(w.filled)
	for _, m := range f.Markers {
		if m.SampleOffset < 0 || int(m.SampleOffset) >= f.NumSamples {
			return fmt.Errorf("edf: write %s: frame %s#%d marker at sample %d outside its %d samples",
				w.path, f.StreamID, f.Seq, m.SampleOffset, f.NumSamples)
		}
		idx := base + int64(m.SampleOffset)
		w.pending = append(w.pending, acquisition.Annotation{
			OnsetSec: float64(idx) / w.lay.rateHz, OnsetSample: idx, DurationSec: m.DurationSec, Code: m.Code, Description: m.Label})
	}
	nc := f.NumChannels
	for s := 0; s < f.NumSamples; s++ {
		row := f.Samples[s*nc : (s+1)*nc]
		for c, v := range row {
			w.digital[c][w.filled] = w.lay.quantise(c, float64(v), &w.clipped)
		}
		w.filled++
		if w.filled == w.lay.spr {
			if err := w.flushRecord(); err != nil {
				w.err = err
				return err
			}
		}
	}
	return nil
}

// flushRecord encodes the current record with as many pending annotations as fit.
func (w *Writer) flushRecord() error {
	lay := w.lay
	bps := lay.format.bytesPerSample()
	o := 0
	for c := range w.digital {
		for _, d := range w.digital[c] {
			w.rec[o] = byte(d)
			w.rec[o+1] = byte(d >> 8)
			if bps == 3 {
				w.rec[o+2] = byte(d >> 16)
			}
			o += bps
		}
	}
	space := lay.annotationBytes()
	w.tals = appendRecordTALs(w.tals[:0], w.subsec+float64(w.records)*lay.recDur, w.subsec, nil)
	used := 0
	for _, a := range w.pending {
		before := len(w.tals)
		w.tals = appendTAL(w.tals, a, w.subsec)
		if len(w.tals) > space {
			w.tals = w.tals[:before]
			break
		}
		used++
	}
	if used == 0 && len(w.pending) > 0 && w.records == 0 && len(w.tals) > space {
		return fmt.Errorf("edf: write %s: annotation space of %d bytes per record holds no TAL; raise WriteOptions.AnnotationBytesPerRecord", w.path, space)
	}
	w.pending = w.pending[:copy(w.pending, w.pending[used:])]
	ann := w.rec[o : o+space]
	copy(ann, w.tals)
	for i := len(w.tals); i < len(ann); i++ {
		ann[i] = 0
	}
	if _, err := w.buf.Write(w.rec); err != nil {
		return fmt.Errorf("edf: write %s record %d: %w", w.path, w.records+1, err)
	}
	w.records++
	w.filled = 0
	return nil
}

// ClippedSamples returns how many samples fell outside their channel's range and were clipped.
func (w *Writer) ClippedSamples() int64 { return w.clipped }

// PaddedSamples returns how many samples per channel Close added to complete the last record.
func (w *Writer) PaddedSamples() int { return w.padded }

// Close completes the last record (padding it with each channel's last value, and marking the
// padding with a "neurostream padding" annotation), writes any annotations still queued in further
// records' TAL space if needed, fixes the record count in the header and closes the file.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.err != nil {
		w.file.Close()
		return w.err
	}
	if w.filled > 0 {
		w.padded = w.lay.spr - w.filled
		idx := int64(w.records)*int64(w.lay.spr) + int64(w.filled)
		w.pending = append(w.pending, acquisition.Annotation{OnsetSec: float64(idx) / w.lay.rateHz,
			DurationSec: float64(w.padded) / w.lay.rateHz, OnsetSample: idx, Description: "neurostream padding"})
		for c := range w.digital {
			last := w.digital[c][w.filled-1]
			for i := w.filled; i < w.lay.spr; i++ {
				w.digital[c][i] = last
			}
		}
		if err := w.flushRecord(); err != nil {
			w.file.Close()
			return err
		}
	}
	if len(w.pending) > 0 {
		w.file.Close()
		return fmt.Errorf("edf: write %s: %d annotations did not fit the TAL space of the records written; raise WriteOptions.AnnotationBytesPerRecord",
			w.path, len(w.pending))
	}
	return w.finish()
}

// finish flushes the buffer, writes the record count and closes the file.
func (w *Writer) finish() error {
	err := w.buf.Flush()
	if err == nil {
		_, err = w.file.WriteAt([]byte(fmt.Sprintf("%-8d", w.records)), 236)
	}
	err = errors.Join(err, w.file.Close())
	if err != nil {
		return fmt.Errorf("edf: finish %s: %w", w.path, err)
	}
	return nil
}
