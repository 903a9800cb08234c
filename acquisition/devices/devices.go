// Package devices is the registry of live sources that `neurostream acquire --device NAME` and
// pipeline configs (sources: - kind: NAME) can open: each device's name, transport, channel names,
// units (volts on the wire) and electrode positions, and how to open it from Options. The simulated
// headset is one of them, so the same flags and configs work with or without hardware.
package devices

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/neurostream/neurostream/acquisition/ble"
	"github.com/neurostream/neurostream/acquisition/muse"
	"github.com/neurostream/neurostream/acquisition/openbci"
	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/streams"
)

// Options are the settings a device may take; each device reads the ones it needs. In YAML they sit
// beside a source's kind (pipeline.SourceConfig), with stream_id and frame_samples shared with the
// synthetic source's fields.
type Options struct {
	Port       string        `yaml:"port"`        // serial device (cyton)
	Address    string        `yaml:"address"`     // Bluetooth LE address or name prefix (ganglion, muse)
	Daisy      bool          `yaml:"daisy"`       // cyton: a Daisy module is attached
	Gain       int           `yaml:"gain"`        // cyton: ADS1299 gain [24]
	Accel      bool          `yaml:"accel"`       // cyton: add the accelerometer's three axes
	Electrodes []string      `yaml:"electrodes"`  // electrode names in input order (default: the device's)
	Query      string        `yaml:"query"`       // lsl: which streams, e.g. type='EEG'
	MarkerWait time.Duration `yaml:"marker_wait"` // lsl: how long a frame waits for marker events sent with its samples [50ms; negative: no wait]
	Timeout    time.Duration `yaml:"timeout"`     // the device stopped answering after this long [3s]

	StreamID     string `yaml:"-"`
	FrameSamples int    `yaml:"-"`
	// Synthetic configures the simulated headset (device synthetic).
	Synthetic synthetic.Config `yaml:"-"`
}

// Source is an opened device: what pipeline.Source asks for, and Close.
type Source interface {
	Info() streams.StreamInfo
	Next(ctx context.Context, f *streams.Frame) error
	io.Closer
}

// Device is one kind of source.
type Device struct {
	Name      string
	Transport string // serial, bluetooth-le, network, simulated
	Summary   string
	// Info describes the stream the device produces with these options, without opening it.
	Info func(o Options) (streams.StreamInfo, error)
	Open func(ctx context.Context, o Options) (Source, error)
}

// Registry maps device names to devices.
type Registry struct{ devs map[string]Device }

