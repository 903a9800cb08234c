package lsl

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// StreamInfo describes an LSL stream: the header every outlet announces and, in a full
// description, the <desc> element with the channels' metadata.
type StreamInfo struct {
	Name          string
	Type          string
	ChannelCount  int
	NominalRateHz float64 // 0: irregular rate (markers, events)
	Format        Format
	SourceID      string
	Version       float64 // protocol version of the outlet's library, e.g. 1.1
	CreatedAt     float64 // on the outlet host's LSL clock
	UID           string
	SessionID     string
	Hostname      string
	V4Address     string // filled by Resolve from the reply's sender when the outlet leaves it empty
	V4DataPort    int
	V4ServicePort int
	V6Address     string
	V6DataPort    int
	V6ServicePort int
	// Desc is the <desc> element (nil in a short description).
	Desc *Node
}

// Channel is one channel's metadata from <desc><channels><channel>, the XDF/LSL meta-data
// convention: label, type, unit and a location in millimetres.
type Channel struct {
	Label       string
	Type        string
	Unit        string
	Location    [3]float64
	HasLocation bool
}

// Channels reads the channel list from the description; nil when there is none.
func (s *StreamInfo) Channels() []Channel {
	chs := s.Desc.Child("channels")
	if chs == nil {
		return nil
	}
	var out []Channel
	for _, c := range chs.Children {
		if c.Name != "channel" {
			continue
		}
		ch := Channel{Label: strings.TrimSpace(c.Value("label")), Type: strings.TrimSpace(c.Value("type")), Unit: strings.TrimSpace(c.Value("unit"))}
		if loc := c.Child("location"); loc != nil {
			ok := true
			for i, k := range []string{"X", "Y", "Z"} {
				v, err := strconv.ParseFloat(strings.TrimSpace(loc.Value(k)), 64)
				if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
					ok = false
					break
				}
				ch.Location[i] = v
			}
			ch.HasLocation = ok
		}
		out = append(out, ch)
	}
	return out
}

// SetChannels replaces <desc><channels> with the given channels.
func (s *StreamInfo) SetChannels(chs []Channel) {
	if s.Desc == nil {
		s.Desc = &Node{Name: "desc"}
	}
	kept := s.Desc.Children[:0]
	for _, c := range s.Desc.Children {
		if c.Name != "channels" {
			kept = append(kept, c)
		}
	}
	s.Desc.Children = kept
	list := s.Desc.Append("channels", "")
	for _, ch := range chs {
		c := list.Append("channel", "")
		c.Append("label", ch.Label)
		if ch.Type != "" {
			c.Append("type", ch.Type)
		}
		if ch.Unit != "" {
			c.Append("unit", ch.Unit)
		}
		if ch.HasLocation {
			loc := c.Append("location", "")
			for i, k := range []string{"X", "Y", "Z"} {
				loc.Append(k, strconv.FormatFloat(ch.Location[i], 'g', -1, 64))
			}
		}
	}
}

// Validate reports the first thing that makes the description unusable for a data connection.
func (s *StreamInfo) Validate() error {
	switch {
	case s.Name == "":
		return errors.New("stream info: empty <name>")
	case s.ChannelCount <= 0 || s.ChannelCount > 1<<20:
		return fmt.Errorf("stream info %q: channel_count %d out of range 1..%d", s.Name, s.ChannelCount, 1<<20)
	case !(s.NominalRateHz >= 0) || math.IsInf(s.NominalRateHz, 0):
		return fmt.Errorf("stream info %q: nominal_srate %v is not a finite number >= 0", s.Name, s.NominalRateHz)
	case s.Format <= FormatUndefined || s.Format > Int64:
		return fmt.Errorf("stream info %q: channel_format %v unsupported", s.Name, s.Format)
	}
	return nil
}

// ParseInfo reads a short or full stream description (the <info> document).
func ParseInfo(data []byte) (StreamInfo, error) {
	root, err := parseXML(data)
	if err != nil {
		return StreamInfo{}, err
	}
	return infoFromNode(root)
}

