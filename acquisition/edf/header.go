package edf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Format is the sample encoding of the data records.
type Format int

const (
	FormatEDF Format = iota // 16-bit little-endian two's complement samples
	FormatBDF               // 24-bit little-endian two's complement samples (BioSemi)
)

// String returns "EDF" or "BDF".
func (f Format) String() string {
	if f == FormatBDF {
		return "BDF"
	}
	return "EDF"
}

// bytesPerSample is 2 for EDF and 3 for BDF.
func (f Format) bytesPerSample() int {
	if f == FormatBDF {
		return 3
	}
	return 2
}

// fixed header layout: 256 bytes, then 256 bytes per signal.
const (
	fixedHeaderBytes     = 256
	perSignalHeaderBytes = 256
)

// Signal is one signal's header entry as stored in the file.
type Signal struct {
	Label             string // as in the file, trailing spaces removed (MNE 1.3 keeps e.g. "Fc5." as is)
	Transducer        string
	PhysicalDimension string // e.g. "uV"; decoded from Latin-1
	PhysicalMin       float64
	PhysicalMax       float64
	DigitalMin        int32
	DigitalMax        int32
	Prefiltering      string
	SamplesPerRecord  int
	Reserved          string
}

// IsAnnotation reports whether the signal carries EDF+/BDF+ annotations (TALs) rather than samples.
func (s *Signal) IsAnnotation() bool {
	return s.Label == "EDF Annotations" || s.Label == "BDF Annotations"
}

// Header is the decoded header of an EDF/BDF file.
type Header struct {
	Format            Format
	Version           string // "0" for EDF, "\xffBIOSEMI" shown as "BIOSEMI" for BDF
	PatientID         string
	RecordingID       string
	StartTime         time.Time // from the start date/time fields, UTC, whole seconds
	HeaderBytes       int
	Reserved          string // "EDF+C", "EDF+D", "BDF+C", "BDF+D" or free text for plain EDF/BDF
	NumRecords        int    // -1 in the file means "unknown"; Read replaces it by the count the file holds
	RecordDurationSec float64
	Signals           []Signal
}

// IsPlus reports whether the file declares itself EDF+ or BDF+.
func (h *Header) IsPlus() bool {
	return strings.HasPrefix(h.Reserved, "EDF+") || strings.HasPrefix(h.Reserved, "BDF+")
}

// IsDiscontinuous reports whether the file is EDF+D/BDF+D (records need not be contiguous in time).
func (h *Header) IsDiscontinuous() bool {
	return h.Reserved == "EDF+D" || h.Reserved == "BDF+D" ||
		strings.HasPrefix(h.Reserved, "EDF+D ") || strings.HasPrefix(h.Reserved, "BDF+D ")
}

// recordBytes is the size of one data record in bytes.
func (h *Header) recordBytes() int {
	n := 0
	for i := range h.Signals {
		n += h.Signals[i].SamplesPerRecord
	}
	return n * h.Format.bytesPerSample()
}

// headerError names the file and the header field that is wrong.
func headerError(name, field, format string, args ...any) error {
	return fmt.Errorf("edf: %s: header field %q: %s", name, field, fmt.Sprintf(format, args...))
}

// field names a header field; per-signal fields carry the signal's number and label, formatted
// only when an error needs them (a 64-channel header has ~650 fields).
type field struct {
	name  string
	sig   int // 1-based signal number, 0 for the fixed header
	label string
}

func (f field) String() string {
	if f.sig == 0 {
		return f.name
	}
	if f.label == "" {
		return fmt.Sprintf("%s of signal %d", f.name, f.sig)
	}
	return fmt.Sprintf("%s of signal %d (%s)", f.name, f.sig, f.label)
}

func fixed(name string) field { return field{name: name} }

// fieldReader walks the fixed-width ASCII header fields.
type fieldReader struct {
	name string
	b    []byte
	pos  int
	err  error
}

// raw returns the next n bytes or records a truncation error.
func (r *fieldReader) raw(f field, n int) []byte {
	if r.err != nil {
		return nil
	}
	if r.pos+n > len(r.b) {
		r.err = headerError(r.name, f.String(), "file ends at byte %d inside the header (field needs bytes %d-%d); the file is truncated",
			len(r.b), r.pos, r.pos+n)
		return nil
	}
	v := r.b[r.pos : r.pos+n]
	r.pos += n
	return v
}

// text returns a free-text field: Latin-1 decoded (EDF demands ASCII, but real files carry "µV"
// and accented names, which MNE also decodes as Latin-1), cut at the first NUL, spaces trimmed.
func (r *fieldReader) text(f field, n int) string {
	return latin1(trimField(r.raw(f, n)))
}

