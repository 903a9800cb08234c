package lsl

import (
	"context"
	"encoding/binary"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

const sampleShortInfo = `<?xml version="1.0"?>
<info>
	<name>BioSemi</name>
	<type>EEG</type>
	<channel_count>2</channel_count>
	<channel_format>float32</channel_format>
	<source_id>bs-1</source_id>
	<nominal_srate>2048.000000000000</nominal_srate>
	<version>1.100000000000000</version>
	<created_at>1234.5</created_at>
	<uid>0f6a</uid>
	<session_id>default</session_id>
	<hostname>lab</hostname>
	<v4address />
	<v4data_port>16573</v4data_port>
	<v4service_port>16572</v4service_port>
	<v6address />
	<v6data_port>0</v6data_port>
	<v6service_port>0</v6service_port>
	<desc><manufacturer>BioSemi</manufacturer><channels><channel><label>Fp1</label><unit>microvolts</unit></channel><channel><label>C3 &amp; x</label></channel></channels></desc>
</info>
`

func TestParseInfoAndQuery(t *testing.T) {
	info, err := ParseInfo([]byte(sampleShortInfo))
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "BioSemi" || info.ChannelCount != 2 || info.Format != Float32 || info.NominalRateHz != 2048 || info.V4DataPort != 16573 {
		t.Fatalf("%+v", info)
	}
	if chs := info.Channels(); len(chs) != 2 || chs[1].Label != "C3 & x" || chs[0].Unit != "microvolts" {
		t.Fatalf("channels %+v", chs)
	}
	again, err := ParseInfo([]byte(info.XML(true)))
	if err != nil || again.Channels()[1].Label != "C3 & x" || again.UID != "0f6a" {
		t.Fatalf("round trip: %v %+v", err, again)
	}
	root, _ := parseXML([]byte(sampleShortInfo))
	for q, want := range map[string]bool{
		"":                                       true,
		"type='EEG'":                             true,
		"type='EEG' and name='X'":                false,
		"type='Markers' or name='BioSemi'":       true,
		"starts-with(name,'Bio') and type='EEG'": true,
		"session_id='default' and (type='EEG' or type='MEG')": true,
		"not(type='EEG')":                         false,
		"channel_count>1 and nominal_srate>=2048": true,
		"channel_count!=2":                        false,
		"desc/channels/channel/label='Fp1'":       true,
		"desc/manufacturer=\"BioSemi\"":           true,
		"contains(source_id, 's-')":               true,
		"count(desc/channels/channel)=2":          true,
		"name='BioSemi' and hostname='elsewhere'": false,
		"true()": true,
	} {
		p, err := ParseQuery(q)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		if got := p.Matches(root); got != want {
			t.Errorf("%q matched %v, want %v", q, got, want)
		}
	}
	for _, bad := range []string{"type=", "type='EEG", "(type='EEG'", "foo(1)", "type=='x'", "a !b", strings.Repeat("(", 200) + "a" + strings.Repeat(")", 200)} {
		if _, err := ParseQuery(bad); err == nil {
			t.Errorf("query %q accepted", bad)
		}
	}
}

func TestParseInfoRejectsBadDescriptions(t *testing.T) {
	for name, doc := range map[string]string{
		"not xml":    "LSL garbage",
		"wrong root": "<stream><name>x</name></stream>",
		"no uid":     strings.Replace(sampleShortInfo, "<uid>0f6a</uid>", "", 1),
		"bad count":  strings.Replace(sampleShortInfo, "<channel_count>2<", "<channel_count>-3<", 1),
		"bad format": strings.Replace(sampleShortInfo, "float32", "float16", 1),
		"bad port":   strings.Replace(sampleShortInfo, "16573", "99999", 1),
		"unclosed":   sampleShortInfo[:200],
		"two roots":  sampleShortInfo + "<info/>",
		"deep":       strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100),
		"nan rate":   strings.Replace(sampleShortInfo, "2048.000000000000", "NaN", 1),
		"empty":      "",
	} {
		if _, err := ParseInfo([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseInfo(f *testing.F) {
	f.Add([]byte(sampleShortInfo))
	f.Add([]byte("<info><name>a</name></info>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ParseInfo(data)
		if err == nil {
			_ = info.Channels()
			if _, err := ParseInfo([]byte(info.XML(true))); err != nil {
				t.Fatalf("re-parse of our own rendering failed: %v", err)
			}
		}
	})
}

func FuzzQuery(f *testing.F) {
	f.Add("type='EEG' and (starts-with(name,'B') or not(channel_count>3))")
	f.Add("desc/channels/channel/label='Fp1'")
	root, _ := parseXML([]byte(sampleShortInfo))
	f.Fuzz(func(t *testing.T, q string) {
		if p, err := ParseQuery(q); err == nil {
			p.Matches(root)
		}
	})
}

func FuzzDecodeSample(f *testing.F) {
	f.Add(byte(1), []byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})
	f.Add(byte(3), []byte{1, 1, 3, 'a', 'b', 'c', 4, 255, 255, 255, 255})
	f.Add(byte(128), []byte{1, 2, 8, 0xc9, 0x76, 0xbe, 0x9f, 0x0c, 0x24, 0xfe, 0x40, 4, 0, 0, 0x80, 0x40, 0xff, 0x05, 0})
	f.Add(byte(130), []byte{1, 1, 1, 3, 'a', 'b', 'c', 0, 0x7f})
	f.Fuzz(func(t *testing.T, format byte, data []byte) {
		c := codec{format: Format(format%7 + 1), channels: 3, order: binary.LittleEndian, maxString: 64, proto: 110}
		if format >= 128 {
			c.proto = 100 // the archive format
		}
		vals, strs := make([]float64, 3), make([]string, 3)
		var ts float64
		n, need, err := c.dec(data, &ts, vals, strs)
		if err == nil && n == 0 && need <= len(data) {
			t.Fatalf("asked for %d bytes with %d available", need, len(data))
		}
		if n > len(data) {
			t.Fatalf("consumed %d of %d bytes", n, len(data))
		}
	})
}

// fakeOutlet serves a description and then whatever feed the test writes, to check the inlet's
// answers to broken outlets.
func fakeOutlet(t *testing.T, feed func(w io.Writer)) StreamInfo {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	info := StreamInfo{Name: "fake", Type: "EEG", ChannelCount: 2, NominalRateHz: 100, Format: Int16, UID: "u-1", Version: 1.1,
		V4Address: "127.0.0.1", V4DataPort: l.Addr().(*net.TCPAddr).Port}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 4096)
				n, _ := conn.Read(buf)
				if strings.HasPrefix(string(buf[:n]), "LSL:fullinfo") {
					io.WriteString(conn, info.XML(true))
					return
				}
				feed(conn)
				time.Sleep(100 * time.Millisecond)
			}()
		}
	}()
	return info
}

