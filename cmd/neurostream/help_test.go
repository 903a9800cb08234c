package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"regexp"
	"strings"
	"testing"
)

// Help speaks of the product: no command's --help refers to our issue tracker.
func TestHelpNamesNoIssues(t *testing.T) {
	tracker := regexp.MustCompile(`(?i)\bissues?\s*#?\d|#\d+\b`)
	for _, c := range append(commands(), command{name: ""}) {
		var out bytes.Buffer
		args := []string{c.name, "--help"}
		if c.name == "" {
			args = nil
		}
		if err := dispatch(context.Background(), args, &out, &out); err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s --help: %v", c.name, err)
		}
		if out.Len() == 0 {
			t.Fatalf("%s --help printed nothing", c.name)
		}
		if m := tracker.FindString(out.String()); m != "" {
			t.Errorf("%s --help mentions %q:\n%s", c.name, m, out.String())
		}
	}
}

// Every duration flag of every command answers a value without a unit with what to write instead,
// and counts refuse negative values, naming the flag in one line rather than printing the flag list.
func TestFlagErrorsNameTheFlagAndTheFix(t *testing.T) {
	durationFlag := regexp.MustCompile(`(?m)^\s+-(\S+) duration$`)
	checked := 0
	for _, c := range commands() {
		prefix := []string{c.name}
		if c.name == "lsl" {
			prefix = append(prefix, "list")
		}
		var help bytes.Buffer
		_ = dispatch(context.Background(), append(prefix, "--help"), &help, &help)
		for _, m := range durationFlag.FindAllStringSubmatch(help.String(), -1) {
			var out bytes.Buffer
			err := dispatch(context.Background(), append(append([]string(nil), prefix...), "--"+m[1], "3"), &out, &out)
			want := "--" + m[1] + " 3: a duration needs a unit, e.g. 3s"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s --%s 3: got %v, want an error containing %q", c.name, m[1], err, want)
			}
			if out.Len() != 0 {
				t.Errorf("%s --%s 3 printed the flag list:\n%s", c.name, m[1], out.String())
			}
			checked++
		}
	}
	if checked < 10 {
		t.Fatalf("found only %d duration flags in the commands' help", checked)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"consume", "-n", "-3"}, "-n -3: want a positive number or zero"},
		{[]string{"consume", "-n", "x"}, "-n x: not a whole number"},
		{[]string{"replay", "--speed", "-2"}, "--speed -2: want a positive number or zero"},
		{[]string{"record", "--idle", "-1s"}, "--idle -1s: want a positive number or zero"},
		{[]string{"record", "--idle", "soon"}, "--idle soon: not a duration"},
		{[]string{"consume", "--bogus"}, "unknown flag --bogus"},
	} {
		var out bytes.Buffer
		err := dispatch(context.Background(), tc.args, &out, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}