// number returns a numeric field's trimmed ASCII text, rejecting non-ASCII bytes.
func (r *fieldReader) number(f field, n int) string {
	b := trimField(r.raw(f, n))
	if r.err != nil {
		return ""
	}
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			r.err = headerError(r.name, f.String(), "byte %d is 0x%02x, not printable ASCII (value %q); the header is damaged",
				i, c, latin1(b))
			return ""
		}
	}
	return string(b)
}

func (r *fieldReader) integer(f field, n int) int {
	s := r.number(f, n)
	if r.err != nil {
		return 0
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		r.err = headerError(r.name, f.String(), "%q is not an integer", s)
		return 0
	}
	return v
}

func (r *fieldReader) float(f field, n int) float64 {
	s := r.number(f, n)
	if r.err != nil {
		return 0
	}
	// Some writers use a decimal comma; MNE accepts it, so do we.
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", "."), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		r.err = headerError(r.name, f.String(), "%q is not a finite number", s)
		return 0
	}
	return v
}

// digital parses a digital min/max: an integer, though some writers append ".0".
func (r *fieldReader) digital(f field, n int) int32 {
	v := r.float(f, n)
	if r.err != nil {
		return 0
	}
	if v != math.Trunc(v) || v < math.MinInt32 || v > math.MaxInt32 {
		r.err = headerError(r.name, f.String(), "%v is not a 32-bit integer", v)
		return 0
	}
	return int32(v)
}

func trimField(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return b
}

// latin1 converts Latin-1 bytes to a UTF-8 string without allocating for pure ASCII.
func latin1(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return string(out)
}

// parseHeader decodes the header at the start of b. name is used in errors only.
func parseHeader(name string, b []byte) (*Header, error) {
	r := &fieldReader{name: name, b: b}
	h := &Header{}
	version := r.raw(fixed("version"), 8)
	if r.err != nil {
		return nil, r.err
	}
	switch {
	case version[0] == 0xff && string(version[1:8]) == "BIOSEMI":
		h.Format, h.Version = FormatBDF, "BIOSEMI"
	case string(trimField(version)) == "0":
		h.Format, h.Version = FormatEDF, "0"
	default:
		return nil, headerError(name, "version", "%q is neither \"0\" (EDF) nor \"\\xffBIOSEMI\" (BDF); not an EDF/BDF file", latin1(version))
	}
	h.PatientID = r.text(fixed("local patient identification"), 80)
	h.RecordingID = r.text(fixed("local recording identification"), 80)
	date := r.number(fixed("startdate of recording"), 8)
	clock := r.number(fixed("starttime of recording"), 8)
	h.HeaderBytes = r.integer(fixed("number of bytes in header record"), 8)
	h.Reserved = r.text(fixed("reserved"), 44)
	h.NumRecords = r.integer(fixed("number of data records"), 8)
	h.RecordDurationSec = r.float(fixed("duration of a data record, in seconds"), 8)
	ns := r.integer(fixed("number of signals in data record"), 4)
	if r.err != nil {
		return nil, r.err
	}
	if ns < 0 || ns > 100000 {
		return nil, headerError(name, "number of signals in data record", "%d is not a plausible signal count", ns)
	}
	if h.RecordDurationSec < 0 {
		return nil, headerError(name, "duration of a data record, in seconds", "%v is negative", h.RecordDurationSec)
	}
	if h.NumRecords < -1 {
		return nil, headerError(name, "number of data records", "%d is negative (only -1, \"unknown\", is allowed)", h.NumRecords)
	}
	if want := fixedHeaderBytes + perSignalHeaderBytes*ns; h.HeaderBytes != want {
		return nil, headerError(name, "number of bytes in header record",
			"%d, but %d signals need 256+256*%d = %d bytes", h.HeaderBytes, ns, ns, want)
	}
	if len(b) < h.HeaderBytes {
		return nil, headerError(name, "number of bytes in header record",
			"header declares %d bytes but the file has only %d; the file is truncated", h.HeaderBytes, len(b))
	}
	// An impossible start date does not make the samples unreadable: like MNE, leave the start
	// time unknown (zero) rather than refuse the file.
	if start, err := parseStartTime(date, clock, h.RecordingID); err == nil {
		h.StartTime = start
	}

	h.Signals = make([]Signal, ns)
	sig := h.Signals
	for i := range sig {
		sig[i].Label = r.text(field{name: "label", sig: i + 1}, 16)
	}
	for i := range sig {
		sig[i].Transducer = r.text(field{name: "transducer type", sig: i + 1}, 80)
	}
	for i := range sig {
		sig[i].PhysicalDimension = r.text(field{"physical dimension", i + 1, sig[i].Label}, 8)
	}
	for i := range sig {
		sig[i].PhysicalMin = r.float(field{"physical minimum", i + 1, sig[i].Label}, 8)
	}
	for i := range sig {
		sig[i].PhysicalMax = r.float(field{"physical maximum", i + 1, sig[i].Label}, 8)
	}
	for i := range sig {
		sig[i].DigitalMin = r.digital(field{"digital minimum", i + 1, sig[i].Label}, 8)
	}
	for i := range sig {
		sig[i].DigitalMax = r.digital(field{"digital maximum", i + 1, sig[i].Label}, 8)
	}
	for i := range sig {
		sig[i].Prefiltering = r.text(field{"prefiltering", i + 1, sig[i].Label}, 80)
	}
	for i := range sig {
		sig[i].SamplesPerRecord = r.integer(field{"nr of samples in each data record", i + 1, sig[i].Label}, 8)
	}
	for i := range sig {
		sig[i].Reserved = r.text(field{name: "reserved", sig: i + 1}, 32)
	}
	if r.err != nil {
		return nil, r.err
	}
	total := 0
	for i := range sig {
		s := &sig[i]
		if s.SamplesPerRecord < 0 || s.SamplesPerRecord > 1<<24 {
			return nil, headerError(name, fmt.Sprintf("nr of samples in each data record of signal %d (%s)", i+1, s.Label),
				"%d is not a plausible sample count", s.SamplesPerRecord)
		}
		total += s.SamplesPerRecord
		if s.IsAnnotation() {
			continue
		}
		lo, hi := int32(math.MinInt16), int32(math.MaxInt16)
		if h.Format == FormatBDF {
			lo, hi = -1<<23, 1<<23-1
		}
		if s.DigitalMin < lo || s.DigitalMax > hi {
			return nil, headerError(name, fmt.Sprintf("digital minimum/maximum of signal %d (%s)", i+1, s.Label),
				"[%d, %d] exceeds the %s sample range [%d, %d]", s.DigitalMin, s.DigitalMax, h.Format, lo, hi)
		}
	}
	if ns > 0 && total == 0 {
		return nil, headerError(name, "nr of samples in each data record", "every signal has 0 samples per record")
	}
	return h, nil
}