func TestInletRejectsBrokenOutlets(t *testing.T) {
	ok := "LSL/110 200 OK\r\nUID: u-1\r\nByte-Order: 1234\r\nData-Protocol-Version: 110\r\n\r\n"
	c := codec{format: Int16, channels: 2, order: binary.LittleEndian}
	good := string(c.appendTestPatterns(nil))
	wrong := []byte(good)
	wrong[len(wrong)-1] ^= 0x40
	for name, tc := range map[string]struct {
		feed string
		want string
	}{
		"refused":        {"LSL/110 404 Not found\r\n\r\n", "refused"},
		"garbage status": {"HTTP/1.1 200 OK\r\n\r\n", "malformed reply"},
		"test pattern":   {ok + string(wrong), "test-pattern"},
		"byte order":     {strings.Replace(ok, "1234", "3412", 1) + good, "byte order"},
		"bad tag":        {ok + good + "\x07", "tag byte 7"},
		"mid sample":     {ok + good + "\x01\x05", "middle of a sample"},
		"other uid":      {strings.Replace(ok, "u-1", "u-2", 1) + good, "uid"},
	} {
		t.Run(name, func(t *testing.T) {
			info := fakeOutlet(t, func(w io.Writer) { io.WriteString(w, tc.feed) })
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			in, err := OpenInlet(ctx, info, InletOptions{NoRecover: true})
			if err == nil {
				defer in.Close()
				var ch Chunk
				err = in.Pull(ctx, &ch, 0)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestInletRejectsOversizedString(t *testing.T) {
	ok := "LSL/110 200 OK\r\nUID: u-1\r\nByte-Order: 1234\r\nData-Protocol-Version: 110\r\n\r\n"
	c := codec{format: String, channels: 2, order: binary.LittleEndian}
	feed := ok + string(c.appendTestPatterns(nil)) + "\x01\x04" + string(binary.LittleEndian.AppendUint32(nil, 5000)) + strings.Repeat("x", 5000) + "\x01\x00"
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	info := StreamInfo{Name: "fake", Type: "Markers", ChannelCount: 2, Format: String, UID: "u-1", Version: 1.1, V4Address: "127.0.0.1", V4DataPort: l.Addr().(*net.TCPAddr).Port}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			n, _ := conn.Read(buf)
			if strings.HasPrefix(string(buf[:n]), "LSL:fullinfo") {
				io.WriteString(conn, info.XML(true))
			} else {
				io.WriteString(conn, feed)
				time.Sleep(100 * time.Millisecond)
			}
			conn.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in, err := OpenInlet(ctx, info, InletOptions{NoRecover: true, MaxStringBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var ch Chunk
	err = in.Pull(ctx, &ch, 0)
	if err == nil || !strings.Contains(err.Error(), "5000 bytes") {
		t.Fatalf("error %v, want the 5000-byte string rejected", err)
	}
}

// TestTimeCorrectionSign: an outlet whose clock runs 100 s ahead of ours (answering the time probes
// as liblsl's udp_server does) gets a correction of -100 s: the value added to its timestamps to put
// them on our clock, as lsl_time_correction returns it.
func TestTimeCorrectionSign(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			t1 := Clock() + 100
			f := strings.Fields(string(buf[:n]))
			if len(f) < 3 || f[0] != "LSL:timedata" {
				continue
			}
			reply := " " + f[1] + " " + f[2] + " " + strconv.FormatFloat(t1, 'g', 16, 64) + " " + strconv.FormatFloat(Clock()+100, 'g', 16, 64)
			_, _ = conn.WriteToUDP([]byte(reply), from)
		}
	}()
	in := &Inlet{opts: InletOptions{TimeProbes: 4, TimeProbeInterval: 5 * time.Millisecond},
		info: StreamInfo{Name: "ahead", V4Address: "127.0.0.1", V4ServicePort: conn.LocalAddr().(*net.UDPAddr).Port}}
	off, rtt, err := in.TimeCorrection(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(off+100) > rtt+1e-3 {
		t.Fatalf("correction %v s (rtt %v s), want -100 s", off, rtt)
	}
}
