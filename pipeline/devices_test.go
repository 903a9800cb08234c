package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Device sources are configured in YAML beside their kind; a missing port or unknown kind is a
// clear error, not a panic or a silent synthetic stream.
func TestDeviceSourcesFromYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	yaml := "sources:\n" +
		"  - kind: cyton\n    port: /dev/ttyUSB7\n    daisy: true\n    gain: 12\n    accel: true\n    stream_id: lab-cyton\n    timeout: 5s\n" +
		"  - kind: synthetic\n    channels: 8\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Sources[0]
	if c.Kind != "cyton" || c.Device.Port != "/dev/ttyUSB7" || !c.Device.Daisy || c.Device.Gain != 12 || !c.Device.Accel ||
		c.Synthetic.StreamID != "lab-cyton" || c.Device.Timeout.Seconds() != 5 {
		t.Fatalf("parsed %+v", c)
	}
	if _, err := BuildSource(c); err == nil || !strings.Contains(err.Error(), "/dev/ttyUSB7") {
		t.Fatalf("opening a missing port: %v", err)
	}
	src, err := BuildSource(cfg.Sources[1])
	if err != nil {
		t.Fatal(err)
	}
	if info := src.Info(); len(info.Channels) != 8 {
		t.Fatalf("synthetic source: %+v", info)
	}
	if _, err := BuildSource(SourceConfig{Kind: "mindreader"}); err == nil || !strings.Contains(err.Error(), "known: ") {
		t.Fatalf("unknown kind: %v", err)
	}
}
