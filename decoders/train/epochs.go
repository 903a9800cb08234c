package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/decoders/model"
	"github.com/neurostream/neurostream/dsp"
	"github.com/neurostream/neurostream/streams"
)

// Event maps an annotation (its description, or its code written in decimal) to a class label.
type Event struct {
	Match string
	Label string
}

// ParseEvents reads "T1=left,T2=right". Classes are ordered by first appearance of their label.
func ParseEvents(s string) ([]Event, error) {
	var out []Event
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("event mapping %q: want ANNOTATION=label, e.g. T1=left,T2=right", part)
		}
		out = append(out, Event{Match: strings.TrimSpace(k), Label: strings.TrimSpace(v)})
	}
	if len(classesOf(out)) < 2 {
		return nil, fmt.Errorf("event mapping %q names fewer than two classes", s)
	}
	return out, nil
}

func classesOf(events []Event) []string {
	var classes []string
	seen := map[string]bool{}
	for _, e := range events {
		if !seen[e.Label] {
			seen[e.Label] = true
			classes = append(classes, e.Label)
		}
	}
	return classes
}

// Config says how to cut epochs.
type Config struct {
	Events   []Event
	BandHz   [2]float64 // Butterworth band-pass, applied causally to the continuous recording
	Order    int        // filter order (default 4)
	TminSec  float64    // epoch start relative to the event
	TmaxSec  float64    // epoch end, inclusive (MNE)
	Channels []string   // channels to keep, in this order; empty keeps every EEG channel
	// Recenter (mdm, ts-lr) re-centres each recording's covariances on its own Riemannian mean in
	// training; the decoder then re-centres online on a running mean (session transfer).
	Recenter bool
}

// Filter is the model-file description of the configured band-pass.
func (c Config) Filter() model.Filter {
	return model.Filter{Type: "butter", Order: c.order(), BandHz: c.BandHz, Causal: true}
}

func (c Config) order() int {
	if c.Order == 0 {
		return 4
	}
	return c.Order
}

// Dataset is a set of labelled epochs from one or more recordings.
type Dataset struct {
	Epochs       [][][]float64 // [epoch][channel][sample]
	Labels       []int         // index into Classes
	Onsets       []int64       // event sample in its recording
	Groups       []int         // index into Sources of each epoch's recording
	Classes      []string
	Channels     []string
	SampleRateHz float64
	Sources      []string
}

// Append adds another dataset's epochs (same channels, rate and classes).
func (d *Dataset) Append(o *Dataset) error {
	if d.Epochs == nil {
		*d = *o
		return nil
	}
	if o.SampleRateHz != d.SampleRateHz || strings.Join(o.Channels, "\x00") != strings.Join(d.Channels, "\x00") {
		return fmt.Errorf("recordings %v and %v differ in channels or sampling rate; train on matching recordings", d.Sources, o.Sources)
	}
	for _, g := range o.Groups {
		d.Groups = append(d.Groups, g+len(d.Sources))
	}
	d.Epochs = append(d.Epochs, o.Epochs...)
	d.Labels = append(d.Labels, o.Labels...)
	d.Onsets = append(d.Onsets, o.Onsets...)
	d.Sources = append(d.Sources, o.Sources...)
	return nil
}

// Spec is the model.Spec for this dataset and configuration.
func (d *Dataset) Spec(kind model.Kind, cfg Config) model.Spec {
	var ev []string
	for _, e := range cfg.Events {
		ev = append(ev, e.Match+"="+e.Label)
	}
	return model.Spec{Kind: kind, Channels: d.Channels, SampleRateHz: d.SampleRateHz, Filter: cfg.Filter(),
		TminSec: cfg.TminSec, TmaxSec: cfg.TmaxSec, Classes: d.Classes,
		Training: model.Training{Sources: d.Sources, Events: ev}, Recenter: cfg.Recenter, Groups: d.Groups}
}

// EpochRecording band-passes rec causally (dsp.Butter + dsp.SOSFilt from zero state, as
// scipy.signal.sosfilt) and cuts [onset+round(tmin·fs), onset+round(tmax·fs)] around every
// annotation the configuration maps to a class. Epochs that do not fit in the recording are skipped.
func EpochRecording(rec *acquisition.Recording, source string, cfg Config) (*Dataset, error) {
	if err := rec.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if !(cfg.TmaxSec > cfg.TminSec) {
		return nil, fmt.Errorf("epoch window [%g, %g] s is empty; want tmin < tmax", cfg.TminSec, cfg.TmaxSec)
	}
	fs := rec.Info.SampleRateHz
	var picks []int
	var names []string
	if len(cfg.Channels) == 0 {
		for i, c := range rec.Info.Channels {
			if c.Type == streams.ChannelEEG {
				picks, names = append(picks, i), append(names, c.Name)
			}
		}
		if len(picks) == 0 {
			return nil, fmt.Errorf("%s: no EEG channels; name the channels to use", source)
		}
	} else {
		for _, n := range cfg.Channels {
			i := rec.Info.ChannelIndex(n)
			if i < 0 {
				return nil, fmt.Errorf("%s: no channel %q (have %v)", source, n, rec.Info.ChannelNames())
			}
			picks, names = append(picks, i), append(names, n)
		}
	}
	sos, err := dsp.Butter(cfg.order(), cfg.BandHz[:], dsp.Bandpass, fs)
	if err != nil {
		return nil, fmt.Errorf("%s: band-pass %v Hz at %g Hz: %w", source, cfg.BandHz, fs, err)
	}
	filtered := make([][]float64, len(picks))
	for i, p := range picks {
		filtered[i] = dsp.SOSFilt(sos, rec.Data[p])
	}
	classes := classesOf(cfg.Events)
	d := &Dataset{Classes: classes, Channels: names, SampleRateHz: fs, Sources: []string{source}}
	a, b := int64(math.Round(cfg.TminSec*fs)), int64(math.Round(cfg.TmaxSec*fs))
	n := int64(rec.NumSamples())
	for _, an := range rec.Annotations {
		label := ""
		for _, e := range cfg.Events {
			if e.Match == an.Description || (an.Description == "" && e.Match == fmt.Sprint(an.Code)) {
				label = e.Label
				break
			}
		}
		if label == "" {
			continue
		}
		s := an.OnsetSample
		if s+a < 0 || s+b >= n {
			continue
		}
		ep := make([][]float64, len(filtered))
		for c, row := range filtered {
			ep[c] = append([]float64(nil), row[s+a:s+b+1]...)
		}
		k := 0
		for classes[k] != label {
			k++
		}
		d.Epochs, d.Labels, d.Onsets = append(d.Epochs, ep), append(d.Labels, k), append(d.Onsets, s)
		d.Groups = append(d.Groups, 0)
	}
	if len(d.Epochs) == 0 {
		return nil, fmt.Errorf("%s: no annotation matches the event mapping %v", source, cfg.Events)
	}
	return d, nil
}