// Builtin returns the registry of the devices built into neurostream. Further sources (the LSL
// inlet) are added with Register by the command that owns them.
func Builtin() *Registry {
	r := &Registry{devs: map[string]Device{}}
	r.Register(Device{Name: "synthetic", Transport: "simulated",
		Summary: "simulated EEG headset: 1/f background, eyes-open/closed alpha, mains, blinks (8-64 ch, 10-10 names)",
		Info: func(o Options) (streams.StreamInfo, error) {
			s, err := synthetic.New(syntheticConfig(o))
			if err != nil {
				return streams.StreamInfo{}, err
			}
			return s.Info(), nil
		},
		Open: func(_ context.Context, o Options) (Source, error) {
			s, err := synthetic.New(syntheticConfig(o))
			if err != nil {
				return nil, err
			}
			return nopCloser{s}, nil
		}})
	r.Register(Device{Name: "cyton", Transport: "serial",
		Summary: "OpenBCI Cyton, 8 ch at 250 Hz (--daisy: Cyton+Daisy, 16 ch at 125 Hz) on the USB dongle's serial port (--port)",
		Info:    func(o Options) (streams.StreamInfo, error) { return openbci.CytonInfo(cytonConfig(o)) },
		Open: func(ctx context.Context, o Options) (Source, error) {
			return openbci.OpenCyton(ctx, cytonConfig(o))
		}})
	r.Register(Device{Name: "ganglion", Transport: "bluetooth-le",
		Summary: "OpenBCI Ganglion, 4 ch at 200 Hz over Bluetooth LE (--address: MAC or name prefix; untested on hardware)",
		Info: func(o Options) (streams.StreamInfo, error) {
			return openbci.GanglionInfo(openbci.GanglionConfig{StreamID: o.StreamID, Channels: o.Electrodes})
		},
		Open: func(ctx context.Context, o Options) (Source, error) {
			return openbci.OpenGanglion(ctx, openbci.GanglionConfig{Address: o.Address, StreamID: o.StreamID, Channels: o.Electrodes,
				FrameSamples: o.FrameSamples, Timeout: o.Timeout}, ble.Connect)
		}})
	r.Register(Device{Name: "muse", Transport: "bluetooth-le",
		Summary: "Interaxon Muse 2016 / Muse 2 / Muse S, 4 ch at 256 Hz over Bluetooth LE (--address; untested on hardware)",
		Info: func(o Options) (streams.StreamInfo, error) {
			if len(o.Electrodes) > 0 {
				return streams.StreamInfo{}, fmt.Errorf("muse: the headband's electrodes are fixed (%v)", muse.Channels)
			}
			return muse.Info(muse.Config{StreamID: o.StreamID}), nil
		},
		Open: func(ctx context.Context, o Options) (Source, error) {
			if len(o.Electrodes) > 0 {
				return nil, fmt.Errorf("muse: the headband's electrodes are fixed (%v)", muse.Channels)
			}
			return muse.Open(ctx, muse.Config{Address: o.Address, StreamID: o.StreamID, FrameSamples: o.FrameSamples, Timeout: o.Timeout}, ble.Connect)
		}})
	return r
}

// frameSource is a source without resources to release.
type frameSource interface {
	Info() streams.StreamInfo
	Next(ctx context.Context, f *streams.Frame) error
}

// nopCloser gives a source without resources a Close.
type nopCloser struct{ frameSource }

func (nopCloser) Close() error { return nil }

func syntheticConfig(o Options) synthetic.Config {
	c := o.Synthetic
	if o.StreamID != "" {
		c.StreamID = o.StreamID
	}
	if o.FrameSamples != 0 {
		c.FrameSamples = o.FrameSamples
	}
	return c
}

func cytonConfig(o Options) openbci.CytonConfig {
	return openbci.CytonConfig{Port: o.Port, StreamID: o.StreamID, Daisy: o.Daisy, Gain: o.Gain, Channels: o.Electrodes,
		Accel: o.Accel, FrameSamples: o.FrameSamples, Timeout: o.Timeout}
}

// Register adds or replaces a device.
func (r *Registry) Register(d Device) { r.devs[d.Name] = d }

// Lookup returns the named device, or an error listing the known ones.
func (r *Registry) Lookup(name string) (Device, error) {
	d, ok := r.devs[name]
	if !ok {
		return Device{}, fmt.Errorf("unknown device %q (known: %s)", name, strings.Join(r.Names(), ", "))
	}
	return d, nil
}

// Names lists the registered devices, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.devs))
	for n := range r.devs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Describe writes one line per device with its transport, summary and default channels.
func (r *Registry) Describe(w io.Writer) {
	for _, n := range r.Names() {
		d := r.devs[n]
		fmt.Fprintf(w, "  %-10s %-13s %s\n", d.Name, d.Transport, d.Summary)
		if info, err := d.Info(Options{}); err == nil {
			fmt.Fprintf(w, "  %-10s %-13s channels (%s, %g Hz): %s\n", "", "", unitsOf(info), info.SampleRateHz, strings.Join(info.ChannelNames(), " "))
		}
	}
}

func unitsOf(info streams.StreamInfo) string {
	seen := map[string]bool{}
	var units []string
	for _, c := range info.Channels {
		if !seen[c.Unit] {
			seen[c.Unit] = true
			units = append(units, c.Unit)
		}
	}
	return strings.Join(units, ", ")
}