func infoFromNode(root *Node) (StreamInfo, error) {
	if root.Name != "info" {
		return StreamInfo{}, fmt.Errorf("stream description's root element is <%s>, want <info>", root.Name)
	}
	v := func(k string) string { return strings.TrimSpace(root.Value(k)) }
	s := StreamInfo{Name: v("name"), Type: v("type"), SourceID: v("source_id"), UID: v("uid"), SessionID: v("session_id"),
		Hostname: v("hostname"), V4Address: v("v4address"), V6Address: v("v6address")}
	var err error
	num := func(k string, dst *float64, required bool) {
		if err != nil {
			return
		}
		t := v(k)
		if t == "" && !required {
			return
		}
		f, e := strconv.ParseFloat(t, 64)
		if e != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			err = fmt.Errorf("stream info %q: <%s> %q is not a number", s.Name, k, t)
		}
		*dst = f
	}
	port := func(k string, dst *int) {
		if err != nil {
			return
		}
		t := v(k)
		if t == "" {
			return
		}
		p, e := strconv.Atoi(t)
		if e != nil || p < 0 || p > 65535 {
			err = fmt.Errorf("stream info %q: <%s> %q is not a port number", s.Name, k, t)
		}
		*dst = p
	}
	var count float64
	num("channel_count", &count, true)
	num("nominal_srate", &s.NominalRateHz, true)
	num("version", &s.Version, false)
	num("created_at", &s.CreatedAt, false)
	port("v4data_port", &s.V4DataPort)
	port("v4service_port", &s.V4ServicePort)
	port("v6data_port", &s.V6DataPort)
	port("v6service_port", &s.V6ServicePort)
	if err != nil {
		return StreamInfo{}, err
	}
	if count != math.Trunc(count) || count < 0 || count > 1<<20 {
		return StreamInfo{}, fmt.Errorf("stream info %q: channel_count %v out of range", s.Name, count)
	}
	s.ChannelCount = int(count)
	if s.Format, err = ParseFormat(v("channel_format")); err != nil {
		return StreamInfo{}, fmt.Errorf("stream info %q: %w", s.Name, err)
	}
	if s.Name == "" {
		return StreamInfo{}, errors.New("stream info has an empty <name>")
	}
	if s.UID == "" {
		return StreamInfo{}, fmt.Errorf("stream info %q has an empty <uid>", s.Name)
	}
	if d := root.Child("desc"); d != nil {
		s.Desc = d.clone()
	}
	return s, nil
}

// node renders the description as an element tree; full adds <desc>.
func (s *StreamInfo) node(full bool) *Node {
	n := &Node{Name: "info"}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 17, 64) }
	n.Append("name", s.Name)
	n.Append("type", s.Type)
	n.Append("channel_count", strconv.Itoa(s.ChannelCount))
	n.Append("channel_format", s.Format.String())
	n.Append("source_id", s.SourceID)
	n.Append("nominal_srate", f(s.NominalRateHz))
	n.Append("version", strconv.FormatFloat(s.Version, 'f', -1, 64))
	n.Append("created_at", f(s.CreatedAt))
	n.Append("uid", s.UID)
	n.Append("session_id", s.SessionID)
	n.Append("hostname", s.Hostname)
	n.Append("v4address", s.V4Address)
	n.Append("v4data_port", strconv.Itoa(s.V4DataPort))
	n.Append("v4service_port", strconv.Itoa(s.V4ServicePort))
	n.Append("v6address", s.V6Address)
	n.Append("v6data_port", strconv.Itoa(s.V6DataPort))
	n.Append("v6service_port", strconv.Itoa(s.V6ServicePort))
	if full && s.Desc != nil {
		d := s.Desc.clone()
		d.Name = "desc"
		n.Children = append(n.Children, d)
	} else {
		n.Append("desc", "")
	}
	return n
}

// XML renders the description as liblsl does: the short form (empty <desc>) or the full one.
func (s *StreamInfo) XML(full bool) string {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\"?>\n")
	writeXML(&b, s.node(full), 0)
	return b.String()
}

// newUID returns a random RFC 4122 version-4 UUID, the form liblsl's uids take.
func newUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