// parseStartTime combines the dd.mm.yy and hh.mm.ss fields. The EDF+ recording field
// "Startdate dd-MMM-yyyy ..." carries a 4-digit year and wins when valid, as in MNE; otherwise
// yy 85-99 is 19yy and 00-84 is 20yy (the EDF "clipping date" rule).
func parseStartTime(date, clock, recordingID string) (time.Time, error) {
	d, err := splitTriple(date)
	if err != nil {
		return time.Time{}, fmt.Errorf("start date %q: %w", date, err)
	}
	c, err := splitTriple(clock)
	if err != nil {
		return time.Time{}, fmt.Errorf("start time %q: %w", clock, err)
	}
	day, month, year := d[0], d[1], d[2]
	if year < 85 {
		year += 2000
	} else {
		year += 1900
	}
	if f := strings.Fields(recordingID); len(f) >= 2 && f[0] == "Startdate" {
		if t, err := time.Parse("02-Jan-2006", titleMonth(f[1])); err == nil {
			day, month, year = t.Day(), int(t.Month()), t.Year()
		}
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || c[0] > 23 || c[1] > 59 || c[2] > 60 {
		return time.Time{}, fmt.Errorf("%s %s is not a valid date and time", date, clock)
	}
	return time.Date(year, time.Month(month), day, c[0], c[1], c[2], 0, time.UTC), nil
}

// titleMonth turns "12-AUG-2009" into "12-Aug-2009" for time.Parse.
func titleMonth(s string) string {
	if len(s) != 11 {
		return s
	}
	return s[:4] + strings.ToLower(s[4:6]) + s[6:]
}

func splitTriple(s string) ([3]int, error) {
	var out [3]int
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		// Some writers use ':' in the time field.
		parts = strings.Split(s, ":")
	}
	if len(parts) != 3 {
		return out, fmt.Errorf("want three dot-separated numbers")
	}
	for i, p := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v < 0 {
			return out, fmt.Errorf("part %q is not a non-negative integer", p)
		}
		out[i] = v
	}
	return out, nil
}
