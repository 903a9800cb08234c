package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// negativeAllowed names the numeric flags where a value below zero means something (an epoch may
// start before its event); every other numeric flag counts, sizes or times something and refuses one.
var negativeAllowed = map[string]bool{"tmin": true}

var invalidValue = regexp.MustCompile(`^invalid value "(.*)" for flag -([^:]+): (.*)$`)

// parseFlags parses args into fs. A wrong value is reported in one line that names the flag, the
// value and what the flag takes, instead of the flag package's bare "parse error" followed by the
// whole flag list; --help still prints the list.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(out)
	hint := fmt.Sprintf("(`neurostream %s --help` lists the flags)", fs.Name())
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, _ = out.Write(buf.Bytes())
		return err
	case err != nil:
		return fmt.Errorf("%s %s", explainFlagError(fs, err), hint)
	}
	var bad error
	fs.Visit(func(f *flag.Flag) {
		if bad != nil || negativeAllowed[f.Name] || startsNegative(f) {
			return
		}
		if g, ok := f.Value.(flag.Getter); ok && isNegative(g.Get()) {
			bad = fmt.Errorf("%s %s: want a positive number or zero %s", dashed(f.Name), f.Value, hint)
		}
	})
	return bad
}

// startsNegative reports flags whose default is below zero (such as "-1: none"): their negative
// values are meaningful.
func startsNegative(f *flag.Flag) bool { return strings.HasPrefix(f.DefValue, "-") }

func isNegative(v any) bool {
	switch v := v.(type) {
	case int:
		return v < 0
	case int64:
		return v < 0
	case float64:
		return v < 0
	case time.Duration:
		return v < 0
	}
	return false
}

// explainFlagError rewrites the flag package's "invalid value" error to say what the flag takes.
func explainFlagError(fs *flag.FlagSet, err error) string {
	m := invalidValue.FindStringSubmatch(err.Error())
	if m == nil {
		return strings.Replace(err.Error(), "flag provided but not defined: -", "unknown flag --", 1)
	}
	value, name := m[1], m[2]
	f := fs.Lookup(name)
	if f == nil {
		return err.Error()
	}
	want := m[3]
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case time.Duration:
			want = "a duration needs a unit, e.g. 3s, 500ms or 2m"
			if _, perr := time.ParseDuration(value + "s"); perr != nil {
				want = "not a duration; write it with a unit, e.g. 3s, 500ms or 2m"
			}
		case int, int64, uint, uint64:
			want = "not a whole number"
		case float64:
			want = "not a number"
		case bool:
			want = "takes true or false"
		}
	}
	return fmt.Sprintf("%s %s: %s", dashed(name), value, want)
}

// dashed writes a flag as its help does: -n, --idle.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}
