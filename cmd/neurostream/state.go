package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/neurostream/neurostream/pipeline"
)

// stateDir is where neurostream keeps what must outlive a command (the local broker's data and
// address, the sources' spools): $XDG_STATE_HOME/neurostream, else ~/.local/state/neurostream.
func stateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "neurostream"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no state directory: set XDG_STATE_HOME or HOME: %w", err)
	}
	return filepath.Join(home, ".local", "state", "neurostream"), nil
}

// spoolFlags are the store-and-forward flags of the commands that run live sources.
type spoolFlags struct {
	dir      string
	maxBytes string
}

func (s *spoolFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.dir, "spool-dir", "", "keep frames here while the broker is unreachable, publish them in order when it is back\n"+
		"(default: the config's spool.dir, else $XDG_STATE_HOME/neurostream/spool; \"off\": wait for the broker instead)")
	fs.StringVar(&s.maxBytes, "spool-max-bytes", "", "bound on each stream's spool, e.g. 512MiB, 2GiB; when full, new frames are dropped,\n"+
		"counted and seen as a gap (default: the config's spool.max_bytes, else 1GiB)")
}

// options merges the flags over the config's spool section; nil means no spool.
func (s *spoolFlags) options(cfg pipeline.SpoolOptions) (*pipeline.SpoolOptions, error) {
	o := cfg
	if s.dir != "" {
		o.Dir = s.dir
	}
	if s.maxBytes != "" {
		n, err := parseBytes(s.maxBytes)
		if err != nil {
			return nil, fmt.Errorf("--spool-max-bytes: %w", err)
		}
		o.MaxBytes = n
	}
	if o.MaxBytes < 0 {
		return nil, errors.New("spool max bytes must be positive")
	}
	if o.Dir == "off" {
		return nil, nil
	}
	if o.Dir == "" {
		st, err := stateDir()
		if err != nil {
			return nil, fmt.Errorf("spool: %w (or give --spool-dir)", err)
		}
		o.Dir = filepath.Join(st, "spool")
	}
	return &o, nil
}

// parseBytes reads a size: a number of bytes, optionally followed by KiB, MiB, GiB (or K, M, G,
// also powers of 1024).
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if v, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size (want e.g. 1048576, 512MiB or 2GiB)", s)
	}
	return int64(n * float64(mult)), nil
}
